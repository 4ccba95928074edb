#pragma once
// What the outside (local HTTP API, CLI through the API, demo) may ask of a running engine.
// Implemented by the engine runtime; the API server depends only on this interface and on the
// Store's read queries.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit.h"
#include "core/decimal.h"
#include "core/status.h"
#include "core/time.h"
#include "core/trade.h"

namespace orderly {

// ok: trading and in step with the broker. degraded: trading, but something an operator should
// know about is wrong (the stream is down, no poll for sync_lag_ms, a position without exits, a
// critical alert, store or broker errors). down: the account cannot trade.
enum class HealthStatus : std::uint8_t { ok, degraded, down };
std::string_view to_string(HealthStatus s);

struct Health {
  bool stream_connected = false;
  bool stream_expected = true;  // false when polling only by configuration
  std::optional<Timestamp> last_stream_event_at;
  std::optional<Timestamp> last_sync_at;  // last completed poll (fill catch-up or sweep)
  std::int64_t sync_lag_ms = 0;           // now - last_sync_at
  std::int64_t sync_lag_limit_ms = 5000;  // [alerts] sync_lag_ms
  bool store_ok = true;
  std::string store_error;
  std::optional<Timestamp> store_failing_since;  // first failed commit of the current run
  bool broker_ok = true;  // the last REST call got an answer other than a 5xx
  bool broker_reachable = true;          // false while connection attempts fail (backing off)
  std::optional<Timestamp> broker_unreachable_since;
  bool credentials_refused = false;      // the broker answered 401/403 to our keys
  std::int64_t unprotected_positions = 0;  // filled positions without working exits
  std::vector<std::string> critical_alerts;  // "kind subject" of each active critical alert
  std::int64_t open_orders = 0;
  std::int64_t rest_calls_last_minute = 0;
  std::int64_t rest_budget_per_minute = 190;
  // Set when the engine did not answer within the deadline (its thread waits on the store or is
  // busy): these fields are its last snapshot, this old.
  std::optional<std::int64_t> snapshot_age_ms;
  HealthStatus status = HealthStatus::ok;
  std::vector<std::string> reasons;  // why not ok, one short sentence each
};

// Sets `status` and `reasons` from the other fields (see HealthStatus).
void assess(Health& h, Timestamp now);

// Counters for /metrics (monotonic unless noted).
struct EngineMetrics {
  std::int64_t submissions = 0;           // submit commands released
  std::map<std::string, std::int64_t> retries_by_reason;
  std::int64_t insufficient_qty_errors = 0;  // 40310000 answers seen
  std::int64_t duplicate_client_id_adopted = 0;
  std::int64_t stream_events = 0;
  std::int64_t stream_reconnects = 0;
  std::int64_t fills_from_stream = 0;
  std::int64_t fills_from_poll = 0;
  std::int64_t rest_calls = 0;
  std::int64_t reconcile_mismatches = 0;
  std::int64_t anomalies = 0;
  // Inputs rolled back because the engine met a state it did not expect (a throw inside an
  // input): each is a bug's trace, answered by a full resync. Store read failures not counted.
  std::int64_t unexpected_states = 0;
  std::int64_t broker_unreadable = 0;  // elements of broker answers skipped as unreadable
  std::int64_t commits = 0;
  std::int64_t commit_failures = 0;
  std::int64_t detection_ms_max = 0;  // broker fill time -> local state, poll path included
  // Event-apply latency (broker timestamp -> applied), histogram buckets in ms (gauge-like).
  std::vector<std::int64_t> apply_latency_bucket_ms = {1, 5, 10, 50, 100, 500, 1000, 5000, 30000};
  std::vector<std::int64_t> apply_latency_counts = std::vector<std::int64_t>(10, 0);
  std::int64_t apply_latency_sum_ms = 0;
};

struct PositionView {
  std::string symbol;
  Decimal local_qty;
  std::optional<Decimal> broker_qty;  // nullopt when the broker could not be read
  Decimal drift;                      // broker - local (0 when unknown)
  // Drift confirmed by a broker read asked for after the last local change (our own fill is
  // not drift while the broker's figure predates it).
  bool mismatch = false;
  // For the trader's P&L: the broker's figures when it was read (its average entry is the
  // truth; ours is shown only while the broker has not been read), and the broker's last price
  // as of `priced_at` (positions are read at the sweep, so the price can be that old).
  std::optional<Decimal> avg_entry_price;
  std::optional<Decimal> current_price;
  std::optional<Decimal> unrealized_pl;  // (current - average entry) x signed broker qty
  std::optional<Timestamp> priced_at;
  // What our working exits at the broker would close of what our trades hold (the exit book's
  // view; the unprotected_position alert is the judgement, after its grace).
  Decimal held_by_trades;
  Decimal covered_by_exits;
};

struct ReconcileReport {
  int orders_checked = 0;
  int orders_adopted = 0;       // ours at the broker, unknown or stale locally: adopted
  int orders_external = 0;      // not ours: flagged
  int orders_unadopted = 0;     // ours by client id, but their trade is in no store: flagged
  int fills_adopted = 0;
  int position_mismatches = 0;
  std::vector<std::string> findings;  // one line each, for people
  Status status;                      // not ok when the broker or store could not be read
  bool complete = true;  // false: the reconciliation still runs; these are its findings so far
};

// A change of a trade's exits (PATCH /api/trades/ID). Each target is kept when not given;
// `remove_*` drops that exit (the other must remain). See Engine::modify_exits.
struct ExitChange {
  std::optional<PriceTarget> take_profit;
  std::optional<PriceTarget> stop_loss;
  bool remove_take_profit = false;
  bool remove_stop_loss = false;
  bool allow_wide = false;  // as at open: an exit beyond kWideExitPercent is meant
  // The pair's price_increment, for a crypto trade that keeps none (opened before schema 4):
  // its new exits are priced to it, and the trade keeps it from then on.
  std::optional<Decimal> price_increment;
};

class EngineControl {
 public:
  virtual ~EngineControl() = default;
  // Validates, records the intent durably, then returns; submission proceeds asynchronously.
  virtual StatusOr<Trade> open_trade(const TradeSpec& spec) = 0;
  // Cancels working exits (and the entry), then flattens what is held.
  virtual Status cancel_trade(TradeId id) = 0;
  // Cancels the entry of a trade that holds nothing yet; conflict while it holds a position
  // (a fill racing the cancel keeps its exits). See Engine::cancel_entry.
  virtual Status cancel_entry(TradeId id) = 0;
  // cancel_trade for every trade not yet ended: the ids now closing.
  virtual StatusOr<std::vector<TradeId>> close_all() = 0;
  // New exit targets for a trade that has not ended; the broker's orders follow (replaced, or
  // canceled and placed again). invalid_argument / not_found / conflict name the rule.
  virtual Status modify_exits(TradeId id, const ExitChange& change) = 0;
  virtual Health health() const = 0;
  // Prometheus text exposition of the engine's counters and gauges.
  virtual std::string metrics_text() const = 0;
  virtual std::vector<PositionView> positions() = 0;
  virtual ReconcileReport reconcile(bool fix) = 0;
};

}  // namespace orderly
