#include "engine/alert_rules.h"

#include <fmt/format.h>

#include <utility>

#include "core/ids.h"

namespace orderly {

void AlertRules::note_unreadable(const std::vector<UnreadableItem>& items, Timestamp now) {
  for (const UnreadableItem& u : items) {
    ++metrics_.broker_unreadable;
    const std::string subject = u.kind + " " + (u.id.empty() ? "(no id)" : u.id);
    unreadable_seen_[subject] = now;
    // The alert keeps the payload (bounded by the adapter): it is the audit of what was skipped.
    alerts_.raise(AlertKind::unreadable_broker_data, subject,
                  fmt::format("skipped an unreadable {} in the broker's answer ({}); payload: {}",
                              u.kind, u.reason, u.raw),
                  now);
  }
}

// Alerts about one order clear when the order moved on or is gone from memory (its trade
// ended); anomalies (refused evidence, each also an audit event and a counted metric) clear
// after kAnomalyClearMs.
void AlertRules::clear_settled(Timestamp now) {
  constexpr std::int64_t kAnomalyClearMs = 600'000;
  std::vector<std::pair<AlertKind, std::string>> done;
  alerts_.for_each_active(AlertKind::stuck_order, [&](const Alert& a) {
    if (s_.ledger.by_client_id(a.subject)) return;  // an order's: it clears when the order answers
    // A symbol's (ensure_exits: its exits ended as fast as they were placed) clears once the
    // symbol is covered or flat; a client id no longer known was pruned with its trade. It
    // used to clear at every tick and be raised again at the next check: ~10 a second.
    const SymbolBook book = s_.cover.book_of(a.subject);
    if (book.net().is_zero() || book.is_protected()) done.emplace_back(a.kind, a.subject);
  });
  alerts_.for_each_active(AlertKind::order_parked, [&](const Alert& a) {
    const std::optional<OrderId> o = s_.ledger.by_client_id(a.subject);
    const bool gone = !o;  // pruned with its trade
    if (gone || (s_.ledger.order_at(*o).state != OrderState::parked &&
                 s_.ledger.order_at(*o).state != OrderState::submit_failed)) {
      done.emplace_back(a.kind, a.subject);
    }
  });
  // An order's mismatch (its broker id unknown to the broker) clears once the order ended, or
  // left with its trade; a symbol's is judged by the positions read (PositionsReconciler).
  alerts_.for_each_active(AlertKind::reconciliation_mismatch, [&](const Alert& a) {
    if (!a.subject.starts_with(kClientOrderIdPrefix)) return;
    const std::optional<OrderId> o = s_.ledger.by_client_id(a.subject);
    if (!o || is_terminal(s_.ledger.order_at(*o).state)) {
      done.emplace_back(a.kind, a.subject);
    }
  });
  // An unreadable element clears the stated period after the broker last sent it.
  alerts_.for_each_active(AlertKind::unreadable_broker_data, [&](const Alert& a) {
    auto seen = unreadable_seen_.find(a.subject);
    const Timestamp last = seen == unreadable_seen_.end() ? a.raised_at : seen->second;
    if (now.ms_since(last) >= kAnomalyClearMs) {
      done.emplace_back(a.kind, a.subject);
      if (seen != unreadable_seen_.end()) unreadable_seen_.erase(seen);
    }
  });
  alerts_.for_each_active(AlertKind::anomaly, [&](const Alert& a) {
    // The store's anomaly clears with the next good commit.
    if (a.subject != "store" && now.ms_since(a.raised_at) >= kAnomalyClearMs) {
      done.emplace_back(a.kind, a.subject);
    }
  });
  for (auto& [kind, subject] : done) alerts_.clear(kind, subject, now);
}

void AlertRules::check(Timestamp now) {
  clear_settled(now);
  if (s_.last_sync_at && now.ms_since(*s_.last_sync_at) > s_.cadence.sync_lag_limit(now)) {
    alerts_.raise(AlertKind::sync_lag, "sync",
                  fmt::format("no completed poll for {} ms", now.ms_since(*s_.last_sync_at)), now);
  }
  const int attempts = s_.retries.attempts_within(cfg_.retry_storm_window_ms, now);
  if (attempts >= cfg_.retry_storm_attempts) {
    alerts_.raise(AlertKind::retry_storm, "submitter",
                  fmt::format("{} re-sends and broker refusals in {} ms", attempts,
                              cfg_.retry_storm_window_ms),
                  now);
  } else if (attempts < cfg_.retry_storm_attempts / 2) {
    alerts_.clear(AlertKind::retry_storm, "submitter", now);
  }
  const std::int64_t used = s_.budget.calls_last_minute(now);
  if (used * 10 >= s_.budget.limit() * 9) {
    alerts_.raise(
        AlertKind::rate_limit_near, "rest",
        fmt::format("{} REST calls in the last minute (budget {})", used, s_.budget.limit()), now);
  } else if (used * 10 < s_.budget.limit() * 7) {
    alerts_.clear(AlertKind::rate_limit_near, "rest", now);
  }
}

}  // namespace orderly
