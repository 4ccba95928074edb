#pragma once
// A ledger's contents built by hand, for the tests of the engine's functional parts (the trade
// manager, wash-trade pricing, the cover judge, views, release...): no engine, no store.

#include <string>
#include <utility>

#include "core/order.h"
#include "core/trade.h"

namespace orderly::test {

inline Decimal dec(const char* s) { return Decimal::must(s); }

// A buy of `qty` on `symbol`, pending, with no exits set.
inline Trade buy_trade(TradeId id, std::string symbol, const char* qty) {
  Trade t;
  t.id = id;
  t.spec.symbol = std::move(symbol);
  t.spec.side = Side::buy;
  t.spec.qty = dec(qty);
  return t;
}

// Order `id` of `trade` on `symbol`, at the broker (broker and client ids set): an entry buys,
// an exit sells. Filled in full when `state` is filled.
inline Order order(OrderId id, TradeId trade, std::string symbol, OrderRole role, OrderType type,
                   OrderState state, const char* qty) {
  Order o;
  o.id = id;
  o.trade_id = trade;
  o.symbol = std::move(symbol);
  o.role = role;
  o.type = type;
  o.side = role == OrderRole::entry ? Side::buy : Side::sell;
  o.state = state;
  o.qty = dec(qty);
  if (state == OrderState::filled) o.filled_qty = o.qty;
  o.broker_order_id = "b-" + std::to_string(id);
  o.client_order_id = "c-" + std::to_string(id);
  return o;
}

}  // namespace orderly::test
