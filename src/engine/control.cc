// What control.h defines beyond its types: how health is judged, shared by the engine's views
// and the API server (which adds its own reasons, then judges again).
#include "engine/control.h"

#include <fmt/format.h>

namespace orderly {

std::string_view to_string(HealthStatus s) {
  switch (s) {
    case HealthStatus::ok: return "ok";
    case HealthStatus::degraded: return "degraded";
    case HealthStatus::down: return "down";
  }
  return "down";
}

namespace {

// How long the store may fail every commit, or the engine stay silent, before the account
// counts as unable to trade rather than merely in trouble.
constexpr std::int64_t kDownAfterMs = 10'000;

std::string seconds(std::int64_t ms) { return fmt::format("{:.1f} s", ms / 1000.0); }

}  // namespace

void assess(Health& h, Timestamp now) {
  std::vector<std::string> down, degraded;
  if (h.credentials_refused) down.push_back("the broker refuses the API keys");
  if (h.store_failing_since && now.ms_since(*h.store_failing_since) >= kDownAfterMs) {
    down.push_back(fmt::format("every store commit has failed for {}: {}",
                               seconds(now.ms_since(*h.store_failing_since)), h.store_error));
  } else if (!h.store_ok) {
    degraded.push_back("the store answers errors: " + h.store_error);
  }
  if (h.snapshot_age_ms) {
    (*h.snapshot_age_ms >= kDownAfterMs ? down : degraded)
        .push_back(fmt::format("the engine has not answered for {} (waiting on the store?); "
                               "these figures are that old",
                               seconds(*h.snapshot_age_ms)));
  }
  if (!h.broker_reachable) {
    degraded.push_back(
        h.broker_unreachable_since
            ? fmt::format("the broker has been unreachable for {}",
                          seconds(now.ms_since(*h.broker_unreachable_since)))
            : std::string("the broker is unreachable"));
  } else if (!h.broker_ok) {
    degraded.push_back("the broker's last call failed (a connection failure or an HTTP 5xx)");
  }
  if (h.stream_expected && !h.stream_connected) {
    degraded.push_back("the trade_updates stream is not connected");
  }
  if (h.last_sync_at && h.sync_lag_ms > h.sync_lag_limit_ms) {
    degraded.push_back(fmt::format("no poll completed for {} (limit {})", seconds(h.sync_lag_ms),
                                   seconds(h.sync_lag_limit_ms)));
  }
  if (h.unprotected_positions > 0) {
    degraded.push_back(fmt::format("{} filled position(s) without working exits",
                                   h.unprotected_positions));
  }
  constexpr std::size_t kNamed = 5;  // a burst of alerts is counted, not listed
  for (std::size_t i = 0; i < h.critical_alerts.size() && i < kNamed; ++i) {
    degraded.push_back("critical alert: " + h.critical_alerts[i]);
  }
  if (h.critical_alerts.size() > kNamed) {
    degraded.push_back(fmt::format("{} more critical alerts", h.critical_alerts.size() - kNamed));
  }
  h.status = !down.empty() ? HealthStatus::down
             : !degraded.empty() ? HealthStatus::degraded
                                 : HealthStatus::ok;
  h.reasons = std::move(down);
  for (auto& r : degraded) h.reasons.push_back(std::move(r));
}

}  // namespace orderly
