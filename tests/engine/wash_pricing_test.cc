// Exits priced past our own opposite orders (issue 21): the price an exit sent alone takes so
// that Alpaca's wash-trade check passes it, from the ledger alone.
#include "engine/wash_pricing.h"

#include <gtest/gtest.h>

#include "engine/crypto.h"
#include "ledger_builder.h"

namespace orderly {
namespace {

const auto d = test::dec;

class WashPricingTest : public ::testing::Test {
 protected:
  WashPricingTest() {
    Trade t = test::buy_trade(1, "AAPL", "10");
    t.spec.take_profit.percent = d("10");
    ledger_.put_trade(t);
    Order entry = order(Side::buy, OrderType::market, std::nullopt, OrderState::filled);
    entry.role = OrderRole::entry;
    entry.filled_qty = d("10");
    entry.filled_avg_price = d("100");
    ledger_.add(entry);
  }

  // An order of ours on AAPL, sent (a broker id) unless created.
  Order order(Side side, OrderType type, std::optional<Decimal> limit,
              OrderState state = OrderState::new_) {
    Order o;
    o.id = ++next_id_;
    o.trade_id = 1;
    o.symbol = "AAPL";
    o.side = side;
    o.type = type;
    o.limit_price = limit;
    o.qty = d("10");
    o.state = state;
    if (state != OrderState::created) o.broker_order_id = "b-" + std::to_string(o.id);
    return o;
  }
  Order take_profit(const char* price) {
    Order o = order(Side::sell, OrderType::limit, d(price), OrderState::created);
    o.role = OrderRole::take_profit;
    return o;
  }
  Order& rest(Order o) { return ledger_.add(std::move(o)); }

  Ledger ledger_;
  OrderId next_id_ = 0;
};

TEST_F(WashPricingTest, ATakeProfitStepsOneTickPastOurHighestBuyNeverBelowItsOwn) {
  const Order tp = take_profit("110");
  EXPECT_EQ(wash_safe_price(ledger_, tp, d("110")), d("110")) << "nothing in the way";
  rest(order(Side::buy, OrderType::limit, d("112")));
  rest(order(Side::buy, OrderType::limit, d("111.5")));
  EXPECT_EQ(wash_safe_price(ledger_, tp, d("110")), d("112.01"))
      << "past the most aggressive buy: it crosses none of them";
  EXPECT_EQ(wash_safe_price(ledger_, take_profit("113"), d("113")), d("113"))
      << "its own price already passes them: never sells lower than it";
}

TEST_F(WashPricingTest, OnlyOrdersTheCheckSeesAreInTheWay) {
  const Order tp = take_profit("110");
  rest(order(Side::buy, OrderType::limit, d("115"), OrderState::created));
  rest(order(Side::buy, OrderType::limit, d("116"), OrderState::canceled));
  Order held_leg = order(Side::buy, OrderType::limit, d("117"), OrderState::held);
  held_leg.parent_order_id = 1;
  rest(held_leg);
  rest(order(Side::sell, OrderType::limit, d("118")));
  EXPECT_EQ(wash_safe_price(ledger_, tp, d("110")), d("110"))
      << "unsent, ended, a held leg, the same side: the check sees none of them";
}

TEST_F(WashPricingTest, NoPricePassesOurMarketOrStopOrder) {
  const Order tp = take_profit("110");
  rest(order(Side::buy, OrderType::limit, d("112")));
  EXPECT_FALSE(market_order_opposite(ledger_, tp));
  rest(order(Side::buy, OrderType::stop, std::nullopt));
  EXPECT_TRUE(market_order_opposite(ledger_, tp));
  EXPECT_EQ(wash_safe_price(ledger_, tp, d("110")), d("110")) << "it waits for that one to go";
}

TEST_F(WashPricingTest, AStopAloneTakesALimitPastOurBuysOnlyWhileItStillSellsWhenTriggered) {
  Order stop = order(Side::sell, OrderType::stop, std::nullopt, OrderState::created);
  stop.role = OrderRole::stop_loss;
  stop.stop_price = d("90");
  rest(order(Side::buy, OrderType::limit, d("89")));
  EXPECT_EQ(wash_safe_price(ledger_, stop, std::nullopt), d("89.01"));
  rest(order(Side::buy, OrderType::limit, d("95")));
  EXPECT_EQ(wash_safe_price(ledger_, stop, std::nullopt), std::nullopt)
      << "a limit past its stop would not sell when it triggers";
}

TEST_F(WashPricingTest, APricedExitTakesTheTypeAndTifOfItsPriceAndBackAgain) {
  Order flatten = order(Side::sell, OrderType::market, std::nullopt, OrderState::created);
  flatten.role = OrderRole::exit;
  ASSERT_TRUE(wash_adjustable(flatten));
  set_exit_price(flatten, d("100.01"), std::nullopt);
  EXPECT_EQ(flatten.type, OrderType::limit);
  EXPECT_EQ(flatten.limit_price, d("100.01"));
  EXPECT_EQ(flatten.tif, session_tif("AAPL")) << "a price made for this moment of the book";
  set_exit_price(flatten, std::nullopt, std::nullopt);
  EXPECT_EQ(flatten.type, OrderType::market);

  Order stop = order(Side::sell, OrderType::stop, std::nullopt, OrderState::created);
  stop.role = OrderRole::stop_loss;
  stop.stop_price = d("90");
  set_exit_price(stop, d("89.01"), std::nullopt);
  EXPECT_EQ(stop.type, OrderType::stop_limit);
  set_exit_price(stop, std::nullopt, std::nullopt);
  EXPECT_EQ(stop.type, OrderType::stop);
  EXPECT_FALSE(stop.limit_price);

  Order leg = take_profit("110");
  leg.parent_order_id = 1;
  EXPECT_FALSE(wash_adjustable(leg)) << "a group's order is exempt from the check";
}

TEST_F(WashPricingTest, ATakeProfitsOwnPriceIsTheTradesFromItsEntrysFill) {
  Order tp = take_profit("112.01");
  EXPECT_EQ(own_exit_price(ledger_, tp), d("110")) << "10% above the entry's 100 fill";
  Order flatten = order(Side::sell, OrderType::limit, d("100.01"), OrderState::created);
  flatten.role = OrderRole::exit;
  EXPECT_EQ(own_exit_price(ledger_, flatten), std::nullopt) << "a flatten's own is market";
}

}  // namespace
}  // namespace orderly
