// The command release (issue 21): which queued commands leave within the rate budget, over a
// hand-built ledger and outbox. No engine, no broker.
#include "engine/release.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cover_world.h"
#include "ledger_builder.h"

namespace orderly {
namespace {

const auto d = test::dec;

class CommandReleaseTest : public ::testing::Test, private CommandRelease::Host {
 protected:
  // A buy of 9 IWM whose exits the engine places (emulated) or the broker (native).
  TradeId add_trade(ExitMode exits) {
    Trade t = test::buy_trade(++next_trade_, "IWM", "9");
    t.spec.exits = exits;
    ledger_.put_trade(t);
    return t.id;
  }
  Order& add(TradeId trade, OrderRole role, OrderState state) {
    const bool tp = role == OrderRole::take_profit;
    Order o = test::order(++next_order_, trade, "IWM", role,
                          tp ? OrderType::limit : OrderType::market, state, "9");
    if (tp) o.limit_price = d("230");
    if (state == OrderState::submitting) o.broker_order_id.reset();
    return ledger_.add(o);
  }
  // Staged and committed: queued for release.
  CommandId queue(CommandKind kind, CommandPriority priority, OrderId order) {
    Command c;
    c.kind = kind;
    c.priority = priority;
    c.order_id = order;
    const CommandId id = outbox_.stage(c, Purpose::send, 0);
    outbox_.commit_staged();
    return id;
  }
  // `n` trades, each with its entry queued.
  std::vector<TradeId> queue_entries(int n, ExitMode exits) {
    std::vector<TradeId> trades;
    for (int i = 0; i < n; ++i) {
      trades.push_back(add_trade(exits));
      queue(CommandKind::submit, CommandPriority::entry,
            add(trades.back(), OrderRole::entry, OrderState::submitting).id);
    }
    return trades;
  }
  static std::vector<OrderId> orders_of(const std::vector<Command>& cs) {
    std::vector<OrderId> out;
    for (const Command& c : cs) out.push_back(c.order_id);
    return out;
  }

  void note_sent(const Command& c, Timestamp) override { sent_.push_back(c.order_id); }

