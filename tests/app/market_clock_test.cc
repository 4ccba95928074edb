// The market's session for the operator: when the clock is read (unit), and what /healthz,
// `orderly status` and the dashboard's data say across a session close and open at the
// simulator (real processes).
#include "app/market_clock.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "rig.h"

namespace orderly {
namespace {

constexpr std::int64_t kMinute = 60'000;

MarketClock clock_at(Timestamp now, bool open, std::int64_t next_open_ms,
                     std::int64_t next_close_ms) {
  return MarketClock{now, open, now.plus_ms(next_open_ms), now.plus_ms(next_close_ms)};
}

TEST(MarketClockRead, EveryRefreshPeriodWhileNoBoundaryIsNear) {
  const Timestamp now{1'700'000'000'000'000'000};
  const auto c = clock_at(now, true, 20 * 3600'000, 3 * 3600'000);
  EXPECT_EQ(app::next_clock_read(c, now, kMinute).ms_since(now), kMinute);
}

TEST(MarketClockRead, JustAfterTheCloseItAnnounced) {
  const Timestamp now{1'700'000'000'000'000'000};
  const auto c = clock_at(now, true, 20 * 3600'000, 10'000);  // closes in 10 s
  EXPECT_EQ(app::next_clock_read(c, now, kMinute).ms_since(now), 12'000);
}

TEST(MarketClockRead, JustAfterTheOpenItAnnouncedWhileClosed) {
  const Timestamp now{1'700'000'000'000'000'000};
  const auto c = clock_at(now, false, 30'000, 7 * 3600'000);
  EXPECT_EQ(app::next_clock_read(c, now, kMinute).ms_since(now), 32'000);
}

TEST(MarketClockRead, ABoundaryInThePastOrTheBrokersClockAheadNeverSpins) {
  const Timestamp now{1'700'000'000'000'000'000};
  // The broker says the close was a minute ago (its clock or ours is off): the floor holds.
  const auto c = clock_at(now, true, 20 * 3600'000, -kMinute);
  EXPECT_EQ(app::next_clock_read(c, now, kMinute).ms_since(now), kMinute);
  const auto d = clock_at(now, true, 20 * 3600'000, -1000);  // 1 s ago: read again in 2 s
  EXPECT_EQ(app::next_clock_read(d, now, kMinute).ms_since(now), 2000);
}

}  // namespace

namespace testing {
namespace {
namespace json = boost::json;

bool market_open_is(const Rig& rig, bool open) {
  return eventually(
      [&] {
        json::value h = rig.get_json("/healthz");
        const json::value* m = h.is_object() ? h.as_object().if_contains("market") : nullptr;
        return m != nullptr && m->is_object() && m->as_object().at("is_open").as_bool() == open;
      },
      20);
}

// The session is the broker's: a close at the simulator shows in /healthz and `orderly status`
// (read every clock_refresh_ms here), and so does the open after it.
TEST(MarketSessionE2E, StatusAndHealthFollowTheBrokersClock) {
  Rig rig("market-e2e", "market-e2e-token-5f1a2b");
  ASSERT_TRUE(rig.start_all({.sync_extra = "clock_refresh_ms = 1000\n"})) << rig.logs();
  ASSERT_TRUE(market_open_is(rig, true)) << json::serialize(rig.get_json("/healthz"));
  auto open = run(rig.cli("status"));
  EXPECT_NE(open.out.find("market:            open, closes "), std::string::npos) << open.out;

  ASSERT_TRUE(rig.sim().session("close"));
  ASSERT_TRUE(market_open_is(rig, false)) << json::serialize(rig.get_json("/healthz"));
  auto closed = run(rig.cli("status"));
  EXPECT_NE(closed.out.find("market:            closed, opens "), std::string::npos) << closed.out;
  // The clock is the broker's answer: next_open is what the simulator's own /v2/clock says.
  json::value sim_clock = rig.sim().get_json("/v2/clock");
  json::value h = rig.get_json("/healthz");
  const auto instant = [](const json::value& v) {
    return v.is_string() ? parse_rfc3339(v.as_string()) : std::nullopt;
  };
  const auto ours = instant(h.at("market").at("next_open"));
  ASSERT_TRUE(ours.has_value()) << json::serialize(h);
  EXPECT_EQ(ours, instant(sim_clock.at("next_open")))
      << json::serialize(h) << " vs " << json::serialize(sim_clock);

  ASSERT_TRUE(rig.sim().session("open"));
  EXPECT_TRUE(market_open_is(rig, true)) << json::serialize(rig.get_json("/healthz"));
  rig.expect_no_secrets_logged();
}

}  // namespace
}  // namespace testing
}  // namespace orderly
