#include "engine/runtime.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

namespace orderly {
namespace {

// An input waiting for the engine, in arrival order.
struct StreamInput {
  enum class Kind { update, connected, disconnected } kind = Kind::update;
  TradeUpdate update;
  std::string reason;
};

BrokerError lost_response_error() {
  BrokerError e;
  e.kind = BrokerError::Kind::unknown_outcome;
  e.message = "response lost after the request was sent (simulated)";
  return e;
}

}  // namespace

// =============================================================================================
// SimulationRuntime
// =============================================================================================

class SimulationRuntime::Impl {
 public:
  Impl(Store& store, Broker& broker, ManualClock& clock, RuntimeOptions options,
       std::function<void(Timestamp)> advance)
      : store_(store), broker_(broker), clock_(clock), options_(std::move(options)),
        advance_(std::move(advance)) {}

  Status start() {
    engine_ = std::make_unique<Engine>(store_, options_.engine);
    Status st = engine_->start(clock_.now());
    if (!st.is_ok()) {
      engine_.reset();
      return st;
    }
    if (stream_connected_) engine_->on_stream_connected(clock_.now());
    settle();
    return Status::ok();
  }

  void crash() {
    engine_.reset();
    delayed_.clear();
    inputs_.clear();
  }

  void settle() {
    for (int guard = 0; guard < 100'000 && engine_; ++guard) {
      const Timestamp now = clock_.now();
      bool progressed = false;
      while (!inputs_.empty() && engine_) {
        StreamInput in = std::move(inputs_.front());
        inputs_.pop_front();
        switch (in.kind) {
          case StreamInput::Kind::update: engine_->on_trade_update(in.update, now); break;
          case StreamInput::Kind::connected: engine_->on_stream_connected(now); break;
          case StreamInput::Kind::disconnected: engine_->on_stream_disconnected(in.reason, now);
            break;
        }
        progressed = true;
      }
      while (!delayed_.empty() && delayed_.begin()->first.first <= now.ns && engine_) {
        auto node = delayed_.extract(delayed_.begin());
        engine_->on_result(node.mapped().first, std::move(node.mapped().second), now);
        progressed = true;
      }
      if (!engine_) return;
      std::vector<Command> cmds = engine_->take_commands(now);
      for (Command& c : cmds) {
        progressed = true;
        ++released_;
        if (crash_at_ > 0 && released_ == crash_at_ && crash_before_send_) {
          crash();
          return;
        }
        CommandResult r = execute(broker_, c);
        ++executed_;
        if (c.kind == CommandKind::submit && lose_submits_ > 0) {
          --lose_submits_;
          r = CommandResult{};
          r.error = lost_response_error();
        }
        if (crash_at_ > 0 && released_ == crash_at_ && !crash_before_send_) {
          crash();
          return;
        }
        if (delay_ms_ > 0) {
          delayed_.emplace(std::make_pair(now.plus_ms(delay_ms_).ns, ++seq_),
                           std::make_pair(c.id, std::move(r)));
        } else {
          engine_->on_result(c.id, std::move(r), now);
        }
      }
      if (!progressed) return;
    }
  }

  void run_for(std::int64_t ms, std::int64_t step_ms) {
    if (step_ms <= 0) step_ms = 1;
    for (std::int64_t t = 0; t < ms; t += step_ms) {
      clock_.advance_ms(std::min(step_ms, ms - t));
      if (advance_) advance_(clock_.now());
      settle();
      if (engine_) engine_->on_tick(clock_.now());
      settle();
    }
  }

