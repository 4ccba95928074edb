// Orders, holds and the incident, against the in-process exchange model.
#include "sim_fixture.h"

namespace orderly::sim::testing {
namespace {

TEST_F(SimTest, MarketBuyIsAcceptedThenNewThenFilledOnTheStream) {
  ASSERT_EQ(ex_->set_faults_json(R"({"rules":[]})"), "");
  ex_->set_prices({{"STWD", Decimal::must("20.00")}});
  Answer a = post("/v2/orders", order("STWD", "buy", "37"));
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.str("status"), "accepted");
  EXPECT_EQ(a.str("order_class"), "");
  EXPECT_EQ(a.str("order_type"), "market");
  EXPECT_EQ(a.str("type"), "market");
  EXPECT_EQ(a.str("qty"), "37");
  EXPECT_EQ(a.str("filled_qty"), "0");
  EXPECT_TRUE(a.obj().at("filled_avg_price").is_null());
  EXPECT_TRUE(a.obj().at("legs").is_null());
  EXPECT_TRUE(a.obj().at("replaced_by").is_null());
  const std::string id = a.str("id");
  EXPECT_EQ(id.size(), 36u);

  tick();
  auto msgs = stream();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(event_of(msgs[0]), "new");
  EXPECT_EQ(event_of(msgs[1]), "fill");
  const auto& fill = msgs[1].at("data").as_object();
  EXPECT_EQ(fill.at("price").as_string(), "20.00");
  EXPECT_EQ(fill.at("qty").as_string(), "37");
  EXPECT_EQ(fill.at("position_qty").as_string(), "37");
  EXPECT_EQ(fill.at("order").at("status").as_string(), "filled");
  EXPECT_EQ(fill.at("order").at("filled_avg_price").as_string(), "20");
  EXPECT_EQ(fill.at("execution_id").as_string().size(), 36u);
  EXPECT_EQ(msgs[0].at("stream").as_string(), "trade_updates");

  Answer pos = get("/v2/positions/STWD");
  ASSERT_EQ(pos.status, 200) << pos.raw;
  EXPECT_EQ(pos.str("qty"), "37");
  EXPECT_EQ(pos.str("qty_available"), "37");
  EXPECT_EQ(pos.str("avg_entry_price"), "20");
  EXPECT_EQ(pos.str("side"), "long");

  Answer acct = get("/v2/account");
  EXPECT_EQ(acct.str("cash"), "99260.00");
}

// The incident (seed/000): a take-profit accepted at the broker holds the 37 shares, so the
// platform's "retry" of the same sell is refused with 40310000 naming that take-profit.
TEST_F(SimTest, IncidentSecondSellIsRefusedNamingTheAcceptedTakeProfit) {
  buy_filled("STWD", "37");
  Answer tp = post("/v2/orders",
                   order("STWD", "sell", "37", R"("type":"limit","time_in_force":"gtc","limit_price":"20.50")"));
  ASSERT_EQ(tp.status, 200) << tp.raw;
  EXPECT_EQ(tp.str("status"), "accepted");
  Answer retry = post("/v2/orders",
                      order("STWD", "sell", "37", R"("type":"limit","time_in_force":"gtc","limit_price":"20.50")"));
  EXPECT_EQ(retry.status, 403);
  EXPECT_EQ(retry.raw,
            R"({"available":"0","code":40310000,"existing_qty":"37","held_for_orders":"37",)"
            R"x("message":"insufficient qty available for order (requested: 37, available: 0)",)x"
            R"("related_orders":[")" + tp.str("id") + R"("],"symbol":"STWD"})");
  Answer pos = get("/v2/positions/STWD");
  EXPECT_EQ(pos.str("qty_available"), "0");
  tick();  // the TP goes new; still holding
  EXPECT_EQ(post("/v2/orders", order("STWD", "sell", "1")).status, 403);
}

TEST_F(SimTest, InsufficientQtyWithoutHoldsOmitsRelatedOrders) {
  buy_filled("HOOD", "9");
  Answer a = post("/v2/orders", order("HOOD", "sell", "10"));
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.raw,
            R"({"available":"9","code":40310000,"existing_qty":"9","held_for_orders":"0",)"
            R"x("message":"insufficient qty available for order (requested: 10, available: 9)","symbol":"HOOD"})x");
}

TEST_F(SimTest, SellWithoutPositionIsAShortAndRefused) {
  Answer a = post("/v2/orders", order("F", "sell", "1"));
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.raw, R"({"code":40310000,"message":"account is not allowed to short"})");
}

