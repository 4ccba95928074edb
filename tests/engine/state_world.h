#pragma once
// An EngineState and its Transaction over the in-memory store, with no engine: for the tests of
// the parts that write through the transaction (the Transaction itself, the Lookups). The
// engine's answers to the components' and the transaction's questions are this world's: they
// record what the parts above would have been told.

#include <set>
#include <string>
#include <vector>

#include "engine/engine_state.h"
#include "engine/transaction.h"
#include "ledger_builder.h"
#include "support/memory_store.h"

namespace orderly::test {

class StateWorld : private ProtectionMonitor::Host,
                   private CommandRelease::Host,
                   private PositionsReconciler::Host,
                   private InflightCheck::Host,
                   private Transaction::Host {
 public:
  StateWorld() = default;
  StateWorld(const StateWorld&) = delete;
  StateWorld& operator=(const StateWorld&) = delete;

  // A buy of 9 IWM with its entry `state` at the broker, held before any input.
  void hold_entry(OrderState state) {
    s.ledger.put_trade(buy_trade(1, "IWM", "9"));
    s.ledger.add(order(1, 1, "IWM", OrderRole::entry, OrderType::market, state, "9"));
  }

  const Timestamp now = Timestamp::from_ms(1'700'000'000'000);
  testing::MemoryStore store;
  EngineState s{store, EngineConfig{}, {*this, *this, *this, *this}};
  Transaction tx{s, *this};
  // What the transaction told the parts above it.
  std::vector<std::string> fetches_failed;
  std::set<OrderId> wash_priced_checked;

 private:
  void set_sync(std::string_view, std::string) override {}
  void audit_gap(const Order&, const std::string&, Timestamp) override {}
  void touch_trades_of(const std::string&) override {}
  void keep_oversold_trades() override {}
  void note_sent(const Command&, Timestamp) override {}
  void ask_about_entry(OrderId, Timestamp) override {}
  void stage_resolve(OrderId) override {}
  void stage_refresh(OrderId, Timestamp, bool) override {}
  void check_unresolved_leg(OrderId, Timestamp) override {}
  void start_recovery() override {}
  void abandon_recovery(bool) override {}
  void begin_full_resync(Timestamp) override {}
  void unknown_fill_fetch_failed(const std::string& broker_order_id) override {
    fetches_failed.push_back(broker_order_id);
  }
  bool oversold_still_charged(TradeId) override { return false; }
  void track_wash_priced(OrderId id) override { wash_priced_checked.insert(id); }
};

}  // namespace orderly::test
