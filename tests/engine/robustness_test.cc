// The engine never dies on its own state, and never gives up a position's protection (issue 18).

#include <gtest/gtest.h>

#include "harness.h"

namespace orderly::testing {
namespace {

using K = BrokerError::Kind;

TEST(EngineRobustness, ExitBeyondTheAttemptLimitKeepsTryingWithItsAlertRaised) {
  Harness h;
  h.options.engine.retry_max_attempts = 3;
  h.options.engine.retry_cap_ms = 4000;
  h.rt = std::make_unique<SimulationRuntime>(h.store, h.broker, h.clock, h.options,
                                             [&](Timestamp) { h.pump(); });
  h.start();
  auto t = h.rt->open_trade(spec("F", "3", "12.50", "11.00"));
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  auto entry = h.find(t->id, OrderRole::entry);
  ASSERT_TRUE(entry && entry->broker_order_id);
  for (int i = 0; i < 6; ++i) {
    h.broker.submit_script.push_back({FakeBroker::error(K::not_sent, 0, 0, "connect"), false});
  }
  h.broker.fill(*entry->broker_order_id, Decimal::must("3"), Decimal::must("12.00"));
  h.run(30000);
  auto exit = h.find(t->id, OrderRole::take_profit);
  ASSERT_TRUE(exit);
  EXPECT_NE(exit->state, OrderState::parked);
  EXPECT_FALSE(h.has_alert(AlertKind::order_parked));
  EXPECT_EQ(h.trade(t->id)->state, TradeState::open);
  EXPECT_GT(exit->attempts, 3) << "tried past the limit";
  if (!exit->broker_order_id) {
    EXPECT_TRUE(h.has_alert(AlertKind::stuck_order)) << "still trying, and someone is told";
  }
  h.run(60000);
  exit = h.find(t->id, OrderRole::take_profit);
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->broker_order_id.has_value()) << "placed once the broker answers";
  EXPECT_EQ(exit->attempts, 7);
  EXPECT_FALSE(h.has_alert(AlertKind::stuck_order)) << "cleared once placed";
  h.expect_no_duplicates();
}

// A leg that never learned its broker id, of a trade that ended: the store loads the leg (not
// terminal) but neither its parent nor its trade (both ended). Following the leg to its parent
// threw std::out_of_range on the first tick after the restart (std::terminate in the daemon).
TEST(EngineRobustness, LegOfAnEndedTradeIsLoadedWithItsParent) {
  Harness h;
  h.start();
  auto t = h.rt->open_trade(spec("F", "3", "12.50", "11.00", ExitMode::native));
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  auto entry = h.find(t->id, OrderRole::entry);
  auto leg = h.find(t->id, OrderRole::stop_loss, true);
  ASSERT_TRUE(entry && leg && leg->parent_order_id == entry->id);
  h.rt->crash();
  h.broker.orders.clear();  // nothing at the broker brings the parent back
  h.delivered = h.broker.emitted.size();  // nor a stream event: a dead engine heard none
  h.store.trades.at(t->id).state = TradeState::canceled;
  h.store.orders.at(entry->id).state = OrderState::canceled;
  Order& stored_leg = h.store.orders.at(leg->id);
  stored_leg.state = OrderState::created;
  stored_leg.broker_order_id.reset();
  h.clock.advance_ms(10'000);
  ASSERT_TRUE(h.rt->start().ok());
  h.rt->settle();
  h.run(10'000);  // ticks: the unresolved leg is looked at
  EXPECT_TRUE(h.engine().order(entry->id).has_value()) << "the parent is held with its leg";
  EXPECT_FALSE(h.has_alert(AlertKind::anomaly));
}

}  // namespace
}  // namespace orderly::testing
