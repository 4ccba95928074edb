// Lookups (issue 21): the GETs that ask the broker what became of an order of ours, staged in the
// input's transaction and released only with its commit. Over an EngineState (state_world.h). No
// engine, no broker.
#include "engine/lookups.h"

#include <gtest/gtest.h>

#include <vector>

#include "state_world.h"

namespace orderly {
namespace {

class LookupsTest : public ::testing::Test, protected test::StateWorld {
 protected:
  // The commands the input staged, once it committed.
  std::vector<Command> committed() {
    EXPECT_TRUE(tx.finish(now).ok());
    return s.release.take(now).commands;
  }

  Lookups lookups{s, tx};
};

TEST_F(LookupsTest, AnOrderHeldIsRefreshedByItsBrokerIdAtMostOncePerPollUnlessForced) {
  hold_entry(OrderState::new_);
  tx.begin();
  lookups.stage_refresh(1, now, /*force=*/false);
  lookups.stage_refresh(1, now.plus_ms(s.cfg.poll_interval_ms - 1), /*force=*/false);
  std::vector<Command> sent = committed();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, CommandKind::get_order);
  EXPECT_EQ(sent[0].broker_order_id, "b-1");

  tx.begin();
  lookups.stage_refresh(1, now.plus_ms(1), /*force=*/true);  // a leg woke: asked at once
  EXPECT_EQ(committed().size(), 1u);
}

TEST_F(LookupsTest, AnOrderWithNoBrokerIdIsResolvedByItsClientIdAndCountsAsAsked) {
  hold_entry(OrderState::unknown);
  s.ledger.order_at(1).broker_order_id.reset();
  tx.begin();
  lookups.stage_refresh(1, now, /*force=*/true);  // no broker id: nothing to refresh by
  lookups.stage_resolve(1);
  EXPECT_TRUE(s.aux[1].command_outstanding);
  std::vector<Command> sent = committed();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, CommandKind::get_by_client_id);
  EXPECT_EQ(sent[0].client_order_id, "c-1");
}

TEST_F(LookupsTest, ALookupRefusedWithARateLimitIsAskedAgainWithinTheInflightCheck) {
  BrokerError throttled;
  throttled.http_status = 429;
  throttled.retry_after_ms = 60'000;  // Alpaca's reset can be a minute away
  EXPECT_EQ(lookups.ask_again_after_ms(throttled), s.cfg.inflight_check_ms);
  BrokerError dropped;  // no answer at all: the next poll
  EXPECT_EQ(lookups.ask_again_after_ms(dropped), s.cfg.poll_interval_ms);
}

}  // namespace
}  // namespace orderly
