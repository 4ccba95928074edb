#pragma once
// Small builders for the PostgreSQL-specific store tests.

#include <gtest/gtest.h>

#include <string>

#include "store/pg_server.h"
#include "store/store.h"

namespace orderly::testing {

// A fresh database on the binary's shared server; the test fails when there is none.
inline std::string fresh_pg_db() {
  std::string error;
  std::string url = new_pg_database(&error);
  EXPECT_FALSE(url.empty()) << error;
  return url;
}

inline Order pg_sample_order(OrderId id, TradeId trade_id, const std::string& cid) {
  Order o;
  o.id = id;
  o.trade_id = trade_id;
  o.role = OrderRole::entry;
  o.client_order_id = cid;
  o.symbol = "STWD";
  o.side = Side::buy;
  o.type = OrderType::limit;
  o.tif = TimeInForce::gtc;
  o.qty = Decimal::must("37");
  o.limit_price = Decimal::must("10.50");
  o.state = OrderState::created;
  o.created_at = Timestamp{1'760'000'000'000'000'000};
  o.updated_at = o.created_at;
  o.version = 1;
  return o;
}

inline OrderEvent pg_sample_event(OrderId order_id, const std::string& note) {
  OrderEvent e;
  e.order_id = order_id;
  e.at = Timestamp{1'760'000'000'000'000'001};
  e.source = EventSource::intent;
  e.to = OrderState::created;
  e.note = note;
  return e;
}

// One order and its creation event: the smallest audited state change.
inline WriteBatch pg_order_batch(OrderId id, const std::string& note = "created") {
  WriteBatch b;
  b.orders.push_back(pg_sample_order(id, id, "cid-" + std::to_string(id)));
  b.events.push_back(pg_sample_event(id, note));
  return b;
}

}  // namespace orderly::testing
