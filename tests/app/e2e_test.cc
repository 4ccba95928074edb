// End to end over real processes: `orderly sim` + `orderly run` on loopback, the CLI against the
// daemon, bad requests to the API, `orderly demo --json`.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "app/api_client.h"
#include "rig.h"

namespace orderly::testing {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;

const std::string kBin = orderly::testing::orderly_bin();
constexpr const char* kToken = "e2e-token-5f2a9c";

class DaemonTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rig_ = new Rig("e2e", kToken);
    ready_ = rig_->start_all();
  }
  static void TearDownTestSuite() {
    // Graceful shutdown on SIGTERM: exit 0 after stopping the API and the engine.
    EXPECT_EQ(rig_->daemon().stop(), 0) << rig_->logs();
    EXPECT_NE(rig_->daemon().log().find("stopped"), std::string::npos) << rig_->logs();
    delete rig_;
  }
  void SetUp() override { ASSERT_TRUE(ready_) << "daemon did not become ready\n" << rig_->logs(); }

  static std::string cli(const std::string& args) { return rig_->cli(args); }
  static app::ApiEndpoint endpoint(std::string token = kToken) {
    app::ApiEndpoint e = rig_->api();
    e.token = std::move(token);
    return e;
  }

  static inline Rig* rig_ = nullptr;
  static inline bool ready_ = false;
};

TEST_F(DaemonTest, OpenTradeWithTheCliThenOrdersAndAudit) {
  auto opened = run(cli("trade open STWD --qty 37 --tp +2%"));
  ASSERT_EQ(opened.exit_code, 0) << opened.out << opened.err;
  EXPECT_NE(opened.out.find("STWD"), std::string::npos) << opened.out;

  // The entry fills at the simulator and the emulated take-profit is placed and accepted.
  json::array orders;
  bool placed = eventually([&] {
    auto r = run(cli("orders --symbol STWD --json"));
    if (r.exit_code != 0) return false;
    orders = json::parse(r.out).as_array();
    bool entry_filled = false, tp_working = false;
    for (const auto& o : orders) {
      if (o.at("role") == "entry" && o.at("state") == "filled") entry_filled = true;
      if (o.at("role") == "take_profit" && o.at("broker_order_id").is_string()) tp_working = true;
    }
    return entry_filled && tp_working;
  });
  ASSERT_TRUE(placed) << json::serialize(orders) << "\n" << rig_->logs();

  auto table = run(cli("orders"));
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("take_profit"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("filled"), std::string::npos) << table.out;

  std::string entry_cid, entry_bid, entry_id;
  for (const auto& o : orders) {
    if (o.at("role") == "entry") {
      entry_cid = std::string(o.at("client_order_id").as_string());
      entry_bid = std::string(o.at("broker_order_id").as_string());
      entry_id = std::to_string(o.at("id").as_int64());
    }
  }
  for (const std::string& ref : {entry_id, entry_cid, entry_bid}) {
    auto audit = run(cli("audit " + ref));
    ASSERT_EQ(audit.exit_code, 0) << ref << audit.err;
    EXPECT_NE(audit.out.find(entry_bid), std::string::npos) << audit.out;
    EXPECT_NE(audit.out.find("intent"), std::string::npos) << audit.out;
    EXPECT_NE(audit.out.find("-> filled"), std::string::npos) << audit.out;
  }
  auto audit_json = json::parse(run(cli("audit " + entry_cid + " --json")).out).as_object();
  EXPECT_GE(audit_json.at("events").as_array().size(), 3u);

  auto missing = run(cli("audit no-such-order"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no order"), std::string::npos) << missing.err;

  EXPECT_TRUE(eventually([&] {
    auto p = run(cli("positions --json"));
    if (p.exit_code != 0) return false;
    json::value rows = json::parse(p.out);
    for (const auto& row : rows.as_array()) {
      if (row.at("symbol") == "STWD" && row.at("local_qty") == "37" &&
          row.at("broker_qty") == "37" && row.at("drift") == "0") {
        return true;
      }
    }
    return false;
  }));

  // orderly's own audit log holds no insufficient-qty error against one of our own orders.
  auto forensics = run(kBin + " forensics --store sqlite:" + (rig_->dir / "orderly.db").string() +
                       " --config " + rig_->config + " --json");
  ASSERT_EQ(forensics.exit_code, 0) << forensics.out << forensics.err;
  json::value report = json::parse(forensics.out);
  EXPECT_TRUE(report.at("rows").as_array().empty()) << forensics.out;

  rig_->expect_no_secrets_logged();
}

TEST_F(DaemonTest, BadRequestsGetJson4xx) {
  auto expect_error = [](const StatusOr<app::ApiReply>& r, int status) {
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->status, status) << r->body;
    auto v = json::parse(r->body);
    EXPECT_TRUE(v.as_object().at("error").is_string()) << r->body;
  };
  const std::string good = R"({"symbol":"EPD","qty":"25","take_profit":{"percent":"2"}})";
  expect_error(app::api_call(endpoint(""), "POST", "/api/trades", good), 401);
  expect_error(app::api_call(endpoint("wrong"), "POST", "/api/trades", good), 401);
  expect_error(app::api_call(endpoint(), "POST", "/api/trades", "{\"symbol\":"), 400);
  expect_error(app::api_call(endpoint(), "POST", "/api/trades", R"({"symbol":"EPD","qty":25})"),
               400);
  expect_error(app::api_call(endpoint(), "POST", "/api/trades", std::string(200 * 1024, 'x')), 413);
  expect_error(app::api_call(endpoint(), "GET", "/api/nothing"), 404);
  expect_error(app::api_call(endpoint(), "PUT", "/api/orders"), 405);
  expect_error(app::api_call(endpoint(), "GET", "/api/orders/987654"), 404);
  expect_error(app::api_call(endpoint(), "GET", "/api/orders?state=nope"), 400);
  // Reads need the token too (issue 18): orders, audit trails, metrics.
  expect_error(app::api_call(endpoint(""), "GET", "/api/orders"), 401);
  expect_error(app::api_call(endpoint("wrong"), "GET", "/api/trades"), 401);
  expect_error(app::api_call(endpoint(""), "GET", "/metrics"), 401);
  auto open_health = app::api_call(endpoint(""), "GET", "/healthz");
  ASSERT_TRUE(open_health.ok());
  EXPECT_EQ(open_health->status, 200);

  auto cli_bad = run(cli("trade open EPD --qty abc --tp +2%"));
  EXPECT_EQ(cli_bad.exit_code, 2);
  auto health = app::api_call(endpoint(), "GET", "/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  auto metrics = app::api_call(endpoint(), "GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("orderly_http_requests_total"), std::string::npos);
  auto page = app::api_call(endpoint(), "GET", "/");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<html"), std::string::npos);
}

TEST_F(DaemonTest, SecondDaemonOnTheSameStoreIsRefused) {
  std::string other = (rig_->dir / "other.toml").string();
  std::string text = read_file(rig_->config);
  const std::string api_port = std::to_string(rig_->api_port);
  text.replace(text.find(api_port), api_port.size(), std::to_string(free_port()));
  std::ofstream(other) << text;
  auto r = run(kBin + " run --config " + other);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("owned by another running orderly"), std::string::npos) << r.err;
}

