// The orders whose outcome is not confirmed, looked up at each tick (issue 21), over a
// hand-built ledger and a recording host. No engine, no broker.
#include "engine/inflight_check.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ledger_builder.h"

namespace orderly {
namespace {

Timestamp at(std::int64_t ms) { return Timestamp::from_ms(ms); }

class InflightCheckTest : public ::testing::Test, private InflightCheck::Host {
 protected:
  InflightCheckTest() { ledger_.put_trade(test::buy_trade(1, "IWM", "9")); }

  // An order changed at 10 s, watched as the engine watches every order it changes.
  Order& add(OrderRole role, OrderType type, OrderState state) {
    Order& o = ledger_.add(test::order(++next_id_, 1, "IWM", role, type, state, "9"));
    o.updated_at = at(10'000);
    checks_.watch(o.id);
    return o;
  }
  std::vector<std::string> run(Timestamp now) {
    asked_.clear();
    checks_.run(now);
    return asked_;
  }

  void stage_resolve(OrderId id) override { asked_.push_back("resolve " + std::to_string(id)); }
  void stage_refresh(OrderId id, Timestamp, bool force) override {
    asked_.push_back((force ? "refresh! " : "refresh ") + std::to_string(id));
  }
  void check_unresolved_leg(OrderId id, Timestamp) override {
    asked_.push_back("leg " + std::to_string(id));
  }

  Ledger ledger_;
  std::optional<Timestamp> last_stock_routed_at_;
  std::unordered_map<OrderId, OrderAux> aux_;
  RetrySchedule retries_;
  Alerts alerts_;
  // Looked up at 5 s, stuck at 30 s, 8 attempts.
  InflightCheck checks_{{5'000, 30'000, 8},
                        {ledger_, last_stock_routed_at_},
                        {aux_, retries_, alerts_},
                        *this};
  std::vector<std::string> asked_;
  OrderId next_id_ = 0;
};

// A submit unanswered is looked up by client id once inflight_check_ms old; a cancel the broker
// has not confirmed is fetched, at most once per interval; a leg without its id goes with its
// group.
TEST_F(InflightCheckTest, UnconfirmedOrdersAreLookedUpOnceOldEnough) {
  add(OrderRole::take_profit, OrderType::limit, OrderState::submitting);
  add(OrderRole::stop_loss, OrderType::stop, OrderState::pending_cancel);
  Order& leg = add(OrderRole::stop_loss, OrderType::stop, OrderState::created);
  leg.parent_order_id = 1;
  leg.broker_order_id.reset();

  EXPECT_EQ(run(at(14'999)), std::vector<std::string>{"leg 3"});
  EXPECT_EQ(run(at(15'000)), (std::vector<std::string>{"resolve 1", "refresh! 2", "leg 3"}));
  aux_[1].command_outstanding = true;  // the lookup is on its way
  aux_[2].last_refresh_at = at(15'000);
  EXPECT_EQ(run(at(19'999)), std::vector<std::string>{"leg 3"});
  EXPECT_EQ(run(at(20'000)), (std::vector<std::string>{"refresh! 2", "leg 3"}));
}

// A market entry the broker routed and left unfilled lost its fill event most likely: fetched
// after inflight_check_ms, then at doubling intervals while it lasts.
TEST_F(InflightCheckTest, AnUnfilledMarketEntryIsFetchedAtDoublingIntervals) {
  add(OrderRole::entry, OrderType::market, OrderState::new_);
  EXPECT_EQ(run(at(15'000)), std::vector<std::string>{"refresh! 1"});
  aux_[1].last_refresh_at = at(15'000);
  EXPECT_TRUE(run(at(24'999)).empty());
  EXPECT_EQ(run(at(25'000)), std::vector<std::string>{"refresh! 1"}) << "10 s after the first";
  aux_[1].last_refresh_at = at(25'000);
  EXPECT_TRUE(run(at(44'999)).empty());
  EXPECT_EQ(run(at(45'000)), std::vector<std::string>{"refresh! 1"}) << "then 20 s";
}

// Sent and unanswered for stuck_order_ms: stuck_order, raised once the request has left (one
// waiting for the budget is not stuck); cleared when the order moved on, which also ends its
// watch.
TEST_F(InflightCheckTest, ARequestSentAndUnansweredIsStuckUntilItMovesOn) {
  Order& o = add(OrderRole::take_profit, OrderType::limit, OrderState::submitting);
  aux_[o.id].command_outstanding = true;
  run(at(50'000));
  EXPECT_FALSE(alerts_.active(AlertKind::stuck_order, o.client_order_id)) << "never left";

  aux_[o.id].sent_at = at(20'000);
  run(at(49'999));
  EXPECT_FALSE(alerts_.active(AlertKind::stuck_order, o.client_order_id));
  run(at(50'000));
  EXPECT_TRUE(alerts_.active(AlertKind::stuck_order, o.client_order_id));

  o.state = OrderState::new_;
  run(at(51'000));
  EXPECT_FALSE(alerts_.active(AlertKind::stuck_order, o.client_order_id));
  o.state = OrderState::submitting;  // changed without the engine's watch: not looked at again
  EXPECT_TRUE(run(at(60'000)).empty());
}

}  // namespace
}  // namespace orderly
