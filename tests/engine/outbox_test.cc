// The engine's outbox (issue 21): a command leaves only after the commit of the input that
// staged it, and what it was issued for is known until its answer comes.
#include "engine/outbox.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

Command cancel_of(OrderId id) {
  Command c;
  c.kind = CommandKind::cancel;
  c.order_id = id;
  c.broker_order_id = "b-" + std::to_string(id);
  return c;
}

TEST(Outbox, AStagedCommandQueuesOnlyOnceItsInputCommits) {
  Outbox box;
  box.begin_input();
  const CommandId first = box.stage(cancel_of(7), Purpose::cancel, 0);
  const CommandId second = box.stage(Command{}, Purpose::positions, 0);
  EXPECT_LT(first, second);
  EXPECT_TRUE(box.any_staged());
  EXPECT_EQ(box.queued(), 0u) << "nothing leaves before the commit";
  EXPECT_EQ(box.pending(first).purpose, Purpose::cancel);

  box.commit_staged();
  EXPECT_FALSE(box.any_staged());
  ASSERT_EQ(box.queued(), 2u);
  EXPECT_EQ(box.queue()[0].id, first) << "in the order staged";
  EXPECT_EQ(box.queue()[1].id, second);
}

TEST(Outbox, ARolledBackInputsCommandsNeverLeaveAndSayWhatTheyWereFor) {
  Outbox box;
  box.begin_input();
  const CommandId id = box.stage(cancel_of(7), Purpose::cancel, 0);
  box.stage(Command{}, Purpose::sweep_page, 0);
  const std::vector<Pending> dropped = box.drop_staged();
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[0].command.id, id);
  EXPECT_EQ(dropped[0].command.order_id, 7u);
  EXPECT_EQ(dropped[1].purpose, Purpose::sweep_page);
  box.commit_staged();
  EXPECT_EQ(box.queued(), 0u);
  EXPECT_FALSE(box.answered(id)) << "forgotten: a late answer for it is none of ours";

  box.begin_input();
  const CommandId next = box.stage(cancel_of(8), Purpose::cancel, 0);
  EXPECT_GT(next, id) << "ids are never reused";
}

TEST(Outbox, AReleasedCommandIsInFlightUntilItsAnswer) {
  Outbox box;
  box.begin_input();
  const CommandId id = box.stage(cancel_of(7), Purpose::related, 3);
  box.commit_staged();
  box.queue().clear();  // the engine took it from the queue to release it
  box.released(id, Timestamp::from_ms(5));
  EXPECT_EQ(box.inflight(), 1u);

  const std::optional<Pending> p = box.answered(id);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->purpose, Purpose::related);
  EXPECT_EQ(p->for_order, 3u);
  EXPECT_EQ(p->released_at, Timestamp::from_ms(5));
  EXPECT_EQ(box.inflight(), 0u);
  EXPECT_FALSE(box.answered(id)) << "a second answer for it is dropped";
  EXPECT_EQ(box.inflight(), 0u);
}

TEST(Outbox, AWithdrawnCommandIsForgotten) {
  Outbox box;
  box.begin_input();
  const CommandId id = box.stage(cancel_of(7), Purpose::send, 0);
  box.commit_staged();
  box.queue().clear();
  box.withdraw(id);
  EXPECT_FALSE(box.answered(id));
  EXPECT_THROW(box.pending(id), std::out_of_range);
}

}  // namespace
}  // namespace orderly
