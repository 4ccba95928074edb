// Alpaca's order rules a trader meets: the wash-trade check (alpaca-api.md §5), fractional
// quantities, trailing stops.
#include "sim_fixture.h"

namespace orderly::sim::testing {
namespace {

std::string wash_body(const std::string& existing, const std::string& reason) {
  return R"({"code":40310000,"existing_order_id":")" + existing +
         R"(","message":"potential wash trade detected. use complex orders","reject_reason":")" +
         reason + "\"}";
}

constexpr const char* kStopSell = R"("type":"stop","stop_price":"9.00","time_in_force":"gtc")";
constexpr const char* kStopBuy = R"("type":"stop","stop_price":"11.00","time_in_force":"gtc")";
constexpr const char* kLimitBuyAt8 = R"("type":"limit","limit_price":"8.00","time_in_force":"day")";
constexpr const char* kLimitBuyAt12 =
    R"("type":"limit","limit_price":"12.00","time_in_force":"day")";

class RulesTest : public SimTest {
 protected:
  std::string limit(std::string_view symbol, std::string_view side, std::string_view price,
                    std::string_view qty = "1") {
    Answer a = post("/v2/orders", order(symbol, side, qty,
                                        R"("type":"limit","time_in_force":"gtc","limit_price":")" +
                                            std::string(price) + "\""));
    EXPECT_EQ(a.status, 200) << a.raw;
    return a.str("id");
  }
};

TEST_F(RulesTest, WashTradeMarketOrStopAgainstAnyOppositeOrder) {
  buy_filled("F", "10");
  const std::string tp = limit("F", "sell", "12.00");
  Answer m = post("/v2/orders", order("F", "buy", "1"));
  EXPECT_EQ(m.status, 403);
  EXPECT_EQ(m.raw, wash_body(tp, "opposite side limit order exists"));
  Answer stop =
      post("/v2/orders",
           order("F", "buy", "1", R"("type":"stop","stop_price":"11.00","time_in_force":"gtc")"));
  EXPECT_EQ(stop.raw, wash_body(tp, "opposite side limit order exists"));
}

TEST_F(RulesTest, WashTradeLimitOnlyAgainstACrossingLimit) {
  buy_filled("F", "10");
  const std::string tp = limit("F", "sell", "12.00");
  EXPECT_EQ(
      post("/v2/orders",
           order("F", "buy", "1", R"("type":"limit","limit_price":"11.99","time_in_force":"day")"))
          .status,
      200);
  Answer cross =
      post("/v2/orders",
           order("F", "buy", "1", R"("type":"limit","limit_price":"12.00","time_in_force":"day")"));
  EXPECT_EQ(cross.raw, wash_body(tp, "opposite side limit order exists"));
  // A stop-limit is judged by its limit price.
  Answer stop_limit = post("/v2/orders", order("F", "buy", "1",
      R"("type":"stop_limit","stop_price":"12.50","limit_price":"12.60","time_in_force":"day")"));
  EXPECT_EQ(stop_limit.raw, wash_body(tp, "opposite side limit order exists"));
}

TEST_F(RulesTest, WashTradeStopAgainstStopButNotLimitAgainstStop) {
  buy_filled("F", "10");
  Answer sl = post("/v2/orders", order("F", "sell", "10", kStopSell));
  ASSERT_EQ(sl.status, 200) << sl.raw;
  // A limit only meets a crossing limit (alpaca-api.md §5): a buy limit beside a sell stop is ok.
  EXPECT_EQ(post("/v2/orders", order("F", "buy", "1", kLimitBuyAt8)).status, 200);
  Answer stop = post("/v2/orders", order("F", "buy", "1", kStopBuy));
  EXPECT_EQ(stop.raw, wash_body(sl.str("id"), "opposite side market/stop order exists"));
}

