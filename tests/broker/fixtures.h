#pragma once
// Requests and payloads shared by the broker tests.

#include <string>

#include "broker/broker.h"

namespace orderly::testing {

// The incident's take-profit: sell 37 STWD at 10.50, good till canceled.
inline OrderRequest stwd_take_profit(std::string client_order_id = "c1") {
  OrderRequest r;
  r.symbol = "STWD";
  r.side = Side::sell;
  r.type = OrderType::limit;
  r.tif = TimeInForce::gtc;
  r.qty = Decimal::must("37");
  r.limit_price = Decimal::must("10.50");
  r.client_order_id = std::move(client_order_id);
  return r;
}

// That order as Alpaca answers it.
inline const std::string kStwdOrderJson = R"({"id":"o1","client_order_id":"c1","symbol":"STWD",
  "side":"sell","type":"limit","time_in_force":"gtc","qty":"37","filled_qty":"0",
  "limit_price":"10.50","status":"accepted","created_at":"2024-01-02T03:04:05Z",
  "updated_at":"2024-01-02T03:04:05Z"})";

}  // namespace orderly::testing