  Store& store_;
  Broker& broker_;
  ManualClock& clock_;
  RuntimeOptions options_;
  std::function<void(Timestamp)> advance_;
  std::unique_ptr<Engine> engine_;
  std::deque<StreamInput> inputs_;
  std::map<std::pair<std::int64_t, std::int64_t>, std::pair<CommandId, CommandResult>> delayed_;
  std::int64_t seq_ = 0;
  std::int64_t delay_ms_ = 0;
  int lose_submits_ = 0;
  std::int64_t crash_at_ = 0;
  bool crash_before_send_ = false;
  std::int64_t released_ = 0;
  std::int64_t executed_ = 0;
  bool stream_connected_ = false;
};

SimulationRuntime::SimulationRuntime(Store& store, Broker& broker, ManualClock& clock,
                                     RuntimeOptions options,
                                     std::function<void(Timestamp)> advance)
    : impl_(std::make_unique<Impl>(store, broker, clock, std::move(options), std::move(advance))) {
}
SimulationRuntime::~SimulationRuntime() = default;

Status SimulationRuntime::start() { return impl_->start(); }
void SimulationRuntime::crash() { impl_->crash(); }
bool SimulationRuntime::running() const { return impl_->engine_ != nullptr; }
void SimulationRuntime::set_result_delay_ms(std::int64_t ms) { impl_->delay_ms_ = ms; }
void SimulationRuntime::lose_next_submit_responses(int n) { impl_->lose_submits_ = n; }
void SimulationRuntime::crash_at_command(int n, bool before_send) {
  impl_->crash_at_ = impl_->released_ + n;
  impl_->crash_before_send_ = before_send;
}
void SimulationRuntime::settle() { impl_->settle(); }
void SimulationRuntime::run_for(std::int64_t ms, std::int64_t step_ms) {
  impl_->run_for(ms, step_ms);
}
Engine& SimulationRuntime::engine() { return *impl_->engine_; }
Store& SimulationRuntime::store() { return impl_->store_; }
const Clock& SimulationRuntime::clock() const { return impl_->clock_; }
std::int64_t SimulationRuntime::commands_executed() const { return impl_->executed_; }

StatusOr<Trade> SimulationRuntime::open_trade(const TradeSpec& spec) {
  if (!impl_->engine_) return Status::error(Status::Code::unavailable, "engine not running");
  auto r = impl_->engine_->open_trade(spec, impl_->clock_.now());
  impl_->settle();
  return r;
}

Status SimulationRuntime::cancel_trade(TradeId id) {
  if (!impl_->engine_) return Status::error(Status::Code::unavailable, "engine not running");
  Status st = impl_->engine_->cancel_trade(id, impl_->clock_.now());
  impl_->settle();
  return st;
}

Health SimulationRuntime::health() const {
  if (!impl_->engine_) return Health{};
  return impl_->engine_->health(impl_->clock_.now());
}

std::string SimulationRuntime::metrics_text() const {
  if (!impl_->engine_) return {};
  return impl_->engine_->metrics_text(impl_->clock_.now());
}

std::vector<PositionView> SimulationRuntime::positions() {
  if (!impl_->engine_) return {};
  return impl_->engine_->positions();
}

ReconcileReport SimulationRuntime::reconcile(bool fix) {
  ReconcileReport out;
  if (!impl_->engine_) {
    out.status = Status::error(Status::Code::unavailable, "engine not running");
    return out;
  }
  impl_->engine_->request_reconcile(fix, impl_->clock_.now());
  for (int i = 0; i < 600 && impl_->engine_; ++i) {
    impl_->settle();
    if (auto r = impl_->engine_->take_reconcile_report()) return *r;
    impl_->run_for(100, 100);
  }
  out.status = Status::error(Status::Code::unavailable, "reconciliation did not finish");
  return out;
}

void SimulationRuntime::on_trade_update(TradeUpdate update) {
  impl_->inputs_.push_back({StreamInput::Kind::update, std::move(update), {}});
}
void SimulationRuntime::on_connected() {
  impl_->stream_connected_ = true;
  impl_->inputs_.push_back({StreamInput::Kind::connected, {}, {}});
}
void SimulationRuntime::on_disconnected(std::string reason) {
  impl_->stream_connected_ = false;
  impl_->inputs_.push_back({StreamInput::Kind::disconnected, {}, std::move(reason)});
}
void SimulationRuntime::on_malformed(std::string, std::string) {}

// =============================================================================================
// ThreadedRuntime
// =============================================================================================

class ThreadedRuntime::Impl : public TradeUpdateHandler {
 public:
  Impl(Store& store, Broker& broker, TradeUpdateStream* stream, const Clock& clock,
       RuntimeOptions options)
      : store_(store), broker_(broker), stream_(stream), clock_(clock),
        options_(std::move(options)), engine_(store, options_.engine) {}