TEST_F(RulesTest, WashTradeCountsTheLegsOfALiveBracket) {
  Answer b = post("/v2/orders",
                  order("F", "buy", "5",
                        R"("type":"market","time_in_force":"gtc","order_class":"bracket",)"
                        R"("take_profit":{"limit_price":"12.00"},)"
                        R"("stop_loss":{"stop_price":"9.00"})"));
  ASSERT_EQ(b.status, 200) << b.raw;
  tick();
  const Answer nested = get("/v2/orders/" + b.str("id") + "?nested=true");
  const auto& legs = nested.obj().at("legs").as_array();
  const std::string tp = std::string(legs[0].at("id").as_string());
  ASSERT_EQ(std::string(legs[1].at("status").as_string()), "held");
  EXPECT_EQ(post("/v2/orders", order("F", "buy", "1")).raw,
            wash_body(tp, "opposite side limit order exists"));
  EXPECT_EQ(post("/v2/orders", order("F", "buy", "1", kLimitBuyAt12)).raw,
            wash_body(tp, "opposite side limit order exists"));
  EXPECT_EQ(post("/v2/orders", order("F", "buy", "1", kLimitBuyAt8)).status, 200)
      << "below the take-profit, beside the held stop-loss";
}

TEST_F(RulesTest, ComplexOrdersAndTrailingStopsAreExempt) {
  buy_filled("F", "10");
  limit("F", "sell", "12.00", "5");
  Answer bracket = post(
      "/v2/orders",
      order(
          "F", "buy", "1",
          R"("type":"market","time_in_force":"day","order_class":"bracket",)"
          R"("take_profit":{"limit_price":"13.00"},"stop_loss":{"stop_price":"9.00"})"));
  EXPECT_EQ(bracket.status, 200) << bracket.raw;
  Answer oto = post(
      "/v2/orders",
      order(
          "F", "buy", "1",
          R"("type":"market","time_in_force":"day","order_class":"oto",)"
          R"("stop_loss":{"stop_price":"9.00"})"));
  EXPECT_EQ(oto.status, 200) << oto.raw;
  Answer trail = post(
      "/v2/orders", order("F", "buy", "1",
                          R"("type":"trailing_stop","trail_price":"0.50","time_in_force":"gtc")"));
  EXPECT_EQ(trail.status, 200) << trail.raw;
}

TEST_F(RulesTest, FractionalQuantitiesOnlyOnSimpleDayOrders) {
  struct Case {
    std::string extra;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"("type":"market","time_in_force":"day")", 200, ""},
      {R"("type":"limit","limit_price":"10.00","time_in_force":"day")", 200, ""},
      {R"("type":"stop","stop_price":"11.00","time_in_force":"day")", 200, ""},
      {R"("type":"stop_limit","stop_price":"11.00","limit_price":"11.10","time_in_force":"day")",
       200, ""},
      {R"("type":"market","time_in_force":"gtc")", 422, "fractional orders must be DAY orders"},
      {R"("type":"limit","limit_price":"10.00","time_in_force":"ioc")", 422,
       "fractional orders must be DAY orders"},
      {R"("type":"market","time_in_force":"gtc","order_class":"bracket",)"
          R"("take_profit":{"limit_price":"12.00"},"stop_loss":{"stop_price":"9.00"})",
       422, "fractional orders must be DAY orders"},
      {R"("type":"market","time_in_force":"day","order_class":"bracket",)"
          R"("take_profit":{"limit_price":"12.00"},"stop_loss":{"stop_price":"9.00"})",
       422, "fractional orders must be simple orders"},
      {R"("type":"market","time_in_force":"day","order_class":"oto",)"
          R"("stop_loss":{"stop_price":"9.00"})",
       422, "fractional orders must be simple orders"},
      {R"("type":"trailing_stop","trail_percent":"2","time_in_force":"day")", 422,
       "fractional orders must be market, limit, stop or stop_limit orders"},
  };
  for (const Case& c : cases) {
    Answer a = post("/v2/orders", order("F", "buy", "0.5", c.extra));
    EXPECT_EQ(a.status, c.status) << c.extra << " -> " << a.raw;
    if (c.status != 200) {
      EXPECT_EQ(a.raw, R"({"code":42210000,"message":")" + c.message + "\"}") << c.extra;
    }
  }
  Answer notional = post(
      "/v2/orders",
      R"({"symbol":"F","side":"buy","notional":"100","type":"market","time_in_force":"day",)"
      R"("order_class":"bracket","take_profit":{"limit_price":"12.00"},)"
      R"("stop_loss":{"stop_price":"9.00"}})");
  EXPECT_EQ(notional.raw,
            R"({"code":42210000,"message":"fractional orders must be simple orders"})");
  Answer notional_limit = post(
      "/v2/orders",
      R"({"symbol":"F","side":"buy","notional":"100","type":"limit","limit_price":"10.00",)"
      R"("time_in_force":"day"})");
  EXPECT_EQ(notional_limit.raw,
            R"({"code":42210000,"message":"notional orders must be market orders"})");
}

