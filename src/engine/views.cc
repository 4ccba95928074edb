#include "engine/views.h"

#include <fmt/format.h>

#include <map>
#include <set>

namespace orderly {

Health EngineViews::health(Timestamp now) const {
  Health h;
  h.stream_connected = s_.stream.is_connected();
  h.sync_lag_limit_ms = s_.cadence.sync_lag_limit(now);
  h.store_failing_since = s_.store_health.failing_since();
  s_.alerts.for_each_active([&](const Alert& a) {
    // One unprotected_position alert per symbol left without working exits (the exit book's).
    if (a.kind == AlertKind::unprotected_position) ++h.unprotected_positions;
    // Those two have their own reasons (broker_reachable, unprotected_positions).
    if (severity(a.kind) != AlertSeverity::critical || a.kind == AlertKind::broker_unreachable ||
        a.kind == AlertKind::unprotected_position) {
      return;
    }
    h.critical_alerts.push_back(fmt::format("{} {}", to_string(a.kind), a.subject));
  });
  h.last_stream_event_at = s_.stream.last_event_at();
  h.last_sync_at = s_.last_sync_at;
  h.sync_lag_ms = s_.last_sync_at ? now.ms_since(*s_.last_sync_at) : 0;
  h.store_ok = s_.store_health.ok();
  h.store_error = s_.store_health.error();
  h.broker_ok = s_.broker_ok;
  for (const auto& [id, o] : s_.ledger.orders()) {
    if (!is_terminal(o.state) && o.state != OrderState::parked) ++h.open_orders;
  }
  h.rest_calls_last_minute = s_.budget.calls_last_minute(now);
  h.rest_budget_per_minute = s_.budget.limit();
  assess(h, now);
  return h;
}

// Prometheus histogram of broker event time -> local state (cumulative buckets).
static void append_apply_latency_histogram(std::string& s, const EngineMetrics& m) {
  s += "# HELP orderly_event_apply_latency_ms Broker event time to local state\n"
       "# TYPE orderly_event_apply_latency_ms histogram\n";
  std::int64_t cum = 0;
  for (std::size_t i = 0; i < m.apply_latency_bucket_ms.size(); ++i) {
    cum += m.apply_latency_counts[i];
    s += fmt::format("orderly_event_apply_latency_ms_bucket{{le=\"{}\"}} {}\n",
                     m.apply_latency_bucket_ms[i], cum);
  }
  cum += m.apply_latency_counts.back();
  s += fmt::format("orderly_event_apply_latency_ms_bucket{{le=\"+Inf\"}} {}\n", cum);
  s += fmt::format("orderly_event_apply_latency_ms_sum {}\n", m.apply_latency_sum_ms);
  s += fmt::format("orderly_event_apply_latency_ms_count {}\n", cum);
}

std::string EngineViews::metrics_text(Timestamp now) const {
  std::string s;
  auto line = [&](std::string_view name, std::string_view help, std::string_view type,
                  auto value) {
    s += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  std::map<OrderState, std::int64_t> by_state;
  for (const auto& [id, o] : s_.ledger.orders()) by_state[o.state]++;
  s += "# HELP orderly_orders Orders held in memory by state\n# TYPE orderly_orders gauge\n";
  for (auto& [st, n] : by_state) {
    s += fmt::format("orderly_orders{{state=\"{}\"}} {}\n", to_string(st), n);
  }
  line("orderly_submissions_total", "Submit requests sent", "counter", s_.metrics.submissions);
  s += "# HELP orderly_retries_total Resubmissions by reason\n# TYPE orderly_retries_total "
       "counter\n";
  for (auto& [reason, n] : s_.metrics.retries_by_reason) {
    s += fmt::format("orderly_retries_total{{reason=\"{}\"}} {}\n", reason, n);
  }
  line("orderly_insufficient_qty_errors_total", "40310000 answers", "counter",
       s_.metrics.insufficient_qty_errors);
  line("orderly_duplicate_client_id_adopted_total", "40010001 answers resolved by adoption",
       "counter", s_.metrics.duplicate_client_id_adopted);
  line("orderly_sync_lag_ms", "Milliseconds since the last completed poll", "gauge",
       s_.last_sync_at ? now.ms_since(*s_.last_sync_at) : 0);
  line("orderly_stream_connected", "1 when trade_updates is connected", "gauge",
       s_.stream.is_connected() ? 1 : 0);
  line("orderly_stream_reconnects_total", "trade_updates (re)connects", "counter",
       s_.metrics.stream_reconnects);
  line("orderly_stream_events_total", "trade_updates messages", "counter",
       s_.metrics.stream_events);
  line("orderly_fills_detected_stream_total", "Fills first seen on the stream", "counter",
       s_.metrics.fills_from_stream);
  line("orderly_fills_detected_poll_total", "Fills first seen by polling", "counter",
       s_.metrics.fills_from_poll);
  line("orderly_rest_calls_total", "REST calls made", "counter", s_.metrics.rest_calls);
  const std::int64_t used = s_.budget.calls_last_minute(now);
  line("orderly_rest_calls_last_minute", "REST calls in the last 60 s", "gauge", used);
  line("orderly_rest_headroom", "REST calls left in the per-minute budget", "gauge",
       s_.budget.limit() - used);
  line("orderly_reconcile_mismatches_total", "Position drifts flagged", "counter",
       s_.metrics.reconcile_mismatches);
  line("orderly_anomalies_total", "Evidence refused by the state machine", "counter",
       s_.metrics.anomalies);
  line("orderly_unexpected_states_total",
       "Inputs rolled back for a state the engine did not expect (then resynced)", "counter",
       s_.metrics.unexpected_states);
  line("orderly_broker_unreadable_total", "Elements of broker answers skipped as unreadable",
       "counter", s_.metrics.broker_unreadable);
  // The same count as Health::unprotected_positions: the active unprotected_position alerts.
  const std::size_t unprotected = s_.alerts.active_count(AlertKind::unprotected_position);
  line("orderly_unprotected_positions",
       "Symbols whose filled position has had no working exit past unprotected_grace_ms", "gauge",
       unprotected);
  line("orderly_store_ok", "1 when the last store commit succeeded", "gauge",
       s_.store_health.ok() ? 1 : 0);
  line("orderly_active_alerts", "Alerts currently raised", "gauge", s_.alerts.active_count());
  append_apply_latency_histogram(s, s_.metrics);
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

void EngineViews::add_prices(PositionView& v) const {
  if (const BrokerPosition* b = s_.positions_read.find(v.symbol)) {
    const BrokerPosition& bp = *b;
    v.avg_entry_price = bp.avg_entry_price;
    v.current_price = bp.current_price;
    v.priced_at = s_.positions_read.last_answered_at();
    const auto diff =
        bp.current_price ? bp.current_price->checked_sub(bp.avg_entry_price) : std::nullopt;
    if (auto pl = diff ? diff->checked_mul(bp.qty) : std::nullopt) {  // none past Decimal's range
      v.unrealized_pl = pl->round_to(Decimal::must("0.01"), Rounding::half_even);
    }
  } else if (const Position* p = s_.ledger.position(v.symbol); p != nullptr && !p->qty.is_zero()) {
    v.avg_entry_price = p->avg_entry_price;
  }
}

std::vector<PositionView> EngineViews::positions() const {
  std::set<std::string> symbols;
  for (auto& [s, p] : s_.ledger.positions()) symbols.insert(s);
  for (auto& [s, p] : s_.positions_read.all()) symbols.insert(s);
  std::vector<PositionView> out;
  for (const std::string& s : symbols) {
    PositionView v;
    v.symbol = s;
    v.local_qty = s_.ledger.position_qty(s);
    if (s_.positions_read.read_at() || s_.positions_read.last_answered_at()) {
      v.broker_qty = s_.positions_read.qty(s);
      v.drift = *v.broker_qty - v.local_qty;
      v.mismatch = !v.drift.is_zero() && !s_.positions_read.changed_since_asked(s);
    }
    add_prices(v);
    const SymbolBook book = s_.cover.book_of(s);
    v.held_by_trades = book.net();
    v.covered_by_exits = book.covered(book.net().is_negative() ? Side::buy : Side::sell);
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace orderly
