#pragma once
// The trade manager's functional core (issue 21): from a trade's orders as the ledger holds
// them, what the trade needs next. Its state (open, closed, failed, canceled), the unsent exits
// that no longer fit, whether its exits cover what it holds (or must be placed, resized or
// canceled to be placed again), whether another exit may be placed at all, and, once it is
// closing, what to cancel and whether to flatten. It decides only: it reads the ledger and
// returns intents. TradeExecutor::step_trade (trade_executor.cc) carries them out through the
// state machine and the outbox, where the wash-trade pricing, the crypto exit switch and the
// sessions add what they know.

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/decimal.h"
#include "core/order.h"
#include "core/time.h"
#include "core/trade.h"
#include "engine/holdings.h"
#include "engine/ledger.h"

namespace orderly {

// A trade's orders, summed.
struct TradeView {
  // The entry that filled first, else the latest: what the trade's exits are priced from and
  // what a cancel of its entry reaches. Most trades have one entry; a stand-in limit canceled
  // to be sent again leaves two (stand_in_entries.cc).
  OrderId entry = 0;
  std::vector<OrderId> entries;    // every entry order, ascending
  bool entries_done = true;        // every entry ended (terminal or parked)
  std::vector<OrderId> exits;      // exit parents (orders we send): tp/oco, flatten
  std::vector<OrderId> all_exits;  // including legs
  Decimal entry_filled;
  Decimal exit_filled;
};

TradeView view_of(const Ledger& ledger, TradeId tid);

// What the trade's own fills leave it: a crypto buy holds its fill less the fee (crypto.h).
Decimal own_qty(const TradeSpec& spec, Decimal entry_filled, Decimal exit_filled);

// The open trades of `symbol` in `side`'s direction that hold shares, each with its charge
// (holdings.h): what our exits sold beyond their own trades is taken from them.
std::vector<TradeHolding> holdings_of(const Ledger& ledger, const std::string& symbol, Side side);
// What trade `tid` holds: its own fills (a crypto buy's less the fee, engine/crypto.h), less its
// share of what our exits sold beyond their own trades, charged on `oversold_symbols` only (the
// symbols where such an over-sell was seen).
Decimal held_of(const Ledger& ledger, const std::set<std::string>& oversold_symbols, TradeId tid,
                const TradeView& v);

// The generation of the trade's next exit (flatten: of its next flatten), for its client id.
int next_generation(const Ledger& ledger, const TradeView& v, bool flatten);

// Never reached the broker: created, or ended here before it was sent.
bool never_sent(const Order& o);
bool working_or_pending(const Order& o);
// A replacement of `id` was made (whatever became of it) / is still on its way.
bool replacement_tried(const Ledger& ledger, OrderId id);
bool has_pending_replacement(const Ledger& ledger, OrderId id);

// ---- The trade's state ------------------------------------------------------------------------
struct Settlement {
  std::optional<TradeState> state;  // the trade's new state; none: it stays as it is
  std::string note;                 // with `state`: why
  bool ended = false;               // the trade ended: nothing more to step
  bool drop_unsent_exits = false;   // its entry ended without a fill: unsent exits go with it
};
// Open once its entry fills; failed or canceled when its entries ended without a fill; closed
// when it holds nothing and its exits are done. `held`: what the trade holds
// (held_of, admission.h).
Settlement settle(const Trade& t, const TradeView& v, const Ledger& ledger, Decimal held);

// Unsent exits (created, never replaced, nothing outstanding) that no longer fit what is held:
// another exit filled meanwhile. They are not sent; a right-sized one is placed if still needed.
std::vector<OrderId> unfitting_exits(const Ledger& ledger, const TradeView& v, Decimal held,
                                     const std::function<bool(OrderId)>& command_outstanding);

// ---- A held position's exits ------------------------------------------------------------------
struct ExitNeed {
  enum class Kind {
    covered,            // the working exit covers what is held (or is being changed)
    leg_covers,         // no exit parent works, a leg does: wait for it
    place,              // nothing works: place exits for what is held (principle 9)
    resize,             // the working exit covers other than what is held: replace it
    cancel_to_replace,  // ... and cannot be replaced: cancel it, then place it again
  };
  Kind kind = Kind::covered;
  OrderId active = 0;  // the working exit parent, when there is one
  Decimal covers;      // what it covers (its qty less what filled)
};
ExitNeed exit_need(const Ledger& ledger, const TradeView& v, Decimal held);

// Whether an exit may be placed for the trade now. Not while one was refused for good (parked,
// submit_failed: the alerts ask a person), nor when the broker ended as many as the per-minute
// cap within the last minute, canceling them ourselves aside (it ends them as fast as we place
// them: a loop).
struct PlacementGate {
  enum class Kind { place, refused_for_good, capped };
  Kind kind = Kind::place;
  int recent = 0;       // exits the broker ended within the minute
  Timestamp cap_ends;   // capped: when the oldest of them leaves the minute
};
PlacementGate placement_gate(const Ledger& ledger, const TradeView& v, Timestamp now,
                             int max_per_minute,
                             const std::function<bool(OrderId)>& canceled_by_us);

// ---- A trade closing (canceled by the caller) -------------------------------------------------
struct ClosingStep {
  enum class Kind {
    drop_unsent,  // never sent: ended here
    cancel,       // at the broker: cancel it there (unless a cancel is already on its way)
  };
  OrderId id = 0;
  Kind kind = Kind::drop_unsent;
};
struct ClosingPlan {
  std::vector<ClosingStep> steps;  // entries first, then exits (flattens aside)
  bool waiting = false;            // an order of the trade is still at the broker
  bool flatten = false;            // nothing is left at the broker and it holds: sell it all
};
ClosingPlan closing_plan(const Ledger& ledger, const TradeView& v, Decimal held);

}  // namespace orderly