TEST(Cli, UnreachableDaemonExits3) {
  auto r = run("ORDERLY_API=127.0.0.1:" + std::to_string(free_port()) + " " + kBin + " status");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("cannot reach the orderly daemon"), std::string::npos) << r.err;
}

TEST(Cli, BadConfigExits2WithTheKey) {
  auto dir = make_temp_dir("badcfg");
  auto path = (dir / "bad.toml").string();
  std::ofstream(path) << "[sync]\npoll_interval_ms = 5\nstreem = true\n";
  auto r = run(kBin + " run --config " + path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.toml:3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sync.streem"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

TEST(Cli, UnreachableBrokerIsRetriedWhileReportedInJsonLogs) {
  Rig rig("nobroker", kToken);
  rig.add_sim(Sim{.key = "PKNOBROKERKEY", .secret = "NOBROKERSECRET"});  // never started
  rig.write_config();
  Process daemon({kBin, "run", "--config", rig.config, "--log-json"}, rig.dir / "run.log");
  EXPECT_TRUE(eventually([&] {
    std::string log = daemon.log();
    return log.find("broker unreachable") != std::string::npos &&
           log.find("retrying in 2000 ms") != std::string::npos;
  })) << daemon.log();
  EXPECT_EQ(daemon.stop(), 0);
  std::istringstream lines(daemon.log());
  std::string line;
  int parsed = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    EXPECT_FALSE(ec) << line;
    if (!ec) {
      EXPECT_TRUE(v.as_object().contains("level")) << line;
      ++parsed;
    }
  }
  EXPECT_GE(parsed, 2);
  EXPECT_EQ(daemon.log().find("NOBROKERSECRET"), std::string::npos);
  EXPECT_EQ(daemon.log().find("PKNOBROKERKEY"), std::string::npos);
}

TEST(Cli, ForensicsReproducesTheIncidentTable) {
  auto r = run(kBin + " forensics " + orderly::testing::source_dir() +
               "/tests/app/data/incident.log --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto v = json::parse(r.out).as_object();
  EXPECT_EQ(v.at("rows").as_array().size(), 4u);
  EXPECT_EQ(v.at("totals").at("errors").as_int64(), 28);
}

TEST(Demo, JsonHasTheContractShapeAndNoSelfInflictedErrors) {
  auto r = run(kBin + " demo --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto v = json::parse(r.out).as_object();
  std::vector<std::string> keys;
  for (const auto& [k, x] : v) keys.emplace_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"symbols", "submissions", "retries",
                                            "insufficient_qty_errors", "duplicate_submissions",
                                            "orders_out_of_sync", "position_mismatches",
                                            "fills_detected", "detection_ms_max"}));
  EXPECT_EQ(v.at("symbols").as_int64(), 13);
  EXPECT_GE(v.at("submissions").as_int64(), 26);  // 13 entries + 13 take-profits
  EXPECT_EQ(v.at("insufficient_qty_errors").as_int64(), 0);
  EXPECT_EQ(v.at("duplicate_submissions").as_int64(), 0);
  EXPECT_EQ(v.at("orders_out_of_sync").as_int64(), 0);
  EXPECT_EQ(v.at("position_mismatches").as_int64(), 0);
  // The take-profit fills were dropped from the stream: polling found all 8.
  EXPECT_GE(v.at("fills_detected").at("poll").as_int64(), 8);
  EXPECT_GE(v.at("detection_ms_max").as_int64(), 0);
}

}  // namespace
}  // namespace orderly::testing
