// The Transaction (issue 21): an input's changes committed as one batch with the commands they
// staged, or rolled back with everything the parts above it must undo. Over an EngineState and a
// MemoryStore; the parts above are this fixture (Transaction::Host). No engine, no broker.
#include "engine/transaction.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "fakes.h"
#include "ledger_builder.h"

namespace orderly {
namespace {

const auto d = test::dec;

class TransactionTest : public ::testing::Test,
                        private ProtectionMonitor::Host,
                        private CommandRelease::Host,
                        private PositionsReconciler::Host,
                        private InflightCheck::Host,
                        private Transaction::Host {
 protected:
  // A buy of 9 IWM with its entry `state` at the broker, held before any input.
  void hold_entry(OrderState state) {
    s_.ledger.put_trade(test::buy_trade(1, "IWM", "9"));
    s_.ledger.add(test::order(1, 1, "IWM", OrderRole::entry, OrderType::market, state, "9"));
  }
  Command submit_of(OrderId id) {
    Command c;
    c.kind = CommandKind::submit;
    c.priority = CommandPriority::entry;
    c.order_id = id;
    return c;
  }

  const Timestamp now_ = Timestamp::from_ms(1'700'000'000'000);
  testing::MemoryStore store_;
  EngineState s_{store_, EngineConfig{}, {*this, *this, *this, *this}};
  Transaction tx_{s_, *this};
  // What the transaction told the parts above it.
  std::vector<std::string> fetches_failed_;
  std::set<OrderId> wash_priced_checked_;

 private:
  void set_sync(std::string_view, std::string) override {}
  void audit_gap(const Order&, const std::string&, Timestamp) override {}
  void touch_trades_of(const std::string&) override {}
  void keep_oversold_trades() override {}
  void note_sent(const Command&, Timestamp) override {}
  void ask_about_entry(OrderId, Timestamp) override {}
  void stage_resolve(OrderId) override {}
  void stage_refresh(OrderId, Timestamp, bool) override {}
  void check_unresolved_leg(OrderId, Timestamp) override {}
  void start_recovery() override {}
  void abandon_recovery(bool) override {}
  void begin_full_resync(Timestamp) override {}
  void unknown_fill_fetch_failed(const std::string& broker_order_id) override {
    fetches_failed_.push_back(broker_order_id);
  }
  bool oversold_still_charged(TradeId) override { return false; }
  void track_wash_priced(OrderId id) override { wash_priced_checked_.insert(id); }
};

TEST_F(TransactionTest, AnInputsCommandsLeaveOnlyOnceItsRowsAreCommitted) {
  s_.ledger.put_trade(test::buy_trade(1, "IWM", "9"));
  tx_.begin();
  Order entry =
      test::order(1, 1, "IWM", OrderRole::entry, OrderType::market, OrderState::created, "9");
  entry.broker_order_id.reset();
  const Order& o = tx_.insert_order(entry);
  tx_.audit(o, std::nullopt, EventSource::intent, "trade opened: entry", {}, now_);
  tx_.stage(submit_of(1), Purpose::send, 1);
  EXPECT_EQ(s_.outbox.queued(), 0u);  // staged, not releasable before the commit

  ASSERT_TRUE(tx_.finish(now_).ok());
  EXPECT_EQ(store_.commits, 1);
  ASSERT_EQ(store_.orders.count(1), 1u);
  EXPECT_EQ(store_.orders.at(1).state, OrderState::created);
  ASSERT_EQ(store_.events.size(), 1u);
  EXPECT_EQ(store_.events[0].note, "trade opened: entry");
  EXPECT_EQ(s_.outbox.queued(), 1u);
}

TEST_F(TransactionTest, AFailedCommitUndoesTheInputAndWhatThePartsAboveKeptOfIt) {
  hold_entry(OrderState::new_);
  tx_.begin();
  ASSERT_TRUE(tx_.apply(1, {OrderState::filled, d("9"), d("230"), now_}, EventSource::stream,
                        "fill", {}, now_));
  EXPECT_EQ(s_.ledger.position_qty("IWM"), d("9"));
  tx_.note_unknown_fetch("b-77");
  tx_.set_sync("k", "v");
  tx_.stage(submit_of(1), Purpose::send, 1);
  store_.fail_commits = 1;

  EXPECT_FALSE(tx_.finish(now_).ok());
  // Nothing of the input is left: the order, the position, the sync key, the command.
  EXPECT_EQ(s_.ledger.order_at(1).state, OrderState::new_);
  EXPECT_TRUE(s_.ledger.order_at(1).filled_qty.is_zero());
  EXPECT_TRUE(s_.ledger.position_qty("IWM").is_zero());
  EXPECT_EQ(s_.sync_state.count("k"), 0u);
  EXPECT_FALSE(s_.outbox.any_staged());
  EXPECT_EQ(s_.outbox.queued(), 0u);
  EXPECT_TRUE(store_.orders.empty());
  // The parts above hear what they kept of it; the fill is found again by a resync.
  EXPECT_EQ(fetches_failed_, std::vector<std::string>{"b-77"});
  EXPECT_EQ(wash_priced_checked_, std::set<OrderId>{1});
  EXPECT_TRUE(s_.resync_due);
  EXPECT_EQ(s_.touched_trades.count(1), 1u);
  EXPECT_TRUE(s_.alerts.active(AlertKind::anomaly, "store"));
}

TEST_F(TransactionTest, EvidenceTheStateMachineRefusesChangesNothingAndIsAudited) {
  hold_entry(OrderState::filled);
  tx_.begin();
  // A late `new` after the fill: stale, refused without an alert.
  EXPECT_FALSE(tx_.apply(1, {OrderState::new_, std::nullopt, std::nullopt, now_},
                         EventSource::stream, "late new", {}, now_));
  EXPECT_FALSE(s_.alerts.active(AlertKind::anomaly, "c-1"));
  // A filled quantity going back: refused and raised.
  EXPECT_FALSE(tx_.apply(1, {OrderState::partially_filled, d("4"), d("230"), now_},
                         EventSource::stream, "partial fill of 4", {}, now_));
  EXPECT_TRUE(s_.alerts.active(AlertKind::anomaly, "c-1"));
  EXPECT_EQ(s_.ledger.order_at(1).state, OrderState::filled);
  EXPECT_EQ(s_.ledger.order_at(1).filled_qty, d("9"));
  ASSERT_TRUE(tx_.finish(now_).ok());
  // Both refusals are in the order's audit trail; the order is as it was.
  EXPECT_EQ(store_.orders.at(1).state, OrderState::filled);
  ASSERT_EQ(store_.events.size(), 2u);
  EXPECT_EQ(store_.events[0].note.rfind("refused (stale)", 0), 0u) << store_.events[0].note;
  EXPECT_EQ(store_.events[1].note.rfind("refused (fill_regressed)", 0), 0u)
      << store_.events[1].note;
}

TEST_F(TransactionTest, TheInputsOfAGroupCommitTogether) {
  hold_entry(OrderState::new_);
  tx_.begin_group();
  for (const char* filled : {"4", "9"}) {
    tx_.begin();
    const OrderState to =
        std::string(filled) == "9" ? OrderState::filled : OrderState::partially_filled;
    ASSERT_TRUE(
        tx_.apply(1, {to, d(filled), d("230"), now_}, EventSource::stream, "fill", {}, now_));
    tx_.finish_input(now_);
  }
  EXPECT_EQ(store_.commits, 0);  // waiting in the group's transaction
  ASSERT_TRUE(tx_.end_group());
  ASSERT_TRUE(tx_.finish(now_).ok());
  EXPECT_EQ(store_.commits, 1);
  EXPECT_EQ(store_.orders.at(1).state, OrderState::filled);
  EXPECT_EQ(store_.events.size(), 2u);
}

}  // namespace
}  // namespace orderly
