// Whether a trade may be taken beside our others (issue 21), judged on a hand-built ledger and
// positions read. No engine, no broker.
#include "engine/admission.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "ledger_builder.h"

namespace orderly {
namespace {

const auto d = test::dec;

class AdmissionTest : public ::testing::Test {
 protected:
  // Trade `id`: a pending buy of 9 IWM whose limit entry rests at the broker at `limit`.
  void resting_buy(TradeId id, const char* limit) {
    Trade t = test::buy_trade(id, "IWM", "9");
    t.spec.entry_type = OrderType::limit;
    t.spec.entry_limit_price = d(limit);
    t.spec.take_profit.price = d("260");
    ledger_.put_trade(t);
    Order& e = ledger_.add(test::order(++next_id_, id, "IWM", OrderRole::entry, OrderType::limit,
                                       OrderState::new_, "9"));
    e.limit_price = d(limit);
  }
  // A market buy of `qty` IWM whose only exit is a stop at 210.
  static TradeSpec stop_only(const char* qty = "5") {
    TradeSpec s = test::buy_trade(0, "IWM", qty).spec;
    s.stop_loss = PriceTarget{.price = d("210")};
    return s;
  }

  Ledger ledger_;
  PositionsRead positions_;
  std::set<std::string> oversold_;
  TradeAdmission admission_{{ledger_, positions_, oversold_}};
  OrderId next_id_ = 0;
};

// Trades on one symbol in both directions at once would each protect a position the other
// cancels out: the other direction waits; scaling in does not.
TEST_F(AdmissionTest, TheOtherDirectionWaitsForTheSymbolsTradesToEnd) {
  resting_buy(1, "200");
  TradeSpec sell = stop_only();
  sell.side = Side::sell;
  EXPECT_EQ(admission_.refuse_reversal(sell),
            "trade 1 on IWM is pending in the other direction: close or cancel it before "
            "opening a sell trade on the symbol");
  EXPECT_EQ(admission_.refuse_reversal(stop_only()), "");
}

// A lone stop is a simple stop order, which Alpaca's wash-trade check refuses beside our buy
// limit resting past it, a stand-in judged at its trade's own price too (DST trades seed
// 20770000000824); one resting short of the stop leaves a stop_limit a price to pass it at.
TEST_F(AdmissionTest, ALoneStopBesideOurRestingEntryPastItIsRefused) {
  resting_buy(1, "212");
  const std::string why = admission_.refuse_unprotectable_pair(stop_only(), 0, std::nullopt);
  EXPECT_NE(why.find("the stop-loss 210 would be this trade's only exit"), std::string::npos)
      << why;
  EXPECT_NE(why.find("buy limit entry c-1 at 212 (trade 1)"), std::string::npos) << why;

  ledger_.order(1)->limit_price = d("205");  // a stand-in: back at 212 once our orders move
  EXPECT_NE(admission_.refuse_unprotectable_pair(stop_only(), 0, std::nullopt), "");

  ledger_.order(1)->state = OrderState::canceled;
  resting_buy(2, "205");
  EXPECT_EQ(admission_.refuse_unprotectable_pair(stop_only(), 0, std::nullopt), "");
}

// A fractional sell entry opens a short unless a long covers it, and Alpaca sells no fractional
// shares short: refused, or asked again once a positions read after our last fill tells.
TEST_F(AdmissionTest, AFractionalSellNeedsALongTheBrokerShows) {
  TradeSpec sell = test::buy_trade(0, "IWM", "0.5").spec;
  sell.side = Side::sell;
  EXPECT_EQ(admission_.refuse_fractional_short(sell).code(), Status::Code::invalid_argument);

  positions_.ask(1, Timestamp::from_ms(1'000));
  positions_.answered(1, {BrokerPosition{"IWM", d("2"), d("2"), d("220")}},
                      Timestamp::from_ms(1'100));
  EXPECT_TRUE(admission_.refuse_fractional_short(sell).ok());

  positions_.our_fill("IWM", Timestamp::from_ms(1'200));  // it may have sold the long since
  EXPECT_EQ(admission_.refuse_fractional_short(sell).code(), Status::Code::unavailable);
}

}  // namespace
}  // namespace orderly
