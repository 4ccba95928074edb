// The cover judge (issue 21): whether a symbol's position is covered, judged on a hand-built
// ledger and the sync state the engine would hold. No engine, no broker.
#include "engine/cover_judge.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "cover_world.h"
#include "ledger_builder.h"

namespace orderly {
namespace {

const auto d = test::dec;

class CoverJudgeTest : public ::testing::Test {
 protected:
  CoverJudgeTest() {
    Trade t = test::buy_trade(1, "IWM", "9");
    t.spec.exits = ExitMode::emulated;
    t.spec.take_profit.price = d("230");
    ledger_.put_trade(t);
  }

  Order& add(OrderRole role, OrderType type, OrderState state, const char* filled = "0") {
    Order o = test::order(++next_id_, 1, "IWM", role, type, state, "9");
    o.filled_qty = d(filled);
    o.created_at = o.updated_at = Timestamp::from_ms(10'000);
    o.broker_updated_at = o.created_at;
    return ledger_.add(o);
  }
  // A positions read asked at `asked` and answered with `qty` IWM (none for 0).
  void read_positions(Timestamp asked, const char* qty) {
    std::vector<BrokerPosition> held;
    if (!d(qty).is_zero()) held.push_back(BrokerPosition{"IWM", d(qty), d(qty), d("220")});
    w_.read_positions(asked, held);
  }

  test::CoverWorld w_{Timestamp::from_ms(20'000), Timestamp::from_ms(21'000)};
  Ledger& ledger_ = w_.ledger;
  std::unordered_map<OrderId, OrderAux>& aux_ = w_.aux;
  Blindness& blindness_ = w_.blindness;
  Poll& catchup_ = w_.catchup;
  Timestamp& now_ = w_.now;
  CoverJudge& judge_ = w_.judge;
  OrderId next_id_ = 0;
};

// DST trades seed 29900000000392: a market buy the broker last called `accepted`, filled unheard
// before a kill; the next life's sweep found it missing from the open orders and no read has
// answered since. It may have filled: no cover, the gap dated from when it was sent. A read
// asked after it showing nothing held settles it.
TEST_F(CoverJudgeTest, AnEntryMissingFromTheSweepMayHaveFilledUntilAReadSaysOtherwise) {
  const Order& entry = add(OrderRole::entry, OrderType::market, OrderState::accepted);
  EXPECT_TRUE(judge_.judge("IWM", false).ok) << "working at the broker as far as we know";

  aux_[entry.id].unconfirmed_since = Timestamp::from_ms(20'500);  // the sweep found it missing
  CoverJudge::Cover c = judge_.judge("IWM", false);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.began, entry.created_at);
  EXPECT_NE(c.why.find("whose outcome is not known yet, may have filled"), std::string::npos)
      << c.why;

  read_positions(Timestamp::from_ms(20'800), "0");
  EXPECT_TRUE(judge_.judge("IWM", false).ok) << "a read asked since shows nothing held";
  read_positions(Timestamp::from_ms(20'900), "9");
  EXPECT_FALSE(judge_.judge("IWM", false).ok) << "a read asked since shows the fill";
}

// A filled entry covered by a working take-profit is protected, unless events may have been
// missed past the grace with no sweep since (the exit may have been canceled unheard), or the
// sweep found the exit missing and the broker has not answered for it since.
TEST_F(CoverJudgeTest, AWorkingExitCoversUnlessBlindOrMissing) {
  add(OrderRole::entry, OrderType::market, OrderState::filled, "9");
  const Order& tp = add(OrderRole::take_profit, OrderType::limit, OrderState::new_);
  EXPECT_TRUE(judge_.judge("IWM", false).ok);
  EXPECT_EQ(judge_.book_of("IWM").net(), d("9"));

  blindness_.begins(Timestamp::from_ms(12'000));
  CoverJudge::Cover blind = judge_.judge("IWM", true);
  EXPECT_FALSE(blind.ok);
  EXPECT_EQ(blind.began, Timestamp::from_ms(12'000)) << "when the blindness began";
  EXPECT_NE(blind.why.find("events may have been missed since 9000 ms ago"), std::string::npos)
      << blind.why;

  aux_[tp.id].unconfirmed_since = Timestamp::from_ms(15'000);
  EXPECT_TRUE(judge_.unconfirmed(tp.id));
  CoverJudge::Cover missing = judge_.judge("IWM", false);
  EXPECT_FALSE(missing.ok);
  EXPECT_EQ(missing.why, "; an exit missing from the broker's open orders is not confirmed");
}

// No fill catch-up answered for the idle interval and the grace: a limit entry of ours resting
// at the broker may have filled unheard, and the symbol is judged uncovered from then.
TEST_F(CoverJudgeTest, FillsUnknownForLongerThanTheGraceUncoverAWorkingEntry) {
  add(OrderRole::entry, OrderType::limit, OrderState::new_);
  catchup_.begin(Timestamp::from_ms(15'000));
  catchup_.completed(Timestamp::from_ms(15'400));
  now_ = Timestamp::from_ms(20'899);
  EXPECT_FALSE(judge_.fills_unknown_since(now_).has_value());
  EXPECT_TRUE(judge_.judge("IWM", false).ok) << "a catch-up answered 5.499 s ago: within";

  now_ = Timestamp::from_ms(21'000);
  EXPECT_EQ(judge_.fills_unknown_since(now_), Timestamp::from_ms(15'400));
  CoverJudge::Cover c = judge_.judge("IWM", false);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.began, Timestamp::from_ms(15'400));
  EXPECT_NE(c.why.find("no fill catch-up has answered for 5600 ms"), std::string::npos) << c.why;
}

}  // namespace
}  // namespace orderly
