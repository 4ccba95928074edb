#include "app/account_router.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <sstream>

#include "core/time.h"

namespace orderly::app {
namespace json = boost::json;
using server::HttpRequest;
using server::HttpResponse;

namespace {

HttpResponse json_response(int status, const json::value& v) {
  return server::json_body(status, json::serialize(v));
}
HttpResponse error(int status, const std::string& message) { return server::json_error(status, message); }

json::value ts(const std::optional<Timestamp>& t) {
  if (!t || t->ns == 0) return nullptr;
  return json::string(format_rfc3339(*t));
}

struct Parsed {
  std::vector<std::string> segments;
  std::string account;  // ?account=, "" when absent
  bool has_account = false;
};

std::optional<Parsed> parse_target(const std::string& target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  Parsed p;
  for (auto seg : url->segments()) {
    if (!seg.empty()) p.segments.push_back(std::string(seg));
  }
  for (auto param : url->params()) {
    if (param.key == "account") {
      p.account = std::string(param.value);
      p.has_account = true;
    }
  }
  return p;
}

// Adds "account" to the answer's object, or to each object of its array; other bodies pass.
void tag(HttpResponse& r, const std::string& account) {
  if (r.content_type != "application/json") return;
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec) return;
  if (v.is_object()) {
    json::object& o = v.as_object();
    if (o.contains("error")) return;
    o["account"] = account;
    // An audit trail: the order inside names its account too.
    if (auto* order = o.if_contains("order"); order && order->is_object()) {
      order->as_object()["account"] = account;
    }
  } else if (v.is_array()) {
    for (auto& e : v.as_array()) {
      if (e.is_object()) e.as_object()["account"] = account;
    }
  } else {
    return;
  }
  r.body = json::serialize(v);
}

// Adds account="NAME" to every sample line of a Prometheus text; HELP/TYPE lines once per name.
void label_metrics(const std::string& text, const std::string& account,
                   std::map<std::string, bool>& seen_meta, std::string& out) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (!seen_meta.emplace(line, true).second) continue;
      out += line + "\n";
      continue;
    }
    const std::string label = "account=\"" + account + "\"";
    auto brace = line.find('{');
    auto space = line.find(' ');
    if (brace != std::string::npos && (space == std::string::npos || brace < space)) {
      bool empty_labels = brace + 1 < line.size() && line[brace + 1] == '}';
      line.insert(brace + 1, empty_labels ? label : label + ",");
    } else if (space != std::string::npos) {
      line.insert(space, "{" + label + "}");
    }
    out += line + "\n";
  }
}

// The single-account /healthz fields over every running account, so readers of that shape (the
// dashboard, scripts) keep working: all must be connected/ok, counts add up, the worst lag and
// the oldest sync count.
json::object aggregate_health(const json::array& accounts) {
  bool stream = true, store = true, broker = true, any = false;
  std::int64_t lag = 0, age = 0, open = 0, calls = 0, budget = 0, unprotected = 0;
  json::value last_event = nullptr, last_sync = nullptr, now = nullptr;
  std::string store_error;
  for (const auto& a : accounts) {
    const json::value& hv = a.as_object().at("health");
    if (!hv.is_object()) continue;
    const json::object& h = hv.as_object();
    if (!h.contains("stream_connected")) continue;  // not running here
    any = true;
    stream = stream && h.at("stream_connected").as_bool();
    store = store && h.at("store_ok").as_bool();
    broker = broker && h.at("broker_ok").as_bool();
    if (store_error.empty()) store_error = std::string(h.at("store_error").as_string());
    lag = std::max(lag, h.at("sync_lag_ms").to_number<std::int64_t>());
    if (h.at("last_sync_age_ms").is_number()) {
      age = std::max(age, h.at("last_sync_age_ms").to_number<std::int64_t>());
    }
    open += h.at("open_orders").to_number<std::int64_t>();
    unprotected += h.at("unprotected_positions").to_number<std::int64_t>();
    calls += h.at("rest_calls_last_minute").to_number<std::int64_t>();
    budget += h.at("rest_budget_per_minute").to_number<std::int64_t>();
    // RFC 3339 UTC strings of one format compare in time order.
    const json::value& ev = h.at("last_stream_event_at");
    if (ev.is_string() && (last_event.is_null() || ev.as_string() > last_event.as_string())) {
      last_event = ev;
    }
    const json::value& sy = h.at("last_sync_at");
    if (sy.is_string() && (last_sync.is_null() || sy.as_string() < last_sync.as_string())) {
      last_sync = sy;
    }
    now = h.at("now");
  }
  return {{"stream_connected", any && stream},
          {"last_stream_event_at", last_event},
          {"last_sync_at", last_sync},
          {"last_sync_age_ms", any ? json::value(age) : json::value(nullptr)},
          {"sync_lag_ms", lag},
          {"store_ok", store},
          {"store_error", store_error},
          {"broker_ok", broker},
          {"open_orders", open},
          {"unprotected_positions", unprotected},
          {"rest_calls_last_minute", calls},
          {"rest_budget_per_minute", budget},
          {"now", now}};
}

