// Principle 9 over real processes: `orderly sim` + `orderly run` on loopback. Each scenario
// ends with every filled position protected, judged from the simulator's side (its positions
// and open orders), and no trade `failed` after its entry filled.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <map>
#include <string>

#include "app/api_client.h"
#include "core/decimal.h"
#include "process.h"

namespace orderly::testing {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;

const std::string kBin = orderly::testing::orderly_bin();
constexpr const char* kToken = "protection-e2e-token-71c3";

class ProtectionE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(make_temp_dir("protection-e2e"));
    sim_port_ = free_port();
    api_port_ = free_port();
    sim_ = new Process({kBin, "sim", "--listen", "127.0.0.1:" + std::to_string(sim_port_)},
                       *dir_ / "sim.log");
    const std::string config = (*dir_ / "orderly.toml").string();
    // Grace 0: any moment a filled position spends without a working exit is raised, so the
    // scenarios can see the alert of a gap that orderly closes within milliseconds.
    std::ofstream(config) << "[broker]\nbase_url = \"http://127.0.0.1:" << sim_port_
                          << "\"\nkey_id = \"PKPROTECTKEY\"\nsecret_key = \"PROTECTSECRET\"\n"
                          << "[store]\nurl = \"sqlite:" << (*dir_ / "orderly.db").string()
                          << "\"\n[api]\nlisten = \"127.0.0.1:" << api_port_ << "\"\ntoken = \""
                          << kToken << "\"\n"
                          << "[sync]\npoll_interval_ms = 200\nidle_poll_interval_ms = 500\n"
                          << "[alerts]\nunprotected_grace_ms = 0\n";
    daemon_ = new Process({kBin, "run", "--config", config}, *dir_ / "run.log");
    ready_ = eventually([] { return call(api(), "GET", "/healthz").status > 0; }, 60);
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(daemon_->stop(), 0) << daemon_->log();
    delete daemon_;
    delete sim_;
    fs::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override {
    ASSERT_TRUE(ready_) << "daemon did not become ready\n" << daemon_->log() << "\n" << sim_->log();
  }

  static app::ApiEndpoint api() {
    app::ApiEndpoint e;
    e.port = api_port_;
    e.token = kToken;
    return e;
  }
  static app::ApiEndpoint sim() {
    app::ApiEndpoint e;
    e.port = sim_port_;
    return e;
  }
  static app::ApiReply call(const app::ApiEndpoint& e, const std::string& method,
                            const std::string& target, const std::string& body = "") {
    auto r = app::api_call(e, method, target, body);
    return r.ok() ? *r : app::ApiReply{};
  }
  static json::value get_json(const app::ApiEndpoint& e, const std::string& target) {
    app::ApiReply r = call(e, "GET", target);
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    return ec ? json::value() : v;
  }

  static void set_price(const std::string& symbol, const std::string& price) {
    ASSERT_EQ(call(sim(), "POST", "/sim/prices", "{\"" + symbol + "\":\"" + price + "\"}").status,
              200);
  }
  // 201 and the trade's id.
  static std::int64_t open(const std::string& body) {
    app::ApiReply r = call(api(), "POST", "/api/trades", body);
    EXPECT_EQ(r.status, 201) << r.body;
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    return ec || !v.is_object() ? 0 : v.at("id").to_number<std::int64_t>();
  }
  static std::string trade_state(std::int64_t id) {
    json::value t = get_json(api(), "/api/trades/" + std::to_string(id));
    return t.is_object() ? std::string(t.at("state").as_string()) : "?";
  }

  // The simulator's view: `symbol`'s position (0 when none) and the qty its open orders on the
  // other side would close (an OCO or bracket counted once).
  static std::pair<Decimal, Decimal> held_and_covered(const std::string& symbol) {
    Decimal held, covered;
    json::value positions = get_json(sim(), "/v2/positions");
    if (!positions.is_array()) return {held, covered};
    for (const auto& p : positions.as_array()) {
      if (p.at("symbol").as_string() == symbol) {
        held = Decimal::must(std::string_view(p.at("qty").as_string()));
      }
    }
    const std::string exit_side = held.is_negative() ? "buy" : "sell";
    json::value open = get_json(sim(), "/v2/orders?status=open&nested=true&symbols=" + symbol);
    if (!open.is_array()) return {held, covered};
    for (const auto& o : open.as_array()) {
      Decimal group;
      auto remaining = [](const json::value& x) {
        return Decimal::must(std::string_view(x.at("qty").as_string())) -
               Decimal::must(std::string_view(x.at("filled_qty").as_string()));
      };
      // A held leg is the inactive sibling of an active order of its group: counted by it.
      if (o.at("side").as_string() == exit_side && o.at("status") != "held") group = remaining(o);
      if (const json::value* legs = o.as_object().if_contains("legs"); legs && legs->is_array()) {
        for (const auto& leg : legs->as_array()) {
          const std::string st(leg.at("status").as_string());
          const bool open_leg = st != "canceled" && st != "filled" && st != "expired" &&
                                st != "replaced" && st != "rejected" && st != "held";
          if (leg.at("side").as_string() == exit_side && open_leg) {
            group = Decimal::max(group, remaining(leg));
          }
        }
      }
      covered += group;
    }
    return {held, covered};
  }
  static bool protected_at_broker(const std::string& symbol, const std::string& expect_held) {
    auto [held, covered] = held_and_covered(symbol);
    const Decimal abs = held.is_negative() ? -held : held;
    return held == Decimal::must(expect_held) && covered >= abs;
  }
  // unprotected_position alerts ever raised for `symbol` (active or cleared).
  static int gaps_raised(const std::string& symbol) {
    json::value alerts = get_json(api(), "/api/alerts");
    int n = 0;
    if (!alerts.is_array()) return n;
    for (const auto& a : alerts.as_array()) {
      n += a.at("kind") == "unprotected_position" && a.at("subject").as_string() == symbol;
    }
    return n;
  }

