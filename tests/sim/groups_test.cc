// Bracket, OCO, replace, partial fills, wash trades and order listing.
#include "sim_fixture.h"

namespace orderly::sim::testing {
namespace {

std::vector<std::string> events(const std::vector<json::object>& msgs) {
  std::vector<std::string> out;
  for (const auto& m : msgs) out.push_back(std::string(m.at("data").at("event").as_string()));
  return out;
}

TEST_F(SimTest, BracketLegsAreHeldUntilTheEntryFillsThenTakeProfitCancelsStopLoss) {
  Answer a = post("/v2/orders", order("AAPL", "buy", "10", R"("type":"market","time_in_force":"gtc","order_class":"bracket","take_profit":{"limit_price":"240.00"},"stop_loss":{"stop_price":"220.00"})"));
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.str("order_class"), "bracket");
  const auto& legs = a.obj().at("legs").as_array();
  ASSERT_EQ(legs.size(), 2u);
  const std::string tp = std::string(legs[0].at("id").as_string());
  const std::string sl = std::string(legs[1].at("id").as_string());
  EXPECT_EQ(legs[0].at("status").as_string(), "held");
  EXPECT_EQ(legs[0].at("type").as_string(), "limit");
  EXPECT_EQ(legs[0].at("side").as_string(), "sell");
  EXPECT_EQ(legs[0].at("limit_price").as_string(), "240.00");
  EXPECT_EQ(legs[1].at("status").as_string(), "held");
  EXPECT_EQ(legs[1].at("type").as_string(), "stop");
  EXPECT_EQ(legs[1].at("stop_price").as_string(), "220.00");

  tick();
  EXPECT_EQ(events(stream()), (std::vector<std::string>{"new", "fill", "new"}));
  EXPECT_EQ(get("/v2/orders/" + tp).str("status"), "new");
  EXPECT_EQ(get("/v2/orders/" + sl).str("status"), "held");
  // The group holds the 10 shares once.
  EXPECT_EQ(get("/v2/positions/AAPL").str("qty_available"), "0");
  Answer extra = post("/v2/orders", order("AAPL", "sell", "1"));
  EXPECT_EQ(extra.status, 403);
  EXPECT_EQ(extra.str("held_for_orders"), "10");
  EXPECT_EQ(json::serialize(extra.obj().at("related_orders")), "[\"" + tp + "\"]");