  test::CoverWorld w_{Timestamp::from_ms(0), Timestamp::from_ms(60'000)};
  Ledger& ledger_ = w_.ledger;
  StreamWatch stream_;
  SyncCadence cadence_{{1'000, 500, 10'000}, stream_};
  Poll sweep_;
  CommandId catchup_first_page_ = 0;
  WayClearing clearing_;
  Outbox outbox_;
  RateBudget budget_{{30, 1000, 100}};
  CommandRelease release_{
      {5'000},
      {ledger_, w_.aux, w_.judge, cadence_, sweep_, catchup_first_page_, clearing_},
      outbox_,
      budget_,
      *this};
  std::vector<OrderId> sent_;
  TradeId next_trade_ = 0;
  OrderId next_order_ = 0;
};

// A replace of an exit that filled in part while it waited (DST seed 901335: the broker would
// count its whole qty against what is left), and an entry that would now meet an exit of ours
// placed meanwhile in the wash-trade check, are withheld for the next input to judge; the rest
// leaves, and only submits and replaces are noted as sent.
TEST_F(CommandReleaseTest, WhatWasOvertakenWhileItWaitedIsWithheld) {
  const TradeId first = add_trade(ExitMode::emulated);
  add(first, OrderRole::entry, OrderState::filled).filled_qty = d("9");
  Order& old_tp = add(first, OrderRole::take_profit, OrderState::accepted);
  old_tp.broker_order_id = "b-tp";
  Order& grown = add(first, OrderRole::take_profit, OrderState::submitting);
  grown.replaces_order_id = old_tp.id;
  const OrderId grown_id = grown.id;
  const TradeId second = add_trade(ExitMode::emulated);
  const OrderId entry = add(second, OrderRole::entry, OrderState::submitting).id;

  const CommandId replace = queue(CommandKind::replace, CommandPriority::protective, grown_id);
  queue(CommandKind::submit, CommandPriority::entry, entry);
  queue(CommandKind::get_order, CommandPriority::lookup, old_tp.id);
  ledger_.order(old_tp.id)->filled_qty = d("3");  // filled in part before the replace left

  CommandRelease::Released r = release_.take(w_.now);
  EXPECT_EQ(orders_of(r.commands), std::vector<OrderId>{old_tp.id}) << "only the lookup leaves";
  EXPECT_TRUE(r.trading) << "a protective command and an entry waited";
  EXPECT_TRUE(sent_.empty()) << "a lookup is not audited as sent";
  EXPECT_EQ(outbox_.queued(), 0u);
  EXPECT_FALSE(outbox_.answered(replace)) << "withdrawn: an answer to it is none of ours";
  EXPECT_EQ(release_.take_withheld_replaces(), std::set<OrderId>{grown_id});
  EXPECT_EQ(release_.take_withheld_entries(), std::set<OrderId>{entry});
  EXPECT_TRUE(release_.take_withheld_entries().empty()) << "each handed over once";
}

// A market buy stood in one tick inside our take-profit at 226 while it waited for the budget;
// the take-profit is at 230 now. Sent, the stand-in would rest under the market and be canceled
// on arrival (DST trades seed 33100000005017): it is withheld to be priced again. One priced for
// the book as it is leaves.
TEST_F(CommandReleaseTest, AStandInWhosePriceOurOrdersNoLongerCallForIsPricedAgain) {
  const TradeId held = add_trade(ExitMode::emulated);
  add(held, OrderRole::entry, OrderState::filled);
  add(held, OrderRole::take_profit, OrderState::new_);  // a sell at 230, working
  auto stand_in = [&](const char* price) {
    Order& e = add(add_trade(ExitMode::emulated), OrderRole::entry, OrderState::submitting);
    e.type = OrderType::limit;  // its trade's entry is a market order
    e.limit_price = d(price);
    queue(CommandKind::submit, CommandPriority::entry, e.id);
    return e.id;
  };
  const OrderId stale = stand_in("225.99");
  const OrderId priced = stand_in("229.99");

  CommandRelease::Released r = release_.take(w_.now);
  EXPECT_EQ(orders_of(r.commands), std::vector<OrderId>{priced});
  EXPECT_EQ(release_.take_withheld_entries(), std::set<OrderId>{stale});
}

// Issue 14: entries released within the minute whose trades have no exit sent yet keep a slot
// each for the exit their fill will need. Of 20 entries at a budget of 30 (27 for entries, 10
// of it the catch-ups' share), 9 go: 9 calls and 9 slots kept reach 17 + 10. The exit still goes.
TEST_F(CommandReleaseTest, EntriesLeaveASlotForTheExitsOfEntriesJustReleased) {
  const std::vector<TradeId> trades = queue_entries(20, ExitMode::emulated);
  CommandRelease::Released entries = release_.take(w_.now);
  EXPECT_EQ(entries.commands.size(), 9u);
  EXPECT_EQ(sent_.size(), 9u) << "each submit audited as it leaves";

  const OrderId exit = add(trades.front(), OrderRole::take_profit, OrderState::submitting).id;
  queue(CommandKind::submit, CommandPriority::protective, exit);
  CommandRelease::Released exits = release_.take(w_.now);
  EXPECT_EQ(orders_of(exits.commands), std::vector<OrderId>{exit}) << "the entries still wait";
}

// Exits the broker places with a bracket need no slot of ours: 17 of the 20 go (27 less the
// catch-ups' 10).
TEST_F(CommandReleaseTest, EntriesWhoseExitsTheBrokerPlacesKeepNoSlot) {
  queue_entries(20, ExitMode::native);
  EXPECT_EQ(release_.take(w_.now).commands.size(), 17u);
}

}  // namespace
}  // namespace orderly