// The health of an account this process does not run (yet): it cannot trade here.
json::object idle_health(const AccountStatus& s) {
  std::string why;
  switch (s.state) {
    case AccountState::standby:
      why = "another orderly instance owns the account; standing by";
      break;
    case AccountState::starting:
      why = s.detail.empty() ? std::string("starting") : "starting: " + s.detail;
      break;
    default: why = std::string(to_string(s.state)) + (s.detail.empty() ? "" : ": " + s.detail);
  }
  return {{"status", "down"},
          {"reasons", json::array{json::string(why)}},
          {"state", to_string(s.state)}};
}

bool is_list_route(const std::vector<std::string>& seg) {
  return seg.size() == 2 && seg[0] == "api" &&
         (seg[1] == "trades" || seg[1] == "orders" || seg[1] == "positions" || seg[1] == "alerts");
}

}  // namespace

struct AccountRouter::Merged {
  static constexpr std::size_t kKeep = 10'000;  // events kept for slow SSE readers
  std::map<std::string, std::int64_t> cursor;   // account -> its last pulled store seq
  std::deque<std::pair<std::int64_t, std::string>> events;
  std::int64_t last = 0;
};

AccountRouter::AccountRouter(std::vector<AccountRunner*> accounts, bool multi)
    : accounts_(std::move(accounts)), multi_(multi), merged_(std::make_unique<Merged>()) {}

AccountRouter::~AccountRouter() = default;

AccountRunner* AccountRouter::find(const std::string& name) const {
  for (auto* a : accounts_) {
    if (a->name() == name) return a;
  }
  return nullptr;
}

HttpResponse AccountRouter::not_active(const AccountRunner& account) const {
  AccountStatus s = account.status();
  std::string why = s.state == AccountState::standby
                        ? "another orderly instance owns it; this one stands by"
                        : s.detail;
  return error(503, "account '" + s.name + "' is " + std::string(to_string(s.state)) +
                        (why.empty() ? "" : ": " + why));
}

std::string AccountRouter::health_json() {
  if (!multi_) {
    if (auto api = accounts_.front()->api()) return api->health_json();
    return json::serialize(idle_health(accounts_.front()->status()));
  }
  return accounts_json(/*with_health=*/true);
}

std::string AccountRouter::accounts_json(bool with_health) {
  json::array list;
  // The daemon's verdict: the worst of the accounts it should run (a standby is another
  // instance's to run); down only when none of them can trade.
  int judged = 0, down = 0;
  bool degraded = false;
  json::array reasons;
  for (auto* a : accounts_) {
    AccountStatus s = a->status();
    json::value health = nullptr;
    if (with_health) {
      auto api = a->api();
      health = api ? json::parse(api->health_json()) : json::value(idle_health(s));
      if (s.state != AccountState::standby) {
        ++judged;
        const auto& h = health.as_object();
        const std::string status(h.at("status").as_string());
        if (status == "down") ++down;
        if (status != "ok") degraded = true;
        for (const auto& r : h.at("reasons").as_array()) {
          reasons.push_back(json::string("account " + s.name + ": " + std::string(r.as_string())));
        }
      }
    }
    list.push_back(json::object{{"name", s.name},
                                {"state", to_string(s.state)},
                                {"since", ts(s.since)},
                                {"detail", s.detail},
                                {"store_account", s.store_account},
                                {"leases_acquired", s.leases_acquired},
                                {"leases_lost", s.leases_lost},
                                {"last_lost_at", ts(s.last_lost_at)},
                                {"last_lost_reason", s.last_lost_reason},
                                {"health", std::move(health)}});
  }
  if (!with_health) return json::serialize(list);
  json::object out = aggregate_health(list);
  if (judged == 0) reasons.push_back("no account runs in this process");
  out["status"] = (judged == 0 || down == judged) ? "down" : degraded ? "degraded" : "ok";
  out["reasons"] = std::move(reasons);
  out["accounts"] = std::move(list);
  return json::serialize(out);
}