  ex_->set_prices({{"AAPL", Decimal::must("241.00")}});
  auto msgs = stream();
  EXPECT_EQ(events(msgs), (std::vector<std::string>{"fill", "canceled"}));
  EXPECT_EQ(order_id_of(msgs[0]), tp);
  EXPECT_EQ(order_id_of(msgs[1]), sl);
  EXPECT_EQ(get("/v2/positions/AAPL").status, 404);
  EXPECT_EQ(get("/v2/positions/AAPL").raw, R"({"code":40410000,"message":"position does not exist"})");
}

TEST_F(SimTest, BracketStopLossTriggerCancelsTakeProfit) {
  Answer a = post("/v2/orders", order("AAPL", "buy", "10", R"("type":"limit","limit_price":"230.00","time_in_force":"day","order_class":"bracket","take_profit":{"limit_price":"240.00"},"stop_loss":{"stop_price":"220.00","limit_price":"219.00"})"));
  ASSERT_EQ(a.status, 200) << a.raw;
  const std::string tp = std::string(a.obj().at("legs").as_array()[0].at("id").as_string());
  const std::string sl = std::string(a.obj().at("legs").as_array()[1].at("id").as_string());
  EXPECT_EQ(a.obj().at("legs").as_array()[1].at("type").as_string(), "stop_limit");
  tick();
  stream();
  ex_->set_prices({{"AAPL", Decimal::must("219.50")}});
  auto msgs = stream();
  EXPECT_EQ(events(msgs), (std::vector<std::string>{"canceled", "fill"}));
  EXPECT_EQ(order_id_of(msgs[0]), tp);
  EXPECT_EQ(order_id_of(msgs[1]), sl);
  EXPECT_EQ(msgs[1].at("data").at("position_qty").as_string(), "0");
}

TEST_F(SimTest, BracketRejectsStopLossAboveBasePrice) {
  Answer a = post("/v2/orders", order("AAPL", "buy", "1", R"("type":"limit","limit_price":"230.00","time_in_force":"day","order_class":"bracket","take_profit":{"limit_price":"240.00"},"stop_loss":{"stop_price":"230.00"})"));
  EXPECT_EQ(a.status, 422);
  EXPECT_EQ(a.raw, R"({"base_price":"230.00","code":42210000,"message":"stop_loss.stop_price must be <= base_price - 0.01"})");
  Answer b = post("/v2/orders", order("AAPL", "buy", "1", R"("type":"market","time_in_force":"day","order_class":"bracket","stop_loss":{"stop_price":"220.00"})"));
  EXPECT_EQ(b.status, 422);
  EXPECT_EQ(b.str("message"), "bracket orders require take_profit.limit_price");
}

TEST_F(SimTest, OcoOnAPositionHoldsOnceAndOneLegCancelsTheOther) {
  buy_filled("STWD", "37");
  stream();
  Answer oco = post("/v2/orders", order("STWD", "sell", "37", R"("type":"limit","time_in_force":"gtc","order_class":"oco","take_profit":{"limit_price":"21.00"},"stop_loss":{"stop_price":"19.00"})"));
  ASSERT_EQ(oco.status, 200) << oco.raw;
  EXPECT_EQ(oco.str("order_class"), "oco");
  EXPECT_EQ(oco.str("limit_price"), "21.00");
  const std::string sl = std::string(oco.obj().at("legs").as_array()[0].at("id").as_string());
  EXPECT_EQ(get("/v2/positions/STWD").str("qty_available"), "0");
  Answer again = post("/v2/orders", order("STWD", "sell", "37", R"("type":"limit","time_in_force":"gtc","order_class":"oco","take_profit":{"limit_price":"21.00"},"stop_loss":{"stop_price":"19.00"})"));
  EXPECT_EQ(again.status, 403);
  EXPECT_EQ(json::serialize(again.obj().at("related_orders")), "[\"" + oco.str("id") + "\"]");
  // A market buy against the open take-profit is a potential wash trade.
  Answer wash = post("/v2/orders", order("STWD", "buy", "1"));
  EXPECT_EQ(wash.status, 403);
  EXPECT_EQ(wash.raw, R"({"code":40310000,"existing_order_id":")" + oco.str("id") +
                          R"(","message":"potential wash trade detected. use complex orders","reject_reason":"opposite side limit order exists"})");
  Answer not_oco_limit = post("/v2/orders", order("STWD", "sell", "1", R"("type":"market","time_in_force":"gtc","order_class":"oco","take_profit":{"limit_price":"21.00"},"stop_loss":{"stop_price":"19.00"})"));
  EXPECT_EQ(not_oco_limit.raw, R"({"code":40010001,"message":"oco orders must be limit orders"})");
  tick();
  EXPECT_EQ(events(stream()), (std::vector<std::string>{"new"}));
  ex_->set_prices({{"STWD", Decimal::must("18.99")}});
  auto msgs = stream();
  EXPECT_EQ(events(msgs), (std::vector<std::string>{"canceled", "fill"}));
  EXPECT_EQ(order_id_of(msgs[0]), oco.str("id"));
  EXPECT_EQ(order_id_of(msgs[1]), sl);
  EXPECT_EQ(get("/v2/orders/" + sl).str("filled_avg_price"), "18.99");
}

