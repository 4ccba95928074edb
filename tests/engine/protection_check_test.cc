// When the protection check runs and which symbols it judges (issue 21).
#include "engine/protection_check.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

Timestamp at(std::int64_t ms) { return Timestamp::from_ms(ms); }

TEST(ProtectionCheck, ARoundJudgesWhatWasTouchedAtMostEveryFewMilliseconds) {
  ProtectionCheck check;
  check.touched("AAPL");
  std::optional<ProtectionCheck::Round> round = check.begin(at(1'000), 100);
  ASSERT_TRUE(round);
  EXPECT_TRUE(round->first) << "the first after a start judges every loaded position";
  EXPECT_EQ(round->symbols, (std::set<std::string>{"AAPL"}));

  check.touched("MSFT");
  EXPECT_FALSE(check.begin(at(1'050), 100)) << "a burst within the interval waits";
  round = check.begin(at(1'100), 100);
  ASSERT_TRUE(round);
  EXPECT_FALSE(round->first);
  EXPECT_EQ(round->symbols, (std::set<std::string>{"MSFT"})) << "kept for the next round";
  round = check.begin(at(900), 100);
  ASSERT_TRUE(round) << "a clock gone back runs one";
  EXPECT_TRUE(round->symbols.empty());
}

TEST(ProtectionCheck, ALateFillDatesItsSymbolsGapUntilTheRoundJudgedIt) {
  ProtectionCheck check;
  check.late_fill("AAPL", at(5'000));
  check.late_fill("AAPL", at(4'000));
  check.late_fill("AAPL", at(6'000));
  EXPECT_EQ(check.with_late_fill("AAPL", at(7'000)), at(4'000)) << "the earliest";
  EXPECT_EQ(check.with_late_fill("AAPL", at(3'000)), at(3'000)) << "an earlier start stays";
  EXPECT_EQ(check.with_late_fill("AAPL", std::nullopt), at(4'000));
  EXPECT_EQ(check.with_late_fill("MSFT", std::nullopt), std::nullopt);

  const std::optional<ProtectionCheck::Round> round = check.begin(at(8'000), 100);
  ASSERT_TRUE(round);
  EXPECT_EQ(round->symbols, (std::set<std::string>{"AAPL"})) << "judged though nothing touched it";
  check.end();
  EXPECT_EQ(check.with_late_fill("AAPL", std::nullopt), std::nullopt);
}

TEST(ProtectionCheck, FillsBecomingUnknownAreNewsOnce) {
  ProtectionCheck check;
  EXPECT_FALSE(check.fills_newly_unknown(false));
  EXPECT_TRUE(check.fills_newly_unknown(true));
  EXPECT_FALSE(check.fills_newly_unknown(true));
  EXPECT_FALSE(check.fills_newly_unknown(false));
  EXPECT_TRUE(check.fills_newly_unknown(true));
}

}  // namespace
}  // namespace orderly
