// Market sessions driven by the caller: POST /sim/session and Exchange::session() close and open
// the market without waiting for the clock; GET /v2/clock and /v2/calendar follow.
#include "sim_fixture.h"

namespace orderly::sim::testing {
namespace {

class SessionTest : public SimTest {
 protected:
  Answer close_market() { return post("/sim/session", R"({"event":"close"})"); }
  Answer open_market() { return post("/sim/session", R"({"event":"open"})"); }
  std::string status_of(const std::string& id) { return get("/v2/orders/" + id).str("status"); }

  std::vector<std::string> events_for(const std::string& id) {
    std::vector<std::string> out;
    for (const auto& m : stream()) {
      if (order_id_of(m) == id) out.push_back(event_of(m));
    }
    return out;
  }
};

TEST_F(SessionTest, CloseExpiresDayOrdersAndLegsButKeepsGtc) {
  buy_filled("F", "10");
  Answer day =
      post("/v2/orders",
           order("T", "buy", "1", R"("type":"limit","limit_price":"20.00","time_in_force":"day")"));
  Answer gtc =
      post("/v2/orders",
           order("T", "buy", "1", R"("type":"limit","limit_price":"20.00","time_in_force":"gtc")"));
  Answer oco = post(
      "/v2/orders",
      order(
          "F", "sell", "10",
          R"("type":"limit","time_in_force":"day","order_class":"oco",)"
          R"("take_profit":{"limit_price":"12.00"},"stop_loss":{"stop_price":"9.00"})"));
  ASSERT_EQ(oco.status, 200) << oco.raw;
  tick();
  const std::string sl = std::string(oco.obj().at("legs").as_array()[0].at("id").as_string());
  stream();

  Answer clock = close_market();
  ASSERT_EQ(clock.status, 200) << clock.raw;
  EXPECT_EQ(clock.str("is_open"), "false");
  EXPECT_EQ(status_of(day.str("id")), "expired");
  EXPECT_EQ(status_of(oco.str("id")), "expired");
  EXPECT_EQ(status_of(sl), "expired") << "the held stop-loss leg of a day OCO expires with it";
  EXPECT_EQ(status_of(gtc.str("id")), "new");
  Answer o = get("/v2/orders/" + day.str("id"));
  EXPECT_NE(o.str("expired_at"), "null");
  EXPECT_EQ(get("/v2/positions/F").str("qty_available"), "10") << "expired exits hold nothing";
}

TEST_F(SessionTest, ExpiryIsStreamedForEveryOrder) {
  Answer day =
      post("/v2/orders",
           order("T", "buy", "1", R"("type":"limit","limit_price":"20.00","time_in_force":"day")"));
  tick();
  stream();
  close_market();
  EXPECT_EQ(events_for(day.str("id")), std::vector<std::string>{"expired"});
}

TEST_F(SessionTest, BracketWithDayLegsExpiresWholeAfterTheEntryFilled) {
  Answer b = post(
      "/v2/orders",
      order(
          "F", "buy", "5",
          R"("type":"market","time_in_force":"day","order_class":"bracket",)"
          R"("take_profit":{"limit_price":"12.00"},"stop_loss":{"stop_price":"9.00"})"));
  ASSERT_EQ(b.status, 200) << b.raw;
  tick();
  ASSERT_EQ(status_of(b.str("id")), "filled");
  close_market();
  const Answer nested = get("/v2/orders/" + b.str("id") + "?nested=true");
  for (const auto& leg : nested.obj().at("legs").as_array()) {
    EXPECT_EQ(std::string(leg.at("status").as_string()), "expired");
  }
  EXPECT_EQ(get("/v2/positions/F").str("qty"), "5") << "the position stays, unprotected";
}

TEST_F(SessionTest, OrdersSentWhileClosedWaitAcceptedUntilTheOpen) {
  close_market();
  Answer m = post("/v2/orders", order("F", "buy", "2"));
  ASSERT_EQ(m.status, 200) << m.raw;
  tick(60'000);
  EXPECT_EQ(status_of(m.str("id")), "accepted");
  ex_->set_prices({{"F", Decimal::must("11.00")}});
  EXPECT_EQ(status_of(m.str("id")), "accepted") << "no fills while closed";
  close_market();  // a second close is a no-op: queued orders are for the next session
  EXPECT_EQ(status_of(m.str("id")), "accepted");

  Answer clock = open_market();
  EXPECT_EQ(clock.str("is_open"), "true");
  Answer o = get("/v2/orders/" + m.str("id"));
  EXPECT_EQ(o.str("status"), "filled");
  EXPECT_EQ(o.str("filled_avg_price"), "11");
}

TEST_F(SessionTest, RestingGtcOrdersDoNotFillWhileClosedAndMatchAtTheOpen) {
  Answer gtc =
      post("/v2/orders",
           order("T", "buy", "1", R"("type":"limit","limit_price":"20.00","time_in_force":"gtc")"));
  tick();
  close_market();
  ex_->set_prices({{"T", Decimal::must("19.50")}});
  tick();
  EXPECT_EQ(status_of(gtc.str("id")), "new");
  open_market();
  EXPECT_EQ(status_of(gtc.str("id")), "filled");
}

TEST_F(SessionTest, CancelWhileClosedStillCompletes) {
  close_market();
  Answer m = post("/v2/orders", order("F", "buy", "2"));
  EXPECT_EQ(del("/v2/orders/" + m.str("id")).status, 204);
  tick();
  EXPECT_EQ(status_of(m.str("id")), "canceled");
}

TEST_F(SessionTest, InProcessEquivalentForTheSimulation) {
  Answer day =
      post("/v2/orders",
           order("T", "buy", "1", R"("type":"limit","limit_price":"20.00","time_in_force":"day")"));
  tick();
  EXPECT_TRUE(ex_->market_open());
  ex_->session(SessionEvent::close);
  EXPECT_FALSE(ex_->market_open());
  EXPECT_EQ(status_of(day.str("id")), "expired");
  ex_->session(SessionEvent::open);
  EXPECT_TRUE(ex_->market_open());
}

TEST_F(SessionTest, BadSessionBodyIsRefused) {
  EXPECT_EQ(post("/sim/session", R"({"event":"lunch"})").status, 400);
  EXPECT_EQ(post("/sim/session", "[]").status, 400);
  EXPECT_EQ(get("/sim/session").str("is_open"), "true");
}

TEST_F(SessionTest, ClockFollowsTheSessionAndKeepsItsTimesOrdered) {
  // 2025-10-10 is a Friday; 12:00Z is 08:00 EDT.
  Answer open = get("/v2/clock");
  EXPECT_EQ(open.str("is_open"), "true");
  EXPECT_EQ(open.str("timestamp"), "2025-10-10T08:00:00-04:00");
  EXPECT_EQ(open.str("next_close"), "2025-10-10T16:00:00-04:00");
  EXPECT_EQ(open.str("next_open"), "2025-10-13T09:30:00-04:00");
  close_market();
  Answer closed = get("/v2/clock");
  EXPECT_EQ(closed.str("is_open"), "false");
  EXPECT_EQ(closed.str("next_open"), "2025-10-10T09:30:00-04:00");
  EXPECT_EQ(closed.str("next_close"), "2025-10-10T16:00:00-04:00");
}

TEST_F(SessionTest, CalendarListsWeekdaysInAlpacasShape) {
  Answer c = get("/v2/calendar?start=2025-10-09&end=2025-10-14");
  ASSERT_EQ(c.status, 200) << c.raw;
  const auto& days = c.body.as_array();
  ASSERT_EQ(days.size(), 4u) << c.raw;  // Thu, Fri, Mon, Tue
  EXPECT_EQ(json::serialize(days[1]),
            R"({"date":"2025-10-10","open":"09:30","close":"16:00","session_open":"0400",)"
            R"("session_close":"2000","settlement_date":"2025-10-13"})");
  EXPECT_EQ(std::string(days[2].at("date").as_string()), "2025-10-13");
  EXPECT_EQ(get("/v2/calendar?start=2025-10-10T00:00:00Z&end=2025-10-10").body.as_array().size(),
            1u);
  EXPECT_EQ(get("/v2/calendar").body.as_array().size(), 21u) << "today and the 30 days after";
  EXPECT_EQ(get("/v2/calendar?start=10/10/2025").status, 422);
}

}  // namespace
}  // namespace orderly::sim::testing