void AccountRouter::count(const std::string& route, int status) {
  for (auto* a : accounts_) {
    if (auto api = a->api()) return api->count(route, status);
  }
}

void AccountRouter::pull_events() {
  for (auto* a : accounts_) {
    auto api = a->api();
    if (!api) continue;
    auto [it, fresh] = merged_->cursor.emplace(a->name(), 0);
    // A feed starts now: the dashboard reads history through the REST routes.
    if (fresh) it->second = api->last_event_seq();
    for (;;) {
      auto batch = api->events_after(it->second, 500);
      for (auto& [seq, text] : batch) {
        it->second = seq;
        boost::system::error_code ec;
        json::value v = json::parse(text, ec);
        if (ec || !v.is_object()) continue;
        v.as_object()["account"] = a->name();
        v.as_object()["account_seq"] = seq;
        merged_->events.emplace_back(++merged_->last, json::serialize(v));
        if (merged_->events.size() > Merged::kKeep) merged_->events.pop_front();
      }
      if (batch.size() < 500) break;
    }
  }
}

std::vector<std::pair<std::int64_t, std::string>> AccountRouter::events_after(std::int64_t after_seq,
                                                                               int limit) {
  if (!multi_) {
    if (auto api = accounts_.front()->api()) return api->events_after(after_seq, limit);
    return {};
  }
  std::lock_guard lock(events_mu_);
  pull_events();
  std::vector<std::pair<std::int64_t, std::string>> out;
  for (const auto& e : merged_->events) {
    if (e.first <= after_seq) continue;
    if (static_cast<int>(out.size()) >= limit) break;
    out.push_back(e);
  }
  return out;
}

std::int64_t AccountRouter::last_event_seq() {
  if (!multi_) {
    if (auto api = accounts_.front()->api()) return api->last_event_seq();
    return 0;
  }
  std::lock_guard lock(events_mu_);
  pull_events();
  return merged_->last;
}

HttpResponse AccountRouter::handle(const HttpRequest& request) {
  auto target = parse_target(request.target);
  if (target && target->segments == std::vector<std::string>{"api", "accounts"}) {
    if (request.method != "GET") {
      auto r = error(405, "method " + request.method + " not allowed here; allowed: GET");
      r.headers.emplace_back("Allow", "GET");
      return r;
    }
    // The runners' own states only: an engine waiting for its database cannot stall this list.
    return server::json_body(200, accounts_json(/*with_health=*/false));
  }
  if (!multi_) {
    AccountRunner& only = *accounts_.front();
    if (auto api = only.api()) return api->handle(request);
    if (target && target->segments == std::vector<std::string>{"healthz"}) {
      return json_response(503, idle_health(only.status()));
    }
    return not_active(only);
  }
  if (!target) return error(400, "malformed request target");
  return handle_multi(request);
}

