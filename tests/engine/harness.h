#pragma once
// A SimulationRuntime over the FakeBroker and MemoryStore, with a stream whose deliveries a test
// can drop (the incident's lost take-profit fills) and an engine it can crash and restart.

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "fakes.h"
#include "runtime/runtime.h"

namespace orderly::testing {

inline TradeSpec spec(std::string symbol, std::string qty, std::string tp,
                      std::optional<std::string> sl = std::nullopt,
                      ExitMode exits = ExitMode::emulated) {
  TradeSpec s;
  s.symbol = std::move(symbol);
  s.qty = Decimal::must(qty);
  s.take_profit.price = Decimal::must(tp);
  if (sl) s.stop_loss = PriceTarget{Decimal::must(*sl), std::nullopt};
  s.exits = exits;
  return s;
}

struct Harness {
  ManualClock clock;
  MemoryStore store;
  FakeBroker broker{clock};
  RuntimeOptions options;
  std::unique_ptr<SimulationRuntime> rt;
  std::size_t delivered = 0;
  std::function<bool(const TradeUpdate&)> drop;  // true: the stream loses this event
  bool stream_up = true;

  Harness() {
    options.engine.seed = 7;
    rt = std::make_unique<SimulationRuntime>(store, broker, clock, options,
                                             [this](Timestamp) { pump(); });
  }

  // A new runtime over the same store and broker, with `options` as changed since.
  void reconfigure() {
    rt = std::make_unique<SimulationRuntime>(store, broker, clock, options,
                                             [this](Timestamp) { pump(); });
  }

  void start() {
    ASSERT_TRUE(rt->start().ok());
    rt->on_connected();
    rt->settle();
  }

  // The stream drops and the engine is told so.
  void lose_stream(std::string_view reason = "network") {
    stream_up = false;
    rt->on_disconnected(std::string(reason));
    rt->settle();
  }

  void restart() {
    rt->crash();
    delivered = broker.emitted.size();  // a dead engine hears nothing
    ASSERT_TRUE(rt->start().ok());
    rt->settle();
  }

  void pump() {
    while (delivered < broker.emitted.size()) {
      const TradeUpdate& u = broker.emitted[delivered++];
      if (!stream_up || (drop && drop(u))) continue;
      rt->on_trade_update(u);
    }
  }

  void run(std::int64_t ms) { rt->run_for(ms, 100); }
  Engine& engine() { return rt->engine(); }

  Order local(const std::string& cid) {
    auto o = engine().order_by_client_id(cid);
    EXPECT_TRUE(o.has_value()) << cid;
    return o.value_or(Order{});
  }

  // The local order of `trade` with `role` that we sent ourselves (latest generation).
  std::optional<Order> find(TradeId trade, OrderRole role, bool legs = false) {
    std::optional<Order> out;
    for (const Order& o : engine().orders()) {
      if (o.trade_id == trade && o.role == role && (legs || !o.parent_order_id)) out = o;
    }
    return out;
  }

  std::optional<Trade> trade(TradeId id) {
    for (const Trade& t : engine().trades()) {
      if (t.id == id) return t;
    }
    return std::nullopt;
  }

  bool has_alert(AlertKind k) {
    for (const Alert& a : engine().active_alerts()) {
      if (a.kind == k) return true;
    }
    return false;
  }

  int submits_for(const std::string& cid) {
    return broker.created_per_client_id.count(cid) ? broker.created_per_client_id.at(cid) : 0;
  }

  // Every client id was created at most once at the broker.
  void expect_no_duplicates() {
    for (auto& [cid, n] : broker.created_per_client_id) EXPECT_EQ(n, 1) << cid;
  }

  // Every local order that the broker knows equals the broker's status and filled qty.
  void expect_in_sync() {
    for (const Order& o : engine().orders()) {
      if (!o.broker_order_id) continue;
      const BrokerOrder& b = broker.orders.at(*o.broker_order_id);
      EXPECT_EQ(o.state, *b.status) << o.client_order_id << " local " << to_string(o.state)
                                    << " broker " << to_string(*b.status);
      EXPECT_EQ(o.filled_qty, b.filled_qty) << o.client_order_id;
    }
    for (const PositionView& p : engine().positions()) {
      Decimal broker_qty = broker.position_qty.count(p.symbol) ? broker.position_qty[p.symbol]
                                                               : Decimal();
      EXPECT_EQ(p.local_qty, broker_qty) << p.symbol;
    }
  }
};

}  // namespace orderly::testing
