#include "rig.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <map>

#include "broker/alpaca/alpaca_broker.h"
#include "broker/alpaca/beast_transport.h"

namespace orderly::testing {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

json::value parse_or_null(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value() : v;
}

// Every harness request carries X-Sim-Control: the simulator answers it beside the daemon under
// test without taking from that daemon's rate budget (it is per key) or from the fault plan.
class ControlTransport final : public alpaca::HttpTransport {
 public:
  explicit ControlTransport(const std::string& base_url) {
    alpaca::BeastTransportOptions o;
    o.base_url = base_url;
    auto t = alpaca::BeastTransport::create(std::move(o));
    EXPECT_TRUE(t.ok()) << t.status().message();
    if (t.ok()) inner_ = std::move(t.value());
  }
  alpaca::TransportResult send(const alpaca::HttpRequest& request) override {
    if (!inner_) return alpaca::TransportError{false, "no transport"};
    alpaca::HttpRequest r = request;
    r.headers.emplace_back("X-Sim-Control", "1");
    return inner_->send(r);
  }

 private:
  std::unique_ptr<alpaca::HttpTransport> inner_;
};

app::ApiReply reply_or_reason(const StatusOr<app::ApiReply>& r) {
  if (r.ok()) return *r;
  app::ApiReply failed;
  failed.body = r.status().message();
  return failed;
}

Decimal dec(const json::value& v) { return Decimal::must(std::string_view(v.as_string())); }

// What `order` (and its legs) would close of a position on `exit_side`: a group counted once,
// by its largest open member; a held leg waits behind an active sibling and is not counted.
Decimal group_cover(const json::value& order, const std::string& exit_side) {
  auto remaining = [](const json::value& x) { return dec(x.at("qty")) - dec(x.at("filled_qty")); };
  Decimal group;
  if (order.at("side").as_string() == exit_side && order.at("status") != "held") {
    group = remaining(order);
  }
  const json::value* legs = order.as_object().if_contains("legs");
  if (legs == nullptr || !legs->is_array()) return group;
  for (const auto& leg : legs->as_array()) {
    const std::string st(leg.at("status").as_string());
    const bool open_leg = st != "canceled" && st != "filled" && st != "expired" &&
                          st != "replaced" && st != "rejected" && st != "held";
    if (leg.at("side").as_string() == exit_side && open_leg) {
      group = Decimal::max(group, remaining(leg));
    }
  }
  return group;
}

}  // namespace

void Sim::start(const std::string& faults) {
  std::vector<std::string> args = {orderly_bin(), "sim", "--listen",
                                   "127.0.0.1:" + std::to_string(port)};
  if (require_keys) args.insert(args.end(), {"--key", key, "--secret", secret});
  if (!faults.empty()) args.insert(args.end(), {"--faults", faults});
  args.insert(args.end(), this->args.begin(), this->args.end());
  process = std::make_unique<Process>(args, log);
}

std::shared_ptr<alpaca::HttpTransport> Sim::harness() const {
  if (!control) control = std::make_shared<ControlTransport>(base_url());
  return control;
}

app::ApiReply Sim::call(const std::string& method, const std::string& target,
                        const std::string& body) const {
  alpaca::HttpRequest req{method, target, {}, body};
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  alpaca::TransportResult r = harness()->send(req);
  app::ApiReply out;
  if (!r.ok()) {
    out.body = r.error().message;
    return out;
  }
  out.status = r.value().status;
  out.body = std::move(r.value().body);
  return out;
}

json::value Sim::get_json(const std::string& target) const {
  return parse_or_null(call("GET", target).body);
}

bool Sim::set_price(const std::string& symbol, const std::string& price) const {
  return call("POST", "/sim/prices", "{\"" + symbol + "\":\"" + price + "\"}").status == 200;
}

bool Sim::session(const std::string& event) const {
  return call("POST", "/sim/session", "{\"event\":\"" + event + "\"}").status == 200;
}

std::vector<BrokerOrder> Sim::orders() const {
  alpaca::AlpacaBroker broker(harness(), alpaca::AlpacaConfig{base_url(), key, secret});
  ListOrdersQuery q;
  q.status = OrderListStatus::all;
  auto orders = broker.list_orders(q);
  EXPECT_TRUE(orders.ok()) << orders.error().message;
  return orders.ok() ? orders.value() : std::vector<BrokerOrder>{};
}

