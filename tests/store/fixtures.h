#pragma once
// Sample rows for the store suites.

#include <string>

#include "core/audit.h"
#include "core/decimal.h"
#include "core/order.h"
#include "core/trade.h"
#include "store/store.h"

namespace orderly::testing {

inline Decimal D(std::string_view s) { return Decimal::must(s); }

inline Trade sample_trade(TradeId id, TradeState state = TradeState::pending) {
  Trade t;
  t.id = id;
  t.spec.symbol = "AAPL";
  t.spec.side = Side::buy;
  t.spec.qty = D("10");
  t.spec.entry_type = OrderType::limit;
  t.spec.entry_limit_price = D("150.50");
  t.spec.tif = TimeInForce::gtc;
  t.spec.take_profit.percent = D("2.5");
  t.spec.stop_loss = PriceTarget{D("140.00"), std::nullopt};
  t.spec.exits = ExitMode::emulated;
  t.state = state;
  t.note = "trade " + std::to_string(id);
  t.created_at = Timestamp{1'760'000'000'000'000'000 + id};
  t.updated_at = t.created_at;
  return t;
}

inline Order sample_order(OrderId id, TradeId trade_id, OrderState state = OrderState::created) {
  Order o;
  o.id = id;
  o.trade_id = trade_id;
  o.role = OrderRole::entry;
  o.client_order_id = "ol-test000000-" + std::to_string(trade_id) + "-e" + std::to_string(id);
  o.symbol = "AAPL";
  o.side = Side::buy;
  o.type = OrderType::limit;
  o.tif = TimeInForce::gtc;
  o.qty = D("10");
  o.limit_price = D("150.50");
  o.state = state;
  o.filled_qty = D("0");
  o.created_at = Timestamp{1'760'000'000'000'000'000 + id};
  o.updated_at = o.created_at;
  o.version = 1;
  return o;
}

inline OrderEvent event_for(const Order& o, std::optional<OrderState> from, std::string note = {}) {
  OrderEvent e;
  e.order_id = o.id;
  e.at = o.updated_at;
  e.source = from ? EventSource::stream : EventSource::intent;
  e.from = from;
  e.to = o.state;
  e.filled_qty = o.filled_qty;
  e.note = note.empty() ? (from ? "changed" : "created") : std::move(note);
  return e;
}

// A batch creating a trade, its entry order and the order's creation event (the outbox).
inline WriteBatch create_batch(TradeId trade_id, OrderId order_id) {
  WriteBatch b;
  b.trades.push_back(sample_trade(trade_id));
  b.orders.push_back(sample_order(order_id, trade_id));
  b.events.push_back(event_for(b.orders.back(), std::nullopt));
  return b;
}

}  // namespace orderly::testing
