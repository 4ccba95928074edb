#include "server/accounts_view.h"

#include <algorithm>

#include "server/json_shapes.h"

namespace orderly::server {
namespace json = boost::json;
using shapes::ts;

std::string_view to_string(AccountState s) {
  switch (s) {
    case AccountState::starting: return "starting";
    case AccountState::standby: return "standby";
    case AccountState::active: return "active";
    case AccountState::stopping: return "stopping";
    case AccountState::failed: return "failed";
    case AccountState::stopped: return "stopped";
  }
  return "unknown";
}

namespace {

json::object account_json(const AccountStatus& s, json::value health) {
  return {{"name", s.name},
          {"state", to_string(s.state)},
          {"since", ts(s.since)},
          {"detail", s.detail},
          {"store_account", s.store_account},
          {"leases_acquired", s.leases_acquired},
          {"leases_lost", s.leases_lost},
          {"last_lost_at", ts(s.last_lost_at)},
          {"last_lost_reason", s.last_lost_reason},
          {"health", std::move(health)}};
}

// A time that was set (a zero one renders null, as unknown).
bool known(const std::optional<Timestamp>& t) { return t && t->ns != 0; }

// Why an account that does not run here cannot trade here.
std::string idle_reason(const AccountStatus& s) {
  switch (s.state) {
    case AccountState::standby: return "another orderly instance owns the account; standing by";
    case AccountState::starting: return s.detail.empty() ? "starting" : "starting: " + s.detail;
    default: return std::string(to_string(s.state)) + (s.detail.empty() ? "" : ": " + s.detail);
  }
}

json::object idle_health(const AccountStatus& s) {
  return {{"status", "down"},
          {"reasons", json::array{json::string(idle_reason(s))}},
          {"state", to_string(s.state)}};
}

// The daemon's verdict, account by account.
struct Verdict {
  int judged = 0;
  int down = 0;
  bool degraded = false;
  std::vector<std::string> reasons;

  void judge(const std::string& account, HealthStatus status,
             const std::vector<std::string>& why) {
    ++judged;
    if (status == HealthStatus::down) ++down;
    if (status != HealthStatus::ok) degraded = true;
    for (const auto& r : why) reasons.push_back("account " + account + ": " + r);
  }
  HealthStatus status() const {
    if (judged == 0 || down == judged) return HealthStatus::down;
    return degraded ? HealthStatus::degraded : HealthStatus::ok;
  }
};

}  // namespace

std::string accounts_json(const std::vector<AccountStatus>& accounts) {
  json::array list;
  for (const auto& s : accounts) list.push_back(account_json(s, nullptr));
  return json::serialize(list);
}

std::string idle_health_json(const AccountStatus& s) { return json::serialize(idle_health(s)); }

HttpResponse daemon_health(const std::vector<DaemonAccount>& accounts) {
  json::array list;
  std::vector<HealthReport> running;
  Verdict verdict;
  for (const auto& a : accounts) {
    const AccountStatus& s = a.status;
    if (!a.queries) {
      if (s.state != AccountState::standby) {
        verdict.judge(s.name, HealthStatus::down, {idle_reason(s)});
      }
      list.push_back(account_json(s, idle_health(s)));
      continue;
    }
    running.push_back(a.queries->health_report());
    const Health& h = running.back().health;
    if (s.state != AccountState::standby) verdict.judge(s.name, h.status, h.reasons);
    list.push_back(account_json(s, shapes::health_json(running.back())));
  }
  HealthReport all = combine_health(running);
  all.health.status = verdict.status();
  all.health.reasons = std::move(verdict.reasons);
  if (verdict.judged == 0) all.health.reasons.push_back("no account runs in this process");
  json::object out = shapes::health_json(all);
  out["accounts"] = std::move(list);
  return json_body(all.health.status == HealthStatus::down ? 503 : 200, json::serialize(out));
}

HealthReport combine_health(const std::vector<HealthReport>& running) {
  HealthReport out;
  Health& all = out.health;
  all.stream_connected = !running.empty();
  all.stream_expected = false;
  all.rest_budget_per_minute = 0;
  for (const HealthReport& r : running) {
    const Health& h = r.health;
    all.stream_connected = all.stream_connected && h.stream_connected;
    all.stream_expected = all.stream_expected || h.stream_expected;
    all.store_ok = all.store_ok && h.store_ok;
    if (all.store_error.empty()) all.store_error = h.store_error;
    all.broker_ok = all.broker_ok && h.broker_ok;
    all.broker_reachable = all.broker_reachable && h.broker_reachable;
    all.credentials_refused = all.credentials_refused || h.credentials_refused;
    all.sync_lag_ms = std::max(all.sync_lag_ms, h.sync_lag_ms);
    all.open_orders += h.open_orders;
    all.unprotected_positions += h.unprotected_positions;
    all.rest_calls_last_minute += h.rest_calls_last_minute;
    all.rest_budget_per_minute += h.rest_budget_per_minute;
    if (known(h.last_stream_event_at) &&
        (!all.last_stream_event_at || *all.last_stream_event_at < *h.last_stream_event_at)) {
      all.last_stream_event_at = h.last_stream_event_at;
    }
    if (known(h.last_sync_at) && (!all.last_sync_at || *h.last_sync_at < *all.last_sync_at)) {
      all.last_sync_at = h.last_sync_at;
    }
    if (h.snapshot_age_ms) {
      all.snapshot_age_ms = std::max(all.snapshot_age_ms.value_or(0), *h.snapshot_age_ms);
    }
    out.now = std::max(out.now, r.now);
    if (!out.market) out.market = r.market;
  }
  return out;
}

std::vector<AccountAlert> lease_alerts(const std::vector<AccountStatus>& accounts) {
  std::vector<AccountAlert> out;
  for (const auto& s : accounts) {
    if (s.leases_lost == 0) continue;
    const bool active = s.state != AccountState::active;
    out.push_back({s.name,
                   {.kind = "lease_lost",
                    .subject = "account " + s.name,
                    .message = s.last_lost_reason,
                    .raised_at = s.last_lost_at,
                    .cleared_at = active ? std::nullopt : s.since,
                    .active = active}});
  }
  return out;
}

std::string feed_event_json(const OrderEvent& e, std::string_view account) {
  return json::serialize(shapes::feed_event_json(e, account));
}

}  // namespace orderly::server