TEST_F(SimTest, LimitRestsUntilMarketableThenFillsAtTheLastPrice) {
  ex_->set_prices({{"AAPL", Decimal::must("230.00")}});
  Answer a = post("/v2/orders", order("AAPL", "buy", "2", R"("type":"limit","time_in_force":"gtc","limit_price":"225.00")"));
  ASSERT_EQ(a.status, 200) << a.raw;
  tick();
  EXPECT_EQ(get("/v2/orders/" + a.str("id")).str("status"), "new");
  ex_->set_prices({{"AAPL", Decimal::must("224.50")}});
  Answer o = get("/v2/orders/" + a.str("id"));
  EXPECT_EQ(o.str("status"), "filled");
  EXPECT_EQ(o.str("filled_avg_price"), "224.5");
}

TEST_F(SimTest, GetByClientOrderIdAndDuplicateClientOrderId) {
  Answer a = post("/v2/orders", order("MSFT", "buy", "1", R"("type":"market","time_in_force":"day","client_order_id":"ol-abc")"));
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.str("client_order_id"), "ol-abc");
  Answer b = get("/v2/orders:by_client_order_id?client_order_id=ol-abc");
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(b.str("id"), a.str("id"));
  Answer dup = post("/v2/orders", order("MSFT", "buy", "1", R"("type":"market","time_in_force":"day","client_order_id":"ol-abc")"));
  EXPECT_EQ(dup.status, 422);
  EXPECT_EQ(dup.raw, R"({"code":40010001,"message":"client_order_id must be unique"})");
  // Unique forever: still refused after the first order is gone (alpaca-py #260).
  tick();
  EXPECT_EQ(post("/v2/orders", order("MSFT", "buy", "1", R"("type":"market","time_in_force":"day","client_order_id":"ol-abc")")).status, 422);
  EXPECT_EQ(get("/v2/orders:by_client_order_id?client_order_id=nope").status, 404);
  std::string long_id(129, 'x');
  Answer too_long = post("/v2/orders", order("MSFT", "buy", "1", R"("type":"market","time_in_force":"day","client_order_id":")" + long_id + "\""));
  EXPECT_EQ(too_long.status, 422);
}

TEST_F(SimTest, CancelIsAsynchronousAndCancelOfFilledIsRefused) {
  buy_filled("KO", "10");
  Answer tp = post("/v2/orders", order("KO", "sell", "10", R"("type":"limit","time_in_force":"gtc","limit_price":"80.00")"));
  tick();
  stream();
  Answer c = del("/v2/orders/" + tp.str("id"));
  EXPECT_EQ(c.status, 204);
  EXPECT_TRUE(c.raw.empty());
  EXPECT_EQ(get("/v2/orders/" + tp.str("id")).str("status"), "pending_cancel");
  // Shares stay held until the cancel completes (alpaca-trade-api-csharp #247).
  EXPECT_EQ(post("/v2/orders", order("KO", "sell", "10")).status, 403);
  tick();
  auto msgs = stream();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(event_of(msgs[0]), "pending_cancel");
  EXPECT_EQ(event_of(msgs[1]), "canceled");
  Answer got = get("/v2/orders/" + tp.str("id"));
  EXPECT_EQ(got.str("status"), "canceled");
  EXPECT_NE(got.str("canceled_at"), "null");
  EXPECT_EQ(get("/v2/positions/KO").str("qty_available"), "10");

  const std::string filled = buy_filled("KO", "1");
  Answer again = del("/v2/orders/" + filled);
  EXPECT_EQ(again.status, 422);
  EXPECT_EQ(again.raw, R"({"code":42210000,"message":"order is already in \"filled\" state"})");
  Answer missing = del("/v2/orders/00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.raw, R"({"code":40410000,"message":"order not found"})");
}

}  // namespace
}  // namespace orderly::sim::testing

namespace orderly::sim::testing {
namespace {

TEST_F(SimTest, ClockAnswersInEasternTimeWithOffset) {
  Answer c = get("/v2/clock");  // 2025-10-10T12:00:00Z is a Friday, 08:00 EDT
  ASSERT_EQ(c.status, 200);
  EXPECT_EQ(c.str("timestamp"), "2025-10-10T08:00:00-04:00");
  EXPECT_EQ(c.str("is_open"), "true");  // always open by default
  // Open: the next close comes first, then the next session's open (Monday).
  EXPECT_EQ(c.str("next_close"), "2025-10-10T16:00:00-04:00");
  EXPECT_EQ(c.str("next_open"), "2025-10-13T09:30:00-04:00");
  clock_.set(parse_rfc3339("2025-12-05T22:00:00Z").value());  // Friday after the close, EST
  c = get("/v2/clock");
  EXPECT_EQ(c.str("timestamp"), "2025-12-05T17:00:00-05:00");
  EXPECT_EQ(c.str("next_close"), "2025-12-08T16:00:00-05:00");
  EXPECT_EQ(c.str("next_open"), "2025-12-09T09:30:00-05:00");
  ex_->session(SessionEvent::close);
  EXPECT_EQ(get("/v2/clock").str("next_open"), "2025-12-08T09:30:00-05:00");
}

}  // namespace
}  // namespace orderly::sim::testing
