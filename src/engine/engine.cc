#include "engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "engine/engine_impl.h"

namespace orderly {

// ---- Engine::Impl: command release within the rate budget, result dispatch ----------------

// An entry released in the last minute whose trade has no exit sent yet: its fill will need
// a slot of the budget for the exit at once.
bool Engine::Impl::awaits_first_exit(OrderId entry_id) {
  const Order* e = ledger_.order(entry_id);
  if (e == nullptr) return false;
  const Trade* t = ledger_.trade(e->trade_id);
  if (t == nullptr || is_terminal(t->state) || t->spec.exits == ExitMode::native) return false;
  if (is_terminal(e->state) && e->filled_qty.is_zero()) return false;
  for (OrderId id : ledger_.of_trade(e->trade_id)) {
    const Order& o = ledger_.order_at(id);
    if (is_exit_role(o.role) && !o.parent_order_id && aux_[id].sent_at) return false;
  }
  return true;
}

// Slots new entries and reads leave free for the exits of entries released within the last
// minute (issue 14: with 300 trades opened at once, entries took the whole window and exits
// of filled positions reached the broker up to 120 s after the fill).
std::int64_t Engine::Impl::exit_reserve(Timestamp now) {
  std::int64_t n = 0;
  for (const auto& [at, id] : budget_.entry_releases(now)) n += awaits_first_exit(id) ? 1 : 0;
  return n;
}

// A replace queued to grow an exit whose order filled in part (or ended) before the request
// left: the broker would count the whole new qty against what is left (DST seed 901335: a
// 40310000 to our own order).
bool Engine::Impl::replace_overtaken(const Command& c) const {
  if (c.kind != CommandKind::replace) return false;
  const Order* o = ledger_.order(c.order_id);
  const Order* old = o && o->replaces_order_id ? ledger_.order(*o->replaces_order_id) : nullptr;
  return old != nullptr && (!old->filled_qty.is_zero() || !is_open_at_broker(old->state));
}

// An entry judged against our opposite orders when it was queued (entry_path_clear) and
// still waiting for the budget: exits placed meanwhile would meet it in Alpaca's wash-trade
// check, and the refusal costs a call and the cancel of every opposite order of ours (DST
// trades seed 23000000008498: two market buys queued 83 s, refused against the exits of nine
// trades placed meanwhile).
bool Engine::Impl::entry_overtaken(const Command& c) const {
  if (c.kind != CommandKind::submit) return false;
  const Order* o = ledger_.order(c.order_id);
  if (o == nullptr || o->role != OrderRole::entry || o->order_class != OrderClass::simple ||
      o->broker_order_id) {
    return false;
  }
  return !cover_.book_of(o->symbol).wash_blockers(o->side, o->type, o->limit_price).empty();
}

// The order queued commands are released in: their priority (CommandPriority), with two moves.
// While the stream is down or suspect the sweep is how exits canceled or expired at the broker
// are learned. Once none has answered for the protection grace it goes before new entries,
// under their ceiling (fits): behind them it never got a slot while entries waited for the
// budget (30-minute soak: 229 positions covered at the broker raised unprotected_position,
// "no sweep of the broker's open orders has answered since"). And a catch-up page within its
// share takes its turn among the lookups (the order they were staged in): ranked behind them,
// every slot a full window freed went to a lookup first.
void Engine::Impl::sort_queue(const RateBudget::Limits& l, Timestamp now) {
  const bool sweep_first =
      stream_suspect(now) &&
      (!sweep_.last_completed() ||
       now.ms_since(*sweep_.last_completed()) >= cfg_.unprotected_grace_ms);
  auto rank = [&](const Command& c) {
    if (sweep_first && c.priority == CommandPriority::sweep) {
      return 2 * static_cast<int>(CommandPriority::entry) - 1;
    }
    if (c.priority == CommandPriority::catch_up &&
        budget_.paced_catchup(c.id == catchup_first_page_, l, now)) {
      return 2 * static_cast<int>(CommandPriority::lookup);
    }
    return 2 * static_cast<int>(c.priority);
  };
  std::stable_sort(outbox_.queue().begin(), outbox_.queue().end(),
                   [&](const Command& a, const Command& b) { return rank(a) < rank(b); });
}

// Releases queued commands in their order (sort_queue), each within its share (fits).
std::vector<Command> Engine::Impl::take_commands(Timestamp now) {
  std::vector<Command> out;
  if (outbox_.queued() == 0) return out;
  const RateBudget::Limits l = budget_.limits();
  sort_queue(l, now);
  RateBudget::Round round;
  round.used = budget_.own_calls_last_minute(now);
  round.outside = budget_.outside_calls();
  round.stream_suspect = stream_suspect(now);
  budget_.age(now);
  std::optional<std::int64_t> reserve;  // computed when the first catch-up or entry is looked at
  std::deque<Command> keep;
  for (Command& c : outbox_.queue()) {
    if (replace_overtaken(c)) {
      // Not sent: the next input ends the replacement and the trade decides again.
      withheld_replaces_.insert(c.order_id);
      outbox_.withdraw(c.id);
      continue;
    }
    if (c.priority >= CommandPriority::catch_up && !reserve) reserve = exit_reserve(now);
    // Orders sent or waiting for the budget: the account trades (catchup_interval).
    if (c.priority == CommandPriority::protective || c.priority == CommandPriority::entry) {
      last_trading_at_ = now;
    }
    round.reserve = reserve.value_or(0);
    round.inflight = outbox_.inflight();
    const bool paced = budget_.paced_catchup(c.id == catchup_first_page_, l, now);
    if (!budget_.fits(c.priority, paced, l, round)) {
      keep.push_back(std::move(c));
      continue;
    }
    if (entry_overtaken(c)) {
      // Not sent: the next input judges it again against the book (entry_path_clear).
      withheld_entries_.insert(c.order_id);
      outbox_.withdraw(c.id);
      continue;
    }
    budget_.note_release(c.priority, paced, now);
    ++round.used;
    outbox_.released(c.id, now);
    ++metrics_.rest_calls;
    if (c.kind == CommandKind::submit && ledger_.order(c.order_id) != nullptr &&
        ledger_.order_at(c.order_id).role == OrderRole::entry) {
      budget_.note_entry_release(c.order_id, now);
      // A protective entry (clears_its_way) may go before the reserve is first computed.
      if (reserve) *reserve += awaits_first_exit(c.order_id) ? 1 : 0;
    }
    rate_dirty_ = true;
    if (c.kind == CommandKind::submit || c.kind == CommandKind::replace) note_sent(c, now);
    out.push_back(std::move(c));
  }
  outbox_.queue() = std::move(keep);
  return out;
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
  note_unreadable(r.unreadable, now);
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
Health Engine::health(Timestamp now) const {
  return impl_->views_.health(now, impl_->sync_lag_limit(now));
}
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
