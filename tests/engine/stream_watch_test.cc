// StreamWatch (issue 21): the trade_updates stream as the engine knows it, and how far it is
// trusted.
#include "engine/stream_watch.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

Timestamp at(std::int64_t ms) { return Timestamp{}.plus_ms(ms); }

TEST(StreamWatch, ConnectsAndDropsOnceEach) {
  StreamWatch s;
  EXPECT_FALSE(s.is_connected());
  EXPECT_TRUE(s.disconnected(at(0))) << "never connected: the first drop counts";
  EXPECT_FALSE(s.disconnected(at(10))) << "down already";
  EXPECT_TRUE(s.connected(at(100)));
  EXPECT_FALSE(s.connected(at(200))) << "connected already";
  EXPECT_TRUE(s.heard_throughout_since(at(100)));
  EXPECT_FALSE(s.heard_throughout_since(at(99))) << "connected after that";
  EXPECT_TRUE(s.disconnected(at(300)));
  EXPECT_FALSE(s.heard_throughout_since(at(300)));
  s.event_heard(at(250));
  EXPECT_EQ(s.last_event_at(), at(250));
}

TEST(StreamWatch, SuspectWhileDownJustConnectedOrDroppingFills) {
  StreamWatch s;
  EXPECT_TRUE(s.suspect(at(0), 1'000)) << "down";
  s.connected(at(0));
  EXPECT_TRUE(s.suspect(at(999), 1'000)) << "just connected: a reconnect's gap is being filled";
  EXPECT_FALSE(s.suspect(at(1'000), 1'000));
  s.missed_fill(at(2'000));
  EXPECT_TRUE(s.suspect(at(11'999), 1'000)) << "it dropped a fill within ten intervals";
  EXPECT_FALSE(s.suspect(at(12'000), 1'000));
}

}  // namespace
}  // namespace orderly