  static inline fs::path* dir_ = nullptr;
  static inline std::uint16_t sim_port_ = 0, api_port_ = 0;
  static inline Process* sim_ = nullptr;
  static inline Process* daemon_ = nullptr;
  static inline bool ready_ = false;
};

std::string market_buy(const std::string& symbol, const std::string& qty,
                       const std::string& extra = "") {
  return R"({"symbol":")" + symbol + R"(","side":"buy","qty":")" + qty +
         R"(","entry":{"type":"market"},"take_profit":{"limit_price":"11.00"},)"
         R"("stop_loss":{"stop_price":"9.00"})" + extra + "}";
}

// Issue 14: the second market entry was refused as a wash trade against our own take-profit and
// its trade failed. Both trades end open and protected.
TEST_F(ProtectionE2E, SecondMarketEntryBesideOurRestingTakeProfitEndsWithBothProtected) {
  set_price("PRA", "10.00");
  const std::int64_t a = open(market_buy("PRA", "10"));
  ASSERT_TRUE(eventually([] { return protected_at_broker("PRA", "10"); })) << daemon_->log();
  const std::int64_t b = open(market_buy("PRA", "5"));
  EXPECT_TRUE(eventually([&] {
    return protected_at_broker("PRA", "15") && trade_state(a) == "open" &&
           trade_state(b) == "open";
  })) << held_and_covered("PRA").first.str() << " / " << held_and_covered("PRA").second.str()
      << "\n" << daemon_->log();
}

// A native bracket's take-profit leg canceled by another client of the account (here: a DELETE
// straight to the simulator): orderly raises unprotected_position and covers the position again.
TEST_F(ProtectionE2E, BracketLegCanceledElsewhereIsPlacedAgainAndTheGapWasRaised) {
  set_price("PRB", "10.00");
  const std::int64_t t = open(market_buy("PRB", "10", R"(,"exits":"native")"));
  ASSERT_TRUE(eventually([] { return protected_at_broker("PRB", "10"); })) << daemon_->log();
  std::string leg_id;
  json::value open_orders = get_json(sim(), "/v2/orders?status=open&nested=true&symbols=PRB");
  ASSERT_TRUE(open_orders.is_array()) << json::serialize(open_orders);
  // The entry filled: its legs are open orders of their own (order_class bracket).
  for (const auto& o : open_orders.as_array()) {
    if (o.at("order_class") == "bracket" && o.at("type") == "limit") {
      leg_id = std::string(o.at("id").as_string());
    }
  }
  ASSERT_FALSE(leg_id.empty()) << json::serialize(open_orders);
  const int before = gaps_raised("PRB");
  EXPECT_EQ(call(sim(), "DELETE", "/v2/orders/" + leg_id).status / 100, 2);

  EXPECT_TRUE(eventually([&] {
    return gaps_raised("PRB") > before && protected_at_broker("PRB", "10") &&
           trade_state(t) == "open";
  })) << "gaps " << before << " -> " << gaps_raised("PRB") << ", held/covered "
         << held_and_covered("PRB").first.str() << "/" << held_and_covered("PRB").second.str()
         << ", trade " << trade_state(t) << "\n"
         << json::serialize(get_json(api(), "/api/alerts")) << "\n"
         << json::serialize(get_json(api(), "/api/orders?symbol=PRB"));
}

// Refused up front with a 400 naming the problem; nothing reaches the broker.
TEST_F(ProtectionE2E, ExitsThatCouldNeverProtectAreRefusedWith400) {
  const std::string stop_above = R"({"symbol":"PRC","side":"buy","qty":"1",)"
                                 R"("entry":{"type":"limit","limit_price":"10.00"},)"
                                 R"("take_profit":{"limit_price":"11.00"},)"
                                 R"("stop_loss":{"stop_price":"10.50"}})";
  app::ApiReply r = call(api(), "POST", "/api/trades", stop_above);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("stop_loss 10.50 must be below the entry limit"), std::string::npos)
      << r.body;
  const std::string wide = R"({"symbol":"PRC","side":"buy","qty":"1",)"
                           R"("entry":{"type":"limit","limit_price":"10.00"},)"
                           R"("take_profit":{"limit_price":"30.00"}})";
  r = call(api(), "POST", "/api/trades", wide);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("allow_wide"), std::string::npos) << r.body;
  const std::string meant = wide.substr(0, wide.size() - 1) + R"(,"allow_wide":true})";
  r = call(api(), "POST", "/api/trades", meant);
  EXPECT_EQ(r.status, 201) << r.body;
}

}  // namespace
}  // namespace orderly::testing
