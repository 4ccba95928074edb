#pragma once
// Runtimes drive an Engine: they feed it inputs and execute the commands it emits.
//
//   ThreadedRuntime    the daemon's: one engine thread draining an input queue, worker threads
//                      running blocking Broker calls (one per call the engine lets be in
//                      flight), a timer for on_tick, the TradeUpdateStream's callbacks posting
//                      to the queue.
//   SimulationRuntime  single-threaded and deterministic under a ManualClock: commands run
//                      synchronously against a Broker (e.g. the in-process Alpaca broker over the
//                      simulator model), optionally answered after a virtual-time delay. Used by
//                      the demo, the DST harness and the engine tests.
//
// Both implement EngineControl (what the local API and CLI use).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/outside_calls.h"
#include "core/time.h"
#include "engine/control.h"
#include "engine/engine.h"
#include "store/store.h"

namespace orderly {

// What a ThreadedRuntime tells the daemon (its log) about the world outside the engine. Called on
// the runtime's threads; must not block.
class RuntimeObserver {
 public:
  virtual ~RuntimeObserver() = default;
  virtual void broker_unreachable(const std::string& error) = 0;
  virtual void broker_back(std::int64_t outage_ms, int attempts) = 0;
  virtual void stream_connected() = 0;
  virtual void stream_disconnected(const std::string& reason) = 0;
};

// How a dead broker is waited for: after a connection failure every call waits; one of them is
// tried again after base, 2 base, 4 base ... up to cap, each step drawn in [step/2, step].
struct BrokerBackoff {
  std::int64_t base_ms = 500;
  std::int64_t cap_ms = 30'000;
};

struct RuntimeOptions {
  EngineConfig engine;
  // ThreadedRuntime: threads making blocking broker calls; 0: one per command the engine lets be
  // in flight (engine.max_inflight_commands, at most kMaxBrokerWorkers). Fewer would queue calls
  // the engine released behind slow ones, FIFO, whatever their priority, and cap throughput at
  // workers / latency below the rate budget (3 workers at 2 s a call: 90 calls/min of 190).
  int workers = 0;
  std::int64_t tick_ms = 100;  // ThreadedRuntime: on_tick period at the latest
  BrokerBackoff broker_backoff;  // ThreadedRuntime
  // ThreadedRuntime::health() waits this long for the engine thread, then answers with its last
  // snapshot and that snapshot's age.
  std::int64_t health_deadline_ms = 300;
  RuntimeObserver* observer = nullptr;  // ThreadedRuntime; may be null
  // ThreadedRuntime: the REST calls made beside the engine on the same account (may be null),
  // counted in the engine's minute (Engine::set_outside_calls).
  OutsideCalls* outside_calls = nullptr;
  // Group commit (Engine::begin_group): inputs waiting together for the engine (stream events,
  // broker answers, the tick) are applied as one transaction with one store commit (one fsync)
  // of at most group_max_inputs inputs; ThreadedRuntime also ends a group once it has been open
  // group_max_us. 1: one commit per input. Nothing of a group is answered or sent before its
  // commit; API calls run on their own, after the open group committed.
  int group_max_inputs = 64;
  std::int64_t group_max_us = 2000;

  static constexpr int kMaxBrokerWorkers = 64;
  // The number of worker threads `workers` stands for.
  int broker_workers() const;
};

class ThreadedRuntime final : public EngineControl {
 public:
  // `stream` may be null (polling only). Nothing runs until start().
  ThreadedRuntime(Store& store, Broker& broker, TradeUpdateStream* stream, const Clock& clock,
                  RuntimeOptions options);
  ~ThreadedRuntime() override;  // stops
  ThreadedRuntime(const ThreadedRuntime&) = delete;
  ThreadedRuntime& operator=(const ThreadedRuntime&) = delete;

  // Loads the store and starts the threads and the stream. Error: the store could not be loaded.
  Status start();
  void stop();

  StatusOr<Trade> open_trade(const TradeSpec& spec) override;
  Status cancel_trade(TradeId id) override;
  Status cancel_entry(TradeId id) override;
  Status modify_exits(TradeId id, const ExitChange& change) override;
  StatusOr<std::vector<TradeId>> close_all() override;
  Health health() const override;
  std::string metrics_text() const override;
  std::vector<PositionView> positions() override;
  ReconcileReport reconcile(bool fix) override;

  // Snapshot views (taken on the engine thread).
  std::vector<Order> orders() const;
  std::vector<Trade> trades() const;
  std::vector<Alert> active_alerts() const;
  // Broker calls made since start (probes of a dead broker included).
  std::int64_t broker_calls() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Deterministic: every call runs to quiescence on the caller's thread.
class SimulationRuntime final : public EngineControl, public TradeUpdateHandler {
 public:
  // `advance` is called with the new virtual time whenever the runtime moves the clock, before
  // the engine's tick: the place to advance the exchange model and pump the in-process stream
  // (whose callbacks land on this object, a TradeUpdateHandler).
  SimulationRuntime(Store& store, Broker& broker, ManualClock& clock, RuntimeOptions options,
                    std::function<void(Timestamp)> advance = {});
  ~SimulationRuntime() override;
  SimulationRuntime(const SimulationRuntime&) = delete;
  SimulationRuntime& operator=(const SimulationRuntime&) = delete;

  // (Re)creates the Engine over the store and starts it (a restart after crash() is this call).
  Status start();
  // Drops the engine without any further commit: what a kill -9 leaves is what the store holds.
  // Answers still in the delay queue are lost, as they would be.
  void crash();
  bool running() const;

  // Broker answers arrive this long (virtual ms) after the command was released (0: at once).
  void set_result_delay_ms(std::int64_t ms);
  // Drops the answer of the next `n` submit commands after the broker applied them
  // ("accepted but the response was lost"): the engine sees unknown_outcome.
  void lose_next_submit_responses(int n);
  // Crash the engine right after the next `n`-th released command was executed by the broker
  // (before its answer is applied), or right before it is sent (`before_send`).
  void crash_at_command(int n, bool before_send);

  // Runs until nothing is left to do at the current virtual time.
  void settle();
  // Advances virtual time by `ms` in steps of `step_ms`, settling at each step.
  void run_for(std::int64_t ms, std::int64_t step_ms = 100);

  Engine& engine();  // precondition: running()
  Store& store();
  const Clock& clock() const;
  std::int64_t commands_executed() const;
  // Inputs the engine rolled back for a state it did not expect, over every life (crashes too).
  std::int64_t unexpected_states() const;

  // EngineControl
  StatusOr<Trade> open_trade(const TradeSpec& spec) override;
  Status cancel_trade(TradeId id) override;
  Status cancel_entry(TradeId id) override;
  Status modify_exits(TradeId id, const ExitChange& change) override;
  StatusOr<std::vector<TradeId>> close_all() override;
  Health health() const override;
  std::string metrics_text() const override;
  std::vector<PositionView> positions() override;
  ReconcileReport reconcile(bool fix) override;

  // TradeUpdateHandler (the in-process stream calls these inline).
  void on_trade_update(TradeUpdate update) override;
  void on_connected() override;
  void on_disconnected(std::string reason) override;
  void on_malformed(std::string raw, std::string reason) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly
