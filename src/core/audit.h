#pragma once
// Audit trail records and alerts: what changed, why, and on whose evidence.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/decimal.h"
#include "core/order.h"
#include "core/order_state.h"
#include "core/time.h"

namespace orderly {

// Where the evidence for a change came from.
enum class EventSource : std::uint8_t {
  intent,     // our own decision (created, submitting, retry scheduled, cancel requested)
  response,   // the broker's reply to our own request
  stream,     // trade_updates
  poll,       // open-order sweep or fill catch-up (account activities)
  lookup,     // GET by id / by client_order_id
  reconcile,  // reconciler
  error,      // an error reply (its body is the payload)
};
std::string_view to_string(EventSource s);
std::optional<EventSource> parse_event_source(std::string_view s);

// One row of `order_events`. Append-only; seq is assigned by the store, gap-free per store.
struct OrderEvent {
  std::int64_t seq = 0;
  OrderId order_id = 0;
  Timestamp at;
  EventSource source = EventSource::intent;
  std::optional<OrderState> from;  // nullopt for the creation event
  OrderState to = OrderState::created;
  Decimal filled_qty;
  std::string payload;  // raw broker payload (JSON) or empty
  std::string note;     // the reason, in words; for refused evidence the verdict and why
};

enum class AlertKind : std::uint8_t {
  stream_down,
  sync_lag,
  stuck_order,
  retry_storm,
  reconciliation_mismatch,
  external_hold,
  rate_limit_near,
  order_parked,
  anomaly,  // evidence refused by the state machine
  unprotected_position,    // a filled position without working exits (subject: symbol)
  broker_unreachable,      // connection attempts fail; calls wait for the broker's return
  unreadable_broker_data,  // an answer of the broker that could not be read
};
std::string_view to_string(AlertKind k);
std::optional<AlertKind> parse_alert_kind(std::string_view s);

// critical: someone should act (an order or a position is not what we believe, the broker is
// away); warning: worth knowing, orderly copes on its own (stream down, budget near its limit).
enum class AlertSeverity : std::uint8_t { critical, warning };
AlertSeverity severity(AlertKind k);
std::string_view to_string(AlertSeverity s);

struct Alert {
  std::int64_t id = 0;
  AlertKind kind = AlertKind::anomaly;
  std::string subject;  // what it is about: a symbol, an order's client id, "stream"
  std::string message;
  Timestamp raised_at;
  std::optional<Timestamp> cleared_at;
  bool active() const { return !cleared_at.has_value(); }
};

}  // namespace orderly
