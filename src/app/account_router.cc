#include "app/account_router.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <deque>
#include <map>
#include <sstream>

namespace orderly::app {
namespace json = boost::json;
using server::HttpRequest;
using server::HttpResponse;

namespace {

HttpResponse error(int status, const std::string& message) {
  return server::json_error(status, message);
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

std::string AccountRouter::names() const {
  std::string out;
  for (auto* a : accounts_) out += (out.empty() ? "" : ", ") + a->name();
  return out;
}

std::vector<server::DaemonAccount> AccountRouter::daemon_accounts() const {
  std::vector<server::DaemonAccount> out;
  for (auto* a : accounts_) out.push_back({a->status(), a->api()});
  return out;
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
    return server::idle_health_json(accounts_.front()->status());
  }
  return server::daemon_health(daemon_accounts()).body;
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
      auto batch = api->events_since(it->second, 500);
      for (const auto& e : batch) {
        it->second = e.seq;
        merged_->events.emplace_back(++merged_->last, server::feed_event_json(e, a->name()));
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
    std::vector<AccountStatus> statuses;
    for (auto* a : accounts_) statuses.push_back(a->status());
    return server::json_body(200, server::accounts_json(statuses));
  }
  if (!multi_) {
    AccountRunner& only = *accounts_.front();
    if (auto api = only.api()) return api->handle(request);
    if (target && target->segments == std::vector<std::string>{"healthz"}) {
      return server::json_body(503, server::idle_health_json(only.status()));
    }
    return not_active(only);
  }
  if (!target) return error(400, "malformed request target");
  return handle_multi(request);
}

HttpResponse AccountRouter::handle_multi(const HttpRequest& request) {
  const Parsed target = *parse_target(request.target);
  const auto& seg = target.segments;
  // With ?account= these two answer for that account alone (further down), in the single shape.
  if (!target.has_account && seg.size() == 1 && (seg[0] == "healthz" || seg[0] == "metrics")) {
    if (request.method != "GET") {
      return error(405, "method " + request.method + " not allowed here");
    }
    return seg[0] == "healthz" ? server::daemon_health(daemon_accounts()) : metrics(request);
  }
  const bool post_trade =
      request.method == "POST" && seg == std::vector<std::string>{"api", "trades"};
  Named named{target.account, target.has_account, request};
  if (post_trade) {
    if (auto refused = name_account(request, named)) return *refused;
  }
  if (named.named) return to_account(named);

  const bool read = request.method == "GET" || request.method == "HEAD";
  if (!read && seg.size() >= 2 && seg[0] == "api") {
    return error(400, "several accounts are configured (" + names() +
                          "): name one with ?account=NAME" +
                          (post_trade ? " or \"account\" in the body" : "") +
                          " (CLI: --account NAME)");
  }
  std::vector<std::shared_ptr<server::Api>> apis;
  std::vector<server::AccountSource> sources;
  std::vector<AccountStatus> statuses;
  for (auto* a : accounts_) {
    statuses.push_back(a->status());
    if (auto api = a->api()) {
      sources.push_back({a->name(), api.get()});
      apis.push_back(std::move(api));
    }
  }
  if (apis.empty()) return error(503, "no account is active in this process (" + names() + ")");
  if (!read || seg.empty() || seg[0] != "api") return apis.front()->handle(request);
  std::string route;
  HttpResponse r =
      server::Api::read_accounts(request, sources, server::lease_alerts(statuses), route);
  for (auto& api : apis) api->count(route, r.status);  // each account was asked
  return r;
}

// A POST /api/trades body may name the account ("account", which the engine's trade has not).
std::optional<HttpResponse> AccountRouter::name_account(const HttpRequest& request,
                                                        Named& named) const {
  boost::system::error_code ec;
  json::value body = json::parse(request.body, ec);
  if (ec || !body.is_object()) return std::nullopt;  // the account's API says what is wrong
  auto* a = body.as_object().if_contains("account");
  if (a == nullptr) return std::nullopt;
  if (!a->is_string()) return error(400, "field 'account' must be a string");
  if (named.named && named.account != a->as_string()) {
    return error(400, "?account= and the body's 'account' name different accounts");
  }
  named.account = std::string(a->as_string());
  named.named = true;
  body.as_object().erase("account");
  named.forwarded.body = json::serialize(body);
  return std::nullopt;
}

HttpResponse AccountRouter::to_account(const Named& named) const {
  AccountRunner* runner = find(named.account);
  if (runner == nullptr) {
    return error(404, "no account '" + named.account.substr(0, 40) + "'; configured: " + names());
  }
  auto api = runner->api();
  if (!api) return not_active(*runner);
  return api->handle_for(named.forwarded, named.account);
}

// The daemon's own samples, then every running engine's, each labelled with its account.
HttpResponse AccountRouter::metrics(const HttpRequest& request) const {
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

}  // namespace orderly::app
