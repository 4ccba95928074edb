#pragma once
// Crash-only recovery's listing (issue 21: out of Engine::Impl). Every order a restart finds
// submitting or unknown is resolved before anything is sent for it (principle 3), by one
// listing of the account's orders (any status, legs nested) since the oldest of them: an order
// listed is adopted; one absent from the complete listing was not created, the proof a 404 by
// client id gives. One lookup by client id each made a restart cost as many calls as there were
// entries waiting for the budget (scripts/soak --seed 892678: 14-19 acknowledged trades never
// sent). This decides which orders, from when, and what a page means; the engine stages the
// pages and adopts or sends again (submitter.cc).

#include <optional>
#include <set>
#include <vector>

#include "broker/broker.h"
#include "core/order.h"
#include "core/time.h"
#include "engine/ledger.h"

namespace orderly {

// When the listing must begin for `o` to be in it: a listing with legs nested shows an order
// where its group's parent is, and a leg's replacement sits under the group, submitted when
// its parent was (DST trades seed 28900000038491).
Timestamp listed_created_at(const Ledger& ledger, const Order& o);

class RecoveryListing {
 public:
  struct Plan {
    std::vector<OrderId> ids;  // in flight at the restart, in id order
    Timestamp after;           // the listing's start: a minute before the oldest is listed
  };
  // What a restart finds in flight; none: nothing.
  static std::optional<Plan> plan(const Ledger& ledger);

  void begin(const std::vector<OrderId>& ids);
  void page_staged() { ++pages_; }
  bool running() const { return !left_.empty(); }
  bool resolves(OrderId id) const { return left_.count(id) > 0; }
  void resolved(OrderId id) { left_.erase(id); }
  // Not listed yet.
  const std::set<OrderId>& left() const { return left_; }
  void clear() { left_.clear(); }

  // What a page answered (`page`, of at most `limit`, asked from `asked_after`) leaves to do.
  struct Next {
    enum class Kind {
      done,       // the listing is complete: what is left was not created
      next_page,  // a full page: the next from `after`
      abandon,    // more pages than orders left: each is looked up by client id instead
    };
    Kind kind = Kind::done;
    Timestamp after;
  };
  Next after_page(const std::vector<BrokerOrder>& page, int limit,
                  std::optional<Timestamp> asked_after) const;

 private:
  std::set<OrderId> left_;
  std::size_t pages_ = 0;
};

}  // namespace orderly
