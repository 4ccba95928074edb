// An equity's asset flags (POST /sim/assets): served in GET /v2/assets/{symbol} and enforced on
// orders as Alpaca answers them, so that orderly's refusals can be rehearsed against them.
#include "sim_fixture.h"

namespace orderly::sim::testing {
namespace {

class AssetFlagsTest : public ShortingSimTest {
 protected:
  void set_flags(const std::string& body) {
    Answer a = post("/sim/assets", body);
    ASSERT_EQ(a.status, 200) << a.raw;
  }
  std::size_t orders_of(const std::string& symbol) {
    return get("/v2/orders?status=all&symbols=" + symbol).body.as_array().size();
  }
};

TEST_F(AssetFlagsTest, EveryEquityIsTradableFractionableAndEasyToBorrowUntilSet) {
  Answer a = get("/v2/assets/AAPL");
  EXPECT_EQ(a.str("status"), "active");
  EXPECT_EQ(a.str("tradable"), "true");
  EXPECT_EQ(a.str("fractionable"), "true");
  EXPECT_EQ(a.str("shortable"), "true");
  EXPECT_EQ(a.str("easy_to_borrow"), "true");
  EXPECT_EQ(a.str("borrow_status"), "easy_to_borrow");
}

TEST_F(AssetFlagsTest, SetFlagsAreServedAndTheAnswerListsTheAssets) {
  Answer a = post("/sim/assets", R"({"GOOGL":{"fractionable":false,"status":"inactive"},)"
                                 R"("T":{"borrow_status":"hard_to_borrow","shortable":false}})");
  ASSERT_EQ(a.status, 200) << a.raw;
  ASSERT_EQ(a.body.as_array().size(), 2u) << a.raw;
  Answer g = get("/v2/assets/GOOGL");
  EXPECT_EQ(g.str("fractionable"), "false");
  EXPECT_EQ(g.str("status"), "inactive");
  EXPECT_EQ(g.str("tradable"), "true") << "only what was named changes";
  Answer t = get("/v2/assets/T");
  EXPECT_EQ(t.str("borrow_status"), "hard_to_borrow");
  EXPECT_EQ(t.str("easy_to_borrow"), "false");
  EXPECT_EQ(t.str("shortable"), "false");
}

// One bad entry refuses the whole body and changes nothing.
TEST_F(AssetFlagsTest, ABadBodyChangesNothing) {
  EXPECT_EQ(post("/sim/assets", R"({"KO":{"tradable":false},"NOPE":{"tradable":false}})").status,
            404);
  EXPECT_EQ(post("/sim/assets", R"({"KO":{"tradable":false},"PEP":{"tradable":"no"}})").status,
            422);
  EXPECT_EQ(post("/sim/assets", R"({"KO":{"status":"halted"}})").status, 422);
  EXPECT_EQ(post("/sim/assets", R"({"KO":{"colour":"red"}})").status, 422);
  EXPECT_EQ(post("/sim/assets", R"(["KO"])").status, 400);
  EXPECT_EQ(get("/v2/assets/KO").str("tradable"), "true");
}

TEST_F(AssetFlagsTest, AnAssetNotTradableOrInactiveTakesNoOrder) {
  set_flags(R"({"KO":{"tradable":false},"PEP":{"status":"inactive"}})");
  EXPECT_EQ(post("/v2/orders", order("KO", "buy", "1")).raw,
            R"({"code":42210000,"message":"asset \"KO\" is not tradable"})");
  Answer pep = post("/v2/orders", order("PEP", "buy", "1"));
  EXPECT_EQ(pep.status, 422) << pep.raw;
  EXPECT_EQ(pep.str("message"), "asset \"PEP\" is not tradable");
  EXPECT_EQ(orders_of("KO") + orders_of("PEP"), 0u);
}

TEST_F(AssetFlagsTest, AnAssetNotFractionableTakesWholeSharesOnly) {
  set_flags(R"({"KO":{"fractionable":false}})");
  EXPECT_EQ(post("/v2/orders", order("KO", "buy", "0.5")).raw,
            R"({"code":40310000,"message":"asset \"KO\" is not fractionable"})");
  Answer n = post("/v2/orders", R"({"symbol":"KO","side":"buy","notional":"100","type":"market",)"
                                R"("time_in_force":"day"})");
  EXPECT_EQ(n.status, 403) << n.raw;
  EXPECT_EQ(orders_of("KO"), 0u);
  EXPECT_EQ(post("/v2/orders", order("KO", "buy", "2")).status, 200);
}

