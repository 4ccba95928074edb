// Memory stays bounded: the orders of an ended trade leave memory after a quiet period, and a
// late event for one of them is still judged against what the store holds (never adopted as new,
// never resent, a fill never counted twice).

#include <gtest/gtest.h>

#include "harness.h"

namespace orderly::testing {
namespace {

constexpr std::int64_t kPastRetentionMs = 310'000;  // engine keeps ended trades 300 s

bool in_memory(Harness& h, TradeId t) {
  if (h.trade(t)) return true;
  for (const Order& o : h.engine().orders()) {
    if (o.trade_id == t) return true;
  }
  return false;
}

bool audited(Harness& h, OrderId id, const std::string& text) {
  auto events = h.store.order_events(id);
  if (!events.ok()) return false;
  for (const OrderEvent& e : *events) {
    if (e.note.find(text) != std::string::npos) return true;
  }
  return false;
}

bool store_anomaly(Harness& h) {
  for (const Alert& a : h.engine().active_alerts()) {
    if (a.kind == AlertKind::anomaly && a.subject == "store") return true;
  }
  return false;
}

// A trade whose entry filled and whose stop then closed it: `entry` and `sl` as they were.
struct ClosedTrade {
  TradeId id = 0;
  std::optional<Order> entry, sl;
};

void close_by_stop(Harness& h, ClosedTrade& c) {
  auto opened = h.rt->open_trade(spec("STWD", "37", "21.50", "19.00"));
  ASSERT_TRUE(opened.ok());
  c.id = opened->id;
  c.entry = h.find(c.id, OrderRole::entry);
  ASSERT_TRUE(c.entry && c.entry->broker_order_id);
  h.broker.fill(*c.entry->broker_order_id, Decimal::must("37"), Decimal::must("20.00"));
  h.run(500);
  c.sl = h.find(c.id, OrderRole::stop_loss, true);
  ASSERT_TRUE(c.sl && c.sl->broker_order_id);
  h.broker.fill(*c.sl->broker_order_id, Decimal::must("37"), Decimal::must("19.00"));
  h.run(500);
  ASSERT_EQ(h.store.trades.at(c.id).state, TradeState::closed);
}

// Each test starts with one trade closed by its stop.
class EnginePrune : public ::testing::Test {
 protected:
  void SetUp() override {
    h.start();
    ASSERT_NO_FATAL_FAILURE(close_by_stop(h, closed));
  }
  // The stop's fill of the closed trade, delivered again later with a new execution id (its
  // trade pruned from memory by then).
  TradeUpdate late_stop_fill() {
    TradeUpdate late;
    for (const TradeUpdate& u : h.broker.emitted) {
      if (u.event == "fill" && u.order.id == *closed.sl->broker_order_id) late = u;
    }
    late.execution_id = "late-redelivery";
    return late;
  }
  Harness h;
  ClosedTrade closed;
};

TEST_F(EnginePrune, EndedTradeLeavesMemoryAndLateEventsAreJudgedFromTheStore) {
  const TradeId t = closed.id;
  const Order& entry = *closed.entry;
  const Order& sl = *closed.sl;
  EXPECT_TRUE(in_memory(h, t)) << "a trade that just ended is still shown";

  // A second trade stays open throughout: pruning never touches it.
  auto other = h.rt->open_trade(spec("F", "3", "12.00"));
  ASSERT_TRUE(other.ok());

  h.run(kPastRetentionMs);
  EXPECT_FALSE(in_memory(h, t)) << "the ended trade's orders were pruned";
  EXPECT_FALSE(h.engine().order_by_client_id(entry.client_order_id).has_value());
  EXPECT_TRUE(in_memory(h, other->id));
  EXPECT_EQ(h.store.trades.at(t).state, TradeState::closed) << "the store keeps everything";
  const std::size_t orders_in_store = h.store.orders.size();

  // The stop's fill delivered again, late: a duplicate, counted once.
  TradeUpdate sl_fill;
  for (const TradeUpdate& u : h.broker.emitted) {
    if (u.event == "fill" && u.order.id == *sl.broker_order_id) sl_fill = u;
  }
  ASSERT_EQ(sl_fill.event, "fill");
  sl_fill.execution_id = "late-redelivery";  // not deduplicated by id: judged by state
  h.rt->on_trade_update(sl_fill);
  h.rt->settle();
  auto back = h.engine().order(sl.id);
  ASSERT_TRUE(back.has_value()) << "brought back from the store to judge the event";
  EXPECT_EQ(back->state, OrderState::filled);
  EXPECT_EQ(back->filled_qty, Decimal::must("37"));
  for (const PositionView& p : h.engine().positions()) {
    if (p.symbol == "STWD") {
      EXPECT_EQ(p.local_qty, Decimal()) << "the fill counted once";
    }
  }

  // A stale event contradicting the committed state of the pruned entry: refused and audited.
  TradeUpdate stale;
  for (const TradeUpdate& u : h.broker.emitted) {
    if (u.order.id == *entry.broker_order_id) {
      stale = u;
      break;
    }
  }
  ASSERT_FALSE(stale.event.empty());
  stale.order.status = OrderState::new_;
  stale.order.filled_qty = Decimal();
  stale.execution_id.reset();
  stale.timestamp = stale.timestamp.plus_ms(1);
  h.rt->on_trade_update(stale);
  h.rt->settle();
  auto e = h.engine().order(entry.id);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, OrderState::filled);
  EXPECT_TRUE(audited(h, entry.id, "refused")) << "refused evidence is audited";
  EXPECT_EQ(h.submits_for(entry.client_order_id), 1) << "never sent again";
  EXPECT_EQ(h.store.orders.size(), orders_in_store) << "nothing adopted as a new order";
  EXPECT_EQ(h.store.trades.at(t).state, TradeState::closed);

