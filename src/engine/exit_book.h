#pragma once
// The exit book (principle 9): per symbol and side, every working order of ours, seen the way
// two rules see them:
//  - protection: a filled position (net of our trades) is covered when working exits at the
//    broker would close it;
//  - Alpaca's wash-trade check (alpaca-api.md §5): a new simple order is refused when an
//    opposite-side order of the account could cross it: a market or stop order against any,
//    a limit against a crossing limit. Complex orders (bracket, OCO, OTO) and trailing stops
//    are exempt, and so are inactive (held) legs.
// A SymbolBook is built on demand from the orders of one symbol (a handful), so it is never
// out of step with them. ProtectionWatch keeps the one thing that needs memory: since when a
// symbol's position has lacked cover. Neither does IO nor knows the engine.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/decimal.h"
#include "core/order.h"
#include "core/time.h"

namespace orderly {

struct BookOrder {
  OrderId id = 0;
  OrderId family = 0;  // the OCO or bracket group (the parent's id), else its own id
  TradeId trade = 0;
  Side side = Side::buy;
  OrderRole role = OrderRole::entry;
  OrderType type = OrderType::market;
  std::optional<Decimal> limit_price;
  Decimal remaining;     // qty - filled
  bool covers = false;   // an exit working at the broker (not being canceled)
  bool checked = false;  // Alpaca's wash-trade check sees it (maybe at the broker, not held)
};

class SymbolBook {
 public:
  // Every order of the symbol goes through add(): fills of all of them make the position;
  // only working ones enter the book. `parent`: the order's parent when it is a leg.
  // `guarded` false: its trade holds its position without exits by the caller's choice
  // ("exits": "none"): its fills are no position to cover, its orders still meet the check.
  // `confirmed` false: the broker's open orders lacked it lately and nothing says it still
  // works: it covers nothing (it still meets the check).
  void add(const Order& o, const Order* parent, bool guarded = true, bool confirmed = true);

  // Signed qty our trades hold (entries' fills less exits' fills; negative = short).
  Decimal net() const { return net_; }
  // Shares our exits sold beyond their own trades came out of these trades' (engine/holdings.h):
  // they hold `qty` less.
  void take_shortfall(Decimal qty);
  // The qty that working exits on `exit_side` would close; an OCO or bracket counts once.
  Decimal covered(Side exit_side) const;
  // Flat, or the exits at the broker cover what is held.
  bool is_protected() const;

  // Our orders a new simple order (`side`, `type`, limit `limit`) would be refused against.
  std::vector<const BookOrder*> wash_blockers(Side side, OrderType type,
                                              std::optional<Decimal> limit) const;
  // The most aggressive limit among the opposite orders the check sees (the lowest sell
  // limit for a buy, the highest buy limit for a sell); nullopt when there are none.
  std::optional<Decimal> tightest_opposite_limit(Side side) const;
  // A limit for a new order of `side` that crosses none of our opposite limits, never worse
  // than `own` (nullopt = market): one tick inside the tightest of them. nullopt when no price
  // passes (an opposite market or stop order is checked) or none is needed. On a crypto pair's
  // `price_increment` when it is known, rounded further inside.
  std::optional<Decimal> passing_limit(Side side, std::optional<Decimal> own,
                                       const std::optional<Decimal>& price_increment) const;

  const std::vector<BookOrder>& orders() const { return orders_; }

 private:
  std::vector<BookOrder> orders_;
  Decimal net_;
};

// Since when each symbol's position has lacked cover; which gaps outlived the grace.
class ProtectionWatch {
 public:
  // A gap that opens again within this of closing, because the cover went away (less covered
  // than when it closed), goes on from where it began: a cover this brief protected nothing a
  // trader could rely on (DST extended seed 30300000001819: another client canceled a flatten;
  // 4 s later its replacement was placed and, 100 ms on, canceled by us to be placed again at
  // market once our opposite orders moved; the new gap's clock began at that cancel, and 8.2 s
  // of naked PFE went unraised). A gap that opens because more is held (the next partial fill
  // of an entry, its exit growing after it) is a new one.
  static constexpr std::int64_t kBriefCoverMs = 1'000;

  explicit ProtectionWatch(std::int64_t grace_ms) : grace_ms_(grace_ms) {}
  enum class Change : std::uint8_t { none, gap_opened, past_grace, closed };
  struct Result {
    Change change = Change::none;
    std::int64_t gap_ms = 0;  // past_grace, closed: how long the gap has lasted
    bool was_past_grace = false;  // closed: the gap had been raised
  };
  // The symbol's state at `now`; says what changed. `began`: when the broker's events say a
  // gap began (for one that opens now, the last broker event on the symbol; for one open, a
  // fill learned late), if earlier. `covered`: what working exits cover now.
  Result observe(const std::string& symbol, bool is_protected, Timestamp now,
                 std::optional<Timestamp> began = std::nullopt, Decimal covered = Decimal());
  // Symbols with a gap open (within the grace or past it): the clock alone can move them.
  std::vector<std::string> open_gaps() const;
  // Gaps past the grace: the positions reported unprotected.
  std::int64_t unprotected() const { return past_grace_count_; }
  std::optional<Timestamp> gap_since(const std::string& symbol) const;
  std::int64_t grace_ms() const { return grace_ms_; }

 private:
  struct Gap {
    Timestamp since;
    bool past_grace = false;
  };
  std::int64_t grace_ms_;
  std::map<std::string, Gap> gaps_;
  // Gaps closed within kBriefCoverMs, by symbol.
  struct Closed {
    Timestamp since;  // when the gap began
    Timestamp at;     // when it closed
    Decimal covered;  // what covered the position then
  };
  std::map<std::string, Closed> just_closed_;
  std::int64_t past_grace_count_ = 0;
};

}  // namespace orderly
