// What the engine shows of itself (issue 21): health, metrics and positions, read from a
// hand-built ledger, positions read and alerts. No engine, no broker.
#include "engine/views.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "cover_world.h"
#include "ledger_builder.h"

namespace orderly {
namespace {

const auto d = test::dec;

class EngineViewsTest : public ::testing::Test {
 protected:
  EngineViewsTest() {
    ledger_.put_trade(test::buy_trade(1, "IWM", "9"));
    ledger_.set_position(Position{"IWM", d("9"), d("220")});
  }

  // An order of trade 1 on IWM: a stop-loss at 210 unless `role` says otherwise.
  Order& add(const char* qty, OrderState state, OrderRole role = OrderRole::stop_loss) {
    const bool entry = role == OrderRole::entry;
    Order& o = ledger_.add(test::order(++next_id_, 1, "IWM", role,
                                       entry ? OrderType::market : OrderType::stop, state, qty));
    if (!entry) o.stop_price = d("210");
    return o;
  }

  test::CoverWorld w_{Timestamp::from_ms(0), Timestamp::from_ms(60'000)};
  Ledger& ledger_ = w_.ledger;
  Timestamp& now_ = w_.now;
  Alerts alerts_;
  StreamWatch stream_;
  // Polls every second, every 5 s while idle; sync lag 10 s past that.
  SyncCadence cadence_{{1'000, 5'000, 10'000}, stream_};
  StoreHealth store_health_;
  RateBudget budget_{{190, 1000, 8}};
  EngineMetrics metrics_;
  std::optional<Timestamp> last_sync_at_;
  bool broker_ok_ = true;
  EngineViews views_{{ledger_, w_.positions, w_.judge, alerts_, stream_, cadence_, store_health_,
                      budget_, metrics_, last_sync_at_, broker_ok_}};
  OrderId next_id_ = 0;
};

// Each symbol held by us or at the broker gets a row: ours beside the broker's, the drift a read
// confirms, the broker's prices, and what our exits cover of what our trades hold.
TEST_F(EngineViewsTest, APositionShowsOursBesideTheBrokersAndItsCover) {
  std::vector<PositionView> none_read = views_.positions();
  ASSERT_EQ(none_read.size(), 1u);
  EXPECT_EQ(none_read[0].local_qty, d("9"));
  EXPECT_FALSE(none_read[0].broker_qty) << "the broker was never read";
  EXPECT_EQ(none_read[0].avg_entry_price, d("220")) << "ours, until the broker's is known";

  add("5", OrderState::accepted);
  add("9", OrderState::filled, OrderRole::entry);
  w_.read_positions(Timestamp::from_ms(50'000),
                    {BrokerPosition{"IWM", d("12"), d("7"), d("219.5"), d("221.25")},
                     BrokerPosition{"AAPL", d("3"), d("3"), d("190"), std::nullopt}});

  std::vector<PositionView> rows = views_.positions();
  ASSERT_EQ(rows.size(), 2u);
  const PositionView& aapl = rows[0];
  EXPECT_EQ(aapl.symbol, "AAPL");
  EXPECT_EQ(aapl.local_qty, d("0"));
  EXPECT_EQ(aapl.drift, d("3")) << "held at the broker, not by us";
  EXPECT_TRUE(aapl.mismatch);
  EXPECT_FALSE(aapl.unrealized_pl) << "no last price to reckon it with";

  const PositionView& iwm = rows[1];
  EXPECT_EQ(iwm.broker_qty, d("12"));
  EXPECT_EQ(iwm.drift, d("3"));
  EXPECT_TRUE(iwm.mismatch);
  EXPECT_EQ(iwm.avg_entry_price, d("219.5")) << "the broker's average is the truth";
  EXPECT_EQ(iwm.unrealized_pl, d("21.00"));  // (221.25 - 219.5) x 12
  EXPECT_EQ(iwm.priced_at, Timestamp::from_ms(50'100));
  EXPECT_EQ(iwm.held_by_trades, d("9"));
  EXPECT_EQ(iwm.covered_by_exits, d("5"));

  w_.positions.our_fill("IWM", Timestamp::from_ms(55'000));
  EXPECT_FALSE(views_.positions()[1].mismatch) << "our own fill since the read is not drift";
}

// Health counts what it is asked to: open orders (not parked, not ended), one unprotected
// position per alert, a critical alert by name; and judges sync lag by the cadence polls run at
// (sync_lag_ms past the idle interval while the stream is healthy, the poll interval once not).
TEST_F(EngineViewsTest, HealthCountsOpenOrdersAndGapsAndJudgesLagByTheCadence) {
  add("9", OrderState::accepted);
  add("9", OrderState::canceled);
  add("9", OrderState::parked);
  stream_.connected(Timestamp::from_ms(1'000));
  last_sync_at_ = Timestamp::from_ms(50'000);

  Health fine = views_.health(now_);
  EXPECT_EQ(fine.open_orders, 1);
  EXPECT_EQ(fine.sync_lag_ms, 10'000);
  EXPECT_EQ(fine.sync_lag_limit_ms, 15'000);
  EXPECT_EQ(fine.status, HealthStatus::ok) << (fine.reasons.empty() ? "" : fine.reasons[0]);

  alerts_.raise(AlertKind::unprotected_position, "IWM", "no working exit", now_);
  last_sync_at_ = Timestamp::from_ms(40'000);
  Health lagging = views_.health(now_);
  EXPECT_EQ(lagging.unprotected_positions, 1);
  EXPECT_TRUE(lagging.critical_alerts.empty()) << "a gap is counted, not listed again";
  EXPECT_EQ(lagging.status, HealthStatus::degraded);
  ASSERT_EQ(lagging.reasons.size(), 2u);
  EXPECT_EQ(lagging.reasons[0], "no poll completed for 20.0 s (limit 15.0 s)");
  EXPECT_EQ(lagging.reasons[1], "1 filled position(s) without working exits");

  stream_.disconnected(now_);
  EXPECT_EQ(views_.health(now_).sync_lag_limit_ms, 11'000) << "polls every second now";
}

// The metrics text carries the same figures: the gap gauge as health counts it, positions by
// source once the broker was read.
TEST_F(EngineViewsTest, MetricsTextCarriesTheSameFigures) {
  alerts_.raise(AlertKind::unprotected_position, "IWM", "no working exit", now_);
  metrics_.submissions = 4;
  w_.read_positions(Timestamp::from_ms(50'000),
                    {BrokerPosition{"IWM", d("9"), d("9"), d("220"), std::nullopt}});
  const std::string text = views_.metrics_text(now_);
  EXPECT_NE(text.find("\norderly_unprotected_positions 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\norderly_submissions_total 4\n"), std::string::npos);
  EXPECT_NE(text.find("orderly_position_qty{symbol=\"IWM\",source=\"local\"} 9\n"),
            std::string::npos);
  EXPECT_NE(text.find("orderly_position_qty{symbol=\"IWM\",source=\"broker\"} 9\n"),
            std::string::npos);
  EXPECT_NE(text.find("\norderly_rest_headroom 190\n"), std::string::npos);
}

}  // namespace
}  // namespace orderly
