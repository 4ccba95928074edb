// Engine::Impl, views: health, metrics text, positions.
#include <fmt/format.h>

#include "engine/engine_impl.h"

namespace orderly {

Health Engine::Impl::health(Timestamp now) {
  Health h;
  h.stream_connected = stream_connected_;
  h.last_stream_event_at = last_stream_event_at_;
  h.last_sync_at = last_sync_at_;
  h.sync_lag_ms = last_sync_at_ ? now.ms_since(*last_sync_at_) : 0;
  h.store_ok = store_ok_;
  h.store_error = store_error_;
  h.broker_ok = broker_ok_;
  for (auto& [id, o] : orders_) {
    if (!is_terminal(o.state) && o.state != OrderState::parked) ++h.open_orders;
  }
  h.rest_calls_last_minute = calls_last_minute(now);
  h.rest_budget_per_minute = cfg_.rate_limit_per_min;
  return h;
}

std::string Engine::Impl::metrics_text(Timestamp now) {
  std::string s;
  auto line = [&](std::string_view name, std::string_view help, std::string_view type,
                  auto value) {
    s += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  std::map<OrderState, std::int64_t> by_state;
  for (auto& [id, o] : orders_) by_state[o.state]++;
  s += "# HELP orderly_orders Orders held in memory by state\n# TYPE orderly_orders gauge\n";
  for (auto& [st, n] : by_state) {
    s += fmt::format("orderly_orders{{state=\"{}\"}} {}\n", to_string(st), n);
  }
  line("orderly_submissions_total", "Submit requests sent", "counter", metrics_.submissions);
  s += "# HELP orderly_retries_total Resubmissions by reason\n# TYPE orderly_retries_total "
       "counter\n";
  for (auto& [reason, n] : metrics_.retries_by_reason) {
    s += fmt::format("orderly_retries_total{{reason=\"{}\"}} {}\n", reason, n);
  }
  line("orderly_insufficient_qty_errors_total", "40310000 answers", "counter",
       metrics_.insufficient_qty_errors);
  line("orderly_duplicate_client_id_adopted_total", "40010001 answers resolved by adoption",
       "counter", metrics_.duplicate_client_id_adopted);
  line("orderly_sync_lag_ms", "Milliseconds since the last completed poll", "gauge",
       last_sync_at_ ? now.ms_since(*last_sync_at_) : 0);
  line("orderly_stream_connected", "1 when trade_updates is connected", "gauge",
       stream_connected_ ? 1 : 0);
  line("orderly_stream_reconnects_total", "trade_updates (re)connects", "counter",
       metrics_.stream_reconnects);
  line("orderly_stream_events_total", "trade_updates messages", "counter",
       metrics_.stream_events);
  line("orderly_fills_detected_stream_total", "Fills first seen on the stream", "counter",
       metrics_.fills_from_stream);
  line("orderly_fills_detected_poll_total", "Fills first seen by polling", "counter",
       metrics_.fills_from_poll);
  line("orderly_rest_calls_total", "REST calls made", "counter", metrics_.rest_calls);
  const std::int64_t used = calls_last_minute(now);
  line("orderly_rest_calls_last_minute", "REST calls in the last 60 s", "gauge", used);
  line("orderly_rest_headroom", "REST calls left in the per-minute budget", "gauge",
       cfg_.rate_limit_per_min - used);
  line("orderly_reconcile_mismatches_total", "Position drifts flagged", "counter",
       metrics_.reconcile_mismatches);
  line("orderly_anomalies_total", "Evidence refused by the state machine", "counter",
       metrics_.anomalies);
  line("orderly_store_ok", "1 when the last store commit succeeded", "gauge", store_ok_ ? 1 : 0);
  line("orderly_active_alerts", "Alerts currently raised", "gauge", active_alerts_.size());
  s += "# HELP orderly_event_apply_latency_ms Broker event time to local state\n"
       "# TYPE orderly_event_apply_latency_ms histogram\n";
  std::int64_t cum = 0;
  for (std::size_t i = 0; i < metrics_.apply_latency_bucket_ms.size(); ++i) {
    cum += metrics_.apply_latency_counts[i];
    s += fmt::format("orderly_event_apply_latency_ms_bucket{{le=\"{}\"}} {}\n",
                     metrics_.apply_latency_bucket_ms[i], cum);
  }
  cum += metrics_.apply_latency_counts.back();
  s += fmt::format("orderly_event_apply_latency_ms_bucket{{le=\"+Inf\"}} {}\n", cum);
  s += fmt::format("orderly_event_apply_latency_ms_sum {}\n", metrics_.apply_latency_sum_ms);
  s += fmt::format("orderly_event_apply_latency_ms_count {}\n", cum);
  s += "# HELP orderly_position_qty Position by source\n# TYPE orderly_position_qty gauge\n";
  for (const PositionView& p : positions()) {
    s += fmt::format("orderly_position_qty{{symbol=\"{}\",source=\"local\"}} {}\n", p.symbol,
                     p.local_qty.str());
    if (p.broker_qty) {
      s += fmt::format("orderly_position_qty{{symbol=\"{}\",source=\"broker\"}} {}\n",
                       p.symbol, p.broker_qty->str());
    }
  }
  return s;
}

std::vector<PositionView> Engine::Impl::positions() const {
  std::set<std::string> symbols;
  for (auto& [s, p] : positions_) symbols.insert(s);
  for (auto& [s, p] : broker_positions_) symbols.insert(s);
  std::vector<PositionView> out;
  for (const std::string& s : symbols) {
    PositionView v;
    v.symbol = s;
    v.local_qty = positions_.count(s) ? positions_.at(s).qty : Decimal();
    if (positions_read_at_ || last_positions_at_) {
      v.broker_qty = broker_positions_.count(s) ? broker_positions_.at(s).qty : Decimal();
      v.drift = *v.broker_qty - v.local_qty;
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace orderly