// A replacement joins its group when the replace completes: the group's other order filling
// meanwhile cancels it with the order it would replace (DST trades seed 23700000018216: a stop
// leg's replacement, triggered at once, filled beside the take-profit: 19 shares oversold).
TEST_F(SimTest, AnOcoLegsReplacementNeverFillsBesideTheOtherOrder) {
  buy_filled("STWD", "37");
  Answer oco = post("/v2/orders",
                    order("STWD", "sell", "37",
                          R"("type":"limit","time_in_force":"gtc","order_class":"oco",)"
                          R"("take_profit":{"limit_price":"21.00"},)"
                          R"("stop_loss":{"stop_price":"19.00"})"));
  ASSERT_EQ(oco.status, 200) << oco.raw;
  const std::string sl = std::string(oco.obj().at("legs").as_array()[0].at("id").as_string());
  tick();
  stream();
  // Above the market: the new stop triggers as soon as it is watched.
  Answer r = patch("/v2/orders/" + sl, R"({"stop_price":"25.00"})");
  ASSERT_EQ(r.status, 200) << r.raw;
  ex_->set_prices({{"STWD", Decimal::must("21.50")}});
  tick();
  stream();
  EXPECT_EQ(get("/v2/orders/" + oco.str("id")).str("status"), "filled");
  EXPECT_EQ(get("/v2/orders/" + r.str("id")).str("status"), "canceled");
  EXPECT_EQ(get("/v2/positions/STWD").status, 404) << "the 37 sold once";
}

TEST_F(SimTest, CancellingOneLegCancelsTheGroup) {
  buy_filled("STWD", "10");
  Answer oco = post("/v2/orders", order("STWD", "sell", "10", R"("type":"limit","time_in_force":"gtc","order_class":"oco","take_profit":{"limit_price":"21.00"},"stop_loss":{"stop_price":"19.00"})"));
  tick();
  const std::string sl = std::string(oco.obj().at("legs").as_array()[0].at("id").as_string());
  EXPECT_EQ(del("/v2/orders/" + sl).status, 204);
  tick();
  EXPECT_EQ(get("/v2/orders/" + sl).str("status"), "canceled");
  EXPECT_EQ(get("/v2/orders/" + oco.str("id")).str("status"), "canceled");
  EXPECT_EQ(get("/v2/positions/STWD").str("qty_available"), "10");
}

TEST_F(SimTest, ReplaceLinksBothWaysAndHoldsOnce) {
  buy_filled("KO", "10");
  Answer tp = post("/v2/orders", order("KO", "sell", "10", R"("type":"limit","time_in_force":"gtc","limit_price":"80.00")"));
  Answer early = patch("/v2/orders/" + tp.str("id"), R"({"limit_price":"79.00"})");
  EXPECT_EQ(early.status, 422);  // still accepted: not routed yet
  EXPECT_EQ(early.str("code"), "42210000");
  tick();
  stream();
  Answer r = patch("/v2/orders/" + tp.str("id"), R"({"limit_price":"79.00","client_order_id":"new-cid"})");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_NE(r.str("id"), tp.str("id"));
  EXPECT_EQ(r.str("replaces"), tp.str("id"));
  EXPECT_EQ(r.str("limit_price"), "79.00");
  EXPECT_EQ(r.str("qty"), "10");
  EXPECT_EQ(r.str("client_order_id"), "new-cid");
  Answer old = get("/v2/orders/" + tp.str("id"));
  EXPECT_EQ(old.str("status"), "pending_replace");
  EXPECT_EQ(old.str("replaced_by"), r.str("id"));
  EXPECT_EQ(get("/v2/positions/KO").str("qty_available"), "0");
  EXPECT_EQ(del("/v2/orders/" + tp.str("id")).status, 422);  // refused while pending_replace
  tick();
  auto msgs = stream();
  EXPECT_EQ(events(msgs), (std::vector<std::string>{"pending_replace", "replaced", "new"}));
  old = get("/v2/orders/" + tp.str("id"));
  EXPECT_EQ(old.str("status"), "replaced");
  EXPECT_NE(old.str("replaced_at"), "null");
  EXPECT_EQ(get("/v2/orders/" + r.str("id")).str("status"), "new");
  // The original client_order_id still finds the original (replaced) order.
  EXPECT_EQ(get("/v2/orders:by_client_order_id?client_order_id=" + tp.str("client_order_id")).str("status"), "replaced");
  Answer bigger = patch("/v2/orders/" + r.str("id"), R"({"qty":"11"})");
  EXPECT_EQ(bigger.status, 403);
  EXPECT_EQ(bigger.str("existing_qty"), "10");
}

