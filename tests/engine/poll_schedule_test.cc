// engine/poll_schedule.h: when the fill catch-up and the open-order sweep run.

#include "engine/poll_schedule.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

Timestamp at(std::int64_t ms) { return Timestamp::from_ms(ms); }

TEST(Poll, RunsEveryIntervalAfterTheLastThatCompleted) {
  Poll p;
  EXPECT_TRUE(p.due(1'000, at(0))) << "never run: due at once";
  ASSERT_TRUE(p.begin(at(0)));
  EXPECT_FALSE(p.begin(at(10))) << "one at a time";
  p.completed(at(400));
  EXPECT_FALSE(p.running());
  EXPECT_EQ(p.last_completed(), at(400));
  EXPECT_FALSE(p.due(1'000, at(1'399)));
  EXPECT_TRUE(p.due(1'000, at(1'400)));
}

TEST(Poll, FailuresBackOffFromTheFailedPollsStartDoublingToTheCap) {
  Poll p;
  ASSERT_TRUE(p.begin(at(0)));
  p.failed(1'000);
  EXPECT_FALSE(p.running());
  EXPECT_FALSE(p.due(1'000, at(999)));
  EXPECT_TRUE(p.due(1'000, at(1'000)));
  ASSERT_TRUE(p.begin(at(1'000)));
  p.failed(1'000);
  EXPECT_FALSE(p.due(1'000, at(2'999)));
  EXPECT_TRUE(p.due(1'000, at(3'000)));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(p.begin(at(100'000)));
    p.failed(1'000);
  }
  EXPECT_FALSE(p.due(1'000, at(100'000 + kPollBackoffCapMs - 1)));
  EXPECT_TRUE(p.due(1'000, at(100'000 + kPollBackoffCapMs)));
  // The first answer resets it: due again by the interval from the last completed.
  ASSERT_TRUE(p.begin(at(200'000)));
  p.page_answered();
  p.completed(at(200'100));
  EXPECT_TRUE(p.due(1'000, at(201'100)));
}

TEST(Poll, AResyncsPollGoesAsLookupsUntilItsLastPage) {
  Poll p;
  p.mark_for_resync();
  ASSERT_TRUE(p.begin(at(0)));
  EXPECT_TRUE(p.for_resync());
  p.last_page_answered();
  EXPECT_FALSE(p.for_resync());
  p.mark_for_resync();
  p.completed(at(10));
  EXPECT_FALSE(p.for_resync());
}

TEST(Poll, AnAbandonedPollLeavesItsNumberBehind) {
  Poll p;
  ASSERT_TRUE(p.begin(at(0)));
  const std::uint64_t first = p.number();
  p.abandon();
  EXPECT_FALSE(p.running());
  EXPECT_FALSE(p.last_completed().has_value()) << "abandoned is not completed";
  ASSERT_TRUE(p.begin(at(5)));
  EXPECT_NE(p.number(), first) << "a page of the abandoned one is told apart";
  // Its listing is as of its first page's release, never earlier than it began.
  p.starts_no_earlier_than(at(3));
  EXPECT_EQ(p.started_at(), at(5));
  p.starts_no_earlier_than(at(40));
  EXPECT_EQ(p.started_at(), at(40));
}

// A completion whose input rolled back did not happen: the poll is as overdue as before it.
TEST(Poll, ACompletionRolledBackLeavesTheLastOneBefore) {
  Poll p;
  ASSERT_TRUE(p.begin(at(0)));
  p.completed(at(1'000));
  const std::optional<Timestamp> before = p.last_completed();
  ASSERT_TRUE(p.begin(at(11'000)));
  p.completed(at(11'500));
  EXPECT_FALSE(p.due(10'000, at(12'000)));
  p.restore_last_completed(before);
  EXPECT_EQ(p.last_completed(), at(1'000));
  EXPECT_TRUE(p.due(10'000, at(12'000)));
}

}  // namespace
}  // namespace orderly
