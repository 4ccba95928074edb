// Several accounts in one daemon, over real processes: one `orderly sim` per account (each
// requiring its own key pair, so a key sent to the wrong account is refused), a throwaway
// PostgreSQL, and `orderly run` instances sharing one [[accounts]] config.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <set>

#include "rig.h"
#include "store/pg_server.h"

namespace orderly::testing {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;

const std::string kBin = orderly::testing::orderly_bin();
constexpr const char* kToken = "accounts-token-71c3";

// Each account trades its own symbol.
std::string symbol_of(const Sim& a) { return a.name == "alpha" ? "STWD" : "AAPL"; }

class AccountsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    pg_ = PgServer::start({}, &error).release();
    if (pg_ == nullptr) pg_error_ = new std::string(error);
  }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(pg_, nullptr) << "PostgreSQL: " << *pg_error_;
    std::string error;
    db_url_ = pg_->create_database(&error);
    ASSERT_FALSE(db_url_.empty()) << error;
    rig_.add_sim({.name = "alpha", .key = "PKALPHAKEY01", .secret = "ALPHASECRETVALUE",
                  .require_keys = true}).start();
    rig_.add_sim({.name = "beta", .key = "PKBETAKEY02", .secret = "BETASECRETVALUE",
                  .require_keys = true}).start();
    write_config();
  }

  // The trade_updates stream on, as deployed: the failover tests kill its client (kill -9) and
  // the simulator must live on (it used to crash in StreamSession::cut; TearDown checks).
  void write_config() {
    rig_.write_config({.store_url = db_url_,
                       // Short leases keep the takeover test fast; the margins keep their
                       // proportions.
                       .extra = "[lease]\nttl_ms = 4000\nsafety_margin_ms = 1500\n"
                                "renew_interval_ms = 500\n",
                       .accounts = true});
  }

  void TearDown() override {
    for (const auto& sim : rig_.sims) {
      EXPECT_TRUE(sim.process->running()) << "the simulator of " << sim.name << " exited\n"
                                          << sim.process->log();
    }
    for (auto& d : rig_.daemons) d->stop();
    rig_.expect_no_secrets_logged();
  }

  Process& start_daemon() { return rig_.start_daemon(); }
  std::string logs() { return rig_.logs(); }

  app::ApiReply call(const std::string& method, const std::string& target,
                     const std::string& body = "") {
    return rig_.call(method, target, body);
  }
  std::optional<json::value> get_json(const std::string& target) {
    auto r = call("GET", target);
    if (r.status != 200 && r.status != 503) return std::nullopt;
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec) return std::nullopt;
    return v;
  }

  // The state of each account as the daemon on the API port reports it.
  std::map<std::string, std::string> states() {
    std::map<std::string, std::string> out;
    auto v = get_json("/api/accounts");
    if (!v || !v->is_array()) return out;
    for (const auto& a : v->as_array()) {
      out[std::string(a.at("name").as_string())] = std::string(a.at("state").as_string());
    }
    return out;
  }
  bool all_active() {
    auto s = states();
    return s.size() == rig_.sims.size() &&
           std::all_of(s.begin(), s.end(), [](const auto& kv) { return kv.second == "active"; });
  }

  // Opens a market entry with an emulated take-profit on `account`; the trade id (0: refused).
  // A buy of a symbol with working sell exits is refused as a potential wash trade (Alpaca's
  // rule, which the simulator keeps): a later trade picks another `symbol`.
  std::int64_t open_trade(const Sim& a, const std::string& qty = "5",
                          const std::string& symbol = "") {
    std::string body = R"({"account":")" + a.name + R"(","symbol":")" +
                       (symbol.empty() ? symbol_of(a) : symbol) +
                       R"(","side":"buy","qty":")" + qty +
                       R"(","entry":{"type":"market"},"take_profit":{"percent":"2"}})";
    auto r = call("POST", "/api/trades", body);
    if (r.status != 201) {
      ADD_FAILURE() << "POST /api/trades for " << a.name << ": " << r.status << " " << r.body;
      return 0;
    }
    json::object trade = json::parse(r.body).as_object();
    EXPECT_EQ(trade.at("account"), a.name.c_str()) << r.body;
    return trade.at("id").as_int64();
  }

  // open_trade(), then waits until the trade is protected at the broker. The trade id.
  std::int64_t trade_until_protected(const Sim& a, const std::string& qty = "5",
                                     const std::string& symbol = "") {
    std::int64_t id = open_trade(a, qty, symbol);
    if (id == 0) return 0;
    EXPECT_TRUE(eventually([&] { return protected_at_broker(a, id); }))
        << evidence(a) << logs();
    return id;
  }

  // True once the trade's entry is filled and its take-profit is working at the broker.
  bool protected_at_broker(const Sim& a, std::int64_t trade_id) {
    auto v = get_json("/api/orders?account=" + a.name + "&trade_id=" + std::to_string(trade_id));
    if (!v || !v->is_array()) return false;
    bool filled = false, tp = false;
    for (const auto& o : v->as_array()) {
      if (o.at("account") != a.name.c_str()) return false;
      if (o.at("role") == "entry" && o.at("state") == "filled") filled = true;
      if (o.at("role") == "take_profit" && o.at("broker_order_id").is_string()) tp = true;
    }
    return filled && tp;
  }

  // What the daemon and the broker hold for `a`: for failure messages.
  std::string evidence(const Sim& a) {
    std::string out = "daemon orders of " + a.name + ": " +
                      call("GET", "/api/orders?account=" + a.name).body + "\nbroker orders:";
    for (const auto& o : a.orders()) {
      out += " " + o.client_order_id + "/" + o.symbol + "/" + std::string(to_string(o.side)) + "/" +
             (o.qty ? o.qty->str() : "-");
    }
    return out + "\n";
  }

  // No intent reached the broker twice: every POST /v2/orders the simulator saw created one
  // order (no "client_order_id must be unique" refusal), and client ids are distinct.
  void expect_each_intent_submitted_once(const Sim& a, std::size_t at_least) {
    auto orders = a.orders();
    EXPECT_GE(orders.size(), at_least) << a.name;
    std::set<std::string> cids;
    for (const auto& o : orders) {
      EXPECT_TRUE(cids.insert(o.client_order_id).second) << a.name << " " << o.client_order_id;
    }
    auto stats = a.call("GET", "/sim/stats");
    ASSERT_EQ(stats.status, 200) << stats.body;
    json::object s = json::parse(stats.body).as_object();
    const auto& requests = s.at("requests").as_object();
    const auto* posts = requests.if_contains("POST /v2/orders");
    ASSERT_NE(posts, nullptr) << stats.body;
    EXPECT_EQ(static_cast<std::size_t>(posts->as_int64()), orders.size())
        << a.name << " " << stats.body;
    EXPECT_EQ(s.at("errors_by_code").as_object().if_contains("40010001"), nullptr) << stats.body;
  }

  static inline PgServer* pg_ = nullptr;
  static inline std::string* pg_error_ = nullptr;
  std::string db_url_;
  Rig rig_{"accounts", kToken};
};