TEST_F(AssetFlagsTest, ANotionalUnderOneDollarIsRefused) {
  Answer a = post("/v2/orders", R"({"symbol":"KO","side":"buy","notional":"0.50",)"
                                R"("type":"market","time_in_force":"day"})");
  EXPECT_EQ(a.raw, R"({"code":42210000,"message":"notional amount must be >= 1.00"})");
  EXPECT_EQ(post("/v2/orders", R"({"symbol":"KO","side":"buy","notional":"1.00",)"
                               R"("type":"market","time_in_force":"day"})")
                .status,
            200);
}

TEST_F(AssetFlagsTest, AFractionalExtendedHoursOrderNeedsTheAttribute) {
  EXPECT_EQ(get("/v2/assets/KO").body.at("attributes").as_array().size(), 1u);
  set_flags(R"({"KO":{"fractional_eh_enabled":false}})");
  EXPECT_TRUE(get("/v2/assets/KO").body.at("attributes").as_array().empty());
  const std::string limit = R"("type":"limit","limit_price":"70.00","time_in_force":"day",)"
                            R"("extended_hours":true)";
  Answer a = post("/v2/orders", order("KO", "buy", "0.5", limit));
  EXPECT_EQ(a.status, 422) << a.raw;
  EXPECT_EQ(a.str("message"),
            "fractional orders are not accepted in extended hours for asset "
            "\"KO\"");
  EXPECT_EQ(post("/v2/orders", order("KO", "buy", "2", limit)).status, 200);
}

// A short needs a shortable, easy-to-borrow asset (a hard-to-borrow one needs a locate, which
// the simulator does not take); a long of a hard-to-borrow asset takes day orders only.
TEST_F(AssetFlagsTest, ShortsNeedAShortableEasyToBorrowAssetAndHardToBorrowTakesDayOrders) {
  set_flags(R"({"F":{"shortable":false},"T":{"borrow_status":"hard_to_borrow"}})");
  EXPECT_EQ(post("/v2/orders", order("F", "sell", "3")).raw,
            R"({"code":42210000,"message":"asset \"F\" cannot be sold short"})");
  EXPECT_EQ(post("/v2/orders", order("T", "sell", "3")).str("message"),
            "asset \"T\" cannot be sold short");
  Answer gtc =
      post("/v2/orders", order("T", "buy", "3", R"("type":"market","time_in_force":"gtc")"));
  EXPECT_EQ(gtc.status, 422) << gtc.raw;
  EXPECT_EQ(gtc.str("code"), "42210000");
  EXPECT_EQ(gtc.str("message"), "only day orders are allowed for hard-to-borrow asset \"T\"");
  EXPECT_EQ(orders_of("F") + orders_of("T"), 0u);
  buy_filled("T", "3");
  Answer gtc_stop = post("/v2/orders", order("T", "sell", "3",
                                             R"("type":"stop","stop_price":"20.00",)"
                                             R"("time_in_force":"gtc")"));
  EXPECT_EQ(gtc_stop.status, 422) << "an exit of the long too: " << gtc_stop.raw;
  EXPECT_EQ(post("/v2/orders", order("T", "sell", "3",
                                     R"("type":"stop","stop_price":"20.00","time_in_force":"day")"))
                .status,
            200);
}

// A pair's least order value (Alpaca's is in no asset; paper accounts answer 10): a notional, or
// a qty at its limit or at the last price, under it is refused; none is set until asked for.
TEST_F(AssetFlagsTest, ACryptoOrderUnderTheLeastValueSetIsRefused) {
  const std::string small = R"({"symbol":"SOL/USD","side":"buy","notional":"5","type":"market",)"
                            R"("time_in_force":"gtc"})";
  EXPECT_EQ(post("/v2/orders", small).status, 200) << "no least value until set";
  set_flags(R"({"SOL/USD":{"min_order_value":"10"}})");
  EXPECT_EQ(get("/v2/assets/SOLUSD").obj().if_contains("min_order_value"), nullptr)
      << "not in the asset, as at Alpaca";
  EXPECT_EQ(post("/v2/orders", small).raw,
            R"({"code":40310000,"message":"cost basis must be >= minimal amount of order 10"})");
  EXPECT_EQ(post("/v2/orders", order("SOL/USD", "buy", "0.05",
                                     R"("type":"limit","limit_price":"150.00",)"
                                     R"("time_in_force":"gtc")"))
                .status,
            403)
      << "0.05 at 150.00 is 7.50";
  EXPECT_EQ(post("/v2/orders",
                 order("SOL/USD", "buy", "0.07", R"("type":"market","time_in_force":"gtc")"))
                .status,
            200)
      << "0.07 at the last 150.00 is 10.50";
  EXPECT_EQ(post("/sim/assets", R"({"SOL/USD":{"min_order_value":"-1"}})").status, 422);
}

}  // namespace
}  // namespace orderly::sim::testing
