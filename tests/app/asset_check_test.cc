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
  TradeSpec least = buy("0.000100251");  // at market: 6.02 USD at its limit is too little
  least.entry_type = OrderType::market;
  least.entry_limit_price.reset();
  EXPECT_EQ(check_asset_rules(least, fine), "");
  TradeSpec none = buy("0.0001");
  none.entry_type = OrderType::market;  // at its limit 6.00 USD would be too little
  none.entry_limit_price.reset();
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
            "BTC/USD is not tradable at the broker (its asset: tradable false, status active; "
            "Alpaca: asset \"BTC/USD\" is not tradable)");
  a = btc();
  a.status = "inactive";
  EXPECT_NE(check_asset_rules(buy("0.01"), a).find("status inactive"), std::string::npos);
  TradeSpec notional = buy("0");
  notional.entry_type = OrderType::market;
  notional.entry_limit_price.reset();
  notional.notional = D("25");
  EXPECT_EQ(check_asset_rules(notional, btc()), "") << "its qty is known at the fill only";
}

TradeSpec notional_buy(std::string_view symbol, std::string_view usd) {
  TradeSpec s;
  s.symbol = std::string(symbol);
  s.notional = D(usd);
  s.tif = TimeInForce::day;
  s.take_profit.percent = D("2");
  return s;
}

// Alpaca's least crypto order value is not in the asset: 10 USD, a notional in cents; a limit
// entry's value is its qty at its limit.
TEST(AssetCheck, ACryptoNotionalUnderTheLeastOrderValueIsRefusedWithItsFigures) {
  TradeSpec s = notional_buy("BTC/USD", "9.99");
  s.tif = TimeInForce::gtc;
  EXPECT_EQ(check_asset_rules(s, btc()),
            "notional 9.99 of BTC/USD is below Alpaca's least crypto order value, 10 USD (the "
            "broker answers \"cost basis must be >= minimal amount of order 10\"; it is not in "
            "the asset)");
  s.notional = D("10.005");
  EXPECT_EQ(check_asset_rules(s, btc()),
            "notional 10.005 of BTC/USD is not in whole cents (Alpaca takes a crypto notional to "
            "the cent)");
  s.notional = D("10");
  EXPECT_EQ(check_asset_rules(s, btc()), "");
  EXPECT_EQ(check_asset_rules(buy("0.0001"), btc()).find("worth"), std::string::npos)
      << "its sizes are named first";
  AssetRules fine = btc();
  fine.min_trade_increment = D("0.000000001");
  EXPECT_EQ(check_asset_rules(buy("0.000166"), fine),
            "qty 0.000166 of BTC/USD at its limit 60000 is worth 9.96 USD, below Alpaca's least "
            "crypto order value, 10 USD (the broker answers \"cost basis must be >= minimal "
            "amount of order 10\"; it is not in the asset)");
  EXPECT_EQ(check_asset_rules(buy("0.000167"), fine), "") << "10.02 USD";
}

// A crypto market entry by qty has no price of its own: judged at a price orderly knows of the
// pair, named with its source; anything else is not judged here.
TEST(AssetCheck, ACryptoMarketEntryIsJudgedAtAKnownPriceWithItsFigures) {
  TradeSpec s = buy("0.0001");
  s.entry_type = OrderType::market;
  s.entry_limit_price.reset();
  EXPECT_EQ(check_crypto_market_value(s, D("60000.00"), "orderly's fill of X, 3 s old"),
            "qty 0.0001 of BTC/USD at about 60000.00 (orderly's fill of X, 3 s old) is worth "
            "6.00 USD, below Alpaca's least crypto order value, 10 USD (the broker answers "
            "\"cost basis must be >= minimal amount of order 10\"; it is not in the asset)");
  EXPECT_EQ(check_crypto_market_value(s, D("100000"), "a price"), "") << "worth 10 USD";
  TradeSpec limit = buy("0.0001");
  EXPECT_EQ(check_crypto_market_value(limit, D("60000"), "a price"), "")
      << "a limit entry is judged at its limit (check_asset_rules)";
  TradeSpec equity_entry = s;
  equity_entry.symbol = "F";
  EXPECT_EQ(check_crypto_market_value(equity_entry, D("1"), "a price"), "");
}

AssetRules equity(std::string_view symbol) {
  AssetRules a;
  a.symbol = std::string(symbol);
  a.asset_class = "us_equity";
  a.status = "active";
  a.borrow_status = "easy_to_borrow";
  return a;
}

TradeSpec whole(std::string_view symbol, Side side, TimeInForce tif = TimeInForce::gtc) {
  TradeSpec s;
  s.symbol = std::string(symbol);
  s.side = side;
  s.qty = D("10");
  s.tif = tif;
  s.take_profit.percent = D("2");
  return s;
}

TEST(AssetCheck, AnEquityThatIsNotFractionableTakesWholeSharesOnly) {
  AssetRules a = equity("BRK.A");
  a.fractionable = false;
  TradeSpec s = whole("BRK.A", Side::buy, TimeInForce::day);
  s.qty = D("0.5");
  EXPECT_EQ(check_asset_rules(s, a),
            "BRK.A is not fractionable at the broker (its asset: fractionable false), so a "
            "fractional qty 0.5 entry is refused there (Alpaca: asset \"BRK.A\" is not "
            "fractionable); trade whole shares");
  EXPECT_NE(check_asset_rules(notional_buy("BRK.A", "100"), a).find("a notional 100 USD entry"),
            std::string::npos);
  EXPECT_EQ(check_asset_rules(whole("BRK.A", Side::buy), a), "");
  EXPECT_EQ(check_asset_rules(s, equity("AAPL")), "") << "fractionable: taken";
}

