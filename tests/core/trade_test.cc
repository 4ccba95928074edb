// TradeSpec validation (the broker's rules, checked before anything is recorded) and exit prices.

#include "core/trade.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "core/audit.h"
#include "core/types.h"

namespace orderly {
namespace {

Decimal D(std::string_view s) { return Decimal::must(s); }

void market(TradeSpec& s) {
  s.entry_type = OrderType::market;
  s.entry_limit_price.reset();
}
void day_emulated(TradeSpec& s) {
  s.tif = TimeInForce::day;
  s.exits = ExitMode::emulated;
}

// A crypto limit buy with both exits, as Alpaca takes it (gtc, fractional, emulated exits).
void crypto(TradeSpec& s) {
  s.symbol = "BTC/USD";
  s.qty = D("0.01");
  s.entry_limit_price = D("60000");
  s.take_profit.price = D("61000");
  s.stop_loss = PriceTarget{D("59000"), std::nullopt};
  s.exits = ExitMode::emulated;
}

TradeSpec good() {
  TradeSpec s;
  s.symbol = "AAPL";
  s.side = Side::buy;
  s.qty = D("10");
  s.entry_type = OrderType::limit;
  s.entry_limit_price = D("150.25");
  s.tif = TimeInForce::gtc;
  s.take_profit.price = D("160");
  s.stop_loss = PriceTarget{D("140"), std::nullopt};
  s.exits = ExitMode::native;
  return s;
}

TEST(TradeValidate, GoodSpecIsValid) {
  EXPECT_EQ(validate(good()), "");
  TradeSpec s = good();
  s.entry_type = OrderType::market;
  s.entry_limit_price.reset();
  s.tif = TimeInForce::day;
  s.qty = D("0.5");  // fractional: market + day only
  s.take_profit = PriceTarget{std::nullopt, D("2")};
  s.stop_loss = PriceTarget{std::nullopt, D("1")};
  s.exits = ExitMode::emulated;
  EXPECT_EQ(validate(s), "");
  s.stop_loss.reset();
  EXPECT_EQ(validate(s), "");
  EXPECT_EQ(validate([] { TradeSpec t = good(); t.symbol = "BRK.B"; return t; }()), "");
  EXPECT_EQ(validate([] { TradeSpec t = good(); t.entry_limit_price = D("0.1234");
                          t.stop_loss = PriceTarget{D("0.1001"), {}}; t.take_profit.price = D("0.1501");
                          return t; }()), "");
}

struct BadCase {
  const char* name;
  void (*mutate)(TradeSpec&);
  const char* expect_in_message;
};

const BadCase kBad[] = {
    {"empty symbol", [](TradeSpec& s) { s.symbol = ""; }, "symbol"},
    {"long symbol", [](TradeSpec& s) { s.symbol = std::string(17, 'A'); }, "symbol"},
    {"lower-case symbol", [](TradeSpec& s) { s.symbol = "aapl"; }, "upper-case"},
    {"zero qty", [](TradeSpec& s) { s.qty = D("0"); }, "qty must be positive"},
    {"negative qty", [](TradeSpec& s) { s.qty = D("-1"); }, "qty must be positive"},
    {"stop entry without its stop", [](TradeSpec& s) { s.entry_type = OrderType::stop; },
     "a stop entry needs entry.stop_price"},
    {"trailing entry", [](TradeSpec& s) { s.entry_type = OrderType::trailing_stop; },
     "market, limit, stop or stop_limit"},
    {"limit without price", [](TradeSpec& s) { s.entry_limit_price.reset(); },
     "needs entry.limit_price"},
    {"market with price", [](TradeSpec& s) { s.entry_type = OrderType::market; }, "no limit_price"},
    {"sub-penny entry", [](TradeSpec& s) { s.entry_limit_price = D("290.123"); }, "sub-penny"},
    {"sub-0.0001 entry", [](TradeSpec& s) { s.entry_limit_price = D("0.12345"); }, "sub-penny"},
    {"zero entry price", [](TradeSpec& s) { s.entry_limit_price = D("0"); }, "positive"},
    {"fractional limit", [](TradeSpec& s) { s.qty = D("1.5"); }, "fractional"},
    {"fractional gtc market",
     [](TradeSpec& s) {
       s.entry_type = OrderType::market;
       s.entry_limit_price.reset();
       s.qty = D("1.5");
     },
     "fractional"},
    {"tp neither, native", [](TradeSpec& s) { s.take_profit = {}; }, "native exits"},
    {"tp both", [](TradeSpec& s) { s.take_profit.percent = D("2"); }, "take_profit needs exactly one"},
    {"tp sub-penny", [](TradeSpec& s) { s.take_profit.price = D("160.001"); }, "sub-penny"},
    {"tp negative percent",
     [](TradeSpec& s) { s.take_profit = PriceTarget{std::nullopt, D("-2")}; }, "percent must be positive"},
    {"sl neither", [](TradeSpec& s) { s.stop_loss = PriceTarget{}; }, "stop_loss needs exactly one"},
    {"sl percent 100", [](TradeSpec& s) { s.stop_loss = PriceTarget{std::nullopt, D("100")}; },
     "between 0 and 100"},
    {"sl percent 0", [](TradeSpec& s) { s.stop_loss = PriceTarget{std::nullopt, D("0")}; },
     "between 0 and 100"},
    {"sl sub-penny", [](TradeSpec& s) { s.stop_loss->price = D("139.999"); }, "sub-penny"},
    {"buy tp below sl", [](TradeSpec& s) { s.take_profit.price = D("130"); }, "above stop_loss"},
    {"buy tp equals sl", [](TradeSpec& s) { s.take_profit.price = D("140"); }, "above stop_loss"},
    {"sell tp above sl", [](TradeSpec& s) { s.side = Side::sell; }, "below stop_loss"},
    {"native without sl", [](TradeSpec& s) { s.stop_loss.reset(); }, "native exits"},
    // Issue 14: what could never protect the position is refused before anything is sent.
    {"buy tp below its entry limit",
     [](TradeSpec& s) { s.take_profit.price = D("150"); s.stop_loss->price = D("149"); },
     "take_profit 150 must be above the entry limit 150.25 for a buy"},
    {"buy stop above its entry limit", [](TradeSpec& s) { s.stop_loss->price = D("151"); },
     "stop_loss 151 must be below the entry limit 150.25 for a buy"},
    {"sell stop below its entry limit",
     [](TradeSpec& s) { s.side = Side::sell; s.take_profit.price = D("120");
                        s.stop_loss->price = D("150"); },
     "stop_loss 150 must be above the entry limit 150.25 for a sell"},
    {"tp beyond 50%", [](TradeSpec& s) { s.take_profit.price = D("240"); }, "beyond 50%"},
    {"stop beyond 50%", [](TradeSpec& s) { s.stop_loss->price = D("70"); }, "allow_wide"},
    {"tp percent beyond 50%",
     [](TradeSpec& s) { s.take_profit = PriceTarget{std::nullopt, D("60")}; }, "beyond 50%"},
    {"tp percent 0", [](TradeSpec& s) { s.take_profit = PriceTarget{std::nullopt, D("0")}; },
     "percent must be positive"},
    // Issue 17: each rule Alpaca applies to what it is sent, named before anything is sent.
    // Crypto (issue 17 item 3): each of Alpaca's crypto rules, named.
    {"crypto bracket", [](TradeSpec& s) { crypto(s); s.exits = ExitMode::native; },
     "native exits (bracket) are not taken for crypto"},
    {"crypto tif day", [](TradeSpec& s) { crypto(s); s.tif = TimeInForce::day; },
     "crypto takes tif gtc or ioc, not day"},
    {"crypto tif fok", [](TradeSpec& s) { crypto(s); s.tif = TimeInForce::fok; },
     "crypto takes tif gtc or ioc, not fok"},
    {"crypto stop entry",
     [](TradeSpec& s) { crypto(s); s.entry_type = OrderType::stop; s.entry_limit_price.reset();
                        s.entry_stop_price = D("60500"); },
     "Alpaca takes no plain stop order for crypto"},
    {"crypto short", [](TradeSpec& s) { crypto(s); s.side = Side::sell; },
     "cannot be sold short"},
    {"crypto extended hours", [](TradeSpec& s) { crypto(s); s.extended_hours = true; },
     "crypto trades 24/7"},
    {"crypto trailing stop",
     [](TradeSpec& s) { crypto(s); s.take_profit = {};
                        s.stop_loss = PriceTarget{.trail_percent = D("2")}; },
     "Alpaca takes no trailing stop for crypto"},
    {"crypto against bitcoin", [](TradeSpec& s) { crypto(s); s.symbol = "ETH/BTC"; },
     "must be a pair against USD"},
    {"crypto without a base", [](TradeSpec& s) { crypto(s); s.symbol = "/USD"; },
     "must be a pair against USD"},
    {"qty and notional", [](TradeSpec& s) { s.notional = D("500"); }, "qty or notional, not both"},
    {"zero notional", [](TradeSpec& s) { s.qty = D("0"); s.notional = D("0"); },
     "notional must be positive"},
    {"notional limit", [](TradeSpec& s) { s.qty = D("0"); s.notional = D("500"); },
     "a notional entry must be a market order"},
    {"notional gtc", [](TradeSpec& s) { market(s); s.qty = D("0"); s.notional = D("500"); },
     "needs tif day, not gtc"},
    {"notional sell",
     [](TradeSpec& s) { market(s); day_emulated(s); s.qty = D("0"); s.notional = D("500");
                        s.side = Side::sell; },
     "a notional entry cannot be a sell"},
    {"limit with a stop price", [](TradeSpec& s) { s.entry_stop_price = D("150"); },
     "a limit entry takes no stop_price"},
    {"stop with a limit price",
     [](TradeSpec& s) { s.entry_type = OrderType::stop; s.entry_stop_price = D("150"); },
     "a stop entry takes no limit_price"},
    {"stop_limit without its stop", [](TradeSpec& s) { s.entry_type = OrderType::stop_limit; },
     "a stop_limit entry needs entry.stop_price"},
    {"sub-penny entry stop",
     [](TradeSpec& s) { s.entry_type = OrderType::stop_limit; s.entry_stop_price = D("150.001"); },
     "entry stop_price 150.001 has a sub-penny"},
    {"extended hours market", [](TradeSpec& s) { market(s); s.extended_hours = true; },
     "extended_hours needs a limit entry with tif day"},
    {"extended hours gtc", [](TradeSpec& s) { s.extended_hours = true; },
     "extended_hours needs a limit entry with tif day"},
    {"extended hours bracket",
     [](TradeSpec& s) { s.tif = TimeInForce::day; s.extended_hours = true; },
     "cannot be extended_hours"},
    {"opg stop",
     [](TradeSpec& s) { s.entry_type = OrderType::stop; s.entry_limit_price.reset();
                        s.entry_stop_price = D("150"); s.tif = TimeInForce::opg; },
     "tif opg (an auction order) takes a market or limit entry"},
    {"cls stop_limit",
     [](TradeSpec& s) { s.entry_type = OrderType::stop_limit; s.entry_stop_price = D("150");
                        s.tif = TimeInForce::cls; },
     "tif cls (an auction order)"},
    {"bracket ioc", [](TradeSpec& s) { s.tif = TimeInForce::ioc; },
     "native exits (bracket) need tif day or gtc, not ioc"},
    {"tp trailing", [](TradeSpec& s) { s.take_profit.trail_percent = D("2"); },
     "trailing is for stop_loss"},
    {"sl price and trail", [](TradeSpec& s) { s.stop_loss->trail_percent = D("2"); },
     "exactly one of stop_price, percent, trail_percent or trail_price"},
    {"trail percent 100",
     [](TradeSpec& s) { s.exits = ExitMode::emulated; s.take_profit = {};
                        s.stop_loss = PriceTarget{.trail_percent = D("100")}; },
     "trail_percent must be between 0 and 100"},
    {"trail price sub-penny",
     [](TradeSpec& s) { s.exits = ExitMode::emulated; s.take_profit = {};
                        s.stop_loss = PriceTarget{.trail_price = D("1.505")}; },
     "trail_price 1.505 has a sub-penny"},
    {"trailing with a take-profit",
     [](TradeSpec& s) { s.exits = ExitMode::emulated;
                        s.stop_loss = PriceTarget{.trail_percent = D("2")}; },
     "a trailing stop_loss cannot be combined with a take_profit"},
    {"trailing fractional",
     [](TradeSpec& s) { market(s); day_emulated(s); s.qty = D("0.5"); s.take_profit = {};
                        s.stop_loss = PriceTarget{.trail_price = D("1")}; },
     "needs whole shares"},
    {"no exits", [](TradeSpec& s) { s.exits = ExitMode::emulated; s.take_profit = {};
                                    s.stop_loss.reset(); },
     "a trade needs a take_profit, a stop_loss or both"},
    {"exits none with a take-profit", [](TradeSpec& s) { s.exits = ExitMode::none; },
     "takes no take_profit or stop_loss"},
    {"buy tp below its entry stop",
     [](TradeSpec& s) { s.entry_type = OrderType::stop; s.entry_limit_price.reset();
                        s.entry_stop_price = D("165"); },
     "take_profit 160 must be above the entry stop 165 for a buy"},
};

// Every shape of issue 17 that Alpaca takes passes.
TEST(TradeValidate, EachTradeShapeAlpacaTakesIsValid) {
  const std::vector<std::pair<const char*, void (*)(TradeSpec&)>> shapes = {
      {"stop entry (breakout)",
       [](TradeSpec& s) { s.entry_type = OrderType::stop; s.entry_limit_price.reset();
                          s.entry_stop_price = D("150.25"); s.exits = ExitMode::emulated; }},
      {"stop_limit entry",
       [](TradeSpec& s) { s.entry_type = OrderType::stop_limit; s.entry_stop_price = D("150"); }},
      {"notional market day",
       [](TradeSpec& s) { market(s); day_emulated(s); s.qty = D("0"); s.notional = D("500"); }},
      {"fractional limit day", [](TradeSpec& s) { day_emulated(s); s.qty = D("0.5"); }},
      {"take-profit only", [](TradeSpec& s) { s.exits = ExitMode::emulated; s.stop_loss.reset(); }},
      {"stop-loss only", [](TradeSpec& s) { s.exits = ExitMode::emulated; s.take_profit = {}; }},
      {"trailing percent",
       [](TradeSpec& s) { s.exits = ExitMode::emulated; s.take_profit = {};
                          s.stop_loss = PriceTarget{.trail_percent = D("1.5")}; }},
      {"trailing price",
       [](TradeSpec& s) { s.exits = ExitMode::emulated; s.take_profit = {};
                          s.stop_loss = PriceTarget{.trail_price = D("0.50")}; }},
      {"no exits",
       [](TradeSpec& s) { s.exits = ExitMode::none; s.take_profit = {}; s.stop_loss.reset(); }},
      {"short with buy-side exits",
       [](TradeSpec& s) { s.side = Side::sell; s.take_profit.price = D("140");
                          s.stop_loss->price = D("160"); }},
      {"extended hours limit day",
       [](TradeSpec& s) { day_emulated(s); s.extended_hours = true; }},
      {"opening auction market", [](TradeSpec& s) { market(s); s.tif = TimeInForce::opg;
                                                    s.exits = ExitMode::emulated; }},
      {"ioc limit", [](TradeSpec& s) { s.tif = TimeInForce::ioc; s.exits = ExitMode::emulated; }},
      {"crypto limit gtc, fractional", crypto},
      {"crypto market ioc", [](TradeSpec& s) { crypto(s); market(s); s.tif = TimeInForce::ioc; }},
      {"crypto notional gtc",
       [](TradeSpec& s) { crypto(s); market(s); s.qty = D("0"); s.notional = D("250"); }},
      {"crypto stop_limit entry",
       [](TradeSpec& s) { crypto(s); s.entry_type = OrderType::stop_limit;
                          s.entry_stop_price = D("59900"); }},
      {"crypto qty of 9 decimals", [](TradeSpec& s) { crypto(s); s.qty = D("0.123456789"); }},
  };
  for (const auto& [name, mutate] : shapes) {
    TradeSpec s = good();
    mutate(s);
    EXPECT_EQ(validate(s), "") << name;
  }
}

TEST(ExitPrices, ATrailingStopHasNoPriceOfItsOwnAndATradeMayLackATakeProfit) {
  TradeSpec s = good();
  s.take_profit = {};
  s.stop_loss = PriceTarget{.trail_percent = D("2")};
  auto p = exit_prices(s, D("100"));
  ASSERT_TRUE(p.has_value());
  EXPECT_FALSE(p->take_profit.has_value());
  EXPECT_FALSE(p->stop_loss.has_value());
}

TEST(TradeValidate, WideExitsPassWhenTheRequestSaysSo) {
  TradeSpec s = good();
  s.take_profit.price = D("240");
  s.stop_loss->price = D("70");
  s.allow_wide = true;
  EXPECT_EQ(validate(s), "");
  s.stop_loss->price = D("151");
  EXPECT_NE(validate(s), "") << "the wrong side is refused even when wide is allowed";
}

// A stop_limit entry fills anywhere from its stop to its limit. Its stop-loss is judged at the
// stop too: one between the two prices is already crossed by a fill at the stop, and a percent
// take-profit resolved there can land across it (the OCO sent at the fill would be refused, the
// position left without an exit). Judged at the limit alone each of these passed.
TEST(TradeValidate, AStopLimitEntrysStopLossIsJudgedAtItsStopToo) {
  auto stop_limit = [](TradeSpec& s) {  // buy from 150 up to 152
    s.entry_type = OrderType::stop_limit;
    s.entry_stop_price = D("150");
    s.entry_limit_price = D("152");
    s.exits = ExitMode::emulated;
  };
  TradeSpec s = good();
  stop_limit(s);
  s.take_profit = PriceTarget{std::nullopt, D("0.5")};  // 150.75 at the stop, 152.76 at the limit
  s.stop_loss = PriceTarget{D("151"), std::nullopt};    // under the limit, over the stop
  EXPECT_EQ(validate(s),
            "stop_loss 151 must be below the entry stop 150 for a buy: the stop_limit entry can "
            "fill at its stop, where the stop-loss is already crossed; its take_profit 0.5% "
            "resolves to 150.75 there, across the stop-loss");
  s.take_profit = PriceTarget{D("153"), std::nullopt};
  EXPECT_EQ(validate(s),
            "stop_loss 151 must be below the entry stop 150 for a buy: the stop_limit entry can "
            "fill at its stop, where the stop-loss is already crossed");
  s.stop_loss->price = D("149.99");
  EXPECT_EQ(validate(s), "");
  s.take_profit = PriceTarget{std::nullopt, D("0.5")};
  EXPECT_EQ(validate(s), "") << "a percent target and a price that stay apart at both ends";
  // A limit short of its stop (buy once 150 trades, but only back at 149 or less): it never
  // fills at its stop, and its exits are judged at its limit alone.
  s.entry_limit_price = D("149");
  s.stop_loss->price = D("148.50");
  EXPECT_EQ(validate(s), "");

  // A short: sell from 150 down to 148; a stop-loss under the stop is crossed at a stop fill.
  s = good();
  stop_limit(s);
  s.side = Side::sell;
  s.entry_limit_price = D("148");
  s.take_profit = PriceTarget{std::nullopt, D("0.5")};  // 149.25 at the stop
  s.stop_loss = PriceTarget{D("149"), std::nullopt};
  EXPECT_EQ(validate(s),
            "stop_loss 149 must be above the entry stop 150 for a sell: the stop_limit entry "
            "can fill at its stop, where the stop-loss is already crossed; its take_profit 0.5% "
            "resolves to 149.25 there, across the stop-loss");
  s.stop_loss->price = D("150.01");
  EXPECT_EQ(validate(s), "");
}

// A limit entry's exits are judged at its limit, whatever form they take: a mixed pair whose
// price target sits across the limit is refused, naming it; a percent target is on its side by
// construction. A market entry's pair is judged at the fill (README "Trade rules").
TEST(TradeValidate, AMixedPairIsJudgedAtTheEntrysLimit) {
  TradeSpec s = good();  // buy limit 150.25
  s.exits = ExitMode::emulated;
  s.take_profit = PriceTarget{std::nullopt, D("2")};
  s.stop_loss = PriceTarget{D("150.30"), std::nullopt};
  EXPECT_EQ(validate(s), "stop_loss 150.30 must be below the entry limit 150.25 for a buy");
  s.stop_loss->price = D("150.24");
  EXPECT_EQ(validate(s), "");
  s.take_profit = PriceTarget{D("150.25"), std::nullopt};
  s.stop_loss = PriceTarget{std::nullopt, D("0.01")};
  EXPECT_EQ(validate(s), "take_profit 150.25 must be above the entry limit 150.25 for a buy");
  market(s);
  s.take_profit.price = D("100");
  EXPECT_EQ(validate(s), "") << "no price to judge a market entry's absolute target against";
}

TEST(TradeValidate, EachErrorIsNamed) {
  for (const BadCase& c : kBad) {
    TradeSpec s = good();
    c.mutate(s);
    const std::string err = validate(s);
    EXPECT_NE(err.find(c.expect_in_message), std::string::npos)
        << c.name << ": got '" << err << "'";
  }
}

TEST(ExitPrices, AbsolutePricesPassThrough) {
  auto p = exit_prices(good(), D("150.25"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->take_profit->str(), "160");
  EXPECT_EQ(p->stop_loss->str(), "140");
}

TEST(ExitPrices, PercentRoundsConservativelyForALong) {
  TradeSpec s = good();
  s.take_profit = PriceTarget{std::nullopt, D("3")};
  s.stop_loss = PriceTarget{std::nullopt, D("1.5")};
  // 10.01 * 1.03 = 10.3103 -> up to 10.32; 10.01 * 0.985 = 9.85985 -> down to 9.85.
  auto p = exit_prices(s, D("10.01"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->take_profit->str(), "10.32");
  EXPECT_EQ(p->stop_loss->str(), "9.85");
  // Exact results stay put, with penny formatting.
  p = exit_prices(s, D("100"));
  EXPECT_EQ(p->take_profit->str(), "103.00");
  EXPECT_EQ(p->stop_loss->str(), "98.50");
}

TEST(ExitPrices, PercentRoundsConservativelyForAShort) {
  TradeSpec s = good();
  s.side = Side::sell;
  s.take_profit = PriceTarget{std::nullopt, D("3")};
  s.stop_loss = PriceTarget{std::nullopt, D("1.5")};
  // TP below: 10.01 * 0.97 = 9.7097 -> down to 9.70; SL above: 10.01 * 1.015 = 10.16015 -> 10.17.
  auto p = exit_prices(s, D("10.01"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->take_profit->str(), "9.70");
  EXPECT_EQ(p->stop_loss->str(), "10.17");
}

TEST(ExitPrices, SubDollarUsesTheFinerTick) {
  TradeSpec s = good();
  s.take_profit = PriceTarget{std::nullopt, D("10")};
  s.stop_loss = PriceTarget{std::nullopt, D("10")};
  // 0.12345 * 1.1 = 0.135795 -> 0.1358; 0.12345 * 0.9 = 0.111105 -> 0.1111.
  auto p = exit_prices(s, D("0.12345"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->take_profit->str(), "0.1358");
  EXPECT_EQ(p->stop_loss->str(), "0.1111");
  // A take-profit that crosses $1.00 is priced on the penny grid.
  s.take_profit = PriceTarget{std::nullopt, D("5")};
  p = exit_prices(s, D("0.9524"));  // 0.9524 * 1.05 = 1.00002 -> 1.01
  EXPECT_EQ(p->take_profit->str(), "1.01");
}

// A crypto pair's price_increment coarser than the cent (Alpaca's example: "1" for BTC/USD):
// percent exits resolved at the fill land on it, rounded away from the market as before.
TEST(ExitPrices, ACryptoPercentExitIsOnThePairsPriceIncrement) {
  TradeSpec s;
  crypto(s);
  market(s);
  s.take_profit = PriceTarget{std::nullopt, D("2")};
  s.stop_loss = PriceTarget{std::nullopt, D("1.5")};
  // 60000.70 * 1.02 = 61200.714 -> 61200.72 on the cent; 60000.70 * 0.985 = 59100.6895 -> 59100.68.
  auto p = exit_prices(s, D("60000.70"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p->take_profit, D("61200.72"));  // no increment known: the cent, as before
  EXPECT_EQ(*p->stop_loss, D("59100.68"));
  s.price_increment = D("1");
  p = exit_prices(s, D("60000.70"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p->take_profit, D("61201"));  // up: the take-profit no nearer than asked
  EXPECT_EQ(*p->stop_loss, D("59100"));    // down: the stop no tighter than asked
  s.price_increment = D("0.5");
  p = exit_prices(s, D("60000.70"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p->take_profit, D("61201"));
  EXPECT_EQ(*p->stop_loss, D("59100.5"));
  // A price already on the increment stays put; a stated price is taken as it is.
  s.price_increment = D("1");
  p = exit_prices(s, D("60000"));
  EXPECT_EQ(*p->take_profit, D("61200"));
  EXPECT_EQ(*p->stop_loss, D("59100"));
  s.take_profit = PriceTarget{D("61000"), std::nullopt};
  p = exit_prices(s, D("60000.70"));
  EXPECT_EQ(*p->take_profit, D("61000"));
}

TEST(ExitPrices, RoundToTickTakesTheCoarserGridInTheGivenDirection) {
  EXPECT_EQ(round_to_tick(D("100.123"), Rounding::up, std::nullopt), D("100.13"));
  EXPECT_EQ(round_to_tick(D("100.123"), Rounding::up, D("0.25")), D("100.25"));
  EXPECT_EQ(round_to_tick(D("100.123"), Rounding::down, D("0.25")), D("100"));
  EXPECT_EQ(round_to_tick(D("100.123"), Rounding::down, D("0")), D("100.12"));  // none given
}

TEST(ExitPrices, InvalidSpecHasNone) {
  TradeSpec s = good();
  s.take_profit.percent = D("2");  // and a price: two targets
  EXPECT_FALSE(exit_prices(s, D("10")).has_value());
  s = good();
  s.take_profit = PriceTarget{std::nullopt, D("10")};
  EXPECT_FALSE(exit_prices(s, D("170000000000000000000")).has_value());  // overflow
}

TEST(Vocabulary, NamesRoundTrip) {
  for (auto v : {Side::buy, Side::sell}) EXPECT_EQ(parse_side(to_string(v)), v);
  for (auto v : {OrderType::market, OrderType::limit, OrderType::stop, OrderType::stop_limit,
                 OrderType::trailing_stop}) {
    EXPECT_EQ(parse_order_type(to_string(v)), v);
  }
  for (auto v : {TimeInForce::day, TimeInForce::gtc, TimeInForce::opg, TimeInForce::cls,
                 TimeInForce::ioc, TimeInForce::fok}) {
    EXPECT_EQ(parse_time_in_force(to_string(v)), v);
  }
  for (auto v : {OrderClass::simple, OrderClass::bracket, OrderClass::oco, OrderClass::oto,
                 OrderClass::mleg}) {
    EXPECT_EQ(parse_order_class(to_string(v)), v);
  }
  EXPECT_EQ(parse_order_class(""), OrderClass::simple);  // Alpaca sends "" for simple
  for (auto v : {OrderRole::entry, OrderRole::take_profit, OrderRole::stop_loss, OrderRole::exit}) {
    EXPECT_EQ(parse_order_role(to_string(v)), v);
  }
  for (auto v : {TradeState::pending, TradeState::open, TradeState::closing, TradeState::closed,
                 TradeState::canceled, TradeState::failed}) {
    EXPECT_EQ(parse_trade_state(to_string(v)), v);
  }
  for (auto v : {EventSource::intent, EventSource::response, EventSource::stream, EventSource::poll,
                 EventSource::lookup, EventSource::reconcile, EventSource::error}) {
    EXPECT_EQ(parse_event_source(to_string(v)), v);
  }
  for (auto v : {AlertKind::stream_down, AlertKind::sync_lag, AlertKind::stuck_order,
                 AlertKind::retry_storm, AlertKind::reconciliation_mismatch,
                 AlertKind::external_hold, AlertKind::rate_limit_near, AlertKind::order_parked,
                 AlertKind::anomaly, AlertKind::unreadable_broker_data,
                 AlertKind::unprotected_position}) {
    EXPECT_EQ(parse_alert_kind(to_string(v)), v);
  }
  EXPECT_FALSE(parse_side("BUY").has_value());
  EXPECT_FALSE(parse_order_type("").has_value());
  EXPECT_FALSE(parse_time_in_force("GTC").has_value());
  EXPECT_FALSE(parse_event_source("").has_value());
  EXPECT_EQ(opposite(Side::buy), Side::sell);
}

}  // namespace
}  // namespace orderly
