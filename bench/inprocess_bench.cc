// In-process load driver (not Google Benchmark): the production engine, SimulationRuntime and
// AlpacaBroker over the simulator model (sim/inprocess/inprocess_broker.h), under virtual time.
//
//   inprocess_bench sync N       REST calls per virtual minute orderly spends to keep N open orders
//                                in sync, stream healthy and stream down, beside the incident
//                                platform's per-order polling (one GET per open order per poll
//                                interval) for the same N, by route; the virtual time until a fill
//                                the stream dropped is in local state (both stream modes), and
//                                until an expiry it dropped is (stream healthy).
//   inprocess_bench recovery     A SQLite store with 1,000,000 historical orders of which 10,000
//                                open, restarted against the model holding those 10,000: wall time
//                                until reconciled and serving, and the process's peak RSS during it.
//
// Prints one JSON object per figure on stdout (scripts/bench collects them).
#include <malloc.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/json.hpp>

#include "runtime/runtime.h"
#include "sim/exchange.h"
#include "sim/inprocess/inprocess_broker.h"
#include "store/open.h"
#include "store/sqlite/sqlite_store.h"

namespace orderly {
namespace {

constexpr int kSymbols = 50;
constexpr const char* kProbeHealthy = "PRBH";
constexpr const char* kProbeDown = "PRBD";
constexpr const char* kProbeExpiry = "PRBX";  // a day order: the session's close expires it

void emit(const std::string& name, double value, const std::string& unit,
          const std::string& extra = "") {
  std::printf("{\"name\":\"%s\",\"value\":%.3f,\"unit\":\"%s\"%s%s}\n", name.c_str(), value,
              unit.c_str(), extra.empty() ? "" : ",", extra.c_str());
  std::fflush(stdout);
}

std::string symbol_of(int i) { return std::string("S").append(std::to_string(i % kSymbols)); }

// The model, its in-process broker and stream, and the store: what survives an engine restart.
struct World {
  ManualClock clock;
  std::unique_ptr<sim::Exchange> exchange;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<sim::InProcessStream> stream;
  std::unique_ptr<Store> store;

  explicit World(std::unique_ptr<Store> s) : store(std::move(s)) {
    sim::SimConfig sc;
    sc.seed = 11;
    sc.rate_limit_per_min = 0;  // orderly's own budget (190/min) is what is measured
    exchange = sim::make_exchange(sc, clock);
    std::map<std::string, Decimal> prices;
    for (int i = 0; i < kSymbols; ++i) prices[symbol_of(i)] = Decimal::from_int(100);
    prices[kProbeHealthy] = Decimal::from_int(100);
    prices[kProbeDown] = Decimal::from_int(100);
    prices[kProbeExpiry] = Decimal::from_int(100);
    exchange->set_prices(prices);
    broker = sim::make_inprocess_broker(*exchange, clock);
    stream = std::make_unique<sim::InProcessStream>(*exchange);
  }

