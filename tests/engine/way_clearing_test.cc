// Entries clearing their way through Alpaca's wash-trade check (issue 21): one side at a time
// per symbol, each entry once, and the way clear once none still waits.
#include "engine/way_clearing.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

Order entry(OrderId id, std::string symbol) {
  Order o;
  o.id = id;
  o.symbol = std::move(symbol);
  return o;
}

TEST(WayClearing, EntriesOfOneSideClearASymbolsWayTogether) {
  WayClearing ways;
  EXPECT_EQ(ways.join("WMT", Side::buy, 1), WayClearing::Join::joined);
  EXPECT_EQ(ways.join("WMT", Side::buy, 2), WayClearing::Join::joined)
      << "a second entry joins: the exits are canceled once for both";
  EXPECT_EQ(ways.join("WMT", Side::buy, 1), WayClearing::Join::already);
  EXPECT_EQ(ways.join("WMT", Side::sell, 3), WayClearing::Join::other_side)
      << "its turn comes once the buys are through";
  EXPECT_TRUE(ways.clearing("WMT"));
  EXPECT_FALSE(ways.clearing("AAPL"));
  EXPECT_TRUE(ways.clears_its_way(entry(2, "WMT")));
  EXPECT_FALSE(ways.clears_its_way(entry(3, "WMT")));
  EXPECT_EQ(ways.symbols(), std::vector<std::string>{"WMT"});
}

TEST(WayClearing, TheWayIsClearOnceNoEntryStillWaits) {
  WayClearing ways;
  ways.join("WMT", Side::buy, 1);
  ways.join("WMT", Side::buy, 2);
  ways.refused_against_ours(1);
  EXPECT_TRUE(ways.clears_all(1));
  EXPECT_FALSE(ways.end_if_done("WMT", [](OrderId id) { return id == 2; }))
      << "entry 2 is still on its way";
  EXPECT_FALSE(ways.clears_all(1)) << "entry 1 is through: let go";
  EXPECT_TRUE(ways.clearing("WMT"));
  EXPECT_TRUE(ways.end_if_done("WMT", [](OrderId) { return false; }));
  EXPECT_FALSE(ways.clearing("WMT")) << "the trades of WMT place their exits again";
  EXPECT_FALSE(ways.end_if_done("WMT", [](OrderId) { return false; })) << "once";
  EXPECT_EQ(ways.join("WMT", Side::sell, 3), WayClearing::Join::joined);
}

}  // namespace
}  // namespace orderly
