// Group commit (DESIGN "Storage"): the inputs that wait together for the engine are applied as one
// transaction with one store commit; nothing of them leaves before it; a failed group commit rolls
// all of them back and the resync finds what they told again, as after one failed input.

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "harness.h"
#include "support/freezable_store.h"

namespace orderly::testing {
namespace {

constexpr int kTrades = 4;

// kTrades trades whose entries the broker accepted, their broker ids in order.
std::vector<std::string> open_entries(Harness& h) {
  std::vector<std::string> ids;
  for (int i = 0; i < kTrades; ++i) {
    auto t = h.rt->open_trade(spec("F", "3", "12.00", "9.00"));
    EXPECT_TRUE(t.ok()) << t.status().to_string();
    if (!t.ok()) continue;
    auto e = h.find(t->id, OrderRole::entry);
    EXPECT_TRUE(e && e->broker_order_id);
    if (e && e->broker_order_id) ids.push_back(*e->broker_order_id);
  }
  h.run(300);
  return ids;
}

// Every entry filled at the broker; their stream events are queued for the engine together.
void fill_all(Harness& h, const std::vector<std::string>& ids) {
  for (const std::string& id : ids) h.broker.fill(id, Decimal::must("3"), Decimal::must("10.00"));
  h.pump();
}

int exits_at_broker(Harness& h) {
  int n = 0;
  for (const Order& o : h.engine().orders()) {
    if (o.role == OrderRole::take_profit && o.broker_order_id) ++n;
  }
  return n;
}

TEST(EngineGroupCommit, EventsArrivingTogetherCommitOnce) {
  Harness h;
  h.start();
  const auto ids = open_entries(h);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kTrades));
  h.rt->set_result_delay_ms(50);  // the exits' answers come later: this settle commits once
  fill_all(h, ids);
  const int commits = h.store.commits;
  h.rt->settle();
  EXPECT_EQ(h.store.commits, commits + 1) << "four fills, one commit";
  for (const std::string& id : ids) {
    const Order& o = h.store.orders.at(h.engine().order_by_client_id(
        h.broker.orders.at(id).client_order_id)->id);
    EXPECT_EQ(o.filled_qty, Decimal::must("3")) << "committed with the group";
  }
  h.run(500);
  EXPECT_EQ(exits_at_broker(h), kTrades);
  h.expect_no_duplicates();
  h.expect_in_sync();
}

TEST(EngineGroupCommit, OneInputPerGroupCommitsEachAlone) {
  Harness h;
  h.options.group_max_inputs = 1;
  h.reconfigure();
  h.start();
  const auto ids = open_entries(h);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kTrades));
  h.rt->set_result_delay_ms(50);
  fill_all(h, ids);
  const int commits = h.store.commits;
  h.rt->settle();
  EXPECT_EQ(h.store.commits, commits + kTrades);
}

// Nothing staged in a group is released before its commit, and its commit is the store's one
// write for all of it.
TEST(EngineGroupCommit, NothingOfTheGroupLeavesBeforeItsCommit) {
  Harness h;
  h.start();
  const auto ids = open_entries(h);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kTrades));
  for (const std::string& id : ids) h.broker.fill(id, Decimal::must("3"), Decimal::must("10.00"));
  const Timestamp now = h.clock.now();
  const int commits = h.store.commits;
  h.engine().begin_group();
  for (const TradeUpdate& u : h.broker.emitted) h.engine().on_trade_update(u, now);
  EXPECT_EQ(h.store.commits, commits);
  EXPECT_TRUE(h.engine().take_commands(now).empty()) << "no exit before the commit";
  ASSERT_TRUE(h.engine().commit_group(now).ok());
  EXPECT_EQ(h.store.commits, commits + 1);
  h.delivered = h.broker.emitted.size();
  h.rt->settle();  // the runtime sends what the commit released
  h.run(500);
  EXPECT_EQ(exits_at_broker(h), kTrades);
  h.expect_no_duplicates();
  h.expect_in_sync();
}

// An intent answers with its commit: inside a group it commits what the group holds with it.
TEST(EngineGroupCommit, AnIntentInsideAGroupCommitsTheGroupWithIt) {
  Harness h;
  h.start();
  const auto ids = open_entries(h);
  ASSERT_FALSE(ids.empty());
  h.broker.fill(ids[0], Decimal::must("3"), Decimal::must("10.00"));
  const Timestamp now = h.clock.now();
  const int commits = h.store.commits;
  h.engine().begin_group();
  h.engine().on_trade_update(h.broker.emitted.back(), now);
  auto t = h.engine().open_trade(spec("G", "1", "12.00"), now);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(h.store.commits, commits + 1);
  EXPECT_EQ(h.store.trades.count(t->id), 1u);
  const OrderId filled = h.engine().order_by_client_id(
      h.broker.orders.at(ids[0]).client_order_id)->id;
  EXPECT_EQ(h.store.orders.at(filled).filled_qty, Decimal::must("3"));
  ASSERT_TRUE(h.engine().commit_group(now).ok());
  EXPECT_EQ(h.store.commits, commits + 1) << "nothing was left to commit";
}

