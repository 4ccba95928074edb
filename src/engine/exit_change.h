#pragma once
// What a change of a trade's exits after it opened (PATCH /api/trades/ID, issue 17 item 5)
// becomes, decided from the ledger alone (issue 21: Modify's functional core, out of
// Engine::Impl). The engine carries the plan out (exit_modifier.cc): it writes the trade's new
// targets, replaces or changes each exit the plan moves, or cancels the exits to place them
// again where no replace can get there (`reshape`).

#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/broker.h"
#include "core/ids.h"
#include "core/order.h"
#include "core/status.h"
#include "core/trade.h"
#include "engine/control.h"
#include "engine/ledger.h"
#include "engine/order_aux.h"
#include "engine/positions_read.h"
#include "engine/trade_manager.h"

namespace orderly {

class ExitChangePlanner {
 public:
  // The engine's state it reads: held by reference, read at each call.
  struct Sources {
    const Ledger& ledger;
    const std::unordered_map<OrderId, OrderAux>& aux;  // what is on its way to the broker
    const PositionsRead& positions_read;               // the market's last price
    const std::set<OrderId>& wash_priced_exits;  // exits priced past our own orders
  };
  // One exit and what it becomes.
  struct Move {
    OrderId id = 0;
    Order want;  // the exit with its new prices
  };
  struct Plan {
    TradeSpec next;  // the trade's targets with the change
    TradeView view;
    std::vector<Move> moves;  // exits whose prices change: replaced, or changed unsent
    // Why no replace can get there (an exit added or removed, a change of type, an order
    // Alpaca will not replace): the exits are canceled and placed again. Empty: moves do.
    std::string reshape;
  };

  explicit ExitChangePlanner(Sources sources) : s_(sources) {}

  // The plan, or why the change is refused: not_found (no such trade), conflict (its state, or
  // its exits changing at the broker right now: ask again), invalid_argument (the targets).
  StatusOr<Plan> plan(TradeId id, const ExitChange& change) const;

 private:
  std::string check_against_market(const TradeSpec& next, const TradeView& v) const;
  std::string plan_moves(Plan& p) const;
  std::string lone_stop_blocked(const Trade& t, const Plan& p) const;

  Sources s_;
};

// One replace of a trade at a time: a replacement waits while another of its trade is sent and
// the order that one replaces has not ended.
bool replace_waits(const Ledger& ledger, const Order& r);

// What a replacement changes of the order it replaces, for the PATCH: a grow keeps every price,
// a modify sends the new one (a trailing stop's as `trail`).
bool changes_prices(const Order& replacement, const Order& old);
void add_price_changes(ReplaceRequest& r, const Order& replacement, const Order& old);

// For the trader's notes: a trade's exits ("take-profit 230, stop 210"), an order's price.
std::string describe_exits(const TradeSpec& s);
std::string describe_price(const Order& o);

}  // namespace orderly
