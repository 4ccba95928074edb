// Time in force, notional orders, stops, regular hours, the random walk and /sim/prices.
#include "sim_fixture.h"

namespace orderly::sim::testing {
namespace {

TEST_F(SimTest, IocAndFokCancelWhatDoesNotFillAtOnce) {
  Answer ioc = post("/v2/orders", order("F", "buy", "5", R"("type":"limit","limit_price":"10.00","time_in_force":"ioc")"));
  Answer fok = post("/v2/orders", order("F", "buy", "5", R"("type":"limit","limit_price":"10.00","time_in_force":"fok")"));
  Answer ioc_market = post("/v2/orders", order("F", "buy", "5", R"("type":"market","time_in_force":"ioc")"));
  tick();
  EXPECT_EQ(get("/v2/orders/" + ioc.str("id")).str("status"), "canceled");
  EXPECT_EQ(get("/v2/orders/" + fok.str("id")).str("status"), "canceled");
  EXPECT_EQ(get("/v2/orders/" + ioc_market.str("id")).str("status"), "filled");
}

TEST_F(SimTest, NotionalBuyFillsAFractionalQty) {
  Answer a = post("/v2/orders", R"({"symbol":"F","side":"buy","notional":"1000","type":"market","time_in_force":"day"})");
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.str("notional"), "1000");
  EXPECT_EQ(a.str("qty"), "null");
  tick();
  Answer o = get("/v2/orders/" + a.str("id"));
  EXPECT_EQ(o.str("status"), "filled");
  EXPECT_EQ(o.str("filled_qty"), "95.238095238");
  EXPECT_EQ(o.str("qty"), "95.238095238");
  EXPECT_EQ(get("/v2/positions/F").str("qty"), "95.238095238");
}

TEST_F(SimTest, StopBuyTriggersAtItsStopPrice) {
  Answer a = post("/v2/orders", order("T", "buy", "3", R"("type":"stop","stop_price":"23.00","time_in_force":"gtc")"));
  ASSERT_EQ(a.status, 200) << a.raw;
  tick();
  EXPECT_EQ(get("/v2/orders/" + a.str("id")).str("status"), "new");
  ex_->set_prices({{"T", Decimal::must("22.99")}});
  EXPECT_EQ(get("/v2/orders/" + a.str("id")).str("status"), "new");
  ex_->set_prices({{"T", Decimal::must("23.05")}});
  Answer o = get("/v2/orders/" + a.str("id"));
  EXPECT_EQ(o.str("status"), "filled");
  EXPECT_EQ(o.str("filled_avg_price"), "23.05");
}

TEST_F(SimTest, RegularHoursQueueOrdersWhileClosedAndExpireDayOrdersAtTheClose) {
  SimConfig c;
  c.rate_limit_per_min = 0;
  c.regular_hours_only = true;
  reset(c);  // 08:00 EDT: closed
  EXPECT_EQ(get("/v2/clock").str("is_open"), "false");
  Answer m = post("/v2/orders", order("F", "buy", "1"));
  Answer day = post("/v2/orders", order("F", "buy", "1", R"("type":"limit","limit_price":"9.00","time_in_force":"day")"));
  Answer gtc = post("/v2/orders", order("F", "buy", "1", R"("type":"limit","limit_price":"9.00","time_in_force":"gtc")"));
  tick();
  EXPECT_EQ(get("/v2/orders/" + m.str("id")).str("status"), "accepted");
  clock_.set(parse_rfc3339("2025-10-10T13:30:00Z").value());  // 09:30 EDT
  tick();
  EXPECT_EQ(get("/v2/orders/" + m.str("id")).str("status"), "filled");
  EXPECT_EQ(get("/v2/orders/" + day.str("id")).str("status"), "new");
  clock_.set(parse_rfc3339("2025-10-10T20:00:00Z").value());  // 16:00 EDT
  tick();
  Answer expired = get("/v2/orders/" + day.str("id"));
  EXPECT_EQ(expired.str("status"), "expired");
  EXPECT_NE(expired.str("expired_at"), "null");
  EXPECT_EQ(get("/v2/orders/" + gtc.str("id")).str("status"), "new");
  bool saw_expired = false;
  for (const auto& msg : stream()) saw_expired |= event_of(msg) == "expired";
  EXPECT_TRUE(saw_expired);
}

TEST_F(SimTest, RandomWalkMovesPricesOnValidTicks) {
  SimConfig c;
  c.rate_limit_per_min = 0;
  c.tick_ms = 100;
  reset(c);
  const std::string before = get("/sim/prices").raw;
  for (int i = 0; i < 20; ++i) tick(100);
  Answer after = get("/sim/prices");
  EXPECT_NE(after.raw, before);
  for (const auto& kv : after.obj()) {
    const Decimal p = Decimal::must(kv.value().as_string());
    EXPECT_TRUE(p.is_positive());
    EXPECT_EQ(p.round_price(Rounding::half_even), p) << kv.key();
  }
}

TEST_F(SimTest, SimPricesAddsSymbolsAndRefusesBadPrices) {
  Answer a = post("/sim/prices", R"({"ZZZT":"0.5123","STWD":10.25})");
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.str("ZZZT"), "0.5123");
  EXPECT_EQ(a.str("STWD"), "10.25");
  EXPECT_EQ(post("/v2/orders", order("ZZZT", "buy", "100")).status, 200);
  EXPECT_EQ(get("/v2/assets/ZZZT").str("symbol"), "ZZZT");
  EXPECT_EQ(get("/v2/assets/NOPE").status, 404);
  EXPECT_EQ(post("/sim/prices", R"({"F":"-1"})").status, 422);
  EXPECT_EQ(post("/sim/prices", R"(["F"])").status, 400);
  EXPECT_EQ(get("/sim/stats").status, 200);
}

}  // namespace
}  // namespace orderly::sim::testing