TEST_F(AccountsTest, OneDaemonTradesOnBothAccounts) {
  start_daemon();
  ASSERT_TRUE(eventually([&] { return all_active(); }, 60)) << logs();
  const Sim& alpha = rig_.sims[0];
  const Sim& beta = rig_.sims[1];

  // The dashboard's event stream: one feed, each event naming its account.
  int sse = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(rig_.api_port);
  ASSERT_EQ(::connect(sse, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{0, 200'000};
  ::setsockopt(sse, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req = std::string("GET /api/events?token=") + kToken +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_EQ(::send(sse, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::string feed;
  auto read_feed = [&] {
    char buf[8192];
    ssize_t n = ::recv(sse, buf, sizeof buf, 0);
    if (n > 0) feed.append(buf, static_cast<std::size_t>(n));
  };
  ASSERT_TRUE(eventually([&] {
    read_feed();
    return feed.find("event: health") != std::string::npos;
  })) << feed;

  std::int64_t ta = open_trade(alpha);
  std::int64_t tb = open_trade(beta, "3");
  ASSERT_GT(ta, 0);
  ASSERT_GT(tb, 0);
  EXPECT_TRUE(eventually([&] { return protected_at_broker(alpha, ta); })) << logs();
  EXPECT_TRUE(eventually([&] { return protected_at_broker(beta, tb); })) << logs();
  EXPECT_TRUE(eventually([&] {
    read_feed();
    return feed.find("\"account\":\"alpha\"") != std::string::npos &&
           feed.find("\"account\":\"beta\"") != std::string::npos &&
           feed.find("event: order_event") != std::string::npos;
  })) << feed;
  ::close(sse);

  // Each account's orders went to its own broker with its own keys, and only there.
  for (const auto& [a, symbol] : {std::pair{&alpha, "STWD"}, std::pair{&beta, "AAPL"}}) {
    auto orders = a->orders();
    EXPECT_EQ(orders.size(), 2u) << a->name;  // entry + take-profit
    for (const auto& o : orders) EXPECT_EQ(o.symbol, symbol) << a->name;
  }

  // Merged views tag each element with its account.
  auto merged = get_json("/api/orders");
  ASSERT_TRUE(merged && merged->is_array());
  std::map<std::string, int> per_account;
  for (const auto& o : merged->as_array()) ++per_account[std::string(o.at("account").as_string())];
  EXPECT_EQ(per_account["alpha"], 2);
  EXPECT_EQ(per_account["beta"], 2);
  auto positions = get_json("/api/positions");
  ASSERT_TRUE(positions && positions->is_array());
  EXPECT_EQ(positions->as_array().size(), 2u) << json::serialize(*positions);

  // One order by its client id, found in whichever account has it.
  std::string cid = std::string(merged->as_array()[0].at("client_order_id").as_string());
  auto one = call("GET", "/api/orders/" + cid);
  EXPECT_EQ(one.status, 200) << one.body;
  // Local ids repeat across accounts: a bare id that both have is ambiguous.
  auto ambiguous = call("GET", "/api/trades/1");
  EXPECT_EQ(ambiguous.status, 409) << ambiguous.body;
  EXPECT_NE(ambiguous.body.find("?account="), std::string::npos) << ambiguous.body;
  EXPECT_EQ(call("GET", "/api/trades/1?account=beta").status, 200);

  // Bad input: no account, an unknown one, a wrong type; nothing is opened by them.
  const std::string spec = R"("symbol":"STWD","qty":"1","take_profit":{"percent":"2"})";
  auto no_account = call("POST", "/api/trades", "{" + spec + "}");
  EXPECT_EQ(no_account.status, 400) << no_account.body;
  EXPECT_NE(no_account.body.find("alpha, beta"), std::string::npos) << no_account.body;
  auto unknown = call("POST", "/api/trades?account=gamma", "{" + spec + "}");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  auto wrong_type = call("POST", "/api/trades", R"({"account":7,)" + spec + "}");
  EXPECT_EQ(wrong_type.status, 400) << wrong_type.body;
  auto conflicting =
      call("POST", "/api/trades?account=beta", R"({"account":"alpha",)" + spec + "}");
  EXPECT_EQ(conflicting.status, 400) << conflicting.body;
  auto reconcile = call("POST", "/api/reconcile", "{}");
  EXPECT_EQ(reconcile.status, 400) << reconcile.body;
  EXPECT_EQ(call("POST", "/api/reconcile?account=alpha", "{}").status, 200);

  auto health = get_json("/healthz");
  ASSERT_TRUE(health && health->is_object());
  EXPECT_EQ(health->as_object().at("accounts").as_array().size(), 2u);
  // The single-account fields stay, over both accounts: the two working take-profits, the two
  // REST budgets added up.
  EXPECT_TRUE(health->as_object().at("stream_connected").as_bool()) << json::serialize(*health);
  EXPECT_EQ(health->as_object().at("rest_budget_per_minute").as_int64(), 380);
  EXPECT_EQ(health->as_object().at("open_orders").as_int64(), 2) << json::serialize(*health);
  auto metrics = call("GET", "/metrics");
  EXPECT_NE(metrics.body.find("orderly_account_active{account=\"alpha\"} 1"), std::string::npos)
      << metrics.body.substr(0, 2000);
  EXPECT_NE(metrics.body.find("account=\"beta\""), std::string::npos);

  // The CLI: --account routes a command; reads without it cover every account.
  auto opened = run(kBin + " trade open AMZN --qty 2 --tp +2% --account alpha --json --config " +
                    rig_.config);
  ASSERT_EQ(opened.exit_code, 0) << opened.out << opened.err;
  json::object cli_trade = json::parse(opened.out).as_object();
  EXPECT_EQ(cli_trade.at("account"), "alpha");
  std::int64_t tc = cli_trade.at("id").as_int64();
  EXPECT_TRUE(eventually([&] { return protected_at_broker(alpha, tc); })) << logs();
  auto cli_no_account = run(kBin + " trade open AMZN --qty 2 --tp +2% --config " + rig_.config);
  EXPECT_EQ(cli_no_account.exit_code, 2) << cli_no_account.out << cli_no_account.err;
  EXPECT_NE(cli_no_account.err.find("--account"), std::string::npos) << cli_no_account.err;
  auto table = run(kBin + " orders --config " + rig_.config);
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.rfind("ACCOUNT", 0), 0u) << table.out;
  EXPECT_NE(table.out.find("beta"), std::string::npos) << table.out;
  auto status = run(kBin + " status --config " + rig_.config);
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_NE(status.out.find("alpha"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("active"), std::string::npos) << status.out;
  auto beta_status = run(kBin + " status --account beta --config " + rig_.config);
  EXPECT_EQ(beta_status.exit_code, 0) << beta_status.out << beta_status.err;
  EXPECT_NE(beta_status.out.find("open orders:"), std::string::npos) << beta_status.out;

  expect_each_intent_submitted_once(alpha, 4);
  expect_each_intent_submitted_once(beta, 2);
}

TEST_F(AccountsTest, SecondDaemonStandsByForBothThenTakesOverOnShutdown) {
  Process& first = start_daemon();
  ASSERT_TRUE(eventually([&] { return all_active(); }, 60)) << logs();
  // The same config: the second instance stands by for each account, and leaves the API port
  // to the owner.
  Process& second = start_daemon();
  ASSERT_TRUE(eventually([&] {
    std::string log = second.log();
    return log.find("[alpha] account") != std::string::npos &&
           log.find("[beta] account") != std::string::npos &&
           log.find("waiting to take over") != std::string::npos;
  }, 60)) << logs();
  EXPECT_TRUE(second.running()) << logs();
  EXPECT_TRUE(all_active());  // still the first one answering

  std::int64_t ta = trade_until_protected(rig_.sims[0]);
  ASSERT_GT(ta, 0);

  // A clean stop releases the leases: the standby takes both over without waiting for expiry.
  EXPECT_EQ(first.stop(), 0) << logs();
  ASSERT_TRUE(eventually([&] { return all_active(); }, 60)) << logs();
  std::int64_t tb = trade_until_protected(rig_.sims[1]);
  ASSERT_GT(tb, 0);
  // The trade opened under the first owner is the new owner's too (same store).
  EXPECT_TRUE(protected_at_broker(rig_.sims[0], ta)) << logs();
  expect_each_intent_submitted_once(rig_.sims[0], 2);
  expect_each_intent_submitted_once(rig_.sims[1], 2);
}

TEST_F(AccountsTest, KillNineOwnerStandbyTakesOverBothWithoutDuplicates) {
  Process& owner = start_daemon();
  ASSERT_TRUE(eventually([&] { return all_active(); }, 60)) << logs();
  Process& standby = start_daemon();
  ASSERT_TRUE(eventually(
      [&] { return standby.log().find("waiting to take over") != std::string::npos; }, 60))
      << logs();

  // Work in flight at the moment of the kill: entries submitted, exits being placed.
  std::vector<std::pair<const Sim*, std::int64_t>> trades;
  for (const auto& a : rig_.sims) {
    for (int i = 0; i < 3; ++i) {
      std::int64_t id = open_trade(a, std::to_string(1 + i));
      ASSERT_GT(id, 0);
      trades.emplace_back(&a, id);
    }
  }
  owner.kill_hard();
  const auto killed_at = std::chrono::steady_clock::now();

  // The leases lapse (ttl 4 s; the standby polls every 0.5 s): both accounts move over. The
  // bound is generous for a loaded machine; the test asserts the outcome, not the time.
  ASSERT_TRUE(eventually([&] { return all_active(); }, 60)) << logs();
  const auto takeover_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - killed_at)
                               .count();
  RecordProperty("takeover_ms", std::to_string(takeover_ms));
  std::cout << "takeover of both accounts after kill -9: " << takeover_ms << " ms (ttl 4000)\n";
  for (const auto& [a, id] : trades) {
    EXPECT_TRUE(eventually([&, a = a, id = id] { return protected_at_broker(*a, id); })) << logs();
  }
  // New work on the new owner.
  std::int64_t more = open_trade(rig_.sims[1], "5", "AMD");
  ASSERT_GT(more, 0);
  EXPECT_TRUE(eventually([&] { return protected_at_broker(rig_.sims[1], more); }))
      << evidence(rig_.sims[1]) << logs();

  expect_each_intent_submitted_once(rig_.sims[0], 6);
  expect_each_intent_submitted_once(rig_.sims[1], 8);
}

TEST_F(AccountsTest, LosingOneLeaseStopsOnlyThatAccount) {
  start_daemon();
  ASSERT_TRUE(eventually([&] { return all_active(); }, 60)) << logs();
  auto listed = get_json("/api/accounts");
  ASSERT_TRUE(listed);
  std::string alpha_tag;
  for (const auto& a : listed->as_array()) {
    if (a.at("name") == "alpha") alpha_tag = std::string(a.at("store_account").as_string());
  }
  ASSERT_FALSE(alpha_tag.empty());

  // Another owner takes alpha's lease (a partition healed on the wrong side, an operator):
  // the renewal fails, alpha stops and waits; beta keeps trading.
  const std::string db = db_url_.substr(db_url_.rfind('/') + 1);
  std::string error;
  ASSERT_TRUE(pg_->sql(db,
                       "UPDATE account_leases SET owner = 'intruder', token = token + 1, "
                       "expires_at = clock_timestamp() + interval '60 seconds' WHERE account = '" +
                           alpha_tag + "'",
                       nullptr, &error))
      << error;
  ASSERT_TRUE(eventually([&] {
    auto s = states();
    return s["alpha"] == "standby" && s["beta"] == "active";
  })) << logs();
  auto refused =
      call("POST", "/api/trades",
           R"({"account":"alpha","symbol":"STWD","qty":"1","take_profit":{"percent":"2"}})");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("standby"), std::string::npos) << refused.body;
  std::int64_t tb = trade_until_protected(rig_.sims[1]);
  ASSERT_GT(tb, 0);
  auto health = get_json("/healthz");
  ASSERT_TRUE(health);
  for (const auto& a : health->as_object().at("accounts").as_array()) {
    if (a.at("name") == "alpha") {
      EXPECT_EQ(a.at("leases_lost").as_int64(), 1) << json::serialize(a);
    }
  }
  EXPECT_NE(logs().find("ALERT lease_lost"), std::string::npos);
  auto alerts = get_json("/api/alerts");
  ASSERT_TRUE(alerts && alerts->is_array());
  bool lease_alert = false;
  for (const auto& a : alerts->as_array()) {
    lease_alert = lease_alert || (a.at("kind") == "lease_lost" && a.at("account") == "alpha" &&
                                  a.at("active") == true);
  }
  EXPECT_TRUE(lease_alert) << json::serialize(*alerts);
  EXPECT_NE(
      call("GET", "/metrics").body.find("orderly_account_leases_lost_total{account=\"alpha\"} 1"),
      std::string::npos);

  // The intruder lets go: alpha comes back through crash recovery and trades again.
  ASSERT_TRUE(
      pg_->sql(db,
               "UPDATE account_leases SET expires_at = clock_timestamp() WHERE account = '" +
                   alpha_tag + "'",
               nullptr, &error))
      << error;
  ASSERT_TRUE(eventually([&] { return all_active(); }, 60)) << logs();
  std::int64_t ta = trade_until_protected(rig_.sims[0]);
  ASSERT_GT(ta, 0);
  expect_each_intent_submitted_once(rig_.sims[0], 2);
}

TEST_F(AccountsTest, SqliteStoreKeepsOneFilePerAccount) {
  db_url_ = "sqlite:" + (rig_.dir / "orderly.db").string();
  write_config();
  start_daemon();
  ASSERT_TRUE(eventually([&] { return all_active(); }, 60)) << logs();
  EXPECT_TRUE(fs::exists(rig_.dir / "orderly-alpha.db"));
  EXPECT_TRUE(fs::exists(rig_.dir / "orderly-beta.db"));
  EXPECT_FALSE(fs::exists(rig_.dir / "orderly.db"));
  std::int64_t ta = open_trade(rig_.sims[0]);
  std::int64_t tb = open_trade(rig_.sims[1]);
  EXPECT_TRUE(eventually([&] { return protected_at_broker(rig_.sims[0], ta); })) << logs();
  EXPECT_TRUE(eventually([&] { return protected_at_broker(rig_.sims[1], tb); })) << logs();
  // A file serves one process: a second daemon on the same files is refused, as with one.
  auto second = run(kBin + " run --listen 127.0.0.1:" + std::to_string(free_port()) +
                    " --config " + rig_.config);
  EXPECT_EQ(second.exit_code, 3) << second.err;
  EXPECT_NE(second.err.find("owned by another running orderly"), std::string::npos) << second.err;
}

// PostgreSQL goes away: renewals fail, each account stops before its lease can lapse (the
// margin), and both come back through crash recovery once the database is back.
TEST_F(AccountsTest, DatabaseRestartStopsThenResumesBothAccounts) {
  start_daemon();
  ASSERT_TRUE(eventually([&] { return all_active(); }, 60)) << logs();
  std::int64_t ta = trade_until_protected(rig_.sims[0]);
  ASSERT_GT(ta, 0);

  std::string error;
  ASSERT_TRUE(pg_->stop_immediate(&error)) << error;
  const bool stopped = eventually([&] {
    auto s = states();
    return s.size() == 2 && s["alpha"] != "active" && s["beta"] != "active";
  });
  ASSERT_TRUE(pg_->start_again(&error)) << error;  // before any assertion can end the test
  EXPECT_TRUE(stopped) << logs();
  ASSERT_TRUE(eventually([&] { return all_active(); }, 60)) << logs();
  std::int64_t tb = trade_until_protected(rig_.sims[1]);
  ASSERT_GT(tb, 0);
  EXPECT_TRUE(protected_at_broker(rig_.sims[0], ta)) << logs();
  expect_each_intent_submitted_once(rig_.sims[0], 2);
  expect_each_intent_submitted_once(rig_.sims[1], 2);
}

// Two instances of one config on one host may end up splitting the accounts (one lost a lease
// while the other stood by): the one without the port keeps trading and binds when it can.
TEST_F(AccountsTest, ApiPortTakenAccountsKeepRunningUntilItIsFree) {
  // CLOEXEC: the daemon must not inherit it (it would hold the port itself).
  int blocker = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(rig_.api_port);
  int one = 1;
  ::setsockopt(blocker, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ASSERT_EQ(::bind(blocker, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(blocker, 4), 0);
  Process& daemon = start_daemon();
  ASSERT_TRUE(eventually([&] { return daemon.log().find("retrying in 5 s") != std::string::npos; },
                         60))
      << logs();
  EXPECT_TRUE(daemon.running());
  ::close(blocker);
  ASSERT_TRUE(eventually([&] { return all_active(); }, 60)) << logs();
  std::int64_t tb = open_trade(rig_.sims[1]);
  EXPECT_TRUE(eventually([&] { return protected_at_broker(rig_.sims[1], tb); })) << logs();
}

TEST_F(AccountsTest, BadAccountsConfigStopsTheDaemonNamingTheKey) {
  std::ofstream(rig_.config, std::ios::app)
      << "[[accounts]]\nname = \"alpha\"\nkey_id = \"PKOTHER\"\n";
  auto r = run(kBin + " run --config " + rig_.config);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("accounts[2].name 'alpha' is used by accounts[0]"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("ALPHASECRETVALUE"), std::string::npos);

  // A key named by an environment variable that is not set: refused at start, the variable
  // named; --print-config still shows the file (nothing secret to show).
  const std::string env_config = (rig_.dir / "env.toml").string();
  std::ofstream(env_config) << "[[accounts]]\nname = \"gamma\"\nkey_id_env = "
                               "\"ORDERLY_TEST_UNSET_KEY_7F3\"\nsecret_key = \"S\"\n";
  auto unset = run(kBin + " run --config " + env_config);
  EXPECT_EQ(unset.exit_code, 2) << unset.err;
  EXPECT_NE(unset.err.find("account 'gamma': environment variable ORDERLY_TEST_UNSET_KEY_7F3"),
            std::string::npos)
      << unset.err;
  auto shown = run(kBin + " run --print-config --config " + env_config);
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("accounts.gamma.key_id=$ORDERLY_TEST_UNSET_KEY_7F3"), std::string::npos)
      << shown.out;
}

}  // namespace
}  // namespace orderly::testing