std::map<std::string, std::pair<Decimal, Decimal>> Sim::cover() const {
  std::map<std::string, std::pair<Decimal, Decimal>> out;
  json::value positions = get_json("/v2/positions");
  json::value open = get_json("/v2/orders?status=open&nested=true&limit=500");
  if (!positions.is_array() || !open.is_array()) return out;
  for (const auto& p : positions.as_array()) {
    std::string symbol(p.at("symbol").as_string());
    // Alpaca names a crypto position BTCUSD, its orders BTC/USD: one name, the orders'.
    const json::value* cls = p.as_object().if_contains("asset_class");
    if (cls && cls->is_string() && cls->as_string() == "crypto" && symbol.ends_with("USD") &&
        symbol.find('/') == std::string::npos) {
      symbol.insert(symbol.size() - 3, "/");
    }
    out[symbol].first = dec(p.at("qty"));
  }
  for (const auto& o : open.as_array()) {
    auto& [held, covered] = out[std::string(o.at("symbol").as_string())];
    covered += group_cover(o, held.is_negative() ? "buy" : "sell");
  }
  return out;
}

std::pair<Decimal, Decimal> Sim::held_and_covered(const std::string& symbol) const {
  return cover()[symbol];
}

bool Sim::protected_at(const std::string& symbol, const std::string& expect_held) const {
  auto [held, covered] = held_and_covered(symbol);
  return held == Decimal::must(expect_held) && covered >= held.abs();
}

std::string Sim::open_orders_text(const std::string& symbol) const {
  auto [held, covered] = held_and_covered(symbol);
  return symbol + " held " + held.str() + ", covered " + covered.str() + ", open orders " +
         call("GET", "/v2/orders?status=open&nested=true&symbols=" + symbol).body + "\n";
}

Rig::Rig(const std::string& tag, std::string token_)
    : dir(make_temp_dir(tag)), token(std::move(token_)), config((dir / "orderly.toml").string()) {}

Rig::~Rig() {
  for (auto& d : daemons) d->signal(SIGCONT);
  daemons.clear();
  sims.clear();
  if (::testing::Test::HasFailure()) {
    std::cerr << "kept for inspection: " << dir << "\n";
  } else {
    fs::remove_all(dir);
  }
}

Sim& Rig::add_sim(Sim s) {
  s.log = dir / (s.name.empty() ? std::string("sim.log") : "sim-" + s.name + ".log");
  sims.push_back(std::move(s));
  return sims.back();
}

void Rig::write_config(const RigConfig& c) {
  std::ofstream out(config);
  if (!c.accounts && !sims.empty()) {
    out << "[broker]\nbase_url = \"" << sims[0].base_url() << "\"\nkey_id = \"" << sims[0].key
        << "\"\nsecret_key = \"" << sims[0].secret << "\"\n"
        << c.broker_extra;
  }
  out << "[store]\nurl = \""
      << (c.store_url.empty() ? "sqlite:" + (dir / "orderly.db").string() : c.store_url) << "\"\n"
      << "[api]\nlisten = \"127.0.0.1:" << api_port << "\"\ntoken = \"" << token << "\"\n"
      << "[sync]\n"
      << (c.fast_sync ? "poll_interval_ms = 200\nidle_poll_interval_ms = 500\n" : "")
      << c.sync_extra << c.extra;
  if (!c.accounts) return;
  for (const auto& s : sims) {
    out << "[[accounts]]\nname = \"" << s.name << "\"\nbase_url = \"" << s.base_url()
        << "\"\nkey_id = \"" << s.key << "\"\nsecret_key = \"" << s.secret << "\"\n";
  }
}

