// Durable audited state changes per second: PostgreSQL beside SQLite, in the same run.
// One state change = an order row upsert plus its audit event, committed durably (PostgreSQL
// with fsync and synchronous_commit on; SQLite as the store opens it). Batched (group commit of
// 64 changes) and one change per commit. The PostgreSQL server is a temporary one started by
// this program (tests/store/pg_server.h); nothing outside 127.0.0.1 is touched.
//
//   build-*/bench/store_pg_bench [--benchmark_min_time=2s]

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "../tests/store/pg_server.h"
#include "store/open.h"
#include "store/store.h"

namespace orderly {
namespace {

testing::PgServer* g_server = nullptr;
std::string g_sqlite_dir;

WriteBatch batch_of(OrderId first, int changes) {
  WriteBatch b;
  for (int i = 0; i < changes; ++i) {
    const OrderId id = first + i;
    Order o;
    o.id = id;
    o.trade_id = id;
    o.client_order_id = "ol-bench-" + std::to_string(id);
    o.symbol = "STWD";
    o.type = OrderType::limit;
    o.qty = Decimal::must("37");
    o.limit_price = Decimal::must("10.50");
    o.created_at = Timestamp{1'760'000'000'000'000'000 + id};
    o.updated_at = o.created_at;
    b.orders.push_back(o);
    OrderEvent e;
    e.order_id = id;
    e.at = o.created_at;
    e.to = OrderState::created;
    e.note = "bench";
    b.events.push_back(e);
  }
  return b;
}

std::unique_ptr<Store> open_backend(const std::string& backend, const std::string& name,
                                    std::string* error) {
  std::string url;
  if (backend == "postgresql") {
    url = g_server->create_database(error);
    if (url.empty()) return nullptr;
  } else {
    url = "sqlite:" + g_sqlite_dir + "/" + name + ".db";
  }
  auto s = open_store(url, "bench");
  if (!s.ok()) {
    *error = s.status().to_string();
    return nullptr;
  }
  return std::move(s.value());
}

void BM_DurableStateChanges(benchmark::State& state, const std::string& backend) {
  const int per_commit = static_cast<int>(state.range(0));
  static int run = 0;
  std::string error;
  auto store = open_backend(backend, "run" + std::to_string(++run), &error);
  if (!store) {
    state.SkipWithError(error.c_str());
    return;
  }
  OrderId next = 1;
  for (auto _ : state) {
    Status s = store->commit(batch_of(next, per_commit));
    if (!s) {
      state.SkipWithError(s.to_string().c_str());
      return;
    }
    next += per_commit;
  }
  state.SetItemsProcessed(state.iterations() * per_commit);
  state.counters["changes_per_commit"] = per_commit;
}

}  // namespace
}  // namespace orderly

int main(int argc, char** argv) {
  using orderly::BM_DurableStateChanges;
  std::string error;
  auto server = orderly::testing::PgServer::start({.durable = true}, &error);
  if (!server) {
    std::fprintf(stderr, "store_pg_bench: cannot start PostgreSQL: %s\n", error.c_str());
    return 1;
  }
  orderly::g_server = server.get();
  char dir[] = "/tmp/orderly-sqlite-bench-XXXXXX";
  if (::mkdtemp(dir) == nullptr) return 1;
  orderly::g_sqlite_dir = dir;

  for (const char* backend : {"sqlite", "postgresql"}) {
    benchmark::RegisterBenchmark((std::string("durable_state_changes/") + backend).c_str(),
                                 [backend](benchmark::State& st) {
                                   BM_DurableStateChanges(st, backend);
                                 })
        ->Arg(1)
        ->Arg(64)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::error_code ec;
  std::filesystem::remove_all(orderly::g_sqlite_dir, ec);
  return 0;
}
