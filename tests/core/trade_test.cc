// TradeSpec validation (the broker's rules, checked before anything is recorded) and exit prices.

#include "core/trade.h"

#include <gtest/gtest.h>

#include "core/audit.h"
#include "core/types.h"

namespace orderly {
namespace {

Decimal D(std::string_view s) { return Decimal::must(s); }

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
    {"stop entry", [](TradeSpec& s) { s.entry_type = OrderType::stop; }, "market or limit"},
    {"limit without price", [](TradeSpec& s) { s.entry_limit_price.reset(); }, "needs limit_price"},
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
    {"tp neither", [](TradeSpec& s) { s.take_profit = {}; }, "take_profit needs exactly one"},
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
};

TEST(TradeValidate, WideExitsPassWhenTheRequestSaysSo) {
  TradeSpec s = good();
  s.take_profit.price = D("240");
  s.stop_loss->price = D("70");
  s.allow_wide = true;
  EXPECT_EQ(validate(s), "");
  s.stop_loss->price = D("151");
  EXPECT_NE(validate(s), "") << "the wrong side is refused even when wide is allowed";
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
  EXPECT_EQ(p->take_profit.str(), "160");
  EXPECT_EQ(p->stop_loss->str(), "140");
}

TEST(ExitPrices, PercentRoundsConservativelyForALong) {
  TradeSpec s = good();
  s.take_profit = PriceTarget{std::nullopt, D("3")};
  s.stop_loss = PriceTarget{std::nullopt, D("1.5")};
  // 10.01 * 1.03 = 10.3103 -> up to 10.32; 10.01 * 0.985 = 9.85985 -> down to 9.85.
  auto p = exit_prices(s, D("10.01"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->take_profit.str(), "10.32");
  EXPECT_EQ(p->stop_loss->str(), "9.85");
  // Exact results stay put, with penny formatting.
  p = exit_prices(s, D("100"));
  EXPECT_EQ(p->take_profit.str(), "103.00");
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
  EXPECT_EQ(p->take_profit.str(), "9.70");
  EXPECT_EQ(p->stop_loss->str(), "10.17");
}

TEST(ExitPrices, SubDollarUsesTheFinerTick) {
  TradeSpec s = good();
  s.take_profit = PriceTarget{std::nullopt, D("10")};
  s.stop_loss = PriceTarget{std::nullopt, D("10")};
  // 0.12345 * 1.1 = 0.135795 -> 0.1358; 0.12345 * 0.9 = 0.111105 -> 0.1111.
  auto p = exit_prices(s, D("0.12345"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->take_profit.str(), "0.1358");
  EXPECT_EQ(p->stop_loss->str(), "0.1111");
  // A take-profit that crosses $1.00 is priced on the penny grid.
  s.take_profit = PriceTarget{std::nullopt, D("5")};
  p = exit_prices(s, D("0.9524"));  // 0.9524 * 1.05 = 1.00002 -> 1.01
  EXPECT_EQ(p->take_profit.str(), "1.01");
}

TEST(ExitPrices, InvalidSpecHasNone) {
  TradeSpec s = good();
  s.take_profit = {};
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