TEST_F(SimTest, PartialFillsAddUpAndAppearAsActivities) {
  SimConfig c;
  c.rate_limit_per_min = 0;
  c.partial_fills = true;
  c.cash = Decimal::from_int(10'000'000);
  reset(c);
  int partials = 0;
  for (int i = 0; i < 60 && partials == 0; ++i) {
    Answer a = post("/v2/orders", order("F", "buy", "100"));
    ASSERT_EQ(a.status, 200) << a.raw;
    Decimal total;
    for (int k = 0; k < 100 && get("/v2/orders/" + a.str("id")).str("status") != "filled"; ++k) tick();
    for (const auto& m : stream()) {
      const auto& d = m.at("data").as_object();
      if (d.at("order").at("id").as_string() != a.str("id")) continue;
      if (d.at("event").as_string() == "partial_fill") ++partials;
      if (d.contains("qty")) total += Decimal::must(d.at("qty").as_string());
    }
    EXPECT_EQ(total, Decimal::from_int(100));
  }
  EXPECT_GT(partials, 0);
  Answer acts = get("/v2/account/activities/FILL?direction=asc&page_size=100");
  bool saw_partial = false;
  for (const auto& act : acts.body.as_array()) saw_partial |= act.at("type").as_string() == "partial_fill";
  EXPECT_TRUE(saw_partial);
}

TEST_F(SimTest, ListOrdersFiltersAndOrders) {
  const std::string first = buy_filled("F", "1");
  clock_.advance_ms(1000);
  Answer open1 = post("/v2/orders", order("F", "buy", "1", R"("type":"limit","time_in_force":"gtc","limit_price":"5.00")"));
  clock_.advance_ms(1000);
  Answer open2 = post("/v2/orders", order("KO", "buy", "1", R"("type":"limit","time_in_force":"gtc","limit_price":"5.00")"));
  tick();
  Answer open = get("/v2/orders");
  ASSERT_EQ(open.status, 200);
  ASSERT_EQ(open.body.as_array().size(), 2u);
  EXPECT_EQ(open.body.as_array()[0].at("id").as_string(), open2.str("id"));  // desc by default
  Answer asc = get("/v2/orders?status=all&direction=asc");
  ASSERT_EQ(asc.body.as_array().size(), 3u);
  EXPECT_EQ(asc.body.as_array()[0].at("id").as_string(), first);
  EXPECT_EQ(get("/v2/orders?status=closed").body.as_array().size(), 1u);
  EXPECT_EQ(get("/v2/orders?status=all&symbols=KO").body.as_array().size(), 1u);
  EXPECT_EQ(get("/v2/orders?status=all&limit=1").body.as_array().size(), 1u);
  const std::string after = open1.str("submitted_at");
  Answer since = get("/v2/orders?status=all&after=" + after);
  ASSERT_EQ(since.body.as_array().size(), 1u);  // exclusive
  EXPECT_EQ(since.body.as_array()[0].at("id").as_string(), open2.str("id"));
  EXPECT_EQ(get("/v2/orders?status=bogus").status, 422);
  Answer all = del("/v2/orders");
  EXPECT_EQ(all.status, 207);
  ASSERT_EQ(all.body.as_array().size(), 2u);
  EXPECT_EQ(all.body.as_array()[0].at("status").as_int64(), 200);
  tick();
  EXPECT_EQ(get("/v2/orders").body.as_array().size(), 0u);
}

TEST_F(SimTest, ClosePositionSellsAtMarketUnlessHeld) {
  buy_filled("PFE", "10");
  Answer c = del("/v2/positions/PFE?qty=4");
  ASSERT_EQ(c.status, 200) << c.raw;
  EXPECT_EQ(c.str("side"), "sell");
  EXPECT_EQ(c.str("qty"), "4");
  tick();
  EXPECT_EQ(get("/v2/positions/PFE").str("qty"), "6");
  post("/v2/orders", order("PFE", "sell", "6", R"("type":"limit","time_in_force":"gtc","limit_price":"99.00")"));
  Answer held = del("/v2/positions/PFE");
  EXPECT_EQ(held.status, 403);
  EXPECT_EQ(held.str("held_for_orders"), "6");
  EXPECT_EQ(del("/v2/positions/XOM").status, 404);
}

}  // namespace
}  // namespace orderly::sim::testing
