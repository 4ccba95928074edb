// The daemon's event log: repetitive lines are said once per period, with a count of the rest.
#include <gtest/gtest.h>

#include "app/event_log.h"

namespace orderly::app {
namespace {

TEST(LogLimiter, OneLinePerKeyAndPeriodThenTheCountOfWhatWasHeldBack) {
  LogLimiter limiter(std::chrono::seconds(60));
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  int held = -1;
  EXPECT_TRUE(limiter.allow("refused STWD", t0, held));
  EXPECT_EQ(held, 0);
  for (int i = 1; i <= 40; ++i) {
    EXPECT_FALSE(limiter.allow("refused STWD", t0 + std::chrono::seconds(i), held));
  }
  EXPECT_TRUE(limiter.allow("refused AAPL", t0 + std::chrono::seconds(1), held))
      << "another subject is another line";
  EXPECT_EQ(held, 0);
  EXPECT_TRUE(limiter.allow("refused STWD", t0 + std::chrono::seconds(61), held));
  EXPECT_EQ(held, 40) << "the next line says how many were held back";
}

}  // namespace
}  // namespace orderly::app
