// Signals an operator can trust (issue 15): health that says why, alerts with one meaning that
// clear, a dead broker waited for rather than hammered, positions judged on fresh reads.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "core/ids.h"
#include "harness.h"
#include "support/freezable_store.h"

namespace orderly::testing {
namespace {

bool has_reason(const Health& h, std::string_view part) {
  for (const auto& r : h.reasons) {
    if (r.find(part) != std::string::npos) return true;
  }
  return false;
}

std::vector<OrderEvent> events_of(const MemoryStore& store, OrderId id) {
  std::vector<OrderEvent> out;
  for (const OrderEvent& e : store.events) {
    if (e.order_id == id) out.push_back(e);
  }
  return out;
}

// ---- health ---------------------------------------------------------------------------------

TEST(HealthAssess, OkOnlyWhenNothingIsWrong) {
  Health h;
  h.stream_connected = true;
  assess(h, Timestamp::from_ms(10'000));
  EXPECT_EQ(h.status, HealthStatus::ok);
  EXPECT_TRUE(h.reasons.empty());
}

TEST(HealthAssess, EachProblemDegradesWithItsOwnReason) {
  const Timestamp now = Timestamp::from_ms(100'000);
  auto judged = [&](auto change) {
    Health h;
    h.stream_connected = true;
    change(h);
    assess(h, now);
    return h;
  };
  Health stream = judged([](Health& h) { h.stream_connected = false; });
  EXPECT_EQ(stream.status, HealthStatus::degraded);
  EXPECT_TRUE(has_reason(stream, "stream"));
  // Polling only by configuration: a stream that is not there is not a problem.
  EXPECT_EQ(judged([](Health& h) {
              h.stream_connected = false;
              h.stream_expected = false;
            }).status,
            HealthStatus::ok);
  Health lag = judged([&](Health& h) {
    h.last_sync_at = now.plus_ms(-61'000);
    h.sync_lag_ms = 61'000;
    h.sync_lag_limit_ms = 5'000;
  });
  EXPECT_EQ(lag.status, HealthStatus::degraded);
  EXPECT_TRUE(has_reason(lag, "no poll completed"));
  Health naked = judged([](Health& h) { h.unprotected_positions = 1; });
  EXPECT_EQ(naked.status, HealthStatus::degraded);
  EXPECT_TRUE(has_reason(naked, "without working exits"));
  Health critical = judged([](Health& h) { h.critical_alerts = {"stuck_order ol-1"}; });
  EXPECT_EQ(critical.status, HealthStatus::degraded);
  EXPECT_TRUE(has_reason(critical, "stuck_order ol-1"));
  Health store = judged([&](Health& h) {
    h.store_ok = false;
    h.store_error = "disk I/O error";
    h.store_failing_since = now.plus_ms(-1'000);
  });
  EXPECT_EQ(store.status, HealthStatus::degraded);
  EXPECT_TRUE(has_reason(store, "disk I/O error"));
  Health broker = judged([&](Health& h) {
    h.broker_reachable = false;
    h.broker_unreachable_since = now.plus_ms(-3'000);
  });
  EXPECT_EQ(broker.status, HealthStatus::degraded);
  EXPECT_TRUE(has_reason(broker, "unreachable for 3.0 s"));
}

TEST(HealthAssess, DownWhenTheAccountCannotTrade) {
  const Timestamp now = Timestamp::from_ms(100'000);
  Health keys;
  keys.stream_connected = true;
  keys.credentials_refused = true;
  assess(keys, now);
  EXPECT_EQ(keys.status, HealthStatus::down);
  EXPECT_TRUE(has_reason(keys, "refuses the API keys"));
  Health store;
  store.stream_connected = true;
  store.store_ok = false;
  store.store_error = "database is locked";
  store.store_failing_since = now.plus_ms(-30'000);
  assess(store, now);
  EXPECT_EQ(store.status, HealthStatus::down);
  Health frozen;
  frozen.stream_connected = true;
  frozen.snapshot_age_ms = 12'000;
  assess(frozen, now);
  EXPECT_EQ(frozen.status, HealthStatus::down);
  EXPECT_TRUE(has_reason(frozen, "has not answered"));
}

TEST(EngineHealth, StreamDownDegradesAndAStuckOrderIsACriticalReason) {
  Harness h;
  h.start();
  EXPECT_EQ(h.rt->health().status, HealthStatus::ok);
  h.rt->on_disconnected("test");
  h.rt->settle();
  Health down = h.rt->health();
  EXPECT_EQ(down.status, HealthStatus::degraded);
  EXPECT_TRUE(has_reason(down, "stream is not connected"));
  h.rt->on_connected();
  h.rt->settle();
  EXPECT_EQ(h.rt->health().status, HealthStatus::ok);
}

// ---- alerts ---------------------------------------------------------------------------------

TEST(EngineAlerts, FirstSubmissionsAreNoRetryStorm) {
  Harness h;
  h.options.engine.retry_storm_attempts = 20;
  h.rt = std::make_unique<SimulationRuntime>(h.store, h.broker, h.clock, h.options,
                                             [&](Timestamp) { h.pump(); });
  h.start();
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(h.rt->open_trade(spec("F" + std::to_string(i), "1", "12.00")).ok());
  }
  h.run(5'000);
  EXPECT_FALSE(h.has_alert(AlertKind::retry_storm)) << "30 clean first attempts, no re-send";
}

TEST(EngineAlerts, BrokerRefusalsCountTowardsRetryStorm) {
  Harness h;
  h.options.engine.retry_storm_attempts = 5;
  h.rt = std::make_unique<SimulationRuntime>(h.store, h.broker, h.clock, h.options,
                                             [&](Timestamp) { h.pump(); });
  h.start();
  for (int i = 0; i < 6; ++i) {
    h.broker.submit_script.push_back(
        {FakeBroker::error(BrokerError::Kind::rejected, 422, 42210000, "invalid"), false});
  }
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(h.rt->open_trade(spec("R" + std::to_string(i), "1", "12.00")).ok());
  }
  h.run(1'000);
  EXPECT_TRUE(h.has_alert(AlertKind::retry_storm));
}

TEST(EngineAlerts, WorkQueuedBehindTheBudgetIsNotStuckAndItsAuditSaysQueuedThenSent) {
  Harness h;
  h.options.engine.rate_limit_per_min = 60;
  h.options.engine.poll_interval_ms = 30'000;  // the budget is the entries'
  h.options.engine.idle_poll_interval_ms = 30'000;
  h.options.engine.stuck_order_ms = 5'000;
  h.rt = std::make_unique<SimulationRuntime>(h.store, h.broker, h.clock, h.options,
                                             [&](Timestamp) { h.pump(); });
  h.start();
  std::vector<TradeId> trades;
  for (int i = 0; i < 80; ++i) {  // more than a minute's budget
    auto t = h.rt->open_trade(spec("Q" + std::to_string(i), "1", "12.00"));
    ASSERT_TRUE(t.ok());
    trades.push_back(t->id);
  }
  // Entries leave a slot each for the exit their fill will need (issue 14): 80 at 60/min
  // take about three minutes here.
  for (int s = 0; s < 200; ++s) {
    h.run(1'000);
    ASSERT_FALSE(h.has_alert(AlertKind::stuck_order)) << "second " << s;
  }
  // The last entry waited for the budget: its audit has "queued" and, later, "sent".
  auto last = h.find(trades.back(), OrderRole::entry);
  ASSERT_TRUE(last.has_value());
  ASSERT_TRUE(last->broker_order_id.has_value()) << "sent within 200 s";
  std::optional<Timestamp> queued, sent;
  for (const OrderEvent& e : events_of(h.store, last->id)) {
    if (e.note.rfind("queued:", 0) == 0) queued = e.at;
    if (e.note.rfind("sent:", 0) == 0) sent = e.at;
  }
  ASSERT_TRUE(queued && sent);
  EXPECT_GT(sent->ms_since(*queued), 5'000) << "it waited for the budget, audited as such";
}

TEST(EngineAlerts, SentAndUnansweredIsStuckAndClearsOnTheAnswer) {
  Harness h;
  h.options.engine.stuck_order_ms = 3'000;
  h.rt = std::make_unique<SimulationRuntime>(h.store, h.broker, h.clock, h.options,
                                             [&](Timestamp) { h.pump(); });
  h.start();
  h.rt->set_result_delay_ms(8'000);  // every answer takes 8 s
  h.stream_up = false;               // and the stream tells nothing
  ASSERT_TRUE(h.rt->open_trade(spec("S", "1", "12.00")).ok());
  h.run(5'000);
  EXPECT_TRUE(h.has_alert(AlertKind::stuck_order));
  h.rt->set_result_delay_ms(0);
  h.run(20'000);
  EXPECT_FALSE(h.has_alert(AlertKind::stuck_order)) << "cleared once the order was answered";
}

TEST(EngineAlerts, EveryAlertKindHasASeverity) {
  for (auto k : {AlertKind::stuck_order, AlertKind::order_parked, AlertKind::external_hold,
                 AlertKind::reconciliation_mismatch, AlertKind::unprotected_position,
                 AlertKind::broker_unreachable}) {
    EXPECT_EQ(severity(k), AlertSeverity::critical) << to_string(k);
  }
  for (auto k : {AlertKind::stream_down, AlertKind::sync_lag, AlertKind::retry_storm,
                 AlertKind::rate_limit_near, AlertKind::anomaly,
                 AlertKind::unreadable_broker_data}) {
    EXPECT_EQ(severity(k), AlertSeverity::warning) << to_string(k);
  }
}

// ---- positions ------------------------------------------------------------------------------

TEST(EnginePositions, OurOwnFillIsNotDriftWhileTheBrokersFigurePredatesIt) {
  Harness h;
  h.start();
  h.run(2'000);  // a first positions read
  auto t = h.rt->open_trade(spec("P", "3", "12.00"));
  ASSERT_TRUE(t.ok());
  h.run(200);
  auto entry = h.find(t->id, OrderRole::entry);
  ASSERT_TRUE(entry && entry->broker_order_id);
  const int reads = h.broker.position_calls;
  h.broker.fill(*entry->broker_order_id, Decimal::must("3"), Decimal::must("10.00"));
  h.run(100);  // the fill arrives on the stream
  for (const PositionView& p : h.rt->positions()) {
    EXPECT_FALSE(p.mismatch) << p.symbol << " drift " << p.drift.str()
                             << ": the broker's figure was read before our fill";
  }
  h.run(3'000);
  EXPECT_GT(h.broker.position_calls, reads) << "re-read after our fill, not a minute later";
  for (const PositionView& p : h.rt->positions()) {
    EXPECT_TRUE(p.drift.is_zero()) << p.symbol;
    EXPECT_FALSE(p.mismatch) << p.symbol;
  }
  EXPECT_FALSE(h.has_alert(AlertKind::reconciliation_mismatch));
}

TEST(EnginePositions, RealDriftIsFlaggedOnceAFreshReadConfirmsIt) {
  Harness h;
  h.start();
  h.broker.position_qty["X"] = Decimal::must("0.50");  // bought elsewhere: not ours
  h.run(65'000);
  bool flagged = false;
  for (const PositionView& p : h.rt->positions()) {
    if (p.symbol == "X") flagged = p.mismatch;
  }
  EXPECT_TRUE(flagged);
}

// ---- the threaded runtime: a frozen store, a dead broker ------------------------------------

// The FakeBroker behind a lock (the runtime calls it from several threads), with a switch that
// makes every call fail to connect, as a dead host does; counts the calls that tried.
class SwitchedBroker final : public Broker {
 public:
  explicit SwitchedBroker(FakeBroker& b) : b_(b) {}
  std::atomic<bool> dead{false};
  std::atomic<int> calls{0};
  std::mutex mu;

  template <typename Fn>
  auto call(Fn fn) -> decltype(fn()) {
    ++calls;
    if (dead) return FakeBroker::error(BrokerError::Kind::not_sent, 0, 0, "connection refused");
    std::lock_guard lk(mu);
    return fn();
  }
  BrokerResult<BrokerOrder> submit_order(const OrderRequest& r) override {
    return call([&] { return b_.submit_order(r); });
  }
  BrokerResult<BrokerOrder> get_order(std::string_view id) override {
    return call([&] { return b_.get_order(id); });
  }
  BrokerResult<BrokerOrder> get_order_by_client_id(std::string_view id) override {
    return call([&] { return b_.get_order_by_client_id(id); });
  }
  BrokerResult<std::vector<BrokerOrder>> list_orders(const ListOrdersQuery& q) override {
    return call([&] { return b_.list_orders(q); });
  }
  BrokerResult<Unit> cancel_order(std::string_view id) override {
    return call([&] { return b_.cancel_order(id); });
  }
  BrokerResult<std::vector<CancelResult>> cancel_all_orders() override {
    return std::vector<CancelResult>{};
  }
  BrokerResult<BrokerOrder> replace_order(std::string_view id, const ReplaceRequest& r) override {
    return call([&] { return b_.replace_order(id, r); });
  }
  BrokerResult<std::vector<BrokerPosition>> list_positions() override {
    return call([&] { return b_.list_positions(); });
  }
  BrokerResult<Account> get_account() override {
    return call([&]() -> BrokerResult<Account> { return Account{}; });
  }
  BrokerResult<ActivityPage> fill_activities(const ActivityQuery& q) override {
    return call([&] { return b_.fill_activities(q); });
  }
  BrokerResult<MarketClock> get_clock() override { return MarketClock{}; }

 private:
  FakeBroker& b_;
};

bool wait_until(const std::function<bool()>& done, int seconds = 20) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// With the store frozen the engine thread waits inside a commit for as long as it lasts; health
// still answers (the last snapshot, with its age). Before, health() waited on the engine thread:
// this test hung until the store came back.
TEST(ThreadedRuntimeHealth, AnswersWhileTheStoreIsFrozen) {
  SystemClock clock;
  FreezableStore store;
  FakeBroker fake(clock);
  SwitchedBroker broker(fake);
  RuntimeOptions options;
  options.health_deadline_ms = 100;
  ThreadedRuntime rt(store, broker, nullptr, clock, options);
  ASSERT_TRUE(rt.start().ok());
  store.freeze();
  std::thread opener([&] { (void)rt.open_trade(spec("F", "1", "12.00")); });
  ASSERT_TRUE(wait_until([&] { return store.waiting(); }));
  const auto asked = std::chrono::steady_clock::now();
  Health h = rt.health();  // returns although the engine thread is stuck in the store
  std::printf("health with the store frozen answered in %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - asked)
                                         .count()));
  ASSERT_TRUE(h.snapshot_age_ms.has_value());
  EXPECT_NE(h.status, HealthStatus::ok);
  EXPECT_TRUE(has_reason(h, "has not answered"));
  store.thaw();
  opener.join();
  ASSERT_TRUE(wait_until([&] { return !rt.health().snapshot_age_ms.has_value(); }));
  rt.stop();
}

// A dead broker costs one call per backoff step, not one per poll; the engine never sees the
// failures (no retry attempt is spent), and the waiting calls go out when it is back.
TEST(ThreadedRuntimeBroker, ADeadBrokerIsProbedOncePerBackoffStep) {
  SystemClock clock;
  MemoryStore store;
  FakeBroker fake(clock);
  SwitchedBroker broker(fake);
  RuntimeOptions options;
  options.tick_ms = 10;
  options.engine.poll_interval_ms = 20;
  options.engine.idle_poll_interval_ms = 20;
  options.broker_backoff = {50, 400};
  ThreadedRuntime rt(store, broker, nullptr, clock, options);
  ASSERT_TRUE(rt.start().ok());
  ASSERT_TRUE(wait_until([&] { return broker.calls > 20; })) << "polling every 20 ms";
  broker.dead = true;
  const int before = broker.calls;
  const auto began = std::chrono::steady_clock::now();
  auto trade = rt.open_trade(spec("F", "1", "12.00"));
  ASSERT_TRUE(trade.ok());
  ASSERT_TRUE(wait_until([&] { return !rt.health().broker_reachable; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(2'000));
  const int during = broker.calls - before;
  const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - began)
                              .count();
  // Steps wait at least half their nominal delay: 25, 50, 100, 200, then 200 each.
  int steps = 0;
  for (std::int64_t t = 0, d = 50; t <= elapsed_ms;
       t += std::min<std::int64_t>(d, 400) / 2, d *= 2) {
    ++steps;
  }
  EXPECT_LE(during, options.broker_workers() + steps) << "calls in " << elapsed_ms << " ms";
  Health h = rt.health();
  EXPECT_EQ(h.status, HealthStatus::degraded);
  EXPECT_TRUE(has_reason(h, "unreachable"));
  bool alerted = false;
  for (const Alert& a : rt.active_alerts())
    alerted = alerted || a.kind == AlertKind::broker_unreachable;
  EXPECT_TRUE(alerted);

  broker.dead = false;
  ASSERT_TRUE(wait_until([&] {
    for (const Order& o : rt.orders()) {
      if (o.trade_id == trade->id && o.role == OrderRole::entry && o.broker_order_id) return true;
    }
    return false;
  }));
  EXPECT_TRUE(rt.health().broker_reachable);
  for (const Order& o : rt.orders()) {
    if (o.trade_id == trade->id && o.role == OrderRole::entry) {
      EXPECT_EQ(o.attempts, 1) << "the outage cost no retry attempt";
    }
  }
  ASSERT_TRUE(wait_until([&] {
    for (const Alert& a : rt.active_alerts()) {
      if (a.kind == AlertKind::broker_unreachable) return false;
    }
    return true;
  }));
  rt.stop();
}

}  // namespace
}  // namespace orderly::testing

namespace orderly::testing {
namespace {

// reconcile --fix: an open order with our client id whose trade left memory is adopted (its
// trade read back from the store, audited); one whose trade no store knows is reported. Before,
// both were passed over in silence.
TEST(EngineReconcile, OurOrdersTheStoreLacksAreAdoptedOrReported) {
  Harness h;
  h.start();
  auto t = h.rt->open_trade(spec("A", "1", "12.00"));
  ASSERT_TRUE(t.ok());
  h.run(500);
  ASSERT_TRUE(h.rt->cancel_trade(t->id).ok());
  h.run(400'000);  // ended and quiet: its orders leave memory
  ASSERT_FALSE(h.trade(t->id).has_value());
  auto plant = [&](TradeId trade) {
    const std::string cid =
        make_client_order_id(h.engine().owner(), trade, OrderRole::take_profit, 3);
    BrokerOrder o = h.broker.make("A", Side::sell, OrderType::limit, Decimal::must("1"), cid,
                                  OrderClass::simple);
    o.status = OrderState::new_;
    h.broker.orders[o.id] = o;
    return cid;
  };
  const std::string ours = plant(t->id);
  const std::string orphan = plant(9'999);
  ReconcileReport r = h.rt->reconcile(true);
  EXPECT_GE(r.orders_adopted, 1);
  EXPECT_TRUE(h.engine().order_by_client_id(ours).has_value());
  EXPECT_EQ(r.orders_unadopted, 1);
  bool named = false;
  for (const auto& f : r.findings) named = named || f.find(orphan) != std::string::npos;
  EXPECT_TRUE(named);
}

}  // namespace
}  // namespace orderly::testing
