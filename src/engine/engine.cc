#include "engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "engine/engine_state.h"
#include "engine/exit_modifier.h"
#include "engine/lookups.h"
#include "engine/stand_in_entries.h"
#include "engine/submitter.h"
#include "engine/synchronizer.h"
#include "engine/trade_executor.h"
#include "engine/transaction.h"
#include "engine/views.h"

namespace orderly {

// The engine: its shared state (engine_state.h) and the parts that write it, wired together.
// Each input is framed here as one transaction, and each command's result dispatched to the
// part that sent it. The components' questions to the engine (their Hosts) are forwarded to the
// part that answers each.
class Engine::Impl : private ProtectionMonitor::Host,
                     private CommandRelease::Host,
                     private PositionsReconciler::Host,
                     private InflightCheck::Host,
                     private Transaction::Host {
 public:
  Impl(Store& store, EngineConfig config)
      : s_(store, std::move(config), {*this, *this, *this, *this}), tx_(s_, *this) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Runs one input as a transaction. A state the engine did not expect (a lookup that finds
  // nothing where the engine's own links say something is) never terminates the process: the
  // input's changes are rolled back, an `anomaly` alert says what happened and a full resync
  // refreshes every open order from the broker (issue 18).
  template <typename F>
  void guarded(std::string_view input, Timestamp now, F&& body);
  void abandon_input(std::string_view subject, const std::string& why, Timestamp now);
  // Released by s_.release (release.h), counted and remembered here.
  std::vector<Command> take_commands(Timestamp now);
  void on_result(CommandId id, CommandResult r, Timestamp now);
  std::optional<Timestamp> next_wakeup() const;

  // Intents: inputs whose caller hears whether they were kept. Refused before anything changes,
  // or carried out in a transaction of their own (the group's, in a group), the submitter run
  // after them, and committed before the answer.
  StatusOr<Trade> open_trade(const TradeSpec& spec, Timestamp now);
  Status cancel_trade(TradeId id, Timestamp now);
  Status cancel_entry(TradeId id, Timestamp now);
  StatusOr<std::vector<TradeId>> close_all(Timestamp now);
  Status modify_exits(TradeId id, const ExitChange& change, Timestamp now);
  template <typename F>
  Status intent(Timestamp now, F&& carry_out) {
    tx_.begin();
    carry_out();
    submitter_.run_submitter(now);
    return tx_.finish(now);
  }

  // ProtectionMonitor::Host, PositionsReconciler::Host (set_sync)
  void set_sync(std::string_view key, std::string value) override {
    tx_.set_sync(key, std::move(value));
  }
  void audit_gap(const Order& o, const std::string& note, Timestamp now) override {
    tx_.audit_gap(o, note, now);
  }
  void touch_trades_of(const std::string& symbol) override { trades_.touch_trades_of(symbol); }
  void keep_oversold_trades() override { trades_.keep_oversold_trades(); }
  // CommandRelease::Host
  void note_sent(const Command& c, Timestamp now) override { submitter_.note_sent(c, now); }
  // PositionsReconciler::Host
  void ask_about_entry(OrderId id, Timestamp now) override { sync_.ask_about_entry(id, now); }
  // InflightCheck::Host (stage_refresh also Transaction::Host's)
  void stage_resolve(OrderId id) override { lookups_.stage_resolve(id); }
  void stage_refresh(OrderId id, Timestamp now, bool force) override {
    lookups_.stage_refresh(id, now, force);
  }
  void check_unresolved_leg(OrderId id, Timestamp now) override {
    sync_.check_unresolved_leg(id, now);
  }
  // Transaction::Host
  void start_recovery() override { submitter_.start_recovery(); }
  void abandon_recovery(bool look_up) override { submitter_.abandon_recovery(look_up); }
  void begin_full_resync(Timestamp now) override { sync_.begin_full_resync(now); }
  void unknown_fill_fetch_failed(const std::string& broker_order_id) override {
    sync_.unknown_fill_fetch_failed(broker_order_id);
  }
  bool oversold_still_charged(TradeId tid) override { return trades_.oversold_still_charged(tid); }
  void track_wash_priced(OrderId id) override { trades_.track_wash_priced(id); }

  EngineState s_;
  Transaction tx_;
  Lookups lookups_{s_, tx_};
  Submitter submitter_{s_, tx_, lookups_, sync_, trades_, entries_, modifier_};
  Synchronizer sync_{s_, tx_, lookups_, trades_};
  TradeExecutor trades_{s_, tx_, lookups_, submitter_, sync_};
  StandInEntries entries_{s_, tx_, trades_};
  ExitModifier modifier_{s_, tx_, lookups_, trades_};
  // Health, metrics and positions as the engine shows them (declared after all they read).
  EngineViews views_{{s_.ledger, s_.positions_read, s_.cover, s_.alerts, s_.stream, s_.cadence,
                      s_.store_health, s_.budget, s_.metrics, s_.last_sync_at, s_.broker_ok}};
};

// ---- Engine::Impl: commands released (release.h), result dispatch --------------------------

std::vector<Command> Engine::Impl::take_commands(Timestamp now) {
  CommandRelease::Released r = s_.release.take(now);
  // Orders sent or waiting for the budget: the account trades (sync_cadence.h).
  if (r.trading) s_.cadence.trading(now);
  if (!r.commands.empty()) s_.rate_dirty = true;  // the window, written with the next commit
  s_.metrics.rest_calls += static_cast<std::int64_t>(r.commands.size());
  return std::move(r.commands);
}

void Engine::Impl::on_result(CommandId id, CommandResult r, Timestamp now) {
  std::optional<Pending> answered = s_.outbox.answered(id);
  if (!answered) return;
  const Pending p = std::move(*answered);
  // A connection failure or a 5xx says the broker is not answering as it should; a 4xx refuses
  // one request and says nothing about the broker. (A broker answering 500 to everything was
  // "ok" until no poll had completed for sync_lag_ms, and then not named.)
  s_.broker_ok =
      !(r.error && (r.error->kind == BrokerError::Kind::not_sent || r.error->http_status >= 500));
  tx_.begin();
  s_.last_now = now;
  s_.alert_rules.note_unreadable(r.unreadable, now);
  if (r.stated_rate_limit) s_.budget.set_stated_limit(*r.stated_rate_limit);
  switch (p.purpose) {
    case Purpose::send: submitter_.on_send_result(p, r, now); break;
    case Purpose::resolve: submitter_.on_resolve_result(p, r, now); break;
    case Purpose::refresh: submitter_.on_refresh_result(p, r, now); break;
    case Purpose::related: submitter_.on_related_result(p, r, now); break;
    case Purpose::cancel: submitter_.on_cancel_result(p, r, now); break;
    case Purpose::sweep_page: sync_.on_sweep_result(p, r, now); break;
    case Purpose::catchup_page: sync_.on_catchup_result(r, now); break;
    case Purpose::positions: sync_.on_positions_result(p, r, now); break;
    case Purpose::legs: sync_.on_legs_result(p, r, now); break;
    case Purpose::recovery_page: submitter_.on_recovery_result(p, r, now); break;
  }
  sync_.drain_held_back(now);
  submitter_.run_submitter(now);
  tx_.finish_input(now);
}

std::optional<Timestamp> Engine::Impl::next_wakeup() const {
  std::optional<Timestamp> w;
  auto consider = [&](Timestamp t) { if (!w || t < *w) w = t; };
  consider(s_.last_now.plus_ms(std::min<std::int64_t>(s_.cfg.poll_interval_ms, 1000)));
  for (const auto& [id, at] : s_.retries.sends()) consider(at);
  return w;
}


template <typename F>
void Engine::Impl::guarded(std::string_view input, Timestamp now, F&& body) {
  try {
    body();
  } catch (const StoreUnreadable& e) {
    // Like a failed commit: the store is failing until a commit succeeds.
    s_.store_health.failed(e.what(), now);
    abandon_input("store",
                  fmt::format("{}: reading the store failed ({}); its changes were "
                              "rolled back and every open order is refreshed from "
                              "the broker",
                              input, e.what()),
                  now);
  } catch (const std::exception& e) {
    ++s_.metrics.unexpected_states;
    abandon_input("engine",
                  fmt::format("{}: unexpected state ({}); its changes were rolled back "
                              "and every open order is refreshed from the broker",
                              input, e.what()),
                  now);
  }
}

// The input's changes are rolled back, an anomaly on `subject` says why, and a full resync
// finds the input's evidence again at the broker.
void Engine::Impl::abandon_input(std::string_view subject, const std::string& why, Timestamp now) {
  ++s_.metrics.anomalies;
  tx_.rollback(subject, why);
  tx_.begin();
  sync_.begin_full_resync(now);
  tx_.finish_input(now);
}

// ---- Engine::Impl: intents ------------------------------------------------------------------

StatusOr<Trade> Engine::Impl::open_trade(const TradeSpec& spec, Timestamp now) {
  if (Status refused = trades_.refuse_open(spec); !refused.ok()) return refused;
  TradeId id = 0;
  if (Status st = intent(now, [&] { id = trades_.open_trade(spec, now); }); !st.ok()) return st;
  return s_.ledger.trade_at(id);
}

Status Engine::Impl::cancel_trade(TradeId id, Timestamp now) {
  if (Status refused = trades_.refuse_cancel(id); !refused.ok()) return refused;
  return intent(now, [&] { trades_.cancel_trade(id); });
}

Status Engine::Impl::cancel_entry(TradeId id, Timestamp now) {
  if (Status refused = trades_.refuse_cancel_entry(id); !refused.ok()) return refused;
  return intent(now, [&] { trades_.cancel_entry(id, now); });
}

StatusOr<std::vector<TradeId>> Engine::Impl::close_all(Timestamp now) {
  std::vector<TradeId> closing;
  if (Status st = intent(now, [&] { closing = trades_.close_all(); }); !st.ok()) return st;
  return closing;
}

Status Engine::Impl::modify_exits(TradeId id, const ExitChange& change, Timestamp now) {
  StatusOr<ExitChangePlanner::Plan> plan = modifier_.plan(id, change);
  if (!plan.ok()) return plan.status();
  return intent(now, [&] { modifier_.modify_exits(id, *plan, now); });
}

// ---- Engine: thin wrappers that frame each input as one transaction ----------------------

Engine::Engine(Store& store, EngineConfig config)
    : impl_(std::make_unique<Impl>(store, std::move(config))) {}
Engine::~Engine() = default;

Status Engine::start(Timestamp now) {
  try {
    return impl_->tx_.start(now);
  } catch (const std::exception& e) {
    return Status::error(Status::Code::internal,
                         fmt::format("engine start: unexpected state in the store ({})", e.what()));
  }
}

StatusOr<Trade> Engine::open_trade(const TradeSpec& spec, Timestamp now) {
  impl_->s_.last_now = now;
  StatusOr<Trade> out = Status::error(Status::Code::internal, "unexpected engine state");
  impl_->guarded("open_trade", now, [&] { out = impl_->open_trade(spec, now); });
  return out;
}

Status Engine::cancel_trade(TradeId id, Timestamp now) {
  impl_->s_.last_now = now;
  Status out = Status::error(Status::Code::internal, "unexpected engine state");
  impl_->guarded("cancel_trade", now, [&] { out = impl_->cancel_trade(id, now); });
  return out;
}

Status Engine::cancel_entry(TradeId id, Timestamp now) {
  impl_->s_.last_now = now;
  Status out = Status::error(Status::Code::internal, "unexpected engine state");
  impl_->guarded("cancel_entry", now, [&] { out = impl_->cancel_entry(id, now); });
  return out;
}

StatusOr<std::vector<TradeId>> Engine::close_all(Timestamp now) {
  impl_->s_.last_now = now;
  StatusOr<std::vector<TradeId>> out = Status::error(Status::Code::internal,
                                                     "unexpected engine state");
  impl_->guarded("close_all", now, [&] { out = impl_->close_all(now); });
  return out;
}

Status Engine::modify_exits(TradeId id, const ExitChange& change, Timestamp now) {
  impl_->s_.last_now = now;
  Status out = Status::error(Status::Code::internal, "unexpected engine state");
  impl_->guarded("modify_exits", now,
                 [&] { out = impl_->modify_exits(id, change, now); });
  return out;
}

void Engine::on_result(CommandId id, CommandResult result, Timestamp now) {
  impl_->guarded("command result", now, [&] { impl_->on_result(id, std::move(result), now); });
}

void Engine::on_trade_update(const TradeUpdate& update, Timestamp now) {
  const auto key = Synchronizer::event_key(update);
  impl_->s_.seen_events.prefetch(key);  // loads while begin() clears the last transaction
  impl_->s_.last_now = now;
  impl_->guarded("trade update", now, [&] {
    impl_->tx_.begin();
    impl_->sync_.on_trade_update(update, key, now);
    impl_->submitter_.run_submitter(now);
    impl_->tx_.finish_input(now);
  });
}

void Engine::on_stream_connected(Timestamp now) {
  impl_->s_.last_now = now;
  impl_->guarded("stream connected", now, [&] {
    impl_->tx_.begin();
    impl_->sync_.on_stream_connected(now);
    impl_->tx_.finish_input(now);
  });
}

void Engine::on_stream_disconnected(std::string_view reason, Timestamp now) {
  impl_->s_.last_now = now;
  impl_->guarded("stream disconnected", now, [&] {
    impl_->tx_.begin();
    impl_->sync_.on_stream_disconnected(reason, now);
    impl_->tx_.finish_input(now);
  });
}

void Engine::on_broker_reachability(bool reachable, std::string_view detail, Timestamp now) {
  impl_->s_.last_now = now;
  impl_->guarded("broker reachability", now, [&] {
    impl_->tx_.begin();
    impl_->sync_.on_broker_reachability(reachable, detail, now);
    impl_->tx_.finish_input(now);
  });
}

void Engine::on_stream_unreadable(std::string raw, std::string reason, Timestamp now) {
  impl_->s_.last_now = now;
  impl_->guarded("stream message unreadable", now, [&] {
    impl_->tx_.begin();
    impl_->sync_.on_stream_unreadable(std::move(raw), std::move(reason), now);
    impl_->tx_.finish_input(now);
  });
}

void Engine::begin_group() { impl_->tx_.begin_group(); }

// One commit for every input of the group (one fsync); finish() rolls them all back if it fails.
Status Engine::commit_group(Timestamp now) {
  if (!impl_->tx_.end_group()) return Status::success();
  Status out = Status::error(Status::Code::internal, "unexpected engine state");
  impl_->guarded("group commit", now, [&] { out = impl_->tx_.finish(now); });
  return out;
}

void Engine::on_tick(Timestamp now) {
  impl_->guarded("tick", now, [&] {
    impl_->tx_.begin();
    impl_->sync_.on_tick(now);
    impl_->submitter_.run_submitter(now);
    impl_->tx_.finish_input(now);
  });
}

void Engine::request_reconcile(bool fix, Timestamp now) {
  impl_->s_.last_now = now;
  impl_->sync_.request_reconcile(fix, now);
}

void Engine::set_outside_calls(std::int64_t calls_last_minute) {
  impl_->s_.budget.set_outside_calls(calls_last_minute);
}
std::vector<Command> Engine::take_commands(Timestamp now) { return impl_->take_commands(now); }
std::optional<Timestamp> Engine::next_wakeup() const { return impl_->next_wakeup(); }
std::optional<ReconcileReport> Engine::take_reconcile_report() {
  return impl_->s_.reconcile.take_finished();
}
std::optional<ReconcileReport> Engine::reconcile_progress() const {
  return impl_->s_.reconcile.progress();
}
Health Engine::health(Timestamp now) const { return impl_->views_.health(now); }
const EngineMetrics& Engine::metrics() const { return impl_->s_.metrics; }
std::string Engine::metrics_text(Timestamp now) const { return impl_->views_.metrics_text(now); }
std::vector<PositionView> Engine::positions() const { return impl_->views_.positions(); }
std::vector<Trade> Engine::trades() const {
  std::vector<Trade> out;
  for (auto& [id, t] : impl_->s_.ledger.trades()) out.push_back(t);
  return out;
}
std::vector<Order> Engine::orders() const {
  std::vector<Order> out;
  for (auto& [id, o] : impl_->s_.ledger.orders()) out.push_back(o);
  return out;
}
std::optional<Order> Engine::order(OrderId id) const {
  const Order* o = impl_->s_.ledger.order(id);
  if (o == nullptr) return std::nullopt;
  return *o;
}
std::optional<Order> Engine::order_by_client_id(std::string_view cid) const {
  auto id = impl_->s_.ledger.by_client_id(cid);
  if (!id) return std::nullopt;
  return order(*id);
}
std::vector<Alert> Engine::active_alerts() const { return impl_->s_.alerts.active_alerts(); }
const std::string& Engine::owner() const { return impl_->s_.owner; }
std::size_t Engine::inflight_commands() const { return impl_->s_.outbox.inflight(); }
std::size_t Engine::queued_commands() const { return impl_->s_.outbox.queued(); }

}  // namespace orderly
