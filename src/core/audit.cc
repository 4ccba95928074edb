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

constexpr std::array<std::pair<AlertKind, std::string_view>, 9> kKinds{{
    {AlertKind::stream_down, "stream_down"},
    {AlertKind::sync_lag, "sync_lag"},
    {AlertKind::stuck_order, "stuck_order"},
    {AlertKind::retry_storm, "retry_storm"},
    {AlertKind::reconciliation_mismatch, "reconciliation_mismatch"},
    {AlertKind::external_hold, "external_hold"},
    {AlertKind::rate_limit_near, "rate_limit_near"},
    {AlertKind::order_parked, "order_parked"},
    {AlertKind::anomaly, "anomaly"},
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

}  // namespace orderly