TEST_F(RulesTest, AFractionalOrderKeepsItsQtyOnReplace) {
  Answer a = post("/v2/orders", order("F", "buy", "0.5", kLimitBuyAt8));
  ASSERT_EQ(a.status, 200) << a.raw;
  tick();
  EXPECT_EQ(patch("/v2/orders/" + a.str("id"), R"({"qty":"1"})").raw,
            R"({"code":40010001,"message":"qty of a fractional order cannot be changed"})");
  Answer price = patch("/v2/orders/" + a.str("id"), R"({"limit_price":"8.10"})");
  EXPECT_EQ(price.status, 200) << price.raw;
  EXPECT_EQ(price.str("qty"), "0.5");
}

TEST_F(RulesTest, TrailingStopSellFollowsTheHighAndTriggersAtTheTrail) {
  buy_filled("F", "10");
  Answer t = post("/v2/orders",
                  order("F", "sell", "10",
                        R"("type":"trailing_stop","trail_price":"0.50","time_in_force":"gtc")"));
  ASSERT_EQ(t.status, 200) << t.raw;
  EXPECT_EQ(t.str("type"), "trailing_stop");
  EXPECT_EQ(t.str("trail_price"), "0.50");
  EXPECT_EQ(t.str("hwm"), "null");
  tick();
  Answer o = get("/v2/orders/" + t.str("id"));
  EXPECT_EQ(o.str("hwm"), "10.50");
  EXPECT_EQ(o.str("stop_price"), "10.00");
  ex_->set_prices({{"F", Decimal::must("11.20")}});
  ex_->set_prices({{"F", Decimal::must("10.80")}});
  o = get("/v2/orders/" + t.str("id"));
  EXPECT_EQ(o.str("status"), "new");
  EXPECT_EQ(o.str("hwm"), "11.20");
  EXPECT_EQ(o.str("stop_price"), "10.70");
  ex_->set_prices({{"F", Decimal::must("10.70")}});
  o = get("/v2/orders/" + t.str("id"));
  EXPECT_EQ(o.str("status"), "filled");
  EXPECT_EQ(o.str("filled_avg_price"), "10.7");
}

TEST_F(RulesTest, TrailingStopPercentAndReplaceTheTrail) {
  buy_filled("T", "4");
  Answer t = post("/v2/orders",
                  order("T", "sell", "4",
                        R"("type":"trailing_stop","trail_percent":"5","time_in_force":"day")"));
  ASSERT_EQ(t.status, 200) << t.raw;
  tick();
  EXPECT_EQ(get("/v2/orders/" + t.str("id")).str("stop_price"), "20.90");  // 22.00 * 0.95
  Answer r = patch("/v2/orders/" + t.str("id"), R"({"trail":"10"})");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.str("trail_percent"), "10");
  EXPECT_EQ(r.str("stop_price"), "19.80");
  EXPECT_EQ(patch("/v2/orders/" + r.str("id"), R"({"stop_price":"19.00"})").status, 422);
}

TEST_F(RulesTest, TrailingStopRequestsAreChecked) {
  auto refuse = [&](std::string extra) {
    return post("/v2/orders", order("F", "buy", "1", extra)).raw;
  };
  EXPECT_EQ(
      refuse(R"("type":"trailing_stop","time_in_force":"gtc")"),
      R"({"code":40010001,)"
      R"("message":"trailing_stop orders require exactly one of trail_price or trail_percent"})");
  EXPECT_EQ(
      refuse(
          R"("type":"trailing_stop","trail_price":"1","trail_percent":"1","time_in_force":"gtc")"),
      R"({"code":40010001,)"
      R"("message":"trailing_stop orders require exactly one of trail_price or trail_percent"})");
  EXPECT_EQ(refuse(R"("type":"trailing_stop","trail_percent":"0","time_in_force":"gtc")"),
            R"({"code":40010001,"message":"trail_percent must be > 0"})");
  EXPECT_EQ(refuse(R"("type":"trailing_stop","trail_percent":"1","time_in_force":"ioc")"),
            R"({"code":40010001,"message":"trailing_stop orders must be day or gtc"})");
}

}  // namespace
}  // namespace orderly::sim::testing
