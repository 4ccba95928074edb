// Engine apply-path throughput: trade_updates events (partial fills of open orders) applied per
// second by Engine::on_trade_update, each one a real state change (filled qty up, fill recorded,
// position ledger moved, audit event staged, batch committed).
// range(0) = open orders held by the engine (10 and 1,000).
//   BM_EngineApplyInMemory  over a Store whose commit() is a no-op: the engine's own cost on one
//                           core ("in memory" in the issue's target of >= 1,000,000/s).
//   BM_EngineApplyDurable   over the SQLite Store on a file (WAL, synchronous=FULL): one commit
//                           (fsync) per event, as the daemon does. Compare with store_bench's
//                           BM_BareSqlite/1/2 (the same two writes per commit, raw sqlite3) run
//                           in the same `scripts/bench` invocation.
//   BM_EngineBurstDurable   bursts of range(1) stream events over the SQLite store, each burst
//                           alternately committed one event at a time and as one group
//                           (Engine::begin_group/commit_group, as the runtimes do for inputs
//                           waiting together; 64 is their bound): events/s of both, measured
//                           interleaved so that the disk's mood (fsync times swing 10x here
//                           with other jobs' IO) weighs on both alike.
//   cmake --build BUILD --target engine_bench && BUILD/bench/engine_bench
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/ids.h"
#include "engine/engine.h"
#include "store/sqlite/sqlite_store.h"

namespace orderly {
namespace {

// Large enough that the partial fills never complete an order while the benchmark runs.
constexpr std::int64_t kOrderQty = 1'000'000'000;

// commit() does nothing: what remains is the engine's apply path.
class NullStore final : public Store {
 public:
  StatusOr<LoadedState> load() override {
    LoadedState s;
    s.instance_tag = make_instance_tag(0x5eed);
    return s;
  }
  Status commit(const WriteBatch& batch) override {
    benchmark::DoNotOptimize(batch.events.size());
    return Status::success();
  }
  StatusOr<std::optional<Order>> get_order(OrderId) override { return std::optional<Order>(); }
  StatusOr<std::optional<Order>> find_order_by_client_id(std::string_view) override {
    return std::optional<Order>();
  }
  StatusOr<std::optional<Order>> find_order_by_broker_id(std::string_view) override {
    return std::optional<Order>();
  }
  StatusOr<std::vector<Order>> list_orders(const OrderFilter&) override {
    return std::vector<Order>();
  }
  StatusOr<std::optional<Trade>> get_trade(TradeId) override { return std::optional<Trade>(); }
  StatusOr<std::vector<Trade>> list_trades(int, int) override { return std::vector<Trade>(); }
  StatusOr<std::vector<OrderEvent>> order_events(OrderId) override {
    return std::vector<OrderEvent>();
  }
  StatusOr<std::vector<OrderEvent>> events_since(std::int64_t, int) override {
    return std::vector<OrderEvent>();
  }
  StatusOr<std::vector<Fill>> fills_for(OrderId) override { return std::vector<Fill>(); }
  StatusOr<std::vector<Alert>> list_alerts(bool, int) override { return std::vector<Alert>(); }
  StatusOr<std::vector<Position>> positions() override { return std::vector<Position>(); }
};

struct Driven {
  std::unique_ptr<Engine> engine;
  std::vector<BrokerOrder> acked;  // broker view of each open order
  Timestamp now = Timestamp::from_ms(1'760'000'000'000);
};

// An engine holding `open_orders` acknowledged limit entries (opened through open_trade and
// answered like the broker would). Bulk reads it asks for stay unanswered: they do not touch
// the apply path.
bool prepare(Store& store, Driven& d, int open_orders) {
  EngineConfig cfg;
  cfg.account_identity = "bench";
  cfg.rate_limit_per_min = 1'000'000'000;
  cfg.max_inflight_commands = 1'000'000;
  d.engine = std::make_unique<Engine>(store, cfg);
  if (!d.engine->start(d.now)) return false;
  d.engine->on_stream_connected(d.now);
  for (int i = 0; i < open_orders; ++i) {
    TradeSpec spec;
    spec.symbol = std::string("S").append(std::to_string(i % 50));
    spec.qty = Decimal::from_int(kOrderQty);
    spec.entry_type = OrderType::limit;
    spec.entry_limit_price = Decimal::must("10.00");
    spec.take_profit.percent = Decimal::from_int(2);
    if (!d.engine->open_trade(spec, d.now).ok()) return false;
  }
  int n = 0;
  for (const Command& c : d.engine->take_commands(d.now)) {
    if (c.kind != CommandKind::submit) continue;
    BrokerOrder b;
    b.id = std::string("b-").append(std::to_string(++n));
    b.client_order_id = c.submit.client_order_id;
    b.symbol = c.submit.symbol;
    b.side = c.submit.side;
    b.type = c.submit.type;
    b.tif = c.submit.tif;
    b.qty = c.submit.qty;
    b.limit_price = c.submit.limit_price;
    b.status = OrderState::new_;
    b.status_text = "new";
    b.created_at = b.updated_at = d.now;
    CommandResult r;
    r.order = b;
    d.engine->on_result(c.id, std::move(r), d.now);
    d.acked.push_back(std::move(b));
  }
  return static_cast<int>(d.acked.size()) == open_orders;
}

// Partial fills of the open orders in turn, one more share each, as the stream tells them.
class Fills {
 public:
  explicit Fills(Driven& d) : d_(d) {
    u_.event = "partial_fill";
    u_.qty = one_;
    u_.price = price_;
    u_.raw = R"({"event":"partial_fill"})";
  }
  // Applies the next fill; returns how many were applied.
  std::int64_t apply_next() {
    BrokerOrder& b = d_.acked[static_cast<std::size_t>(seq_) % d_.acked.size()];
    d_.now.ns += 1000;
    b.filled_qty = b.filled_qty + one_;
    b.filled_avg_price = price_;
    b.status = OrderState::partially_filled;
    b.status_text = "partially_filled";
    b.updated_at = d_.now;
    u_.order = b;
    u_.execution_id = std::string("x").append(std::to_string(++seq_));
    u_.timestamp = d_.now;
    d_.engine->on_trade_update(u_, d_.now);
    if ((seq_ & 1023) == 0) benchmark::DoNotOptimize(d_.engine->take_commands(d_.now));
    return seq_;
  }

