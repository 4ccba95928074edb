// Fill activities the catch-up took in (issue 21): each applied once, bounded, and unseen again
// when the input that saw it rolls back.
#include "engine/seen_activities.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

TEST(SeenActivities, AnActivityIsTakenInOnceAndAnOverlapsRereadSkipsIt) {
  SeenActivities seen(100);
  seen.begin_input();
  EXPECT_TRUE(seen.first_sight("fill-1"));
  EXPECT_FALSE(seen.first_sight("fill-1"));
  seen.begin_input();
  EXPECT_FALSE(seen.first_sight("fill-1")) << "the next catch-up's overlap reads it again";
}

TEST(SeenActivities, ARolledBackInputsActivitiesAreUnseenAgain) {
  SeenActivities seen(100);
  seen.begin_input();
  ASSERT_TRUE(seen.first_sight("fill-1"));  // committed
  seen.begin_input();
  ASSERT_TRUE(seen.first_sight("fill-2"));
  EXPECT_FALSE(seen.first_sight("fill-1"));
  seen.roll_back();
  EXPECT_TRUE(seen.seen("fill-1")) << "taken in by an input that committed";
  EXPECT_FALSE(seen.seen("fill-2")) << "its apply was lost: the next catch-up applies it";
  seen.begin_input();
  EXPECT_TRUE(seen.first_sight("fill-2"));
}

TEST(SeenActivities, OnlyTheLastCapacityAreKept) {
  SeenActivities seen(3);
  seen.begin_input();
  for (const char* id : {"a", "b", "c", "d"}) ASSERT_TRUE(seen.first_sight(id));
  EXPECT_FALSE(seen.seen("a")) << "the oldest leaves";
  EXPECT_TRUE(seen.seen("b"));
  EXPECT_TRUE(seen.seen("d"));
}

}  // namespace
}  // namespace orderly
