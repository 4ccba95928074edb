// SQLite store benchmarks. Durable audited state changes per second (order row update + its
// audit event, synchronous=FULL, one transaction per batch), one per commit and 64 per commit,
// beside bare SQLite loops on the same schema and durability settings in the same run: the
// physical reference (fsync per commit). Also load() with a large history.
//   cmake --build BUILD --target store_bench && BUILD/bench/store_bench
// Runs in $TMPDIR (or /tmp): the figures are those of that filesystem.

#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/audit.h"
#include "store/sqlite/sqlite_store.h"

namespace orderly {
namespace {

constexpr const char* kAccount = "bench";
constexpr int kOpenOrders = 256;

struct BenchDir {
  std::string path;
  BenchDir() {
    std::string t = (std::filesystem::temp_directory_path() / "orderly-bench-XXXXXX").string();
    path = mkdtemp(t.data());
  }
  ~BenchDir() { std::filesystem::remove_all(path); }
};

Order make_order(OrderId id) {
  Order o;
  o.id = id;
  o.trade_id = id;
  o.client_order_id = "ol-bench00000-" + std::to_string(id) + "-e0";
  o.symbol = "AAPL";
  o.type = OrderType::limit;
  o.qty = Decimal::must("10");
  o.limit_price = Decimal::must("150.25");
  o.version = 1;
  return o;
}

OrderEvent event_of(const Order& o, std::optional<OrderState> from) {
  OrderEvent e;
  e.order_id = o.id;
  e.source = from ? EventSource::stream : EventSource::intent;
  e.from = from;
  e.to = o.state;
  e.filled_qty = o.filled_qty;
  e.payload = R"({"event":"new","order":{"status":"new"}})";
  e.note = "bench";
  return e;
}

// A store with kOpenOrders open orders to move around.
std::unique_ptr<SqliteStore> seeded_store(const std::string& path, std::vector<Order>& orders) {
  auto s = SqliteStore::open(path, kAccount);
  if (!s.ok()) return nullptr;
  WriteBatch b;
  for (OrderId id = 1; id <= kOpenOrders; ++id) {
    orders.push_back(make_order(id));
    b.orders.push_back(orders.back());
    b.events.push_back(event_of(orders.back(), std::nullopt));
  }
  if (!(*s)->commit(b).ok()) return nullptr;
  return std::move(*s);
}

// Audited state changes through the Store: order row + event, `range(0)` changes per commit.
void BM_StoreAuditedChanges(benchmark::State& state) {
  BenchDir dir;
  std::vector<Order> orders;
  auto store = seeded_store(dir.path + "/orderly.db", orders);
  if (!store) {
    state.SkipWithError("cannot open the store");
    return;
  }
  const int per_commit = static_cast<int>(state.range(0));
  std::size_t next = 0;
  for (auto _ : state) {
    WriteBatch b;
    for (int k = 0; k < per_commit; ++k) {
      Order& o = orders[next++ % orders.size()];
      // new <-> partially_filled keeps every order open, so the loop can run forever.
      const OrderState from = o.state;
      o.state = from == OrderState::new_ ? OrderState::partially_filled : OrderState::new_;
      o.version++;
      b.orders.push_back(o);
      b.events.push_back(event_of(o, from));
    }
    Status s = store->commit(b);
    if (!s.ok()) {
      state.SkipWithError(s.to_string().c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * per_commit);
}
BENCHMARK(BM_StoreAuditedChanges)->Arg(1)->Arg(64)->UseRealTime();

// The physical reference: raw sqlite3 on the same file, schema and pragmas (WAL,
// synchronous=FULL, foreign keys). range(0) rows per commit; range(1) = 1 inserts the event only,
// 2 also updates the order row (the same two writes the Store makes per change).
void BM_BareSqlite(benchmark::State& state) {
  BenchDir dir;
  const std::string path = dir.path + "/orderly.db";
  {
    std::vector<Order> orders;
    if (!seeded_store(path, orders)) {
      state.SkipWithError("cannot create the schema");
      return;
    }
  }
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
               "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr);
  sqlite3_stmt* ins = nullptr;
  sqlite3_stmt* upd = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO order_events (account, order_id, at, source, from_state, "
                     "to_state, filled_qty, payload, note) VALUES (?1, ?2, 0, 'stream', 'new', "
                     "'partially_filled', '0', ?3, 'bench')",
                     -1, &ins, nullptr);
  sqlite3_prepare_v2(db, "UPDATE orders SET state = 'partially_filled', version = version + 1 "
                         "WHERE account = ?1 AND id = ?2", -1, &upd, nullptr);
  const int per_commit = static_cast<int>(state.range(0));
  const bool with_update = state.range(1) == 2;
  const std::string payload = R"({"event":"new","order":{"status":"new"}})";
  std::int64_t next = 0;
  for (auto _ : state) {
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    for (int k = 0; k < per_commit; ++k) {
      const std::int64_t id = 1 + next++ % kOpenOrders;
      if (with_update) {
        sqlite3_bind_text(upd, 1, kAccount, -1, SQLITE_STATIC);
        sqlite3_bind_int64(upd, 2, id);
        sqlite3_step(upd);
        sqlite3_reset(upd);
      }
      sqlite3_bind_text(ins, 1, kAccount, -1, SQLITE_STATIC);
      sqlite3_bind_int64(ins, 2, id);
      sqlite3_bind_text(ins, 3, payload.c_str(), -1, SQLITE_STATIC);
      if (sqlite3_step(ins) != SQLITE_DONE) {
        state.SkipWithError(sqlite3_errmsg(db));
        break;
      }
      sqlite3_reset(ins);
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      state.SkipWithError(sqlite3_errmsg(db));
      break;
    }
  }
  sqlite3_finalize(ins);
  sqlite3_finalize(upd);
  sqlite3_close(db);
  state.SetItemsProcessed(state.iterations() * per_commit);
}
BENCHMARK(BM_BareSqlite)->Args({1, 1})->Args({64, 1})->Args({1, 2})->Args({64, 2})->UseRealTime();

// `n` closed trades, each with one filled order, in one statement.
std::string fmt_history(std::int64_t n) {
  const std::string series = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                             "WHERE x < " + std::to_string(n) + ") ";
  return "BEGIN; " + series +
         "INSERT INTO trades (account, id, symbol, side, qty, entry_type, entry_limit_price, tif, "
         "tp_price, tp_percent, has_stop_loss, sl_price, sl_percent, exits, state, is_open, note, "
         "created_at, updated_at) SELECT 'bench', x, 'AAPL', 'buy', '10', 'limit', '150.25', "
         "'gtc', NULL, '2', 0, NULL, NULL, 'emulated', 'closed', 0, '', x, x FROM c; " +
         series +
         "INSERT INTO orders (account, id, trade_id, role, client_order_id, broker_order_id, "
         "symbol, side, type, tif, order_class, qty, limit_price, stop_price, parent_order_id, "
         "replaces_order_id, state, is_open, filled_qty, filled_avg_price, broker_updated_at, "
         "attempts, next_attempt_at, last_error, created_at, updated_at, version) SELECT "
         "'bench', x, x, 'entry', 'ol-hist000000-' || x || '-e0', 'b-' || x, 'AAPL', 'buy', "
         "'limit', 'gtc', 'simple', '10', '150.25', NULL, NULL, NULL, 'filled', 0, '10', "
         "'150.25', x, 1, NULL, '', x, x, 3 FROM c; COMMIT";
}

// load() with range(0) finished orders in the history and 100 open ones: only the open rows
// should cost anything. The history is written with one SQL statement (not through commit()).
void BM_LoadWithHistory(benchmark::State& state) {
  BenchDir dir;
  auto opened = SqliteStore::open(dir.path + "/orderly.db", kAccount);
  if (!opened.ok()) {
    state.SkipWithError("cannot open the store");
    return;
  }
  SqliteStore& store = **opened;
  const std::int64_t history = state.range(0);
  const std::string fill = fmt_history(history);
  Status s = store.exec_for_test(fill);
  if (!s.ok()) {
    state.SkipWithError(s.to_string().c_str());
    return;
  }
  WriteBatch b;
  for (OrderId id = history + 1; id <= history + 100; ++id) {
    b.orders.push_back(make_order(id));
    b.events.push_back(event_of(b.orders.back(), std::nullopt));
  }
  if (!store.commit(b).ok()) {
    state.SkipWithError("cannot add the open orders");
    return;
  }
  for (auto _ : state) {
    auto st = store.load();
    if (!st.ok() || st->open_orders.size() != 100 || st->max_order_id != history + 100) {
      state.SkipWithError("load() returned the wrong open orders");
      break;
    }
    benchmark::DoNotOptimize(st);
  }
  state.counters["history_orders"] = static_cast<double>(history);
}
// Fixed iterations: the history is built once per size, not once per calibration round.
BENCHMARK(BM_LoadWithHistory)->Arg(1000)->Arg(1'000'000)->Iterations(50)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace orderly

BENCHMARK_MAIN();
