#include "core/audit.h"

#include <array>
#include <utility>

namespace orderly {
namespace {

constexpr std::array<std::pair<EventSource, std::string_view>, 7> kSources{{
    {EventSource::intent, "intent"},
    {EventSource::response, "response"},
    {EventSource::stream, "stream"},
    {EventSource::poll, "poll"},
    {EventSource::lookup, "lookup"},
    {EventSource::reconcile, "reconcile"},
    {EventSource::error, "error"},
}};

constexpr std::array<std::pair<AlertKind, std::string_view>, 12> kKinds{{
    {AlertKind::stream_down, "stream_down"},
    {AlertKind::sync_lag, "sync_lag"},
    {AlertKind::stuck_order, "stuck_order"},
    {AlertKind::retry_storm, "retry_storm"},
    {AlertKind::reconciliation_mismatch, "reconciliation_mismatch"},
    {AlertKind::external_hold, "external_hold"},
    {AlertKind::rate_limit_near, "rate_limit_near"},
    {AlertKind::order_parked, "order_parked"},
    {AlertKind::anomaly, "anomaly"},
    {AlertKind::unprotected_position, "unprotected_position"},
    {AlertKind::broker_unreachable, "broker_unreachable"},
    {AlertKind::unreadable_broker_data, "unreadable_broker_data"},
}};

}  // namespace

std::string_view to_string(EventSource s) {
  for (const auto& [v, n] : kSources) {
    if (v == s) return n;
  }
  return "?";
}

std::optional<EventSource> parse_event_source(std::string_view s) {
  for (const auto& [v, n] : kSources) {
    if (n == s) return v;
  }
  return std::nullopt;
}

std::string_view to_string(AlertKind k) {
  for (const auto& [v, n] : kKinds) {
    if (v == k) return n;
  }
  return "?";
}

std::optional<AlertKind> parse_alert_kind(std::string_view s) {
  for (const auto& [v, n] : kKinds) {
    if (n == s) return v;
  }
  return std::nullopt;
}

AlertSeverity severity(AlertKind k) {
  switch (k) {
    case AlertKind::stuck_order:
    case AlertKind::order_parked:
    case AlertKind::reconciliation_mismatch:
    case AlertKind::external_hold:
    case AlertKind::unprotected_position:
    case AlertKind::broker_unreachable:
      return AlertSeverity::critical;
    case AlertKind::stream_down:
    case AlertKind::sync_lag:
    case AlertKind::retry_storm:
    case AlertKind::rate_limit_near:
    case AlertKind::anomaly:
    case AlertKind::unreadable_broker_data:
      return AlertSeverity::warning;
  }
  return AlertSeverity::critical;
}

std::string_view to_string(AlertSeverity s) {
  return s == AlertSeverity::critical ? "critical" : "warning";
}

}  // namespace orderly
