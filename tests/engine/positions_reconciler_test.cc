// Our positions judged against the broker's (issue 21), over a hand-built ledger and positions
// read. No engine, no broker.
#include "engine/positions_reconciler.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cover_world.h"
#include "ledger_builder.h"

namespace orderly {
namespace {

const auto d = test::dec;

class PositionsReconcilerTest : public ::testing::Test, private PositionsReconciler::Host {
 protected:
  PositionsReconcilerTest() { ledger_.put_trade(test::buy_trade(1, "IWM", "9")); }

  Order& add_entry(OrderType type, OrderState state, Side side = Side::buy) {
    Order o = test::order(++next_id_, 1, "IWM", OrderRole::entry, type, state, "9");
    o.side = side;
    if (state == OrderState::submitting) o.broker_order_id.reset();
    o.created_at = o.updated_at = Timestamp::from_ms(30'000);
    return ledger_.add(o);
  }
  // A read asked at `asked` showing `qty` of `symbol` (none for 0), then judged.
  void read(Timestamp asked, const std::string& symbol, const char* qty) {
    std::vector<BrokerPosition> held;
    if (!d(qty).is_zero()) held.push_back(BrokerPosition{symbol, d(qty), d(qty), d("220")});
    w_.read_positions(asked, held);
    reconciler_.reconcile(asked.plus_ms(100));
  }

  void set_sync(std::string_view key, std::string value) override {
    sync_state_[std::string(key)] = std::move(value);
  }
  void ask_about_entry(OrderId id, Timestamp) override { asked_.push_back(id); }

  test::CoverWorld w_{Timestamp::from_ms(20'000), Timestamp::from_ms(60'000)};
  Ledger& ledger_ = w_.ledger;
  std::map<std::string, std::string> sync_state_;
  Poll sweep_;
  Reconciliation reconciliation_;
  Alerts alerts_;
  EngineMetrics metrics_;
  PositionsReconciler reconciler_{
      {ledger_, w_.positions, w_.judge, sync_state_, sweep_, w_.catchup},
      {reconciliation_, alerts_, w_.protection_check, metrics_},
      *this};
  std::vector<OrderId> asked_;
  OrderId next_id_ = 0;
};

// A drift is raised on the second read in a row that shows it (one read may cross a fill in
// flight), once; a read that agrees clears it. A read asked before our own fill judges nothing.
TEST_F(PositionsReconcilerTest, ADriftIsRaisedOnTheSecondReadAndClearedWhenItGoes) {
  ledger_.set_position(Position{"IWM", d("9"), d("220")});
  read(Timestamp::from_ms(40'000), "IWM", "12");
  EXPECT_FALSE(alerts_.active(AlertKind::reconciliation_mismatch, "IWM"));
  read(Timestamp::from_ms(41'000), "IWM", "12");
  EXPECT_TRUE(alerts_.active(AlertKind::reconciliation_mismatch, "IWM"));
  read(Timestamp::from_ms(42'000), "IWM", "12");
  EXPECT_EQ(metrics_.reconcile_mismatches, 1) << "raised once";

  w_.positions.ask(99, Timestamp::from_ms(43'000));
  w_.positions.our_fill("IWM", Timestamp::from_ms(43'050));  // 3 more bought meanwhile
  ledger_.set_position(Position{"IWM", d("12"), d("220")});
  w_.positions.answered(99, {BrokerPosition{"IWM", d("9"), d("9"), d("220")}},
                        Timestamp::from_ms(43'100));
  reconciler_.reconcile(Timestamp::from_ms(43'100));
  EXPECT_TRUE(alerts_.active(AlertKind::reconciliation_mismatch, "IWM")) << "not judged";

  read(Timestamp::from_ms(44'000), "IWM", "12");
  EXPECT_FALSE(alerts_.active(AlertKind::reconciliation_mismatch, "IWM"));
  EXPECT_TRUE(reconciliation_.drifting().empty());
}

// The broker holds more than our known fills: each entry of ours on that side whose fill the
// read may show is asked about at once (one sent in this life and unanswered, a market or
// resting one the broker last told of before the read), not one of the other side.
TEST_F(PositionsReconcilerTest, EntriesThatMayHaveFilledUnheardAreAskedAbout) {
  const OrderId unanswered = add_entry(OrderType::market, OrderState::submitting).id;
  const OrderId resting = add_entry(OrderType::limit, OrderState::new_).id;
  add_entry(OrderType::limit, OrderState::new_, Side::sell);
  read(Timestamp::from_ms(40'000), "IWM", "9");
  EXPECT_EQ(asked_, (std::vector<OrderId>{unanswered, resting}));
  std::optional<ProtectionCheck::Round> check = w_.protection_check.begin(w_.now, 0);
  ASSERT_TRUE(check);
  EXPECT_EQ(check->symbols, std::set<std::string>{"IWM"}) << "a drifting symbol is judged again";

  asked_.clear();
  read(Timestamp::from_ms(41'000), "IWM", "0");
  EXPECT_TRUE(asked_.empty()) << "no drift, nothing to ask";
}

// A crypto buy counts as its fill less Alpaca's highest fee; a lower fee leaves dust at the
// broker, learned from the fill event's position and kept in the sync state: no drift.
TEST_F(PositionsReconcilerTest, CryptoDustAFillExplainsIsNoDrift) {
  Trade t = test::buy_trade(2, "BTC/USD", "1");
  ledger_.put_trade(t);
  const Order& buy = ledger_.add(test::order(++next_id_, 2, "BTC/USD", OrderRole::entry,
                                             OrderType::market, OrderState::filled, "1"));
  ledger_.set_position(Position{"BTC/USD", d("0.9975"), d("90000")});

  reconciler_.note_crypto_position(buy.id, d("0"), d("0.999"));
  EXPECT_EQ(sync_state_["crypto_dust:BTC/USD"], "0.0015");
  EXPECT_EQ(reconciler_.crypto_dust("BTC/USD"), d("0.0015"));
  read(Timestamp::from_ms(40'000), "BTC/USD", "0.999");
  read(Timestamp::from_ms(41'000), "BTC/USD", "0.999");
  EXPECT_FALSE(alerts_.active(AlertKind::reconciliation_mismatch, "BTC/USD"));

  reconciler_.note_crypto_position(buy.id, d("0"), d("1.5"));
  EXPECT_EQ(sync_state_["crypto_dust:BTC/USD"], "0.0015") << "more than a fee: not dust";
}

}  // namespace
}  // namespace orderly
