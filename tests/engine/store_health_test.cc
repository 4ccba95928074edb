// What the engine says of its store (issue 21): failing since the first failure after the last
// good commit, and why.
#include "engine/store_health.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

TEST(StoreHealth, FailingSinceTheFirstFailureUntilAGoodCommit) {
  StoreHealth h;
  EXPECT_TRUE(h.ok());
  h.failed("disk full", Timestamp::from_ms(10));
  h.failed("disk full again", Timestamp::from_ms(20));
  EXPECT_FALSE(h.ok());
  EXPECT_EQ(h.failing_since(), Timestamp::from_ms(10)) << "the first failure, not the last";
  EXPECT_EQ(h.error(), "disk full again") << "what it says now";
  h.back();
  EXPECT_TRUE(h.ok());
  EXPECT_FALSE(h.failing_since());
  EXPECT_EQ(h.error(), "");
  h.load_failed("database is down");
  EXPECT_FALSE(h.ok());
  EXPECT_EQ(h.error(), "database is down");
}

}  // namespace
}  // namespace orderly
