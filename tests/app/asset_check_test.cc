// A trade against its pair's asset (server/asset_check.h): the sizes Alpaca states for crypto.
#include "server/asset_check.h"

#include <gtest/gtest.h>

namespace orderly::server {
namespace {

Decimal D(std::string_view s) { return Decimal::must(s); }

// BTC/USD as Alpaca's crypto page once showed it: coarse sizes, whole-dollar prices.
AssetRules btc() {
  AssetRules a;
  a.symbol = "BTC/USD";
  a.asset_class = "crypto";
  a.status = "active";
  a.min_order_size = D("0.0001");
  a.min_trade_increment = D("0.0001");
  a.price_increment = D("1");
  return a;
}

TradeSpec buy(std::string_view qty) {
  TradeSpec s;
  s.symbol = "BTC/USD";
  s.qty = D(qty);
  s.entry_type = OrderType::limit;
  s.entry_limit_price = D("60000");
  s.take_profit.price = D("61000");
  s.stop_loss = PriceTarget{D("59000"), std::nullopt};
  return s;
}

TEST(AssetCheck, WithinTheSizesNothingIsRefused) {
  EXPECT_EQ(check_asset_rules(buy("0.01"), btc()), "");
  AssetRules equity;
  equity.symbol = "AAPL";
  equity.status = "active";
  TradeSpec s = buy("0.123456789");
  s.symbol = "AAPL";
  EXPECT_EQ(check_asset_rules(s, equity), "") << "no sizes, nothing to check";
}

TEST(AssetCheck, EachSizeIsNamedWithItsFigures) {
  EXPECT_EQ(check_asset_rules(buy("0.00005"), btc()),
            "qty 0.00005 is below BTC/USD's minimum order size 0.0001 (the broker's asset: "
            "min_order_size)");
  EXPECT_EQ(check_asset_rules(buy("0.01005"), btc()),
            "qty 0.01005 is not a multiple of BTC/USD's quantity increment 0.0001 (the broker's "
            "asset: min_trade_increment)");
  TradeSpec s = buy("0.01");
  s.entry_limit_price = D("60000.50");
  EXPECT_EQ(check_asset_rules(s, btc()),
            "entry limit_price 60000.50 is not a multiple of BTC/USD's price increment 1 (the "
            "broker's asset: price_increment)");
  s = buy("0.01");
  s.stop_loss->price = D("59000.01");
  EXPECT_NE(check_asset_rules(s, btc()).find("stop_loss stop_price 59000.01"), std::string::npos);
  s = buy("0.01");
  s.take_profit = PriceTarget{std::nullopt, D("2")};
  EXPECT_EQ(check_asset_rules(s, btc()), "") << "a percent is priced at the fill";
}

// 0.0001 BTC bought leaves 0.00009975 after the 0.25% fee: below the minimum, its exit could
// never be sent. The least buy named is the first on the increment whose coins reach it.
TEST(AssetCheck, ABuyWhoseCoinsAfterTheFeeCouldNotBeSoldIsRefused) {
  EXPECT_EQ(check_asset_rules(buy("0.0001"), btc()),
            "qty 0.0001 of BTC/USD leaves 0.000099750 after the fee of up to 0.25% taken in "
            "coins, below the minimum order size 0.0001: its exits could not be placed (buy at "
            "least 0.0002, or send \"exits\": \"none\")");
  AssetRules fine = btc();
  fine.min_trade_increment = D("0.000000001");
  EXPECT_NE(check_asset_rules(buy("0.0001"), fine).find("buy at least 0.000100251"),
            std::string::npos);
  EXPECT_EQ(check_asset_rules(buy("0.000100251"), fine), "");
  TradeSpec none = buy("0.0001");
  none.exits = ExitMode::none;
  none.take_profit = {};
  none.stop_loss.reset();
  EXPECT_EQ(check_asset_rules(none, btc()), "") << "no exit to place";
}

// A modify's new exits are judged on the price increment; its entry, judged at open, is not.
TEST(AssetCheck, AModifysExitPricesAreOnTheIncrement) {
  TradeSpec s = buy("0.00005");  // under today's minimum: not the modify's concern
  s.entry_limit_price = D("60000.50");
  EXPECT_EQ(check_exit_prices(s, btc()), "");
  s.take_profit.price = D("61000.25");
  EXPECT_EQ(check_exit_prices(s, btc()),
            "take_profit limit_price 61000.25 is not a multiple of BTC/USD's price increment 1 "
            "(the broker's asset: price_increment)");
}

TEST(AssetCheck, WhatTheBrokerWouldNotTradeIsRefused) {
  AssetRules a = btc();
  a.tradable = false;
  EXPECT_EQ(check_asset_rules(buy("0.01"), a),
            "BTC/USD is not tradable at the broker (its asset: tradable false, status active)");
  a = btc();
  a.status = "inactive";
  EXPECT_NE(check_asset_rules(buy("0.01"), a).find("status inactive"), std::string::npos);
  TradeSpec notional = buy("0");
  notional.entry_type = OrderType::market;
  notional.entry_limit_price.reset();
  notional.notional = D("5");
  EXPECT_EQ(check_asset_rules(notional, btc()), "") << "its qty is known at the fill only";
}

}  // namespace
}  // namespace orderly::server
