// How often the broker is polled, and how long without a completed poll is sync lag (issue 21).
#include "engine/sync_cadence.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

Timestamp at(std::int64_t ms) { return Timestamp::from_ms(ms); }

// Polls every second while the stream is down or suspect or the account trades; every idle
// interval otherwise. The lag limit keeps the slower of the interval now and the one the last
// completed poll ran at, so a stream that just came back does not make a poll late at once.
TEST(SyncCadence, PollsFastWhileTheStreamIsSuspectOrTheAccountTrades) {
  StreamWatch stream;
  SyncCadence cadence({1'000, 5'000, 10'000}, stream);
  EXPECT_TRUE(cadence.stream_suspect(at(0))) << "never connected";
  EXPECT_EQ(cadence.catchup_interval(at(0)), 1'000);

  stream.connected(at(1'000));
  EXPECT_TRUE(cadence.stream_suspect(at(5'999))) << "connected less than an idle interval ago";
  cadence.synced(at(5'999));
  EXPECT_EQ(cadence.catchup_interval(at(6'000)), 5'000);
  EXPECT_EQ(cadence.sync_lag_limit(at(6'000)), 15'000);

  cadence.trading(at(7'000));
  EXPECT_EQ(cadence.catchup_interval(at(11'999)), 1'000);
  EXPECT_EQ(cadence.sync_lag_limit(at(11'999)), 11'000) << "trading: a poll a second";
  cadence.synced(at(11'999));
  EXPECT_EQ(cadence.catchup_interval(at(12'000)), 5'000) << "idle again";
  EXPECT_EQ(cadence.sync_lag_limit(at(12'000)), 15'000);
}

}  // namespace
}  // namespace orderly