// Fractional orders in extended hours are taken only of assets whose attributes say
// fractional_eh_enabled.
TEST(AssetCheck, AFractionalExtendedHoursEntryNeedsTheAttribute) {
  AssetRules a = equity("KO");
  a.fractional_eh = false;
  TradeSpec s = whole("KO", Side::buy, TimeInForce::day);
  s.qty = D("0.5");
  s.entry_type = OrderType::limit;
  s.entry_limit_price = D("70.00");
  s.extended_hours = true;
  EXPECT_EQ(check_asset_rules(s, a),
            "KO takes no fractional orders in extended hours at the broker (its asset's "
            "attributes lack fractional_eh_enabled), so a fractional qty 0.5 entry with "
            "extended_hours is refused there; trade whole shares, or without extended_hours");
  EXPECT_EQ(check_asset_rules(s, equity("KO")), "") << "with the attribute";
  s.extended_hours = false;
  EXPECT_EQ(check_asset_rules(s, a), "") << "in regular hours";
  s.extended_hours = true;
  s.qty = D("2");
  EXPECT_EQ(check_asset_rules(s, a), "") << "whole shares";
}

TEST(AssetCheck, AnEquityNotionalUnderOneDollarIsRefused) {
  EXPECT_EQ(check_asset_rules(notional_buy("AAPL", "0.99"), equity("AAPL")),
            "notional 0.99 of AAPL is below Alpaca's least notional, 1.00 USD (Alpaca: notional "
            "amount must be >= 1.00)");
  EXPECT_EQ(check_asset_rules(notional_buy("AAPL", "1"), equity("AAPL")), "");
}

TEST(AssetCheck, AShortNeedsAShortableEasyToBorrowAsset) {
  AssetRules a = equity("GME");
  a.shortable = false;
  EXPECT_EQ(check_asset_rules(whole("GME", Side::sell), a),
            "GME cannot be sold short at the broker (its asset: shortable false), and a sell "
            "entry opens a short (Alpaca: asset \"GME\" cannot be sold short)");
  EXPECT_EQ(check_asset_rules(whole("GME", Side::buy), a), "") << "a long is not a short";
  a = equity("GME");
  a.borrow_status = "hard_to_borrow";
  EXPECT_EQ(check_asset_rules(whole("GME", Side::sell, TimeInForce::day), a),
            "GME is hard to borrow at the broker (its asset: borrow_status hard_to_borrow): "
            "Alpaca opens a short on it only against a locate, which orderly does not take "
            "(Alpaca: asset \"GME\" cannot be sold short)");
  EXPECT_EQ(check_asset_rules(whole("GME", Side::sell), equity("GME")), "");
  a.borrow_status.clear();
  EXPECT_EQ(check_asset_rules(whole("GME", Side::sell), a), "") << "unknown: the broker judges";
}

// A sell within a held long closes it: the asset's rules of shorts are not its.
TEST(AssetCheck, ASellWithinAHeldLongIsNoShortOfTheAsset) {
  AssetRules a = equity("GME");
  a.shortable = false;
  EXPECT_EQ(check_asset_rules(whole("GME", Side::sell), a, /*opens_short=*/false), "");
  a = equity("GME");
  a.borrow_status = "hard_to_borrow";
  TradeSpec day_sell = whole("GME", Side::sell, TimeInForce::day);
  day_sell.exits = ExitMode::none;  // day orders only, as for any order on the asset
  EXPECT_NE(check_asset_rules(day_sell, a), "") << "opening a short: no locate";
  EXPECT_EQ(check_asset_rules(day_sell, a, false), "");
}

// On a hard-to-borrow asset Alpaca takes day orders only: a gtc entry, or whole-share exits
// (gtc), could not be placed; a day entry with no exits, native (day bracket) or fractional
// (day) exits can.
TEST(AssetCheck, AHardToBorrowAssetTakesDayOrdersOnly) {
  AssetRules a = equity("GME");
  a.borrow_status = "hard_to_borrow";
  const std::string rule =
      "GME is hard to borrow at the broker (its asset: borrow_status hard_to_borrow), and Alpaca "
      "takes only day orders on it (Alpaca: only day orders are allowed for hard-to-borrow "
      "asset \"GME\")";
  EXPECT_EQ(check_asset_rules(whole("GME", Side::buy), a), rule + ": this entry is tif gtc");
  EXPECT_EQ(check_asset_rules(whole("GME", Side::buy, TimeInForce::day), a),
            rule + ": this trade's exits would be gtc (whole-share exits are); send \"exits\": "
                   "\"none\", native exits (a day bracket) or a fractional qty (day exits)");
  TradeSpec native = whole("GME", Side::buy, TimeInForce::day);
  native.exits = ExitMode::native;
  EXPECT_EQ(check_asset_rules(native, a), "");
  TradeSpec fractional = whole("GME", Side::buy, TimeInForce::day);
  fractional.qty = D("2.5");
  EXPECT_EQ(check_asset_rules(fractional, a), "");
  TradeSpec none = whole("GME", Side::buy, TimeInForce::day);
  none.exits = ExitMode::none;
  none.take_profit = {};
  EXPECT_EQ(check_asset_rules(none, a), "");
}

}  // namespace
}  // namespace orderly::server
