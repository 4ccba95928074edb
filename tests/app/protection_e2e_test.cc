// Principle 9 over real processes: `orderly sim` + `orderly run` on loopback. Each scenario
// ends with every filled position protected, judged from the simulator's side (its positions
// and open orders), and no trade `failed` after its entry filled.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>

#include "rig.h"

namespace orderly::testing {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;

constexpr const char* kToken = "protection-e2e-token-71c3";

class ProtectionE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rig_ = new Rig("protection-e2e", kToken);
    // Grace 0: any moment a filled position spends without a working exit is raised, so the
    // scenarios can see the alert of a gap that orderly closes within milliseconds.
    ready_ = rig_->start_all({.extra = "[alerts]\nunprotected_grace_ms = 0\n"});
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(rig_->daemon().stop(), 0) << rig_->logs();
    delete rig_;
  }
  void SetUp() override { ASSERT_TRUE(ready_) << "daemon did not become ready\n" << rig_->logs(); }

  static const Sim& sim() { return rig_->sim(); }
  static void set_price(const std::string& symbol, const std::string& price) {
    ASSERT_TRUE(sim().set_price(symbol, price));
  }
  static bool protected_at_broker(const std::string& symbol, const std::string& expect_held) {
    return sim().protected_at(symbol, expect_held);
  }
  // unprotected_position alerts ever raised for `symbol` (active or cleared).
  static int gaps_raised(const std::string& symbol) {
    return rig_->alerts("unprotected_position", symbol);
  }

  static inline Rig* rig_ = nullptr;
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
  const std::int64_t a = rig_->open_trade(market_buy("PRA", "10"));
  ASSERT_TRUE(eventually([] { return protected_at_broker("PRA", "10"); })) << rig_->logs();
  const std::int64_t b = rig_->open_trade(market_buy("PRA", "5"));
  EXPECT_TRUE(eventually([&] {
    return protected_at_broker("PRA", "15") && rig_->trade_state(a) == "open" &&
           rig_->trade_state(b) == "open";
  })) << sim().open_orders_text("PRA") << rig_->logs();
}

// A native bracket's take-profit leg canceled by another client of the account (here: a DELETE
// straight to the simulator): orderly raises unprotected_position and covers the position again.
TEST_F(ProtectionE2E, BracketLegCanceledElsewhereIsPlacedAgainAndTheGapWasRaised) {
  set_price("PRB", "10.00");
  const std::int64_t t = rig_->open_trade(market_buy("PRB", "10", R"(,"exits":"native")"));
  ASSERT_TRUE(eventually([] { return protected_at_broker("PRB", "10"); })) << rig_->logs();
  std::string leg_id;
  json::value open_orders = sim().get_json("/v2/orders?status=open&nested=true&symbols=PRB");
  ASSERT_TRUE(open_orders.is_array()) << json::serialize(open_orders);
  // The entry filled: its legs are open orders of their own (order_class bracket).
  for (const auto& o : open_orders.as_array()) {
    if (o.at("order_class") == "bracket" && o.at("type") == "limit") {
      leg_id = std::string(o.at("id").as_string());
    }
  }
  ASSERT_FALSE(leg_id.empty()) << json::serialize(open_orders);
  const int before = gaps_raised("PRB");
  EXPECT_EQ(sim().call("DELETE", "/v2/orders/" + leg_id).status / 100, 2);

  EXPECT_TRUE(eventually([&] {
    return gaps_raised("PRB") > before && protected_at_broker("PRB", "10") &&
           rig_->trade_state(t) == "open";
  })) << "gaps " << before << " -> " << gaps_raised("PRB") << ", " << sim().open_orders_text("PRB")
         << "trade " << rig_->trade_state(t) << "\n"
         << rig_->call("GET", "/api/alerts").body << "\n"
         << rig_->call("GET", "/api/orders?symbol=PRB").body;
}

// Refused up front with a 400 naming the problem; nothing reaches the broker.
TEST_F(ProtectionE2E, ExitsThatCouldNeverProtectAreRefusedWith400) {
  const std::string stop_above = R"({"symbol":"PRC","side":"buy","qty":"1",)"
                                 R"("entry":{"type":"limit","limit_price":"10.00"},)"
                                 R"("take_profit":{"limit_price":"11.00"},)"
                                 R"("stop_loss":{"stop_price":"10.50"}})";
  app::ApiReply r = rig_->call("POST", "/api/trades", stop_above);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("stop_loss 10.50 must be below the entry limit"), std::string::npos)
      << r.body;
  const std::string wide = R"({"symbol":"PRC","side":"buy","qty":"1",)"
                           R"("entry":{"type":"limit","limit_price":"10.00"},)"
                           R"("take_profit":{"limit_price":"30.00"}})";
  r = rig_->call("POST", "/api/trades", wide);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("allow_wide"), std::string::npos) << r.body;
  const std::string meant = wide.substr(0, wide.size() - 1) + R"(,"allow_wide":true})";
  r = rig_->call("POST", "/api/trades", meant);
  EXPECT_EQ(r.status, 201) << r.body;
}

}  // namespace
}  // namespace orderly::testing
