#pragma once
// The local order: our intent plus everything the broker has told us about it.

#include <cstdint>
#include <optional>
#include <string>

#include "core/decimal.h"
#include "core/order_state.h"
#include "core/time.h"
#include "core/types.h"

namespace orderly {

using OrderId = std::int64_t;
using TradeId = std::int64_t;

struct Order {
  OrderId id = 0;  // assigned by the store
  TradeId trade_id = 0;
  OrderRole role = OrderRole::entry;
  std::string client_order_id;                 // deterministic, unique, <= 48 chars
  std::optional<std::string> broker_order_id;  // set once learned; never cleared
  std::string symbol;
  Side side = Side::buy;
  OrderType type = OrderType::market;
  TimeInForce tif = TimeInForce::day;
  OrderClass order_class = OrderClass::simple;
  Decimal qty;
  std::optional<Decimal> limit_price;
  std::optional<Decimal> stop_price;
  // A notional entry names dollars, not shares: `qty` stays 0 until fills say what was bought.
  std::optional<Decimal> notional;
  // A trailing stop (type trailing_stop) trails by exactly one of these; its stop_price is the
  // broker's, moving with the market.
  std::optional<Decimal> trail_price;
  std::optional<Decimal> trail_percent;
  bool extended_hours = false;
  // Legs of a native bracket/OCO are created by the broker with their parent: they are never
  // submitted on their own. parent_order_id names the local order whose request carried them.
  std::optional<OrderId> parent_order_id;
  // A replacement (PATCH) creates a new broker order; the new local row points at the old one.
  std::optional<OrderId> replaces_order_id;

  OrderState state = OrderState::created;
  Decimal filled_qty;
  std::optional<Decimal> filled_avg_price;
  std::optional<Timestamp> broker_updated_at;

  int attempts = 0;  // submission attempts made
  std::optional<Timestamp> next_attempt_at;
  std::string last_error;
  Timestamp created_at;
  Timestamp updated_at;
  std::int64_t version = 0;  // bumped on every stored change (optimistic concurrency)

  OrderSnapshot snapshot() const { return {state, filled_qty, broker_updated_at}; }
  Decimal leaves_qty() const { return qty - filled_qty; }
};

}  // namespace orderly