  ~Impl() override { stop(); }

  Status start() {
    Status st = engine_.start(clock_.now());
    if (!st.is_ok()) return st;
    running_ = true;
    {
      std::lock_guard lk(mu_);
      loop_running_ = true;
    }
    engine_thread_ = std::thread([this] { engine_loop(); });
    for (int i = 0; i < std::max(1, options_.workers); ++i) {
      workers_.emplace_back([this] { worker_loop(); });
    }
    if (stream_) stream_->start(*this);
    return Status::ok();
  }

  void stop() {
    if (!running_.exchange(false)) return;
    if (stream_) stream_->stop();
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    work_cv_.notify_all();
    if (engine_thread_.joinable()) engine_thread_.join();
    for (auto& w : workers_) {
      if (w.joinable()) w.join();
    }
    workers_.clear();
  }

  // Runs `fn` on the engine thread and waits for its result.
  template <typename Fn>
  auto on_engine(Fn fn) -> decltype(fn()) {
    using R = decltype(fn());
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
    auto fut = task->get_future();
    if (!post([task] { (*task)(); })) {
      // No engine thread (not started, or its loop has ended): run here, one caller at a time.
      std::lock_guard lk(inline_mu_);
      (*task)();
    }
    return fut.get();
  }

  // Queues `fn` for the engine thread; false when no loop will run it. Decided under mu_, so an
  // input is never queued after the loop's last drain (a caller waiting on it would hang).
  bool post(std::function<void()> fn) {
    {
      std::lock_guard lk(mu_);
      if (!loop_running_) return false;
      inputs_.push_back(std::move(fn));
    }
    cv_.notify_one();
    return true;
  }

  void engine_loop() {
    for (;;) {
      std::deque<std::function<void()>> batch;
      {
        std::unique_lock lk(mu_);
        cv_.wait_for(lk, std::chrono::milliseconds(options_.tick_ms),
                     [&] { return stopping_ || !inputs_.empty(); });
        if (stopping_) {
          // Answer waiters so no caller hangs; the engine's state stays as committed. Inputs
          // queued while the last ones run are drained too; then post() refuses.
          while (!inputs_.empty()) {
            batch.swap(inputs_);
            lk.unlock();
            for (auto& fn : batch) fn();
            batch.clear();
            lk.lock();
          }
          loop_running_ = false;
          return;
        }
        batch.swap(inputs_);
      }
      for (auto& fn : batch) fn();
      const Timestamp now = clock_.now();
      if (now.ms_since(last_tick_) >= options_.tick_ms) {
        engine_.on_tick(now);
        last_tick_ = now;
      }
      dispatch(now);
    }
  }

  void dispatch(Timestamp now) {
    std::vector<Command> cmds = engine_.take_commands(now);
    if (cmds.empty()) return;
    {
      std::lock_guard lk(work_mu_);
      for (auto& c : cmds) work_.push_back(std::move(c));
    }
    work_cv_.notify_all();
  }

  void worker_loop() {
    for (;;) {
      Command c;
      {
        std::unique_lock lk(work_mu_);
        work_cv_.wait(lk, [&] { return !running_ || !work_.empty(); });
        if (!running_ && work_.empty()) return;
        if (!running_) return;
        c = std::move(work_.front());
        work_.pop_front();
      }
      CommandResult r = execute(broker_, c);
      const CommandId id = c.id;
      post([this, id, r = std::move(r)]() mutable {
        const Timestamp now = clock_.now();
        engine_.on_result(id, std::move(r), now);
        dispatch(now);
      });
    }
  }

