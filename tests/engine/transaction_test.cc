// The Transaction (issue 21): an input's changes committed as one batch with the commands they
// staged, or rolled back with everything the parts above it must undo. Over an EngineState and
// the in-memory store (state_world.h, which records what the parts above are told). No engine,
// no broker.
#include "engine/transaction.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "ledger_builder.h"
#include "state_world.h"

namespace orderly {
namespace {

const auto d = test::dec;

class TransactionTest : public ::testing::Test, protected test::StateWorld {
 protected:
  Command submit_of(OrderId id) {
    Command c;
    c.kind = CommandKind::submit;
    c.priority = CommandPriority::entry;
    c.order_id = id;
    return c;
  }
};

TEST_F(TransactionTest, AnInputsCommandsLeaveOnlyOnceItsRowsAreCommitted) {
  s.ledger.put_trade(test::buy_trade(1, "IWM", "9"));
  tx.begin();
  Order entry =
      test::order(1, 1, "IWM", OrderRole::entry, OrderType::market, OrderState::created, "9");
  entry.broker_order_id.reset();
  const Order& o = tx.insert_order(entry);
  tx.audit(o, std::nullopt, EventSource::intent, "trade opened: entry", {}, now);
  tx.stage(submit_of(1), Purpose::send, 1);
  EXPECT_EQ(s.outbox.queued(), 0u);  // staged, not releasable before the commit

  ASSERT_TRUE(tx.finish(now).ok());
  EXPECT_EQ(store.commits, 1);
  ASSERT_EQ(store.orders.count(1), 1u);
  EXPECT_EQ(store.orders.at(1).state, OrderState::created);
  ASSERT_EQ(store.events.size(), 1u);
  EXPECT_EQ(store.events[0].note, "trade opened: entry");
  EXPECT_EQ(s.outbox.queued(), 1u);
}

TEST_F(TransactionTest, AFailedCommitUndoesTheInputAndWhatThePartsAboveKeptOfIt) {
  hold_entry(OrderState::new_);
  tx.begin();
  ASSERT_TRUE(tx.apply(1, {OrderState::filled, d("9"), d("230"), now}, EventSource::stream, "fill",
                       {}, now));
  EXPECT_EQ(s.ledger.position_qty("IWM"), d("9"));
  tx.note_unknown_fetch("b-77");
  tx.set_sync("k", "v");
  tx.stage(submit_of(1), Purpose::send, 1);
  store.fail_commits = 1;

  EXPECT_FALSE(tx.finish(now).ok());
  // Nothing of the input is left: the order, the position, the sync key, the command.
  EXPECT_EQ(s.ledger.order_at(1).state, OrderState::new_);
  EXPECT_TRUE(s.ledger.order_at(1).filled_qty.is_zero());
  EXPECT_TRUE(s.ledger.position_qty("IWM").is_zero());
  EXPECT_EQ(s.sync_state.count("k"), 0u);
  EXPECT_FALSE(s.outbox.any_staged());
  EXPECT_EQ(s.outbox.queued(), 0u);
  EXPECT_TRUE(store.orders.empty());
  // The parts above hear what they kept of it; the fill is found again by a resync.
  EXPECT_EQ(fetches_failed, std::vector<std::string>{"b-77"});
  EXPECT_EQ(wash_priced_checked, std::set<OrderId>{1});
  EXPECT_TRUE(s.resync_due);
  EXPECT_EQ(s.touched_trades.count(1), 1u);
  EXPECT_TRUE(s.alerts.active(AlertKind::anomaly, "store"));
}

TEST_F(TransactionTest, EvidenceTheStateMachineRefusesChangesNothingAndIsAudited) {
  hold_entry(OrderState::filled);
  tx.begin();
  // A late `new` after the fill: stale, refused without an alert.
  EXPECT_FALSE(tx.apply(1, {OrderState::new_, std::nullopt, std::nullopt, now}, EventSource::stream,
                        "late new", {}, now));
  EXPECT_FALSE(s.alerts.active(AlertKind::anomaly, "c-1"));
  // A filled quantity going back: refused and raised.
  EXPECT_FALSE(tx.apply(1, {OrderState::partially_filled, d("4"), d("230"), now},
                        EventSource::stream, "partial fill of 4", {}, now));
  EXPECT_TRUE(s.alerts.active(AlertKind::anomaly, "c-1"));
  EXPECT_EQ(s.ledger.order_at(1).state, OrderState::filled);
  EXPECT_EQ(s.ledger.order_at(1).filled_qty, d("9"));
  ASSERT_TRUE(tx.finish(now).ok());
  // Both refusals are in the order's audit trail; the order is as it was.
  EXPECT_EQ(store.orders.at(1).state, OrderState::filled);
  ASSERT_EQ(store.events.size(), 2u);
  EXPECT_EQ(store.events[0].note.rfind("refused (stale)", 0), 0u) << store.events[0].note;
  EXPECT_EQ(store.events[1].note.rfind("refused (fill_regressed)", 0), 0u) << store.events[1].note;
}

TEST_F(TransactionTest, TheInputsOfAGroupCommitTogether) {
  hold_entry(OrderState::new_);
  tx.begin_group();
  for (const char* filled : {"4", "9"}) {
    tx.begin();
    const OrderState to =
        std::string(filled) == "9" ? OrderState::filled : OrderState::partially_filled;
    ASSERT_TRUE(tx.apply(1, {to, d(filled), d("230"), now}, EventSource::stream, "fill", {}, now));
    tx.finish_input(now);
  }
  EXPECT_EQ(store.commits, 0);  // waiting in the group's transaction
  ASSERT_TRUE(tx.end_group());
  ASSERT_TRUE(tx.finish(now).ok());
  EXPECT_EQ(store.commits, 1);
  EXPECT_EQ(store.orders.at(1).state, OrderState::filled);
  EXPECT_EQ(store.events.size(), 2u);
}

}  // namespace
}  // namespace orderly
