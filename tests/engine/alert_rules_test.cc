// The rules of the engine's alerts about itself (issue 21), over hand-built state. No engine, no
// broker.
#include "engine/alert_rules.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "cover_world.h"
#include "ledger_builder.h"

namespace orderly {
namespace {

Timestamp at(std::int64_t ms) { return Timestamp::from_ms(ms); }

class AlertRulesTest : public ::testing::Test {
 protected:
  test::CoverWorld w_{at(0), at(0)};
  StreamWatch stream_;  // never connected: polls every second, sync lag past 6 s
  SyncCadence cadence_{{1'000, 5'000, 5'000}, stream_};
  std::optional<Timestamp> last_sync_at_;
  RetrySchedule retries_;
  RateBudget budget_{{20, 1000, 8}};
  Alerts alerts_;
  EngineMetrics metrics_;
  AlertRules rules_{{60'000, 4},
                    {w_.ledger, w_.judge, cadence_, last_sync_at_, retries_, budget_},
                    alerts_,
                    metrics_};
};

// An element of a broker answer that could not be read is counted and raised, once per element,
// and clears ten minutes after the broker last sent it (sent again, the clock starts again).
TEST_F(AlertRulesTest, AnUnreadableElementClearsTenMinutesAfterItWasLastSeen) {
  const UnreadableItem item{"position", "", "{\"qty\":\"1e400\"}", "qty out of range"};
  rules_.note_unreadable({item}, at(1'000));
  EXPECT_TRUE(alerts_.active(AlertKind::unreadable_broker_data, "position (no id)"));
  rules_.note_unreadable({item}, at(400'000));
  EXPECT_EQ(metrics_.broker_unreadable, 2);

  rules_.check(at(601'000));
  EXPECT_TRUE(alerts_.active(AlertKind::unreadable_broker_data, "position (no id)"))
      << "seen again at 400 s";
  rules_.check(at(1'000'000));
  EXPECT_FALSE(alerts_.active(AlertKind::unreadable_broker_data, "position (no id)"));
}

// Sync lag past the cadence's limit, a retry storm, and the REST budget 90% spent are raised;
// the storm clears under half its threshold, the budget under 70%.
TEST_F(AlertRulesTest, LagStormAndBudgetAreRaisedAndClearBelowTheirMargins) {
  last_sync_at_ = at(10'000);
  rules_.check(at(16'000));
  EXPECT_FALSE(alerts_.active(AlertKind::sync_lag, "sync")) << "6 s is the limit, not past it";
  rules_.check(at(16'001));
  EXPECT_TRUE(alerts_.active(AlertKind::sync_lag, "sync"));

  for (int i = 0; i < 4; ++i) retries_.note_attempt(at(20'000));
  for (int i = 0; i < 18; ++i) budget_.note_release(CommandPriority::lookup, false, at(20'000));
  rules_.check(at(21'000));
  EXPECT_TRUE(alerts_.active(AlertKind::retry_storm, "submitter"));
  EXPECT_TRUE(alerts_.active(AlertKind::rate_limit_near, "rest"));

  rules_.check(at(80'001));  // the window and the minute passed
  EXPECT_FALSE(alerts_.active(AlertKind::retry_storm, "submitter"));
  EXPECT_FALSE(alerts_.active(AlertKind::rate_limit_near, "rest"));
}

// A symbol's stuck_order (its exits ended as fast as they were placed) clears once the symbol
// is flat; an order's parked alert once the order moved on; an anomaly after ten minutes, but
// not the store's (it clears with the next good commit).
TEST_F(AlertRulesTest, SettledAlertsClear) {
  w_.ledger.put_trade(test::buy_trade(1, "IWM", "9"));
  Order& parked = w_.ledger.add(test::order(1, 1, "IWM", OrderRole::take_profit, OrderType::limit,
                                            OrderState::parked, "9"));
  alerts_.raise(AlertKind::stuck_order, "IWM", "exits keep ending", at(0));
  alerts_.raise(AlertKind::order_parked, parked.client_order_id, "parked", at(0));
  alerts_.raise(AlertKind::anomaly, "engine", "unexpected state", at(0));
  alerts_.raise(AlertKind::anomaly, "store", "commit failed", at(0));

  rules_.check(at(1'000));
  EXPECT_FALSE(alerts_.active(AlertKind::stuck_order, "IWM")) << "nothing held on IWM";
  EXPECT_TRUE(alerts_.active(AlertKind::order_parked, parked.client_order_id));
  EXPECT_TRUE(alerts_.active(AlertKind::anomaly, "engine"));

  parked.state = OrderState::canceled;
  rules_.check(at(600'000));
  EXPECT_FALSE(alerts_.active(AlertKind::order_parked, parked.client_order_id));
  EXPECT_FALSE(alerts_.active(AlertKind::anomaly, "engine"));
  EXPECT_TRUE(alerts_.active(AlertKind::anomaly, "store"));
}

}  // namespace
}  // namespace orderly
