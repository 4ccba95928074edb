#include "engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "engine/engine_impl.h"

namespace orderly {

// ---- Engine::Impl: commands released (release.h), result dispatch --------------------------

std::vector<Command> Engine::Impl::take_commands(Timestamp now) {
  CommandRelease::Released r = release_.take(now);
  // Orders sent or waiting for the budget: the account trades (sync_cadence.h).
  if (r.trading) cadence_.trading(now);
  if (!r.commands.empty()) rate_dirty_ = true;  // the window, written with the next commit
  metrics_.rest_calls += static_cast<std::int64_t>(r.commands.size());
  return std::move(r.commands);
}

void Engine::Impl::on_result(CommandId id, CommandResult r, Timestamp now) {
  std::optional<Pending> answered = outbox_.answered(id);
  if (!answered) return;
  const Pending p = std::move(*answered);
  // A connection failure or a 5xx says the broker is not answering as it should; a 4xx refuses
  // one request and says nothing about the broker. (A broker answering 500 to everything was
  // "ok" until no poll had completed for sync_lag_ms, and then not named.)
  broker_ok_ = !(r.error && (r.error->kind == BrokerError::Kind::not_sent ||
                             r.error->http_status >= 500));
  begin();
  last_now_ = now;
  alert_rules_.note_unreadable(r.unreadable, now);
  if (r.stated_rate_limit) budget_.set_stated_limit(*r.stated_rate_limit);
  switch (p.purpose) {
    case Purpose::send: on_send_result(p, r, now); break;
    case Purpose::resolve: on_resolve_result(p, r, now); break;
    case Purpose::refresh: on_refresh_result(p, r, now); break;
    case Purpose::related: on_related_result(p, r, now); break;
    case Purpose::cancel: on_cancel_result(p, r, now); break;
    case Purpose::sweep_page: on_sweep_result(p, r, now); break;
    case Purpose::catchup_page: on_catchup_result(r, now); break;
    case Purpose::positions: on_positions_result(p, r, now); break;
    case Purpose::legs: on_legs_result(p, r, now); break;
    case Purpose::recovery_page: on_recovery_result(p, r, now); break;
  }
  drain_held_back(now);
  run_submitter(now);
  finish_input(now);
}

void Engine::Impl::drain_held_back(Timestamp now) {
  while (unmatched_.any_released()) {
    TradeUpdate u = unmatched_.take_released();
    if (auto id = ledger_.by_broker_id(u.order.id)) apply_update(*id, u, now);
  }
}

std::optional<Timestamp> Engine::Impl::next_wakeup() const {
  std::optional<Timestamp> w;
  auto consider = [&](Timestamp t) { if (!w || t < *w) w = t; };
  consider(last_now_.plus_ms(std::min<std::int64_t>(cfg_.poll_interval_ms, 1000)));
  for (const auto& [id, at] : retries_.sends()) consider(at);
  return w;
}


template <typename F>
void Engine::Impl::guarded(std::string_view input, Timestamp now, F&& body) {
  try {
    body();
  } catch (const StoreUnreadable& e) {
    // Like a failed commit: the store is failing until a commit succeeds.
    store_health_.failed(e.what(), now);
    abandon_input("store",
                  fmt::format("{}: reading the store failed ({}); its changes were "
                              "rolled back and every open order is refreshed from "
                              "the broker",
                              input, e.what()),
                  now);
  } catch (const std::exception& e) {
    ++metrics_.unexpected_states;
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
  ++metrics_.anomalies;
  rollback(subject, why);
  begin();
  begin_full_resync(now);
  finish_input(now);
}

// ---- Engine: thin wrappers that frame each input as one transaction ----------------------

Engine::Engine(Store& store, EngineConfig config)
    : impl_(std::make_unique<Impl>(store, std::move(config))) {}
Engine::~Engine() = default;

Status Engine::start(Timestamp now) {
  try {
    return impl_->start(now);
  } catch (const std::exception& e) {
    return Status::error(Status::Code::internal,
                         fmt::format("engine start: unexpected state in the store ({})", e.what()));
  }
}

StatusOr<Trade> Engine::open_trade(const TradeSpec& spec, Timestamp now) {
  impl_->last_now_ = now;
  StatusOr<Trade> out = Status::error(Status::Code::internal, "unexpected engine state");
  impl_->guarded("open_trade", now, [&] { out = impl_->open_trade(spec, now); });
  return out;
}

Status Engine::cancel_trade(TradeId id, Timestamp now) {
  impl_->last_now_ = now;
  Status out = Status::error(Status::Code::internal, "unexpected engine state");
  impl_->guarded("cancel_trade", now, [&] { out = impl_->cancel_trade(id, now); });
  return out;
}

Status Engine::cancel_entry(TradeId id, Timestamp now) {
  impl_->last_now_ = now;
  Status out = Status::error(Status::Code::internal, "unexpected engine state");
  impl_->guarded("cancel_entry", now, [&] { out = impl_->cancel_entry(id, now); });
  return out;
}

StatusOr<std::vector<TradeId>> Engine::close_all(Timestamp now) {
  impl_->last_now_ = now;
  StatusOr<std::vector<TradeId>> out = Status::error(Status::Code::internal,
                                                     "unexpected engine state");
  impl_->guarded("close_all", now, [&] { out = impl_->close_all(now); });
  return out;
}

Status Engine::modify_exits(TradeId id, const ExitChange& change, Timestamp now) {
  impl_->last_now_ = now;
  Status out = Status::error(Status::Code::internal, "unexpected engine state");
  impl_->guarded("modify_exits", now, [&] { out = impl_->modify_exits(id, change, now); });
  return out;
}

void Engine::on_result(CommandId id, CommandResult result, Timestamp now) {
  impl_->guarded("command result", now, [&] { impl_->on_result(id, std::move(result), now); });
}

void Engine::on_trade_update(const TradeUpdate& update, Timestamp now) {
  const auto key = Impl::event_key(update);
  impl_->seen_events_.prefetch(key);  // loads while begin() clears the last transaction
  impl_->last_now_ = now;
  impl_->guarded("trade update", now, [&] {
    impl_->begin();
    impl_->on_trade_update(update, key, now);
    impl_->run_submitter(now);
    impl_->finish_input(now);
  });
}

void Engine::on_stream_connected(Timestamp now) {
  impl_->last_now_ = now;
  impl_->guarded("stream connected", now, [&] {
    impl_->begin();
    impl_->on_stream_connected(now);
    impl_->finish_input(now);
  });
}

void Engine::on_stream_disconnected(std::string_view reason, Timestamp now) {
  impl_->last_now_ = now;
  impl_->guarded("stream disconnected", now, [&] {
    impl_->begin();
    impl_->on_stream_disconnected(reason, now);
    impl_->finish_input(now);
  });
}

void Engine::on_broker_reachability(bool reachable, std::string_view detail, Timestamp now) {
  impl_->last_now_ = now;
  impl_->guarded("broker reachability", now, [&] {
    impl_->begin();
    impl_->on_broker_reachability(reachable, detail, now);
    impl_->finish_input(now);
  });
}

void Engine::on_stream_unreadable(std::string raw, std::string reason, Timestamp now) {
  impl_->last_now_ = now;
  impl_->guarded("stream message unreadable", now, [&] {
    impl_->begin();
    impl_->on_stream_unreadable(std::move(raw), std::move(reason), now);
    impl_->finish_input(now);
  });
}

void Engine::begin_group() { impl_->group_ = true; }

// One commit for every input of the group (one fsync); finish() rolls them all back if it fails.
Status Engine::commit_group(Timestamp now) {
  impl_->group_ = false;
  if (!impl_->txn_open_) return Status::success();
  Status out = Status::error(Status::Code::internal, "unexpected engine state");
  impl_->guarded("group commit", now, [&] { out = impl_->finish(now); });
  return out;
}

void Engine::on_tick(Timestamp now) {
  impl_->guarded("tick", now, [&] {
    impl_->begin();
    impl_->on_tick(now);
    impl_->finish_input(now);
  });
}

void Engine::request_reconcile(bool fix, Timestamp now) {
  impl_->last_now_ = now;
  impl_->request_reconcile(fix, now);
}

void Engine::set_outside_calls(std::int64_t calls_last_minute) {
  impl_->budget_.set_outside_calls(calls_last_minute);
}
std::vector<Command> Engine::take_commands(Timestamp now) { return impl_->take_commands(now); }
std::optional<Timestamp> Engine::next_wakeup() const { return impl_->next_wakeup(); }
std::optional<ReconcileReport> Engine::take_reconcile_report() {
  return impl_->reconcile_.take_finished();
}
std::optional<ReconcileReport> Engine::reconcile_progress() const {
  return impl_->reconcile_.progress();
}
Health Engine::health(Timestamp now) const { return impl_->views_.health(now); }
const EngineMetrics& Engine::metrics() const { return impl_->metrics_; }
std::string Engine::metrics_text(Timestamp now) const { return impl_->views_.metrics_text(now); }
std::vector<PositionView> Engine::positions() const { return impl_->views_.positions(); }
std::vector<Trade> Engine::trades() const {
  std::vector<Trade> out;
  for (auto& [id, t] : impl_->ledger_.trades()) out.push_back(t);
  return out;
}
std::vector<Order> Engine::orders() const {
  std::vector<Order> out;
  for (auto& [id, o] : impl_->ledger_.orders()) out.push_back(o);
  return out;
}
std::optional<Order> Engine::order(OrderId id) const {
  const Order* o = impl_->ledger_.order(id);
  if (o == nullptr) return std::nullopt;
  return *o;
}
std::optional<Order> Engine::order_by_client_id(std::string_view cid) const {
  auto id = impl_->ledger_.by_client_id(cid);
  if (!id) return std::nullopt;
  return order(*id);
}
std::vector<Alert> Engine::active_alerts() const {
  return impl_->alerts_.active_alerts();
}
const std::string& Engine::owner() const { return impl_->owner_; }
std::size_t Engine::inflight_commands() const { return impl_->outbox_.inflight(); }
std::size_t Engine::queued_commands() const { return impl_->outbox_.queued(); }

}  // namespace orderly