bool Rig::start_all(const RigConfig& c) {
  Sim& s = add_sim();
  s.args = c.sim_args;
  s.start();
  // The API's port was free when picked, and another test running beside this one may take it
  // before the daemon binds it (CI: "cannot listen on 127.0.0.1:41381: Address already in
  // use"): the daemon is started again on a port picked anew.
  for (int attempt = 0; attempt < 3; ++attempt) {
    write_config(c);
    Process& d = start_daemon();
    eventually([&] { return healthy() || !d.running(); }, 60);
    if (healthy()) return true;
    if (d.log().find("Address already in use") == std::string::npos) break;
    api_port = free_port();
  }
  // No test failure recorded here: called from a suite's SetUpTestSuite, a failure would make
  // googletest skip the suite's tests, which ctest counts as skipped, not failed. The caller
  // asserts on the result (SharedRigTest::SetUp names the daemon's log).
  return false;
}

Process& Rig::start_daemon() {
  const std::string log = "run-" + std::to_string(daemons.size()) + ".log";
  daemons.push_back(std::make_unique<Process>(
      std::vector<std::string>{orderly_bin(), "run", "--config", config}, dir / log));
  return *daemons.back();
}

Process& Rig::ready_daemon() {
  Process& d = start_daemon();
  EXPECT_TRUE(eventually([&] { return healthy(); }, 60)) << "daemon did not become ready\n"
                                                         << logs();
  return d;
}

bool Rig::healthy() const { return call("GET", "/healthz").status == 200; }

app::ApiEndpoint Rig::api(std::int64_t timeout_ms) const {
  app::ApiEndpoint e;
  e.port = api_port;
  e.token = token;
  e.timeout_ms = timeout_ms;
  return e;
}

app::ApiReply Rig::call(const std::string& method, const std::string& target,
                        const std::string& body, std::int64_t timeout_ms) const {
  return reply_or_reason(app::api_call(api(timeout_ms), method, target, body));
}

json::value Rig::get_json(const std::string& target) const {
  return parse_or_null(call("GET", target).body);
}

std::int64_t Rig::open_trade(const std::string& body) const {
  app::ApiReply r = call("POST", "/api/trades", body);
  EXPECT_EQ(r.status, 201) << body << " -> " << r.body;
  json::value v = parse_or_null(r.body);
  return r.status != 201 || !v.is_object() ? 0 : v.at("id").to_number<std::int64_t>();
}

std::string Rig::trade_state(std::int64_t id) const {
  json::value t = get_json("/api/trades/" + std::to_string(id));
  return t.is_object() ? std::string(t.at("state").as_string()) : "?";
}

std::map<std::int64_t, std::string> Rig::trade_states() const {
  std::map<std::int64_t, std::string> out;
  json::value all = get_json("/api/trades?limit=1000");
  if (!all.is_array()) return out;
  for (const auto& t : all.as_array()) {
    out[t.at("id").to_number<std::int64_t>()] = std::string(t.at("state").as_string());
  }
  return out;
}

int Rig::alerts(const std::string& kind, const std::string& subject, bool active_only) const {
  json::value all = get_json("/api/alerts");
  int n = 0;
  if (!all.is_array()) return n;
  for (const auto& a : all.as_array()) {
    n += (kind.empty() || a.at("kind") == kind.c_str()) && a.at("subject") == subject.c_str() &&
         (!active_only || a.at("active") == true);
  }
  return n;
}

std::string Rig::cli(const std::string& args) const {
  return orderly_bin() + " " + args + " --config " + config;
}

std::string Rig::logs() const {
  std::string all;
  for (std::size_t i = 0; i < daemons.size(); ++i) {
    all += "---- run-" + std::to_string(i) + "\n" + daemons[i]->log();
  }
  for (const auto& s : sims) {
    // A simulator's own log only matters when it stopped.
    if (s.process && !s.process->running()) {
      all += "---- sim " + s.name + " exited\n" + s.process->log();
    }
  }
  return all;
}

void Rig::expect_no_secrets_logged() const {
  for (const auto& d : daemons) {
    const std::string log = d->log();
    for (const auto& s : sims) {
      EXPECT_EQ(log.find(s.secret), std::string::npos) << "a secret key was logged";
      EXPECT_EQ(log.find(s.key), std::string::npos) << "a key id was logged";
    }
    EXPECT_EQ(log.find(token), std::string::npos) << "the API token was logged";
  }
}

}  // namespace orderly::testing