 private:
  Driven& d_;
  const Decimal one_ = Decimal::from_int(1);
  const Decimal price_ = Decimal::must("10.00");
  TradeUpdate u_;
  std::int64_t seq_ = 0;
};

void run_events(benchmark::State& state, Driven& d) {
  Fills fills(d);
  for (auto _ : state) fills.apply_next();
  state.SetItemsProcessed(state.iterations());
  const EngineMetrics& m = d.engine->metrics();
  state.counters["commit_failures"] = static_cast<double>(m.commit_failures);
  if (m.commit_failures != 0) state.SkipWithError("commits failed");
}

void BM_EngineApplyInMemory(benchmark::State& state) {
  NullStore store;
  Driven d;
  if (!prepare(store, d, static_cast<int>(state.range(0)))) {
    state.SkipWithError("could not prepare the engine");
    return;
  }
  run_events(state, d);
}
// range(0): open orders held. The apply path should not depend on it.
BENCHMARK(BM_EngineApplyInMemory)->Arg(10)->Arg(1000)->UseRealTime()->MinTime(2.0);

void with_sqlite(benchmark::State& state, void (*run)(benchmark::State&, Driven&)) {
  std::string t = (std::filesystem::temp_directory_path() / "orderly-ebench-XXXXXX").string();
  const std::string dir = mkdtemp(t.data());
  {
    auto store = SqliteStore::open(dir + "/orderly.db", "bench");
    Driven d;
    if (!store.ok() || !prepare(**store, d, static_cast<int>(state.range(0)))) {
      state.SkipWithError("could not prepare the engine over SQLite");
    } else {
      run(state, d);
    }
  }
  std::filesystem::remove_all(dir);
}

void BM_EngineApplyDurable(benchmark::State& state) { with_sqlite(state, run_events); }
BENCHMARK(BM_EngineApplyDurable)->Arg(10)->Arg(1000)->UseRealTime()->MinTime(2.0);

// One iteration: a burst of range(1) events committed one at a time, then the next burst as one
// group. Counters: events/s of each way (their own time only) and how many times faster.
void run_bursts(benchmark::State& state, Driven& d) {
  using Clock = std::chrono::steady_clock;
  const std::int64_t burst = state.range(1);
  Fills fills(d);
  Clock::duration each{};
  Clock::duration grouped{};
  for (auto _ : state) {
    const auto t0 = Clock::now();
    for (std::int64_t i = 0; i < burst; ++i) fills.apply_next();
    const auto t1 = Clock::now();
    d.engine->begin_group();
    for (std::int64_t i = 0; i < burst; ++i) fills.apply_next();
    if (!d.engine->commit_group(d.now).ok()) state.SkipWithError("group commit failed");
    const auto t2 = Clock::now();
    each += t1 - t0;
    grouped += t2 - t1;
  }
  const double n = static_cast<double>(state.iterations() * burst);
  const auto per_s = [&](Clock::duration took) {
    return n / std::max(1e-9, std::chrono::duration<double>(took).count());
  };
  state.SetItemsProcessed(state.iterations() * burst * 2);
  state.counters["each_commit_events_per_s"] = per_s(each);
  state.counters["group_commit_events_per_s"] = per_s(grouped);
  state.counters["speedup"] = per_s(grouped) / std::max(1.0, per_s(each));
  state.counters["commit_failures"] = static_cast<double>(d.engine->metrics().commit_failures);
}

void BM_EngineBurstDurable(benchmark::State& state) { with_sqlite(state, run_bursts); }
// range(0): open orders held; range(1): events per burst.
BENCHMARK(BM_EngineBurstDurable)->Args({1000, 8})->Args({1000, 64})->UseRealTime()->MinTime(3.0);

}  // namespace
}  // namespace orderly

BENCHMARK_MAIN();
