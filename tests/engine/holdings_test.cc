// engine/holdings.h: what open trades hold once shares our exits sold beyond their own trades
// are charged to them; and the engine acting on it against the scripted FakeBroker.

#include "engine/holdings.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "harness.h"

namespace orderly::testing {
namespace {

Decimal d(const char* s) { return Decimal::must(s); }

// What each trade holds once charged, by trade id.
std::map<TradeId, std::string> charged(std::vector<TradeHolding> open, const char* net) {
  charge_shortfall(open, d(net));
  std::map<TradeId, std::string> out;
  for (const TradeHolding& h : open) out[h.trade] = h.held.str();
  return out;
}

using Held = std::map<TradeId, std::string>;

TEST(Holdings, WithoutAShortfallEachTradeHoldsWhatItsFillsLeaveIt) {
  const std::vector<TradeHolding> open = {{3, d("20"), {}}, {7, d("55"), {}}};
  EXPECT_EQ(charged(open, "75"), (Held{{3, "20"}, {7, "55"}}));
  // More than the trades claim (shares of a trade that ended holding some): nobody gains.
  EXPECT_EQ(charged(open, "80"), (Held{{3, "20"}, {7, "55"}}));
}

TEST(Holdings, AShortfallIsChargedToTheOldestTradesFirst) {
  // Listed in any order: the charge goes by trade id. 67 claimed, 63 left: 2 from trade 3 (all
  // it has), 2 from trade 5.
  const std::vector<TradeHolding> open = {{7, d("55"), {}}, {3, d("2"), {}}, {5, d("10"), {}}};
  EXPECT_EQ(charged(open, "63"), (Held{{3, "0"}, {5, "8"}, {7, "55"}}));
}

TEST(Holdings, NothingLeftEmptiesEveryTrade) {
  const std::vector<TradeHolding> open = {{1, d("4.5"), {}}, {2, d("3"), {}}};
  EXPECT_EQ(charged(open, "0"), (Held{{1, "0.0"}, {2, "0"}}));
  // What our fills leave on the other side (an over-sold long now short) empties them too.
  EXPECT_EQ(charged(open, "-2"), (Held{{1, "0.0"}, {2, "0"}}));
}

TEST(Holdings, FractionalSharesAreChargedExactly) {
  const std::vector<TradeHolding> open = {{1, d("0.75"), {}}, {2, d("1.25"), {}}};
  EXPECT_EQ(charged(open, "1.5"), (Held{{1, "0.25"}, {2, "1.25"}}));
}

// Alpaca-API #165 from the trader's side: A's take-profit filled 2 of 6 unheard while its grow
// to 10 went out; the replacement sold all 10, 12 in all, two of them B's. B's 5 were bought
// unheard too, so its exit was asked for once 3 were left: before, it waited for holdings that
// never came ("qty_available 3 < 5"), the 3 naked for good.
TEST(Holdings, AnExitThatSoldAnotherTradesSharesLeavesItsExitsForWhatIsLeft) {
  Harness h;
  h.start();
  auto a = h.rt->open_trade(spec("F", "10", "11.00", "9.00"));
  auto b = h.rt->open_trade(spec("F", "5", "11.00", "9.00"));
  ASSERT_TRUE(a.ok() && b.ok());
  const auto entry_a = h.find(a->id, OrderRole::entry);
  const auto entry_b = h.find(b->id, OrderRole::entry);
  ASSERT_TRUE(entry_a && entry_a->broker_order_id && entry_b && entry_b->broker_order_id);
  h.broker.fill(*entry_a->broker_order_id, d("6"), d("10.00"));
  h.run(500);
  const auto exit_a = h.find(a->id, OrderRole::take_profit);
  ASSERT_TRUE(exit_a && exit_a->broker_order_id);
  ASSERT_EQ(exit_a->qty.str(), "6");

  const std::string lost_a = *exit_a->broker_order_id, lost_b = *entry_b->broker_order_id;
  h.drop = [&](const TradeUpdate& u) { return u.order.id == lost_a || u.order.id == lost_b; };
  h.broker.fill(lost_a, d("2"), d("11.00"));
  h.broker.fill(lost_b, d("5"), d("10.00"));
  h.broker.fill(*entry_a->broker_order_id, d("4"), d("10.00"));
  h.run(100);  // the grow goes out before any poll could find the lost fills
  const auto grown = h.find(a->id, OrderRole::take_profit);
  ASSERT_TRUE(grown && grown->broker_order_id && grown->replaces_order_id);
  ASSERT_EQ(grown->qty.str(), "10") << grown->client_order_id;
  h.broker.fill(*grown->broker_order_id, d("10"), d("11.00"));
  h.run(60'000);  // the catch-up finds what the stream lost

  ASSERT_EQ(h.broker.position_qty["F"].str(), "3");
  const auto exit_b = h.find(b->id, OrderRole::take_profit);
  ASSERT_TRUE(exit_b && exit_b->broker_order_id);
  EXPECT_EQ(exit_b->qty.str(), "3");
  const BrokerOrder& at_broker = h.broker.orders.at(*exit_b->broker_order_id);
  EXPECT_TRUE(at_broker.status && is_open_at_broker(*at_broker.status));
  EXPECT_EQ(at_broker.qty->str(), "3");
  EXPECT_NE(h.trade(b->id)->note.find("holds 3 of the 5"), std::string::npos)
      << h.trade(b->id)->note;
  for (const Alert& alert : h.engine().active_alerts()) {
    EXPECT_NE(alert.kind, AlertKind::unprotected_position) << alert.message;
  }
  h.expect_in_sync();

  // The charge outlives a restart: A ended, but what it sold of B's is still gone.
  const int refused = h.broker.insufficient_qty_answers;
  h.restart();
  h.run(60'000);
  const auto after = h.find(b->id, OrderRole::take_profit);
  ASSERT_TRUE(after && after->broker_order_id);
  EXPECT_EQ(after->qty.str(), "3") << after->client_order_id;
  const BrokerOrder& still = h.broker.orders.at(*after->broker_order_id);
  EXPECT_TRUE(still.status && is_open_at_broker(*still.status));
  EXPECT_EQ(still.qty->str(), "3");
  for (const Alert& alert : h.engine().active_alerts()) {
    EXPECT_NE(alert.kind, AlertKind::unprotected_position) << alert.message;
    EXPECT_NE(alert.kind, AlertKind::external_hold) << alert.message;
  }
  EXPECT_EQ(h.broker.insufficient_qty_answers, refused);
  h.expect_in_sync();
}

}  // namespace
}  // namespace orderly::testing