  // Brought back only for the judgement: it leaves memory again with its trade.
  h.run(kPastRetentionMs);
  EXPECT_FALSE(in_memory(h, t));
  h.expect_no_duplicates();
}

// The store read that brings a pruned order back can fail (a dead database connection). A failed
// read is not "not found": the late event of our own order is never adopted as a new order, the
// input is rolled back and said (an anomaly on the store, cleared by the next good commit), and a
// resync looks for its evidence at the broker again. (Before, the failure passed in silence.)
TEST_F(EnginePrune, AFailedStoreReadNeverTurnsALateEventIntoANewOrder) {
  const TradeId t = closed.id;
  const Order& sl = *closed.sl;
  h.run(kPastRetentionMs);
  ASSERT_FALSE(in_memory(h, t));
  const std::size_t orders_in_store = h.store.orders.size();

  const TradeUpdate late = late_stop_fill();
  ASSERT_EQ(late.event, "fill");
  h.store.fail_reads = true;
  h.rt->on_trade_update(late);
  h.rt->settle();
  EXPECT_EQ(h.store.orders.size(), orders_in_store) << "nothing adopted as a new order";
  EXPECT_FALSE(h.engine().order_by_client_id(sl.client_order_id).has_value());
  bool said = false;
  for (const auto& [id, a] : h.store.alerts) {
    said = said || (a.kind == AlertKind::anomaly && a.subject == "store" &&
                    a.message.find("reading the store failed") != std::string::npos);
  }
  EXPECT_TRUE(said) << "the failed read is said, and written once the store takes writes";

  h.store.fail_reads = false;
  h.run(5'000);
  EXPECT_FALSE(store_anomaly(h)) << "cleared once the store answers";
  EXPECT_TRUE(h.engine().health(h.clock.now()).store_ok);
  EXPECT_EQ(h.store.orders.size(), orders_in_store);
  EXPECT_EQ(h.store.trades.at(t).state, TradeState::closed);
  h.expect_no_duplicates();
}

// An input that meets a state the engine did not expect (here a store read that throws) never
// ends the process: its changes are rolled back, an anomaly on `engine` says which input, the
// counter behind DST's I10 and /metrics counts it, and a resync brings the truth back.
TEST_F(EnginePrune, AnInputThatMeetsAStateItDidNotExpectIsRolledBackCountedAndSaid) {
  const TradeId t = closed.id;
  h.run(kPastRetentionMs);
  ASSERT_FALSE(in_memory(h, t));
  const std::size_t orders_in_store = h.store.orders.size();
  const TradeUpdate late = late_stop_fill();
  ASSERT_EQ(late.event, "fill");
  h.store.throw_on_reads = true;
  h.rt->on_trade_update(late);
  h.rt->settle();
  h.store.throw_on_reads = false;
  EXPECT_EQ(h.engine().metrics().unexpected_states, 1);
  EXPECT_EQ(h.rt->unexpected_states(), 1);
  EXPECT_NE(h.engine().metrics_text(h.clock.now()).find("orderly_unexpected_states_total 1"),
            std::string::npos);
  bool said = false;
  for (const Alert& a : h.engine().active_alerts()) {
    said = said || (a.kind == AlertKind::anomaly && a.subject == "engine" &&
                    a.message.find("unexpected state") != std::string::npos);
  }
  EXPECT_TRUE(said) << "the rolled-back input is said";
  h.run(5'000);
  EXPECT_EQ(h.store.orders.size(), orders_in_store) << "nothing adopted as a new order";
  EXPECT_EQ(h.store.trades.at(t).state, TradeState::closed);
  h.restart();
  EXPECT_EQ(h.rt->unexpected_states(), 1) << "counted over the engine's lives";
  h.expect_no_duplicates();
}

}  // namespace
}  // namespace orderly::testing
