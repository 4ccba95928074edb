// Answers that arrive after what they answer: the reply to our own submit ("new", filled 0) can
// reach orderly after the stream's fill of the same order. Old evidence, not an anomaly.

#include <gtest/gtest.h>

#include <string>

#include "sim_world.h"

namespace orderly::testing {
namespace {

TEST(EngineAnswers, ASubmitAnswerSlowerThanTheStreamsFillRaisesNoAnomaly) {
  SimWorld w(11);
  w.set_price("F", "10.00");
  w.start();
  w.rt->set_result_delay_ms(600);  // the stream's fill comes within 100 ms, the answer at 600
  auto trade = w.rt->open_trade(market_trade_with_exits("F", "10", TimeInForce::day));
  ASSERT_TRUE(trade.ok()) << trade.status().to_string();
  w.run(5'000);

  std::string stale;
  for (const Order& o : w.rt->engine().orders()) {
    if (o.trade_id != trade->id || o.role != OrderRole::entry) continue;
    EXPECT_EQ(o.state, OrderState::filled);
    auto events = w.store->order_events(o.id);
    ASSERT_TRUE(events.ok());
    for (const OrderEvent& e : *events) {
      if (e.note.find("refused (stale)") != std::string::npos) stale = e.note;
    }
  }
  EXPECT_NE(stale, "") << "the late answer was not met: the test did not make the race";
  for (const Alert& a : w.rt->engine().active_alerts()) {
    EXPECT_NE(a.kind, AlertKind::anomaly) << a.message;
  }
  EXPECT_EQ(w.rt->health().status, HealthStatus::ok);
}

}  // namespace
}  // namespace orderly::testing
