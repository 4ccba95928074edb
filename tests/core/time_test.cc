// RFC3339 as Alpaca sends it (0-9 fractional digits, Z or an offset); junk is refused.

#include "core/time.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

constexpr std::int64_t kSec = 1'000'000'000;

TEST(Rfc3339, ParsesEpochAndZ) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z")->ns, 0);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:01z")->ns, kSec);
  EXPECT_EQ(parse_rfc3339("1969-12-31T23:59:59Z")->ns, -kSec);
}

TEST(Rfc3339, FractionalDigitsZeroToNine) {
  const std::int64_t base = parse_rfc3339("2022-04-19T17:45:05Z")->ns;
  EXPECT_EQ(parse_rfc3339("2022-04-19T17:45:05.5Z")->ns, base + 500'000'000);
  EXPECT_EQ(parse_rfc3339("2022-04-19T17:45:05.02Z")->ns, base + 20'000'000);
  EXPECT_EQ(parse_rfc3339("2022-04-19T17:45:05.024916Z")->ns, base + 24'916'000);
  EXPECT_EQ(parse_rfc3339("2022-04-19T17:45:05.024916716Z")->ns, base + 24'916'716);
  EXPECT_EQ(parse_rfc3339("2022-04-19T17:45:05.000000001Z")->ns, base + 1);
}

TEST(Rfc3339, Offsets) {
  // Alpaca's example: 13:45:04.981350886-04:00 is 17:45:04.981350886Z.
  auto a = parse_rfc3339("2022-04-19T13:45:04.981350886-04:00");
  auto b = parse_rfc3339("2022-04-19T17:45:04.981350886Z");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*parse_rfc3339("2022-04-20T03:15:04+09:30"), *parse_rfc3339("2022-04-19T17:45:04Z"));
  EXPECT_EQ(*parse_rfc3339("2022-04-19T17:45:04+00:00"), *parse_rfc3339("2022-04-19T17:45:04Z"));
  EXPECT_EQ(*parse_rfc3339("2022-04-19T17:45:04-00:00"), *parse_rfc3339("2022-04-19T17:45:04Z"));
}

TEST(Rfc3339, KnownInstant) {
  // 2022-04-19T17:45:05Z = 1650390305 s since the epoch.
  EXPECT_EQ(parse_rfc3339("2022-04-19T17:45:05Z")->ns, 1'650'390'305 * kSec);
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z")->ns, 1'709'164'800 * kSec);  // leap day
}

TEST(Rfc3339, RejectsJunk) {
  for (const char* s : {"", "2022", "2022-04-19", "2022-04-19T17:45:05", "2022-04-19 17:45",
                        "2022-04-19T17:45:05.Z", "2022-04-19T17:45:05.5", "2022-04-19T17:45:05ZZ",
                        "2022-04-19T17:45:05Z ", " 2022-04-19T17:45:05Z", "2022-13-19T17:45:05Z",
                        "2022-00-19T17:45:05Z", "2022-04-00T17:45:05Z", "2022-04-31T17:45:05Z",
                        "2023-02-29T00:00:00Z", "2022-04-19T24:00:00Z", "2022-04-19T17:60:05Z",
                        "2022-04-19T17:45:61Z", "2022-04-19T17:45:05+0400",
                        "2022-04-19T17:45:05+04", "2022-04-19T17:45:05+24:00",
                        "2022-04-19T17:45:05+04:60", "2022-04-19T17:45:05+04:00x",
                        "2022/04/19T17:45:05Z", "2022-04-19X17:45:05Z", "abcd-ef-ghTij:kl:mnZ",
                        "2022-04-19T17:45:05.12a4Z", "1650390305"}) {
    EXPECT_FALSE(parse_rfc3339(s).has_value()) << "'" << s << "'";
  }
}

TEST(Rfc3339, RefusesYearsBeyondNanosecondRange) {
  EXPECT_TRUE(parse_rfc3339("2262-04-11T00:00:00Z").has_value());
  EXPECT_TRUE(parse_rfc3339("1677-09-22T00:00:00Z").has_value());
  EXPECT_FALSE(parse_rfc3339("4042-03-16T18:38:01.942282Z").has_value());
  EXPECT_FALSE(parse_rfc3339("9999-12-31T23:59:59Z").has_value());
  EXPECT_FALSE(parse_rfc3339("0001-01-01T00:00:00Z").has_value());
}

TEST(Rfc3339, FormatIsUtcWithTrimmedNanos) {
  EXPECT_EQ(format_rfc3339(Timestamp{0}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(*parse_rfc3339("2022-04-19T17:45:05.024916716Z")),
            "2022-04-19T17:45:05.024916716Z");
  EXPECT_EQ(format_rfc3339(*parse_rfc3339("2022-04-19T17:45:05.500Z")),
            "2022-04-19T17:45:05.5Z");
  EXPECT_EQ(format_rfc3339(*parse_rfc3339("2022-04-19T13:45:04.981350886-04:00")),
            "2022-04-19T17:45:04.981350886Z");
  EXPECT_EQ(format_rfc3339(Timestamp{-1}), "1969-12-31T23:59:59.999999999Z");
}

TEST(Rfc3339, FormatParseRoundTrip) {
  for (std::int64_t ns : {std::int64_t{0}, std::int64_t{1}, std::int64_t{1'650'390'305'024'916'716},
                          std::int64_t{4'102'444'799'999'999'999}, std::int64_t{-86'400'000'000'001}}) {
    auto back = parse_rfc3339(format_rfc3339(Timestamp{ns}));
    ASSERT_TRUE(back.has_value()) << ns;
    EXPECT_EQ(back->ns, ns);
  }
}

TEST(ManualClockTest, AdvancesOnlyWhenTold) {
  ManualClock c(Timestamp::from_ms(1000));
  EXPECT_EQ(c.now().ms(), 1000);
  c.advance_ms(250);
  EXPECT_EQ(c.now().ms(), 1250);
  EXPECT_EQ(c.now().ms_since(Timestamp::from_ms(1000)), 250);
  c.set(Timestamp{5});
  EXPECT_EQ(c.now().ns, 5);
}

}  // namespace
}  // namespace orderly
