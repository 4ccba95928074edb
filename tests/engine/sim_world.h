#pragma once
// The engine against the real simulator model through the real Alpaca adapter, in-process and
// under virtual time, over a SQLite store file. Killing the engine drops the runtime and the
// store handle; a restart opens the same file again (a new Engine, a new Store).

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "broker/alpaca/alpaca_broker.h"
#include "broker/alpaca/stream_dispatch.h"
#include "broker/alpaca/transport.h"
#include "runtime/runtime.h"
#include "sim/exchange.h"
#include "sim/inprocess/inprocess_broker.h"
#include "store/open.h"
#include "store/store.h"

namespace orderly::testing {

struct SimWorld {
  ManualClock clock;
  std::unique_ptr<sim::Exchange> exchange;
  std::shared_ptr<sim::InProcessTransport> transport;
  alpaca::AlpacaBroker broker;
  std::filesystem::path dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<SimulationRuntime> rt;
  RuntimeOptions options;

  // `regular_hours`: the simulator keeps the market's hours in ET (closed nights and weekends,
  // day orders expiring at 16:00, the auction windows); else its market never closes.
  // `crypto_fee`: the simulator's crypto fee rate (Alpaca's highest, 0.25%, unless given).
  // `price_increments`: pairs whose prices are multiples of more than the cent.
  explicit SimWorld(std::uint64_t seed, std::string faults = {}, bool regular_hours = false,
                    std::optional<Decimal> crypto_fee = std::nullopt,
                    std::map<std::string, Decimal> price_increments = {})
      : exchange(make(seed, clock, regular_hours, crypto_fee, std::move(price_increments))),
        transport(std::make_shared<sim::InProcessTransport>(*exchange)),
        broker(transport,
               alpaca::AlpacaConfig{"http://127.0.0.1:1", "test", "test"}, &clock) {
    if (!faults.empty()) {
      std::string err = exchange->set_faults_json(faults);
      EXPECT_EQ(err, "");
    }
    dir = std::filesystem::temp_directory_path() /
          ("orderly-engine-test-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    options.engine.account_identity = "test";
    options.engine.seed = seed;
  }

  ~SimWorld() {
    rt.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  static std::unique_ptr<sim::Exchange> make(std::uint64_t seed, const Clock& clock,
                                              bool regular_hours,
                                              std::optional<Decimal> crypto_fee,
                                              std::map<std::string, Decimal> price_increments) {
    sim::SimConfig c;
    c.crypto_price_increments = std::move(price_increments);
    c.seed = seed;
    if (crypto_fee) c.crypto_fee_rate = *crypto_fee;
    c.regular_hours_only = regular_hours;
    c.cash = Decimal::from_int(1'000'000);
    return sim::make_exchange(c, clock);
  }

  // (Re)starts orderly over the store file: what a process restart does.
  void start() {
    rt.reset();
    store.reset();
    auto s = open_store("sqlite:" + (dir / "orderly.db").string(), "test");
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store = std::move(*s);
    rt = std::make_unique<SimulationRuntime>(*store, broker, clock, options,
                                             [this](Timestamp now) { advance(now); });
    ASSERT_TRUE(rt->start().ok());
    rt->on_connected();
    rt->settle();
  }

  void advance(Timestamp now) {
    exchange->advance(now);
    for (const auto& m : exchange->take_stream_messages(now)) {
      if (lose && lose(m)) continue;
      // A dead engine hears nothing: those events are lost, as they would be.
      if (rt && rt->running()) alpaca::dispatch_stream_frame(m.json, *rt);
    }
  }

  // Stream messages this returns true for never reach orderly (lost on the way).
  std::function<bool(const sim::StreamMessage&)> lose;

  // Virtual time passes with or without an engine.
  void run(std::int64_t ms) {
    if (rt && rt->running()) {
      rt->run_for(ms, 100);
      return;
    }
    for (std::int64_t t = 0; t < ms; t += 100) {
      clock.advance_ms(100);
      advance(clock.now());
    }
  }

  // Count of one code in /sim/stats errors_by_code (0 when absent).
  std::int64_t errors_with_code(std::string_view code) const {
    std::string stats = exchange->stats_json();
    std::string key = "\"" + std::string(code) + "\":";
    auto pos = stats.find(key);
    if (pos == std::string::npos) return 0;
    return std::stoll(stats.substr(pos + key.size()));
  }

  // Every order the broker holds, closed ones included.
  std::vector<BrokerOrder> broker_orders() {
    ListOrdersQuery q;
    q.status = OrderListStatus::all;
    q.limit = 500;
    q.nested = false;
    auto r = broker.list_orders(q);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
    return r.ok() ? r.value() : std::vector<BrokerOrder>{};
  }

  void set_price(const std::string& symbol, const std::string& price) {
    exchange->set_prices({{symbol, Decimal::must(price)}});
  }
};

// A market entry for `qty` with emulated exits at 11.00 / 9.00 (prices around 10).
inline TradeSpec market_trade_with_exits(const std::string& symbol, const char* qty,
                                         TimeInForce tif) {
  TradeSpec spec;
  spec.symbol = symbol;
  spec.qty = Decimal::must(qty);
  spec.entry_type = OrderType::market;
  spec.tif = tif;
  spec.take_profit.price = Decimal::must("11.00");
  spec.stop_loss = PriceTarget{.price = Decimal::must("9.00")};
  spec.exits = ExitMode::emulated;
  return spec;
}

}  // namespace orderly::testing
