#pragma once
// What the outside (local HTTP API, CLI through the API, demo) may ask of a running engine.
// Implemented by the engine runtime; the API server depends only on this interface and on the
// Store's read queries.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/audit.h"
#include "core/decimal.h"
#include "core/status.h"
#include "core/time.h"
#include "core/trade.h"

namespace orderly {

struct Health {
  bool stream_connected = false;
  std::optional<Timestamp> last_stream_event_at;
  std::optional<Timestamp> last_sync_at;  // last completed poll (fill catch-up or sweep)
  std::int64_t sync_lag_ms = 0;           // now - last_sync_at
  bool store_ok = true;
  std::string store_error;
  bool broker_ok = true;  // the last REST call reached the broker
  std::int64_t open_orders = 0;
  std::int64_t rest_calls_last_minute = 0;
  std::int64_t rest_budget_per_minute = 190;
};

struct PositionView {
  std::string symbol;
  Decimal local_qty;
  std::optional<Decimal> broker_qty;  // nullopt when the broker could not be read
  Decimal drift;                      // broker - local (0 when unknown)
};

struct ReconcileReport {
  int orders_checked = 0;
  int orders_adopted = 0;       // ours at the broker, unknown or stale locally: adopted
  int orders_external = 0;      // not ours: flagged
  int fills_adopted = 0;
  int position_mismatches = 0;
  std::vector<std::string> findings;  // one line each, for people
  Status status;                      // not ok when the broker or store could not be read
};

class EngineControl {
 public:
  virtual ~EngineControl() = default;
  // Validates, records the intent durably, then returns; submission proceeds asynchronously.
  virtual StatusOr<Trade> open_trade(const TradeSpec& spec) = 0;
  // Cancels working exits (and the entry), then flattens what is held.
  virtual Status cancel_trade(TradeId id) = 0;
  virtual Health health() const = 0;
  // Prometheus text exposition of the engine's counters and gauges.
  virtual std::string metrics_text() const = 0;
  virtual std::vector<PositionView> positions() = 0;
  virtual ReconcileReport reconcile(bool fix) = 0;
};

}  // namespace orderly
