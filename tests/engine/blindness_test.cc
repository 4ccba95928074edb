// Blindness (issue 21): since when events may have been missed, and what a sweep's answer does
// to it.
#include "engine/blindness.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

Timestamp at(std::int64_t ms) { return Timestamp{}.plus_ms(ms); }

TEST(Blindness, BeginsOnceAndIsPastItsGraceAfterIt) {
  Blindness b;
  EXPECT_FALSE(b.since());
  EXPECT_EQ(b.ms(at(5'000)), 0);
  b.begins(at(1'000));
  b.begins(at(3'000));  // blind already: from the first
  EXPECT_EQ(b.since(), at(1'000));
  EXPECT_FALSE(b.past(at(5'999), 5'000));
  EXPECT_TRUE(b.past(at(6'000), 5'000));
  EXPECT_EQ(b.ms(at(6'000)), 5'000);
  b.at_least_since(at(500));  // a start: an earlier life ended blind
  EXPECT_EQ(b.since(), at(500));
  b.at_least_since(at(800));
  EXPECT_EQ(b.since(), at(500)) << "never later than it was";
}

TEST(Blindness, ASweepBegunAfterItEndsItOnlyIfTheStreamWasHeardThroughout) {
  Blindness b;
  b.begins(at(1'000));
  b.sweep_answered(at(900), true);
  EXPECT_EQ(b.since(), at(1'000)) << "a sweep begun before the blindness says nothing of it";
  EXPECT_EQ(b.missing_since(at(2'000)), at(1'000)) << "missing: no later than it began";
  b.sweep_answered(at(2'000), false);
  EXPECT_EQ(b.since(), at(2'000)) << "the stream down since: blind from the sweep's start";
  b.sweep_answered(at(3'000), true);
  EXPECT_FALSE(b.since());
  EXPECT_EQ(b.missing_since(at(4'000)), at(4'000)) << "not blind: since the sweep began";
}

TEST(Blindness, EverySymbolIsJudgedOncePerBlindnessPastItsGrace) {
  Blindness b;
  EXPECT_FALSE(b.newly_past(false));
  EXPECT_TRUE(b.newly_past(true));
  EXPECT_FALSE(b.newly_past(true)) << "once";
  EXPECT_FALSE(b.newly_past(false));
  EXPECT_TRUE(b.newly_past(true)) << "a new blindness is judged again";
}

}  // namespace
}  // namespace orderly