HttpResponse AccountRouter::handle_multi(const HttpRequest& request) {
  const Parsed target = *parse_target(request.target);
  const auto& seg = target.segments;
  std::string names;
  for (auto* a : accounts_) names += (names.empty() ? "" : ", ") + a->name();

  // With ?account= these two answer for that account alone (further down), in the single shape.
  if (!target.has_account && seg.size() == 1 && seg[0] == "healthz") {
    if (request.method != "GET") return error(405, "method " + request.method + " not allowed here");
    json::value h = json::parse(health_json());
    return json_response(h.as_object().at("status") == "down" ? 503 : 200, h);
  }
  if (!target.has_account && seg.size() == 1 && seg[0] == "metrics") {
    if (request.method != "GET") return error(405, "method " + request.method + " not allowed here");
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    std::map<std::string, bool> seen;
    r.body = "# HELP orderly_account_active 1 when this process owns the account and runs it.\n"
             "# TYPE orderly_account_active gauge\n";
    std::string samples;
    for (auto* a : accounts_) {
      AccountStatus s = a->status();
      r.body += "orderly_account_active{account=\"" + s.name + "\"} " +
                (s.state == AccountState::active ? "1" : "0") + "\n";
      samples += "orderly_account_leases_lost_total{account=\"" + s.name + "\"} " +
                 std::to_string(s.leases_lost) + "\n";
    }
    r.body += "# HELP orderly_account_leases_lost_total Account leases this process lost.\n"
              "# TYPE orderly_account_leases_lost_total counter\n" + samples;
    for (auto* a : accounts_) {
      if (auto api = a->api()) {
        HttpResponse m = api->handle(request);
        label_metrics(m.body, a->name(), seen, r.body);
      }
    }
    return r;
  }

  // The account named by the request, if any: ?account= or a POST body's "account".
  std::string account = target.account;
  bool named = target.has_account;
  HttpRequest forwarded = request;
  const bool post_trade = request.method == "POST" && seg == std::vector<std::string>{"api", "trades"};
  if (post_trade) {
    boost::system::error_code ec;
    json::value body = json::parse(request.body, ec);
    if (!ec && body.is_object()) {
      if (auto* a = body.as_object().if_contains("account")) {
        if (!a->is_string()) return error(400, "field 'account' must be a string");
        if (named && account != a->as_string()) {
          return error(400, "?account= and the body's 'account' name different accounts");
        }
        account = std::string(a->as_string());
        named = true;
        body.as_object().erase("account");  // the engine's trade has no such field
        forwarded.body = json::serialize(body);
      }
    }
  }
  if (named) {
    AccountRunner* runner = find(account);
    if (runner == nullptr) {
      return error(404, "no account '" + account.substr(0, 40) + "'; configured: " + names);
    }
    auto api = runner->api();
    if (!api) return not_active(*runner);
    HttpResponse r = api->handle(forwarded);
    tag(r, account);
    return r;
  }

  const bool read = request.method == "GET" || request.method == "HEAD";
  if (!read && seg.size() >= 2 && seg[0] == "api") {
    return error(400, "several accounts are configured (" + names +
                          "): name one with ?account=NAME" +
                          (post_trade ? " or \"account\" in the body" : "") +
                          " (CLI: --account NAME)");
  }
  std::vector<std::pair<std::string, std::shared_ptr<server::Api>>> active;
  for (auto* a : accounts_) {
    if (auto api = a->api()) active.emplace_back(a->name(), std::move(api));
  }
  if (active.empty()) return error(503, "no account is active in this process (" + names + ")");
  if (!read || seg.empty() || seg[0] != "api") return active.front().second->handle(request);

  if (is_list_route(seg)) {
    json::array merged;
    if (seg[1] == "alerts") {
      // A lost lease is the daemon's alert: the account's own alert table is fenced against
      // this process by then. Active until the account runs here again.
      for (auto* a : accounts_) {
        AccountStatus s = a->status();
        if (s.leases_lost == 0) continue;
        const bool active = s.state != AccountState::active;
        merged.push_back(json::object{{"id", nullptr},
                                      {"kind", "lease_lost"},
                                      {"subject", "account " + s.name},
                                      {"message", s.last_lost_reason},
                                      {"raised_at", ts(s.last_lost_at)},
                                      {"cleared_at", active ? json::value(nullptr) : ts(s.since)},
                                      {"active", active},
                                      {"account", s.name}});
      }
    }
    for (auto& [name, api] : active) {
      HttpResponse r = api->handle(request);
      if (r.status != 200) return r;  // a bad filter is bad for every account
      tag(r, name);
      json::value list = json::parse(r.body);
      for (auto& e : list.as_array()) merged.push_back(std::move(e));
    }
    return json_response(200, merged);
  }
  // One trade or order: local ids are per account, client and broker ids are unique.
  std::vector<std::pair<std::string, HttpResponse>> found;
  HttpResponse last;
  for (auto& [name, api] : active) {
    HttpResponse r = api->handle(request);
    if (r.status == 200) {
      tag(r, name);
      found.emplace_back(name, std::move(r));
    } else if (r.status != 404 || last.body.empty()) {
      last = std::move(r);
    }
  }
  if (found.size() == 1) return std::move(found.front().second);
  if (found.size() > 1) {
    std::string in;
    for (auto& f : found) in += (in.empty() ? "" : ", ") + f.first;
    return error(409, "found in several accounts (" + in + "): add ?account=NAME");
  }
  return last;
}

}  // namespace orderly::app
