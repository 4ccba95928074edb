// engine/retry_schedule.h: when the engine asks the broker again about an order of ours.

#include "engine/retry_schedule.h"

#include <gtest/gtest.h>

#include <vector>

namespace orderly {
namespace {

Timestamp at(std::int64_t ms) { return Timestamp::from_ms(ms); }

TEST(RetrySchedule, ALookupWaitsForItsTimeThenGoesOnce) {
  RetrySchedule r;
  EXPECT_TRUE(r.take_lookup(7, at(0))) << "none waits: it may go";
  r.lookup_at(7, at(2'000));
  EXPECT_FALSE(r.take_lookup(7, at(1'999)));
  EXPECT_TRUE(r.take_lookup(7, at(2'000)));
  EXPECT_TRUE(r.take_lookup(7, at(2'001))) << "forgotten once taken";
}

TEST(RetrySchedule, DueCancelsAndFetchesAreTakenOnceInIdOrder) {
  RetrySchedule r;
  r.cancel_at(9, at(1'000));
  r.cancel_at(3, at(500));
  r.cancel_at(5, at(5'000));
  EXPECT_TRUE(r.cancel_waits(9));
  EXPECT_EQ(r.take_due_cancels(at(1'000)), (std::vector<OrderId>{3, 9}));
  EXPECT_FALSE(r.cancel_waits(9));
  EXPECT_TRUE(r.cancel_waits(5));
  EXPECT_TRUE(r.take_due_cancels(at(1'000)).empty());

  r.refresh_unless_waiting(4, at(1'000));
  r.refresh_unless_waiting(4, at(9'000));  // an earlier fetch stands
  r.refresh_at(6, at(3'000));
  EXPECT_EQ(r.take_due_refreshes(at(1'000)), (std::vector<OrderId>{4}));
  r.refresh_answered(6);
  EXPECT_TRUE(r.take_due_refreshes(at(10'000)).empty()) << "answered: not fetched again";
}

TEST(RetrySchedule, AForgottenOrderWaitsForNothing) {
  RetrySchedule r;
  r.send_at(2, at(1'000));
  r.cancel_at(2, at(1'000));
  r.lookup_at(2, at(9'000));
  EXPECT_TRUE(r.any_sends());
  r.forget(2);
  EXPECT_FALSE(r.any_sends());
  EXPECT_FALSE(r.cancel_waits(2));
  EXPECT_TRUE(r.take_lookup(2, at(0)));
}

TEST(RetrySchedule, TheStormWindowCountsOnlyRecentAttempts) {
  RetrySchedule r;
  for (int i = 0; i < 5; ++i) r.note_attempt(at(i * 1'000));
  EXPECT_EQ(r.attempts_within(60'000, at(4'000)), 5);
  EXPECT_EQ(r.attempts_within(2'000, at(4'000)), 3) << "1 s and 0 s are older than 2 s";
  EXPECT_EQ(r.attempts_within(60'000, at(4'000)), 3) << "the older ones are dropped";
}

}  // namespace
}  // namespace orderly