  std::unique_ptr<SimulationRuntime> runtime(int rate_limit_per_min) {
    RuntimeOptions o;
    o.engine.account_identity = "bench";
    o.engine.rate_limit_per_min = rate_limit_per_min;
    if (rate_limit_per_min > 10'000) o.engine.max_inflight_commands = 100'000;
    return std::make_unique<SimulationRuntime>(*store, *broker, clock, o, [this](Timestamp now) {
      exchange->advance(now);
      stream->pump(now);
    });
  }
};

TradeSpec resting_buy(const std::string& symbol, const char* limit) {
  TradeSpec spec;
  spec.symbol = symbol;
  spec.qty = Decimal::from_int(1);
  spec.entry_type = OrderType::limit;
  spec.entry_limit_price = Decimal::must(limit);
  spec.tif = TimeInForce::gtc;
  spec.take_profit.percent = Decimal::from_int(2);
  return spec;
}

// Opens `n` resting limit buys (never marketable) plus the two probe orders, with an unlimited
// budget: seeding is not what is measured. Returns false when they are not all acknowledged.
bool seed_open_orders(World& w, int n) {
  auto rt = w.runtime(1'000'000'000);
  if (!rt->start()) return false;
  for (int i = 0; i < n; ++i) {
    // One ms apart: the sweep pages by created_at, and orders sharing one timestamp across a
    // page boundary are not listed (each then costs a GET; see BENCHMARKS.md).
    w.clock.advance_ms(1);
    if (!rt->open_trade(resting_buy(symbol_of(i), "1.00")).ok()) return false;
  }
  if (!rt->open_trade(resting_buy(kProbeHealthy, "50.00")).ok()) return false;
  if (!rt->open_trade(resting_buy(kProbeDown, "50.00")).ok()) return false;
  TradeSpec day = resting_buy(kProbeExpiry, "50.00");
  day.tif = TimeInForce::day;
  if (!rt->open_trade(day).ok()) return false;
  rt->run_for(2'000);
  int acked = 0;
  for (const Order& o : rt->engine().orders()) acked += o.broker_order_id.has_value() ? 1 : 0;
  return acked >= n + 3;
}

std::optional<OrderId> probe_order(Engine& e, const char* symbol) {
  for (const Order& o : e.orders()) {
    if (o.symbol == symbol && o.role == OrderRole::entry) return o.id;
  }
  return std::nullopt;
}

// Drops every fill of `symbol` from the stream, moves its price through the limit, and counts
// the virtual ms until the local order is filled (-1: not within 10 minutes). `via_poll` tells
// whether the engine found it by polling (else the drop did not hide it).
std::int64_t missed_fill_detection_ms(World& w, SimulationRuntime& rt, const char* symbol,
                                      bool& via_poll) {
  const std::string plan = std::string(R"({"rules":[{"on":"stream","action":"drop","p":1.0,)") +
                           R"("event":"fill","symbol":")" + symbol + R"("}]})";
  if (!w.exchange->set_faults_json(plan).empty()) return -2;
  auto id = probe_order(rt.engine(), symbol);
  if (!id) return -3;
  w.exchange->set_prices({{symbol, Decimal::from_int(40)}});
  const std::int64_t polled = rt.engine().metrics().fills_from_poll;
  const Timestamp t0 = w.clock.now();
  for (int step = 0; step < 6000; ++step) {
    rt.run_for(100, 100);
    auto o = rt.engine().order(*id);
    if (o && o->filled_qty.is_positive()) {
      via_poll = rt.engine().metrics().fills_from_poll > polled;
      return w.clock.now().ms_since(t0);
    }
  }
  return -1;
}

// The session closes with the expiry event of the day probe dropped from the stream: virtual ms
// until the local order is expired (-1: not within 15 minutes). The session opens again after.
std::int64_t missed_expiry_detection_ms(World& w, SimulationRuntime& rt) {
  const std::string plan = std::string(R"({"rules":[{"on":"stream","action":"drop","p":1.0,)") +
                           R"("event":"expired","symbol":")" + kProbeExpiry + R"("}]})";
  if (!w.exchange->set_faults_json(plan).empty()) return -2;
  auto id = probe_order(rt.engine(), kProbeExpiry);
  if (!id) return -3;
  w.exchange->session(sim::SessionEvent::close);
  const Timestamp t0 = w.clock.now();
  std::int64_t found = -1;
  for (int step = 0; step < 9000 && found < 0; ++step) {
    rt.run_for(100, 100);
    auto o = rt.engine().order(*id);
    if (o && o->state == OrderState::expired) found = w.clock.now().ms_since(t0);
  }
  w.exchange->session(sim::SessionEvent::open);
  return found;
}

// REST calls per minute by route between two /sim/stats answers, as a JSON object.
std::string per_route_per_min(const std::string& before, const std::string& after, int minutes) {
  const boost::json::value va = boost::json::parse(before);
  const boost::json::value vb = boost::json::parse(after);
  const boost::json::object& a = va.as_object().at("requests").as_object();
  const boost::json::object& b = vb.as_object().at("requests").as_object();
  std::string out;
  for (const auto& kv : b) {
    const std::int64_t was = a.contains(kv.key()) ? a.at(kv.key()).to_number<std::int64_t>() : 0;
    const std::int64_t now = kv.value().to_number<std::int64_t>();
    if (now <= was) continue;
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.1f", static_cast<double>(now - was) / minutes);
    out += (out.empty() ? "{" : ",") + boost::json::serialize(boost::json::string(kv.key())) +
           ":" + rate;
  }
  return out.empty() ? "{}" : out + "}";
}

struct ModeFigures {
  double per_min = 0;  // REST calls per virtual minute
  std::string routes;  // the same by route, a JSON object
  std::int64_t fill_ms = -1;
  bool fill_via_poll = false;
};

// After a warm-up, the REST calls of a few virtual minutes (total and by route).
ModeFigures measure_calls(World& w, SimulationRuntime& rt) {
  constexpr int kWarmMin = 2, kMeasureMin = 5;
  rt.run_for(kWarmMin * 60'000);
  const std::string before = w.exchange->stats_json();
  const std::int64_t calls = rt.commands_executed();
  rt.run_for(kMeasureMin * 60'000);
  ModeFigures f;
  f.per_min = static_cast<double>(rt.commands_executed() - calls) / kMeasureMin;
  f.routes = per_route_per_min(before, w.exchange->stats_json(), kMeasureMin);
  return f;
}

void emit_sync_figures(int n, const ModeFigures& healthy, const ModeFigures& down,
                       std::int64_t expiry_ms) {
  const EngineConfig defaults;
  const std::string tag = "\"n\":" + std::to_string(n);
  // The incident platform: one GET /v2/orders/{id} per open order per poll interval.
  const double naive = static_cast<double>(n) * 60'000.0 / defaults.poll_interval_ms;
  auto calls = [&](const char* mode, const ModeFigures& f, double target) {
    emit(std::string("sync_rest_per_min_") + mode + "_n" + std::to_string(n), f.per_min,
         "calls/min",
         tag + ",\"baseline_name\":\"per-order polling every " +
             std::to_string(defaults.poll_interval_ms) + " ms\",\"baseline\":" +
             std::to_string(naive) + ",\"target\":\"<= " + std::to_string(int(target)) +
             "\",\"by_route\":" + f.routes + ",\"met\":" +
             (f.per_min <= target ? "true" : "false"));
  };
  // Issue 20 item 4: an idle account (stream healthy) costs at most 20/min, 40 at 10,000 open;
  // with the stream down the budget is the bound.
  calls("healthy", healthy, n >= 10'000 ? 40 : 20);
  calls("down", down, defaults.rate_limit_per_min);
  auto det = [&](const char* mode, const ModeFigures& f, std::int64_t interval) {
    emit(std::string("missed_fill_detection_") + mode + "_n" + std::to_string(n),
         static_cast<double>(f.fill_ms), "virtual ms",
         tag + ",\"found_by_poll\":" + (f.fill_via_poll ? "true" : "false") +
             ",\"baseline_name\":\"2 x poll interval in this mode\",\"baseline\":" +
             std::to_string(2 * interval) + ",\"target\":\"<= " + std::to_string(2 * interval) +
             "\",\"met\":" + (f.fill_ms >= 0 && f.fill_ms <= 2 * interval ? "true" : "false"));
  };
  det("healthy", healthy, defaults.idle_poll_interval_ms);
  det("down", down, defaults.poll_interval_ms);
  emit("missed_expiry_detection_healthy_n" + std::to_string(n), static_cast<double>(expiry_ms),
       "virtual ms",
       tag + ",\"baseline_name\":\"issue 20 item 4: a lost cancel or expiry within 5 minutes\","
             "\"baseline\":300000,\"target\":\"<= 300000\",\"met\":" +
           (expiry_ms >= 0 && expiry_ms <= 300'000 ? "true" : "false"));
}

int run_sync(int n) {
  auto store = open_store("sqlite::memory:", "bench");
  if (!store.ok()) return 2;
  World w(std::move(*store));
  if (!seed_open_orders(w, n)) {
    std::fprintf(stderr, "seeding %d open orders failed\n", n);
    return 2;
  }
  auto rt = w.runtime(EngineConfig().rate_limit_per_min);
  if (!rt->start()) return 2;
  w.stream->start(*rt);
  // Healthy stream: after the start-up resync, the idle cadence.
  ModeFigures healthy = measure_calls(w, *rt);
  // The expiry first: a fill found by polling makes the stream suspect (polled at 1 s for a while).
  const std::int64_t expiry_ms = missed_expiry_detection_ms(w, *rt);
  healthy.fill_ms = missed_fill_detection_ms(w, *rt, kProbeHealthy, healthy.fill_via_poll);
  // Stream down: no more trade_updates; the engine polls at poll_interval_ms within its budget.
  w.stream->stop();
  rt->on_disconnected("bench: stream down");
  ModeFigures down = measure_calls(w, *rt);
  down.fill_ms = missed_fill_detection_ms(w, *rt, kProbeDown, down.fill_via_poll);
  emit_sync_figures(n, healthy, down, expiry_ms);
  return 0;
}

std::int64_t status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::strtoll(line.c_str() + std::strlen(key), nullptr, 10);
  }
  return -1;
}

// `n` closed trades with one filled entry each, ids from `first`, in direct WriteBatches of
// 20,000 (the history a long-running account accumulates; only its size matters here).
Status write_history(Store& store, std::int64_t first, std::int64_t n) {
  const Timestamp t = Timestamp::from_ms(1'700'000'000'000);
  for (std::int64_t base = first; base < first + n;) {
    WriteBatch batch;
    for (const std::int64_t end = std::min(first + n, base + 20'000); base < end; ++base) {
      Trade tr;
      tr.id = base;
      tr.spec = resting_buy("HIST", "150.25");
      tr.state = TradeState::closed;
      tr.created_at = tr.updated_at = t;
      Order o;
      o.id = base;
      o.trade_id = base;
      o.client_order_id = std::string("ol-hist000000-").append(std::to_string(base)).append("-e0");
      o.broker_order_id = std::string("h-").append(std::to_string(base));
      o.symbol = "HIST";
      o.type = OrderType::limit;
      o.tif = TimeInForce::gtc;
      o.qty = o.filled_qty = Decimal::from_int(1);
      o.limit_price = o.filled_avg_price = Decimal::must("150.25");
      o.state = OrderState::filled;
      o.created_at = o.updated_at = t;
      o.version = 3;
      batch.trades.push_back(std::move(tr));
      batch.orders.push_back(std::move(o));
    }
    if (Status s = store.commit(batch); !s) return s;
  }
  return Status::success();
}

int run_recovery() {
  constexpr int kOpen = 10'000;
  constexpr std::int64_t kHistory = 1'000'000;
  std::string t = (std::filesystem::temp_directory_path() / "orderly-rbench-XXXXXX").string();
  const std::string dir = mkdtemp(t.data());
  const std::string path = dir + "/orderly.db";
  int rc = 0;
  {
    // Seeding: history first (ids 1..1M, closed), then the open orders through the engine.
    auto seed = SqliteStore::open(path, "bench");
    if (!seed.ok()) return 2;
    if (!(*seed)->exec_for_test("PRAGMA synchronous = OFF").ok()) return 2;
    if (!write_history(**seed, 1, kHistory).ok()) return 2;
    World w(std::move(*seed));
    if (!seed_open_orders(w, kOpen)) return 2;
    w.store.reset();
    // Baseline: opening the store and load() alone, the floor of any restart.
    double load_secs = -1;
    {
      const auto l0 = std::chrono::steady_clock::now();
      auto s = SqliteStore::open(path, "bench");
      if (s.ok() && (*s)->load().ok()) {
        load_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - l0).count();
      }
    }
    malloc_trim(0);
    const std::int64_t rss_before = status_kb("VmRSS:");
    // Peak RSS counts from here (Linux: writing 5 to clear_refs resets VmHWM).
    { std::ofstream("/proc/self/clear_refs") << "5"; }
    const auto t0 = std::chrono::steady_clock::now();
    auto store = SqliteStore::open(path, "bench");
    if (!store.ok()) return 2;
    w.store = std::move(*store);
    auto rt = w.runtime(EngineConfig().rate_limit_per_min);
    if (!rt->start()) return 2;
    w.stream->start(*rt);
    // Reconciled and serving: the start-up resync (fill catch-up + sweep of every open order +
    // positions) completed, and every open order is known with its broker id.
    double secs = -1;
    for (int step = 0; step < 3000; ++step) {
      rt->run_for(100, 100);
      Health h = rt->health();
      if (h.last_sync_at && h.open_orders >= kOpen && rt->engine().queued_commands() == 0 &&
          rt->engine().inflight_commands() == 0) {
        secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        break;
      }
    }
    const std::int64_t hwm = status_kb("VmHWM:");
    emit("recovery_time_1m_history_10k_open", secs, "s",
         "\"baseline_name\":\"open + load() of the same store alone\",\"baseline\":" +
             std::to_string(load_secs) + ",\"target\":\"<= 3\",\"met\":" +
             std::string(secs >= 0 && secs <= 3.0 ? "true" : "false"));
    emit("recovery_peak_rss", static_cast<double>(hwm) / 1024.0, "MB",
         "\"baseline_name\":\"RSS before the restart (model with 10,000 orders, no engine)\","
         "\"baseline\":" + std::to_string(static_cast<double>(rss_before) / 1024.0) +
             ",\"target\":\"<= 200\",\"met\":" + (hwm >= 0 && hwm <= 200 * 1024 ? "true" : "false"));
    if (secs < 0) rc = 1;
  }
  std::filesystem::remove_all(dir);
  return rc;
}

}  // namespace
}  // namespace orderly

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "sync" && argc > 2) return orderly::run_sync(std::atoi(argv[2]));
  if (mode == "recovery") return orderly::run_recovery();
  std::fprintf(stderr, "usage: inprocess_bench sync N | inprocess_bench recovery\n");
  return 2;
}