  // TradeUpdateHandler: runs on the stream's thread; only posts.
  void on_trade_update(TradeUpdate update) override {
    post([this, u = std::move(update)] {
      engine_.on_trade_update(u, clock_.now());
      dispatch(clock_.now());
    });
  }
  void on_connected() override {
    post([this] {
      engine_.on_stream_connected(clock_.now());
      dispatch(clock_.now());
    });
  }
  void on_disconnected(std::string reason) override {
    post([this, reason = std::move(reason)] {
      engine_.on_stream_disconnected(reason, clock_.now());
    });
  }
  void on_malformed(std::string, std::string) override {}

  Store& store_;
  Broker& broker_;
  TradeUpdateStream* stream_;
  const Clock& clock_;
  RuntimeOptions options_;
  Engine engine_;
  std::atomic<bool> running_{false};
  std::thread engine_thread_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> inputs_;
  bool stopping_ = false;
  bool loop_running_ = false;  // the engine loop takes inputs (guarded by mu_)
  std::mutex inline_mu_;       // on_engine() calls run here once no loop takes them
  std::mutex work_mu_;
  std::condition_variable work_cv_;
  std::deque<Command> work_;
  Timestamp last_tick_;
};

ThreadedRuntime::ThreadedRuntime(Store& store, Broker& broker, TradeUpdateStream* stream,
                                 const Clock& clock, RuntimeOptions options)
    : impl_(std::make_unique<Impl>(store, broker, stream, clock, std::move(options))) {}
ThreadedRuntime::~ThreadedRuntime() = default;

Status ThreadedRuntime::start() { return impl_->start(); }
void ThreadedRuntime::stop() { impl_->stop(); }

StatusOr<Trade> ThreadedRuntime::open_trade(const TradeSpec& spec) {
  // Returns once the intent is committed (open_trade commits before it returns).
  return impl_->on_engine([&]() -> StatusOr<Trade> {
    auto r = impl_->engine_.open_trade(spec, impl_->clock_.now());
    impl_->dispatch(impl_->clock_.now());
    return r;
  });
}

Status ThreadedRuntime::cancel_trade(TradeId id) {
  return impl_->on_engine([&]() -> Status {
    Status st = impl_->engine_.cancel_trade(id, impl_->clock_.now());
    impl_->dispatch(impl_->clock_.now());
    return st;
  });
}

Health ThreadedRuntime::health() const {
  return impl_->on_engine([&] { return impl_->engine_.health(impl_->clock_.now()); });
}

std::string ThreadedRuntime::metrics_text() const {
  return impl_->on_engine([&] { return impl_->engine_.metrics_text(impl_->clock_.now()); });
}

std::vector<PositionView> ThreadedRuntime::positions() {
  return impl_->on_engine([&] { return impl_->engine_.positions(); });
}

std::vector<Order> ThreadedRuntime::orders() const {
  return impl_->on_engine([&] { return impl_->engine_.orders(); });
}

std::vector<Trade> ThreadedRuntime::trades() const {
  return impl_->on_engine([&] { return impl_->engine_.trades(); });
}

std::vector<Alert> ThreadedRuntime::active_alerts() const {
  return impl_->on_engine([&] { return impl_->engine_.active_alerts(); });
}

ReconcileReport ThreadedRuntime::reconcile(bool fix) {
  impl_->on_engine([&] {
    impl_->engine_.request_reconcile(fix, impl_->clock_.now());
    impl_->dispatch(impl_->clock_.now());
    return 0;
  });
  // Bounded wait: the engine answers once its resync (catch-up, sweep, positions) finished.
  for (int i = 0; i < 1200; ++i) {
    auto r = impl_->on_engine([&] { return impl_->engine_.take_reconcile_report(); });
    if (r) return *r;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ReconcileReport out;
  out.status = Status::error(Status::Code::unavailable, "reconciliation did not finish in 60 s");
  return out;
}

}  // namespace orderly
