#pragma once
// The orders whose outcome is not confirmed, looked up at the broker at each tick (issue 21: out
// of Engine::Impl): a submit unanswered or of unknown outcome, a change of ours pending, a
// market entry still unfilled (its fill event most likely lost), a leg whose id no answer gave;
// and the stuck_order alert of a request sent and unanswered. Only the orders it watches are
// walked: every order changed since it last looked (walking every order held made a tick
// O(orders)).

#include <cstdint>
#include <optional>
#include <set>
#include <unordered_map>

#include "core/ids.h"
#include "core/order.h"
#include "core/time.h"
#include "engine/alerts.h"
#include "engine/ledger.h"
#include "engine/order_aux.h"
#include "engine/retry_schedule.h"

namespace orderly {

class InflightCheck {
 public:
  struct Config {
    std::int64_t inflight_check_ms = 0;  // looked up once this old
    std::int64_t stuck_order_ms = 0;     // sent and unanswered this long: stuck_order
    int retry_max_attempts = 0;  // an exit past them keeps trying: its alert stays raised
  };
  // The engine's state it reads: held by reference, read at each call.
  struct Sources {
    const Ledger& ledger;
    // When a stock order of ours was last routed or filled: the market is trading.
    const std::optional<Timestamp>& last_stock_routed_at;
  };
  // The engine's state it changes.
  struct Targets {
    std::unordered_map<OrderId, OrderAux>& aux;  // when each was last refreshed, and how often
    RetrySchedule& retries;                      // when an unknown order is looked up again
    Alerts& alerts;
  };
  // The lookups it asks of the engine (the submitter's).
  class Host {
   public:
    virtual void stage_resolve(OrderId id) = 0;  // by client id
    virtual void stage_refresh(OrderId id, Timestamp now, bool force) = 0;  // by broker id
    virtual void check_unresolved_leg(OrderId id, Timestamp now) = 0;  // with its group

   protected:
    ~Host() = default;
  };

  InflightCheck(Config config, Sources sources, Targets targets, Host& host)
      : cfg_(config), s_(sources), t_(targets), host_(host) {}

  // An order was loaded, changed or restored: looked at by the next run if it needs it.
  void watch(OrderId id) { watch_.insert(id); }
  void watch_if_needed(const Order& o) {
    if (needs_check(o)) watch_.insert(o.id);
  }
  void forget(OrderId id) { watch_.erase(id); }
  // At each tick.
  void run(Timestamp now);

 private:
  bool needs_check(const Order& o) const;

  Config cfg_;
  Sources s_;
  Targets t_;
  Host& host_;
  // Superset of the orders run() must look at (in flight, pending_*, unresolved legs, a stuck
  // alert to clear).
  std::set<OrderId> watch_;
};

}  // namespace orderly