// The group's commit fails: every event of it is rolled back (nothing released, nothing in the
// store), and the resync finds the fills again: each trade gets its exit once, in sync with the
// broker.
TEST(EngineGroupCommit, AFailedGroupCommitLosesNothing) {
  Harness h;
  h.start();
  const auto ids = open_entries(h);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kTrades));
  const int submits = h.broker.submit_calls;
  fill_all(h, ids);
  h.store.fail_commits = 1;
  h.rt->settle();
  EXPECT_FALSE(h.rt->health().store_ok);
  EXPECT_EQ(h.broker.submit_calls, submits) << "no exit for a fill that was not committed";
  for (const std::string& id : ids) {
    const Order local = h.local(h.broker.orders.at(id).client_order_id);
    EXPECT_TRUE(local.filled_qty.is_zero()) << "rolled back in memory";
    EXPECT_TRUE(h.store.orders.at(local.id).filled_qty.is_zero());
  }
  h.run(15000);
  EXPECT_TRUE(h.rt->health().store_ok);
  EXPECT_EQ(exits_at_broker(h), kTrades);
  for (const std::string& id : ids) {
    const Order local = h.local(h.broker.orders.at(id).client_order_id);
    EXPECT_EQ(h.store.orders.at(local.id).filled_qty, Decimal::must("3"));
  }
  h.expect_no_duplicates();
  h.expect_in_sync();
}

struct HeldStream final : TradeUpdateStream {
  TradeUpdateHandler* handler = nullptr;
  void start(TradeUpdateHandler& h) override { handler = &h; }
  void stop() override {}
};

bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 2000 && !done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// The daemon's runtime: events that queue while the engine thread waits on a commit are applied
// together and committed in one.
TEST(ThreadedRuntimeGroupCommit, EventsQueuedDuringACommitShareTheNext) {
  SystemClock clock;
  FreezableStore store;
  FakeBroker broker(clock);  // touched by the one worker only, once the entries are out
  HeldStream stream;
  RuntimeOptions options;
  options.workers = 1;
  ThreadedRuntime rt(store, broker, &stream, clock, options);
  ASSERT_TRUE(rt.start().ok());
  for (int i = 0; i < kTrades; ++i) ASSERT_TRUE(rt.open_trade(spec("F", "3", "12.00")).ok());
  std::vector<Order> entries;
  ASSERT_TRUE(eventually([&] {
    entries.clear();
    for (const Order& o : rt.orders()) {
      if (o.role == OrderRole::entry && o.broker_order_id) entries.push_back(o);
    }
    return entries.size() == static_cast<std::size_t>(kTrades);
  }));
  std::vector<TradeUpdate> fills;
  for (const Order& e : entries) {
    TradeUpdate u;
    u.event = "fill";
    u.order = broker.orders.at(*e.broker_order_id);
    u.order.status = OrderState::filled;
    u.order.filled_qty = Decimal::must("3");
    u.order.filled_avg_price = Decimal::must("10.00");
    u.execution_id = "x-" + e.client_order_id;
    u.qty = Decimal::must("3");
    u.price = Decimal::must("10.00");
    u.timestamp = clock.now();
    fills.push_back(u);
  }
  store.freeze();
  stream.handler->on_trade_update(fills[0]);
  ASSERT_TRUE(eventually([&] { return store.waiting(); }));  // the engine thread is in a commit
  for (std::size_t i = 1; i < fills.size(); ++i) stream.handler->on_trade_update(fills[i]);
  store.thaw();
  ASSERT_TRUE(eventually([&] {
    int filled = 0;
    for (const Order& o : rt.orders()) {
      filled += o.role == OrderRole::entry && !o.filled_qty.is_zero() ? 1 : 0;
    }
    return filled == kTrades;
  }));
  rt.stop();
  std::set<std::string> queued;
  for (std::size_t i = 1; i < fills.size(); ++i) queued.insert(*fills[i].execution_id);
  bool together = false;
  for (const auto& ids : store.fills_by_commit()) {
    together = together || std::includes(ids.begin(), ids.end(), queued.begin(), queued.end());
  }
  EXPECT_TRUE(together) << "the fills that waited were committed in one commit";
}

}  // namespace
}  // namespace orderly::testing
