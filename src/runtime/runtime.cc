#include "runtime/runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <variant>

#include <fmt/format.h>

#include "runtime/executor.h"
#include "runtime/latency_window.h"

namespace orderly {
namespace {

// How long ThreadedRuntime::reconcile() waits for a full answer (the CLI waits 15 s).
constexpr std::int64_t kReconcileWaitMs = 10'000;

// An input waiting for the engine, in arrival order.
struct StreamInput {
  enum class Kind { update, connected, disconnected, unreadable } kind = Kind::update;
  TradeUpdate update;
  std::string reason;
};

// What the ThreadedRuntime's engine thread runs, in arrival order. `grouped`: an engine input
// that may share its commit with others (Engine::begin_group).
struct EngineInput {
  std::function<void()> fn;
  bool grouped = false;
};

BrokerError lost_response_error() {
  BrokerError e;
  e.kind = BrokerError::Kind::unknown_outcome;
  e.message = "response lost after the request was sent (simulated)";
  return e;
}

}  // namespace

int RuntimeOptions::broker_workers() const {
  const int n = workers > 0 ? workers : engine.max_inflight_commands;
  return std::clamp(n, 1, kMaxBrokerWorkers);
}

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
    if (engine_) unexpected_states_ += engine_->metrics().unexpected_states;
    engine_ = std::make_unique<Engine>(store_, options_.engine);
    Status st = engine_->start(clock_.now());
    if (!st.ok()) {
      engine_.reset();
      return st;
    }
    if (stream_connected_) engine_->on_stream_connected(clock_.now());
    settle();
    return Status::success();
  }

  void crash() {
    if (engine_) unexpected_states_ += engine_->metrics().unexpected_states;
    engine_.reset();
    delayed_.clear();
    inputs_.clear();
  }

  void settle() {
    for (int guard = 0; guard < 100'000 && engine_; ++guard) {
      const Timestamp now = clock_.now();
      bool progressed = apply_waiting(now);
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

  // The stream's inputs and the answers due, applied in groups (one commit each).
  bool apply_waiting(Timestamp now) {
    const int max = std::max(1, options_.group_max_inputs);
    int grouped = 0;
    const auto counted = [&] {
      if (++grouped < max) return;
      static_cast<void>(engine_->commit_group(now));
      grouped = 0;
    };
    bool progressed = false;
    for (; !inputs_.empty(); progressed = true) {
      StreamInput in = std::move(inputs_.front());
      inputs_.pop_front();
      if (grouped == 0) engine_->begin_group();
      apply_input(in, now);
      counted();
    }
    for (; !delayed_.empty() && delayed_.begin()->first.first <= now.ns; progressed = true) {
      auto node = delayed_.extract(delayed_.begin());
      if (grouped == 0) engine_->begin_group();
      engine_->on_result(node.mapped().first, std::move(node.mapped().second), now);
      counted();
    }
    if (grouped > 0) static_cast<void>(engine_->commit_group(now));
    return progressed;
  }

  void apply_input(StreamInput& in, Timestamp now) {
    switch (in.kind) {
      case StreamInput::Kind::update: engine_->on_trade_update(in.update, now); break;
      case StreamInput::Kind::connected: engine_->on_stream_connected(now); break;
      case StreamInput::Kind::disconnected: engine_->on_stream_disconnected(in.reason, now); break;
      case StreamInput::Kind::unreadable:
        engine_->on_stream_unreadable(std::move(in.update.raw), in.reason, now);
        break;
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
  std::int64_t unexpected_states_ = 0;  // of the engines dropped (crash, restart)
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
std::int64_t SimulationRuntime::unexpected_states() const {
  return impl_->unexpected_states_ +
         (impl_->engine_ ? impl_->engine_->metrics().unexpected_states : 0);
}

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

Status SimulationRuntime::cancel_entry(TradeId id) {
  if (!impl_->engine_) return Status::error(Status::Code::unavailable, "engine not running");
  Status st = impl_->engine_->cancel_entry(id, impl_->clock_.now());
  impl_->settle();
  return st;
}

Status SimulationRuntime::modify_exits(TradeId id, const ExitChange& change) {
  if (!impl_->engine_) return Status::error(Status::Code::unavailable, "engine not running");
  Status st = impl_->engine_->modify_exits(id, change, impl_->clock_.now());
  impl_->settle();
  return st;
}

StatusOr<std::vector<TradeId>> SimulationRuntime::close_all() {
  if (!impl_->engine_) return Status::error(Status::Code::unavailable, "engine not running");
  auto r = impl_->engine_->close_all(impl_->clock_.now());
  impl_->settle();
  return r;
}

Health SimulationRuntime::health() const {
  if (!impl_->engine_) {
    Health h;
    h.status = HealthStatus::down;
    h.reasons = {"the engine is not running"};
    return h;
  }
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
void SimulationRuntime::on_malformed(std::string raw, std::string reason) {
  TradeUpdate carrier;
  carrier.raw = std::move(raw);
  impl_->inputs_.push_back({StreamInput::Kind::unreadable, std::move(carrier), std::move(reason)});
}

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
    if (!st.ok()) return st;
    snapshot();
    running_ = true;
    {
      std::lock_guard lk(mu_);
      loop_running_ = true;
    }
    engine_thread_ = std::thread([this] { engine_loop(); });
    for (int i = 0; i < options_.broker_workers(); ++i) {
      workers_.emplace_back([this] { worker_loop(); });
    }
    if (stream_) stream_->start(*this);
    return Status::success();
  }

  void stop() {
    if (!running_.exchange(false)) return;
    if (stream_) stream_->stop();
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    {
      // A worker between its check of running_ and its wait holds work_mu_: taking it here
      // means the notify below finds it waiting (else it waited for good, and stop() hung in
      // join: ThreadedRuntime.CallsRacingStopAreAnsweredNotLost, once in a full run).
      std::lock_guard wl(work_mu_);
    }
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
  // `grouped`: an engine input (stream, broker answer) that shares its group's commit; anything
  // else runs alone once the open group committed (it answers a caller or reads the state).
  bool post(std::function<void()> fn, bool grouped = false) {
    {
      std::lock_guard lk(mu_);
      if (!loop_running_) return false;
      inputs_.push_back({std::move(fn), grouped});
    }
    cv_.notify_one();
    return true;
  }
  bool post_input(std::function<void()> fn) { return post(std::move(fn), true); }

  void engine_loop() {
    for (;;) {
      std::deque<EngineInput> batch;
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
            run_inputs(batch);
            close_group();
            batch.clear();
            lk.lock();
          }
          loop_running_ = false;
          return;
        }
        batch.swap(inputs_);
      }
      run_inputs(batch);
      const Timestamp now = clock_.now();
      if (now.ms_since(last_tick_) >= options_.tick_ms) {
        open_group();
        engine_.on_tick(now);
        last_tick_ = now;
      }
      close_group();
      if (now.ms_since(snapshot_at_) >= 1000) snapshot();
      dispatch(now);
    }
  }

  // Group commit: the engine inputs that waited together share one commit, in groups bounded in
  // size and time so that the first of them does not wait long for the last.
  void run_inputs(std::deque<EngineInput>& batch) {
    const int max_inputs = std::max(1, options_.group_max_inputs);
    const auto max_open = std::chrono::microseconds(options_.group_max_us);
    for (EngineInput& in : batch) {
      if (!in.grouped) {
        close_group();
        in.fn();
        continue;
      }
      open_group();
      in.fn();
      if (++group_inputs_ >= max_inputs ||
          std::chrono::steady_clock::now() - group_opened_ >= max_open) {
        close_group();
      }
    }
  }

  void open_group() {
    if (group_open_) return;
    engine_.begin_group();
    group_open_ = true;
    group_inputs_ = 0;
    group_opened_ = std::chrono::steady_clock::now();
  }

  // Commits the open group, then what waited for its commit: the stream events' latency is
  // counted, the commands leave.
  void close_group() {
    if (!group_open_) return;
    group_open_ = false;
    const Timestamp now = clock_.now();
    static_cast<void>(engine_.commit_group(now));
    if (!handed_over_.empty()) {
      const auto done = std::chrono::steady_clock::now();
      std::lock_guard lk(latency_mu_);
      for (const auto& at : handed_over_) {
        stream_latency_.add(
            std::chrono::duration_cast<std::chrono::nanoseconds>(done - at).count());
      }
      handed_over_.clear();
    }
    dispatch(now);
  }

  void dispatch(Timestamp now) {
    if (options_.outside_calls != nullptr) {
      engine_.set_outside_calls(options_.outside_calls->last_minute(now));
    }
    std::vector<Command> cmds = engine_.take_commands(now);
    if (cmds.empty()) return;
    {
      std::lock_guard lk(work_mu_);
      for (auto& c : cmds) work_.push_back(std::move(c));
    }
    work_cv_.notify_all();
  }

  // ---- Broker calls. After a connection failure ("not sent": the request never left) every call
  // waits in parked_; one of them is tried per backoff step (the probe). The engine sees none of
  // those failures: its commands are merely slow, so an outage costs no retry attempts, and its
  // budget is not burnt on a dead host. The first call that gets through ends the outage.
  void worker_loop() {
    for (;;) {
      Command c;
      bool probe = false;
      {
        std::unique_lock lk(work_mu_);
        if (!next_work(lk, c, probe)) return;
      }
      ++broker_calls_;
      CommandResult r = execute(broker_, c);
      note_credentials(r);
      if (r.error && r.error->kind == BrokerError::Kind::not_sent) {
        on_connection_failure(std::move(c), probe, r.error->message);
        continue;
      }
      on_broker_answered(probe);
      const CommandId id = c.id;
      post_input([this, id, r = std::move(r)]() mutable {
        engine_.on_result(id, std::move(r), clock_.now());
      });
    }
  }

  // The next command this worker calls the broker with; false when stopping.
  bool next_work(std::unique_lock<std::mutex>& lk, Command& c, bool& probe) {
    for (;;) {
      if (!running_) return false;
      if (!down_) {
        if (!work_.empty()) {
          c = std::move(work_.front());
          work_.pop_front();
          return true;
        }
        work_cv_.wait(lk);
        continue;
      }
      while (!work_.empty()) {
        parked_.push_back(std::move(work_.front()));
        work_.pop_front();
      }
      if (!probing_ && !parked_.empty() && std::chrono::steady_clock::now() >= next_probe_) {
        c = std::move(parked_.front());
        parked_.pop_front();
        probing_ = probe = true;
        return true;
      }
      if (probing_ || parked_.empty()) {
        work_cv_.wait(lk);
      } else {
        work_cv_.wait_until(lk, next_probe_);
      }
    }
  }

  void on_connection_failure(Command c, bool probe, const std::string& error) {
    bool first = false;
    {
      std::lock_guard lk(work_mu_);
      parked_.push_front(std::move(c));  // never left: it is tried again, unchanged
      if (!down_) {
        down_ = first = true;
        down_since_ = clock_.now();
        backoff_step_ = 0;
        attempts_ = 1;
      } else if (probe) {
        probing_ = false;
        ++backoff_step_;
        ++attempts_;
      } else {
        return;  // a call that left before the outage was noticed: no new step
      }
      next_probe_ = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(backoff_delay_ms(backoff_step_));
    }
    work_cv_.notify_all();
    if (!first) return;
    if (options_.observer) options_.observer->broker_unreachable(error);
    post_input([this, error] { engine_.on_broker_reachability(false, error, clock_.now()); });
  }

  void on_broker_answered(bool probe) {
    std::int64_t outage_ms = 0;
    int attempts = 0;
    {
      std::lock_guard lk(work_mu_);
      if (probe) probing_ = false;
      if (!down_) return;
      down_ = false;
      outage_ms = clock_.now().ms_since(down_since_);
      attempts = attempts_;
      // The waiting calls go first, in the order the engine released them.
      while (!parked_.empty()) {
        work_.push_front(std::move(parked_.back()));
        parked_.pop_back();
      }
    }
    work_cv_.notify_all();
    if (options_.observer) options_.observer->broker_back(outage_ms, attempts);
    post_input([this] { engine_.on_broker_reachability(true, "", clock_.now()); });
  }

  // Exponential with jitter, capped: step n waits in [d/2, d], d = min(cap, base * 2^n).
  std::int64_t backoff_delay_ms(int step) {
    const BrokerBackoff& b = options_.broker_backoff;
    const std::int64_t d =
        std::min<std::int64_t>(b.cap_ms, b.base_ms << std::min(step, 20));
    std::uniform_int_distribution<std::int64_t> half(0, std::max<std::int64_t>(0, d / 2));
    return d - half(jitter_);
  }

  void note_credentials(const CommandResult& r) {
    if (!r.error) {
      credentials_refused_ = false;
    } else if (r.error->kind == BrokerError::Kind::rejected && r.error->http_status == 401) {
      credentials_refused_ = true;
    }
  }

  // ---- Health: the engine thread may be waiting on the store; the answer may not. ----
  Health health() {
    auto task = std::make_shared<std::packaged_task<Health()>>([this] { return snapshot(); });
    auto fut = task->get_future();
    Health h;
    if (!post([task] { (*task)(); })) {
      std::lock_guard lk(inline_mu_);
      (*task)();
      h = fut.get();
    } else if (fut.wait_for(std::chrono::milliseconds(options_.health_deadline_ms)) ==
               std::future_status::ready) {
      h = fut.get();
    } else {
      std::lock_guard lk(snapshot_mu_);
      h = snapshot_;
      h.snapshot_age_ms = clock_.now().ms_since(snapshot_at_);
    }
    std::lock_guard lk(work_mu_);
    h.stream_expected = stream_ != nullptr;
    h.broker_reachable = !down_;
    if (down_) h.broker_unreachable_since = down_since_;
    h.credentials_refused = credentials_refused_;
    assess(h, clock_.now());
    return h;
  }

  // On the engine thread: the engine's health, kept as the last snapshot.
  Health snapshot() {
    const Timestamp now = clock_.now();
    Health h = engine_.health(now);
    std::lock_guard lk(snapshot_mu_);
    snapshot_ = h;
    snapshot_at_ = now;
    return h;
  }

  // TradeUpdateHandler: runs on the stream's thread; only posts.
  void on_trade_update(TradeUpdate update) override {
    const auto handed_over = std::chrono::steady_clock::now();
    post_input([this, u = std::move(update), handed_over] {
      engine_.on_trade_update(u, clock_.now());
      handed_over_.push_back(handed_over);  // counted when its group committed
    });
  }

  // orderly's own share of the stream path, for /metrics: a summary over the last events.
  std::string stream_latency_metrics() {
    std::lock_guard lk(latency_mu_);
    const auto sec = [](std::int64_t ns) {
      return fmt::format("{}.{:06}", ns / 1'000'000'000, ns % 1'000'000'000 / 1'000);
    };
    return "# HELP orderly_stream_event_seconds A trade update from the stream client handing it "
           "over to its group's commit (quantiles of the last 1024)\n"
           "# TYPE orderly_stream_event_seconds summary\n"
           "orderly_stream_event_seconds{quantile=\"0.5\"} " +
           sec(stream_latency_.quantile(0.5)) +
           "\norderly_stream_event_seconds{quantile=\"0.99\"} " +
           sec(stream_latency_.quantile(0.99)) +
           "\norderly_stream_event_seconds_sum " + sec(stream_latency_.sum_ns()) +
           "\norderly_stream_event_seconds_count " + std::to_string(stream_latency_.count()) +
           "\n";
  }

  void on_connected() override {
    if (options_.observer) options_.observer->stream_connected();
    {
      // The stream reached the broker, so it is back: the next probe goes now, not at the end
      // of the REST backoff step (up to 30 s), and the resync follows at once.
      std::lock_guard lk(work_mu_);
      if (down_) next_probe_ = std::chrono::steady_clock::now();
    }
    work_cv_.notify_all();
    post_input([this] { engine_.on_stream_connected(clock_.now()); });
  }
  void on_disconnected(std::string reason) override {
    if (options_.observer) options_.observer->stream_disconnected(reason);
    post_input([this, reason = std::move(reason)] {
      engine_.on_stream_disconnected(reason, clock_.now());
    });
  }
  void on_malformed(std::string raw, std::string reason) override {
    post_input([this, raw = std::move(raw), reason = std::move(reason)]() mutable {
      engine_.on_stream_unreadable(std::move(raw), std::move(reason), clock_.now());
    });
  }

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
  std::deque<EngineInput> inputs_;
  // The open group (engine thread only).
  bool group_open_ = false;
  int group_inputs_ = 0;
  std::chrono::steady_clock::time_point group_opened_;
  std::vector<std::chrono::steady_clock::time_point> handed_over_;  // its stream events
  bool stopping_ = false;
  bool loop_running_ = false;  // the engine loop takes inputs (guarded by mu_)
  std::mutex inline_mu_;       // on_engine() calls run here once no loop takes them
  std::mutex work_mu_;
  std::condition_variable work_cv_;
  std::deque<Command> work_;
  Timestamp last_tick_;
  // The broker gate (guarded by work_mu_).
  bool down_ = false;
  bool probing_ = false;
  Timestamp down_since_;
  int backoff_step_ = 0;
  int attempts_ = 0;
  std::chrono::steady_clock::time_point next_probe_;
  std::deque<Command> parked_;
  std::mt19937_64 jitter_{std::random_device{}()};
  std::atomic<bool> credentials_refused_{false};
  std::atomic<std::int64_t> broker_calls_{0};
  std::mutex latency_mu_;
  LatencyWindow stream_latency_;  // guarded by latency_mu_
  std::mutex snapshot_mu_;
  Health snapshot_;
  Timestamp snapshot_at_;
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

Status ThreadedRuntime::cancel_entry(TradeId id) {
  return impl_->on_engine([&]() -> Status {
    Status st = impl_->engine_.cancel_entry(id, impl_->clock_.now());
    impl_->dispatch(impl_->clock_.now());
    return st;
  });
}

Status ThreadedRuntime::modify_exits(TradeId id, const ExitChange& change) {
  return impl_->on_engine([&]() -> Status {
    Status st = impl_->engine_.modify_exits(id, change, impl_->clock_.now());
    impl_->dispatch(impl_->clock_.now());
    return st;
  });
}

StatusOr<std::vector<TradeId>> ThreadedRuntime::close_all() {
  return impl_->on_engine([&]() -> StatusOr<std::vector<TradeId>> {
    auto r = impl_->engine_.close_all(impl_->clock_.now());
    impl_->dispatch(impl_->clock_.now());
    return r;
  });
}

Health ThreadedRuntime::health() const { return impl_->health(); }
std::int64_t ThreadedRuntime::broker_calls() const { return impl_->broker_calls_; }

std::string ThreadedRuntime::metrics_text() const {
  std::string s = impl_->on_engine([&] {
    // Commits against the inputs counted above (stream events, results): what grouping saves.
    return impl_->engine_.metrics_text(impl_->clock_.now()) +
           "# HELP orderly_store_commits_total Store commits (one per input, or per group of "
           "inputs that waited together)\n# TYPE orderly_store_commits_total counter\n"
           "orderly_store_commits_total " +
           std::to_string(impl_->engine_.metrics().commits) + "\n";
  });
  const Health h = impl_->health();
  s += "# HELP orderly_broker_calls_total Calls that tried to reach the broker (probes of a dead "
       "one included)\n# TYPE orderly_broker_calls_total counter\n"
       "orderly_broker_calls_total " + std::to_string(impl_->broker_calls_.load()) + "\n";
  s += "# HELP orderly_broker_reachable 0 while connection attempts fail\n"
       "# TYPE orderly_broker_reachable gauge\norderly_broker_reachable " +
       std::string(h.broker_reachable ? "1" : "0") + "\n";
  s += "# HELP orderly_health_status 0 ok, 1 degraded, 2 down\n"
       "# TYPE orderly_health_status gauge\norderly_health_status " +
       std::to_string(static_cast<int>(h.status)) + "\n";
  s += impl_->stream_latency_metrics();
  return s;
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
  // Bounded wait, within the CLI's 15 s: the engine answers once its resync (catch-up, sweep,
  // positions) finished; past the deadline, with what it found so far, saying so.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kReconcileWaitMs);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = impl_->on_engine([&] { return impl_->engine_.take_reconcile_report(); });
    if (r) return *r;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto partial = impl_->on_engine([&] { return impl_->engine_.reconcile_progress(); });
  if (partial) return *partial;
  ReconcileReport out;
  out.status = Status::error(Status::Code::unavailable, "reconciliation did not finish");
  return out;
}

}  // namespace orderly
