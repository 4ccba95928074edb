#include "engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "engine/engine_impl.h"

namespace orderly {

std::string_view to_string(CommandKind k) {
  switch (k) {
    case CommandKind::submit: return "submit";
    case CommandKind::get_order: return "get_order";
    case CommandKind::get_by_client_id: return "get_by_client_id";
    case CommandKind::cancel: return "cancel";
    case CommandKind::replace: return "replace";
    case CommandKind::list_orders: return "list_orders";
    case CommandKind::fill_activities: return "fill_activities";
    case CommandKind::list_positions: return "list_positions";
    case CommandKind::get_account: return "get_account";
  }
  return "?";
}

CommandResult execute(Broker& broker, const Command& c) {
  CommandResult r;
  auto take_order = [&](BrokerResult<BrokerOrder> res) {
    r.unreadable = std::move(res.unreadable());
    if (res.ok()) r.order = std::move(res.value()); else r.error = res.error();
  };
  switch (c.kind) {
    case CommandKind::submit: take_order(broker.submit_order(c.submit)); break;
    case CommandKind::get_order: take_order(broker.get_order(c.broker_order_id)); break;
    case CommandKind::get_by_client_id:
      take_order(broker.get_order_by_client_id(c.client_order_id));
      break;
    case CommandKind::replace:
      take_order(broker.replace_order(c.broker_order_id, c.replace));
      break;
    case CommandKind::cancel: {
      auto res = broker.cancel_order(c.broker_order_id);
      if (!res.ok()) r.error = res.error();
      break;
    }
    case CommandKind::list_orders: {
      auto res = broker.list_orders(c.list);
      r.unreadable = std::move(res.unreadable());
      if (res.ok()) r.orders = std::move(res.value()); else r.error = res.error();
      break;
    }
    case CommandKind::fill_activities: {
      auto res = broker.fill_activities(c.activities);
      r.unreadable = std::move(res.unreadable());
      if (res.ok()) r.activities = std::move(res.value()); else r.error = res.error();
      break;
    }
    case CommandKind::list_positions: {
      auto res = broker.list_positions();
      r.unreadable = std::move(res.unreadable());
      if (res.ok()) r.positions = std::move(res.value()); else r.error = res.error();
      break;
    }
    case CommandKind::get_account: {
      auto res = broker.get_account();
      if (res.ok()) r.account = std::move(res.value()); else r.error = res.error();
      break;
    }
  }
  r.stated_rate_limit = broker.stated_rate_limit();
  return r;
}

// ---- Engine::Impl: command release within the rate budget, result dispatch ----------------

// "second:count,..." for the calls of the last 60 s.
std::string Engine::Impl::encode_rate_window(Timestamp now) {
  calls_last_minute(now);
  std::map<std::int64_t, int> per_second;
  for (Timestamp t : call_times_) per_second[t.ms() / 1000]++;
  std::string out;
  for (auto& [sec, n] : per_second) {
    if (!out.empty()) out += ',';
    out += fmt::format("{}:{}", sec, n);
  }
  return out;
}

std::int64_t Engine::Impl::calls_last_minute(Timestamp now) {
  while (!call_times_.empty() && now.ms_since(call_times_.front()) >= 60'000) {
    call_times_.pop_front();
  }
  return static_cast<std::int64_t>(call_times_.size());
}

// An entry released in the last minute whose trade has no exit sent yet: its fill will need
// a slot of the budget for the exit at once.
bool Engine::Impl::awaits_first_exit(OrderId entry_id) {
  const Order* e = order_ptr(entry_id);
  if (e == nullptr) return false;
  const Trade* t = trade_ptr(e->trade_id);
  if (t == nullptr || is_terminal(t->state) || t->spec.exits == ExitMode::native) return false;
  if (is_terminal(e->state) && e->filled_qty.is_zero()) return false;
  for (OrderId id : by_trade_[e->trade_id]) {
    const Order& o = order_at(id);
    if (is_exit_role(o.role) && !o.parent_order_id && aux_[id].sent_at) return false;
  }
  return true;
}

// Slots new entries and reads leave free for the exits of entries released within the last
// minute (issue 14: with 300 trades opened at once, entries took the whole window and exits
// of filled positions reached the broker up to 120 s after the fill).
std::int64_t Engine::Impl::exit_reserve(Timestamp now) {
  while (!entry_releases_.empty() && now.ms_since(entry_releases_.front().first) >= 60'000) {
    entry_releases_.pop_front();
  }
  std::int64_t n = 0;
  for (const auto& [at, id] : entry_releases_) n += awaits_first_exit(id) ? 1 : 0;
  return n;
}

// How much of the minute's budget each class of command may fill (take_commands).
struct Engine::Impl::ReleaseLimits {
  std::int64_t budget = 0;          // protective work, lookups, catch-ups: the whole budget
  std::int64_t background = 0;      // entries and sweeps: all but a tenth kept for protection
  std::int64_t idle_polls = 0;      // polls beyond their share: a tenth short of `background`
  std::int64_t catch_up_share = 0;  // catch-ups of a minute at one per catch_up_spacing_ms
  std::int64_t catch_up_spacing_ms = 0;
  std::int64_t sweep_cap = 0;       // sweep pages of a minute
  int inflight_cap = 0;
  int deferrable_inflight_cap = 0;
};

// While entries wait for the budget, the catch-up runs every one and a half poll intervals (a
// completed poll at least every two, issue 20) from a share entries leave free for it.
Engine::Impl::ReleaseLimits Engine::Impl::release_limits() const {
  ReleaseLimits l;
  l.budget = rate_budget();
  const std::int64_t tenth = std::max<std::int64_t>(1, l.budget / 10);
  l.background = l.budget - tenth;
  l.idle_polls = std::max<std::int64_t>(1, l.background - tenth);
  const std::int64_t spacing = std::max<std::int64_t>(1, cfg_.poll_interval_ms * 3 / 2);
  l.catch_up_share = std::max<std::int64_t>(
      1, std::min<std::int64_t>(l.budget / 3, (60'000 + spacing - 1) / spacing));
  l.catch_up_spacing_ms = std::max(spacing, (60'000 + l.catch_up_share - 1) / l.catch_up_share);
  // The catch-up finds a missed fill in one call whatever the number of open orders, while a
  // sweep of 10,000 is 21 pages: sharing one ceiling, the pages took every slot that freed up
  // and the catch-up waited behind them (a fill missed with the stream down took 7 s to find
  // at 10,000 open orders, not 2 polls).
  l.sweep_cap = std::max<std::int64_t>(1, l.background - l.catch_up_share);
  l.inflight_cap = cfg_.max_inflight_commands;
  l.deferrable_inflight_cap = l.inflight_cap > 1 ? l.inflight_cap - 1 : l.inflight_cap;
  return l;
}

void Engine::Impl::restore_rate_window(const std::string& text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos
                                                                    : comma - pos);
    pos = comma == std::string::npos ? text.size() : comma + 1;
    auto colon = item.find(':');
    if (colon == std::string::npos) continue;
    char* end = nullptr;
    const long long sec = std::strtoll(item.c_str(), &end, 10);
    const long n = std::strtol(item.c_str() + colon + 1, &end, 10);
    // The end of that second: conservative, the calls leave the window no earlier.
    for (long i = 0; i < n && i < 1000; ++i) {
      call_times_.push_back(Timestamp::from_ms(sec * 1000 + 999));
    }
  }
  // Which of them were catch-ups is not kept: the latest count as the catch-ups' share, or the
  // share would be kept free on top of a full window and nothing but catch-ups and protective
  // work would go out for a minute after a restart (the start-up sweep included).
  const auto share = static_cast<std::size_t>(release_limits().catch_up_share);
  const std::size_t n = std::min(share, call_times_.size());
  for (std::size_t i = call_times_.size() - n; i < call_times_.size(); ++i) {
    catchup_call_times_.push_back(call_times_[i]);
    paced_catchup_times_.push_back(call_times_[i]);
  }
}

// Whether `c` fits the budget now, `used` calls being in the last minute and `reserve` slots
// kept for the exits of released entries:
// - protective work and lookups: the whole budget and every in-flight slot;
// - entries: keep clear of a tenth of the budget, of the slots kept for exits, of the
//   catch-ups' share and of one in-flight slot. A burst of entries thus never delays the exit
//   of a filled position by more than one slot;
// - the fill catch-up within its share (one per catch_up_spacing_ms): the budget less the slots
//   kept for exits. The sync never pauses for a burst (issue 20: trading calls took the whole
//   minute at once and no poll completed for up to two minutes);
// - sweep pages, and catch-ups beyond their share: idle slack only, a further tenth short of
//   what entries may fill. A poll stays in the window for a minute once sent: filling the
//   window with them made an entry queued next wait for them to age out (tens of seconds in
//   the dashboard test, poll_interval_ms = 200) and took the tenth kept for protective work.
bool Engine::Impl::fits(const Command& c, const ReleaseLimits& l, std::int64_t used,
                        std::int64_t reserve, Timestamp now) const {
  const auto inflight = static_cast<std::int64_t>(outstanding_);
  // The part of the catch-ups' share not used in the window is kept for them: entries leave
  // what no catch-up took; idle polls leave what no paced catch-up took, so the paced ones to
  // come never lift the window above the idle polls' ceiling.
  auto unused = [&](const std::deque<Timestamp>& taken) {
    return std::max<std::int64_t>(0, l.catch_up_share - static_cast<std::int64_t>(taken.size()));
  };
  const bool entries_wait = used + reserve + unused(catchup_call_times_) >= l.background;
  const bool idle_polls_wait = used + reserve + unused(paced_catchup_times_) >= l.idle_polls;
  switch (c.priority) {
    case CommandPriority::protective:
    case CommandPriority::lookup: return used < l.budget && inflight < l.inflight_cap;
    case CommandPriority::catch_up:
      if (used + reserve >= l.budget || inflight >= l.deferrable_inflight_cap) return false;
      return within_catchup_share(c, l, now) || !idle_polls_wait;
    case CommandPriority::entry: return !entries_wait && inflight < l.deferrable_inflight_cap;
    case CommandPriority::sweep:
      // While the stream is down or suspect the sweep is how cancels and expiries are learned:
      // it waits for entries only. While it is healthy it is idle slack.
      if ((stream_suspect(now) ? entries_wait : idle_polls_wait) ||
          inflight >= l.deferrable_inflight_cap) {
        return false;
      }
      return static_cast<std::int64_t>(sweep_call_times_.size()) < l.sweep_cap;
  }
  return false;
}

// A catch-up page released as part of the catch-ups' share (paced, counted in
// paced_catchup_times_); any other is idle slack.
bool Engine::Impl::within_catchup_share(const Command& c, const ReleaseLimits& l,
                                        Timestamp now) const {
  return c.id != catchup_first_page_ || !last_catchup_release_ ||
         now.ms_since(*last_catchup_release_) >= l.catch_up_spacing_ms;
}

static void drop_older_than_a_minute(std::deque<Timestamp>& times, Timestamp now) {
  while (!times.empty() && now.ms_since(times.front()) >= 60'000) times.pop_front();
}

// A replace queued to grow an exit whose order filled in part (or ended) before the request
// left: the broker would count the whole new qty against what is left (DST seed 901335: a
// 40310000 to our own order).
bool Engine::Impl::replace_overtaken(const Command& c) const {
  if (c.kind != CommandKind::replace) return false;
  const Order* o = order_ptr(c.order_id);
  const Order* old = o && o->replaces_order_id ? order_ptr(*o->replaces_order_id) : nullptr;
  return old != nullptr && (!old->filled_qty.is_zero() || !is_open_at_broker(old->state));
}

// Releases queued commands in priority order (CommandPriority), each within its share (fits).
std::vector<Command> Engine::Impl::take_commands(Timestamp now) {
  std::vector<Command> out;
  if (queue_.empty()) return out;
  // While the stream is down or suspect the sweep is how exits canceled or expired at the broker
  // are learned. Once none has answered for the protection grace it goes before new entries,
  // under their ceiling (fits): behind them it never got a slot while entries waited for the
  // budget (30-minute soak: 229 positions covered at the broker raised unprotected_position,
  // "no sweep of the broker's open orders has answered since").
  const bool sweep_first =
      stream_suspect(now) &&
      (!last_sweep_at_ || now.ms_since(*last_sweep_at_) >= cfg_.unprotected_grace_ms);
  auto rank = [sweep_first](const Command& c) {
    if (sweep_first && c.priority == CommandPriority::sweep) {
      return 2 * static_cast<int>(CommandPriority::entry) - 1;
    }
    return 2 * static_cast<int>(c.priority);
  };
  std::stable_sort(queue_.begin(), queue_.end(),
                   [&](const Command& a, const Command& b) { return rank(a) < rank(b); });
  const ReleaseLimits l = release_limits();
  std::int64_t used = calls_last_minute(now);
  drop_older_than_a_minute(sweep_call_times_, now);
  drop_older_than_a_minute(catchup_call_times_, now);
  drop_older_than_a_minute(paced_catchup_times_, now);
  std::optional<std::int64_t> reserve;  // computed when the first catch-up or entry is looked at
  std::deque<Command> keep;
  for (Command& c : queue_) {
    if (replace_overtaken(c)) {
      // Not sent: the next input ends the replacement and the trade decides again.
      withheld_replaces_.insert(c.order_id);
      pending_.erase(c.id);
      continue;
    }
    if (c.priority >= CommandPriority::catch_up && !reserve) reserve = exit_reserve(now);
    // Orders sent or waiting for the budget: the account trades (catchup_interval).
    if (c.priority == CommandPriority::protective || c.priority == CommandPriority::entry) {
      last_trading_at_ = now;
    }
    if (!fits(c, l, used, reserve.value_or(0), now)) {
      keep.push_back(std::move(c));
      continue;
    }
    if (c.priority == CommandPriority::catch_up) {
      if (within_catchup_share(c, l, now)) {
        paced_catchup_times_.push_back(now);
        last_catchup_release_ = now;
      }
      catchup_call_times_.push_back(now);
    }
    ++used;
    ++outstanding_;
    ++metrics_.rest_calls;
    call_times_.push_back(now);
    if (c.priority == CommandPriority::sweep) sweep_call_times_.push_back(now);
    if (c.priority == CommandPriority::entry && c.kind == CommandKind::submit) {
      entry_releases_.emplace_back(now, c.order_id);
      *reserve += awaits_first_exit(c.order_id) ? 1 : 0;
    }
    rate_dirty_ = true;
    pending_[c.id].released_at = now;
    if (c.kind == CommandKind::submit || c.kind == CommandKind::replace) note_sent(c, now);
    out.push_back(std::move(c));
  }
  queue_ = std::move(keep);
  return out;
}

void Engine::Impl::on_result(CommandId id, CommandResult r, Timestamp now) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  if (outstanding_ > 0) --outstanding_;
  // A connection failure or a 5xx says the broker is not answering as it should; a 4xx refuses
  // one request and says nothing about the broker. (A broker answering 500 to everything was
  // "ok" until no poll had completed for sync_lag_ms, and then not named.)
  broker_ok_ = !(r.error && (r.error->kind == BrokerError::Kind::not_sent ||
                             r.error->http_status >= 500));
  begin();
  last_now_ = now;
  note_unreadable(r.unreadable, now);
  if (r.stated_rate_limit) stated_rate_limit_ = r.stated_rate_limit;
  switch (p.purpose) {
    case Purpose::send: on_send_result(p, r, now); break;
    case Purpose::resolve: on_resolve_result(p, r, now); break;
    case Purpose::refresh: on_refresh_result(p, r, now); break;
    case Purpose::related: on_related_result(p, r, now); break;
    case Purpose::cancel: on_cancel_result(p, r, now); break;
    case Purpose::sweep_page: on_sweep_result(p, r, now); break;
    case Purpose::catchup_page: on_catchup_result(r, now); break;
    case Purpose::positions: on_positions_result(r, now); break;
    case Purpose::legs: on_legs_result(r, now); break;
    case Purpose::recovery_page: on_recovery_result(p, r, now); break;
  }
  drain_held_back(now);
  run_submitter(now);
  finish_input(now);
}

void Engine::Impl::drain_held_back(Timestamp now) {
  while (!held_back_.empty()) {
    TradeUpdate u = std::move(held_back_.front());
    held_back_.pop_front();
    auto it = by_bid_.find(u.order.id);
    if (it != by_bid_.end()) apply_update(it->second, u, now);
  }
}

std::optional<Timestamp> Engine::Impl::next_wakeup() const {
  std::optional<Timestamp> w;
  auto consider = [&](Timestamp t) { if (!w || t < *w) w = t; };
  consider(last_now_.plus_ms(std::min<std::int64_t>(cfg_.poll_interval_ms, 1000)));
  for (auto& [id, at] : retry_at_) consider(at);
  return w;
}


template <typename F>
void Engine::Impl::guarded(std::string_view input, Timestamp now, F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    ++metrics_.anomalies;
    rollback("engine", fmt::format("{}: unexpected state ({}); its changes were rolled back and "
                                   "every open order is refreshed from the broker",
                                   input, e.what()));
    begin();
    begin_full_resync(now);
    finish_input(now);
  }
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

std::vector<Command> Engine::take_commands(Timestamp now) { return impl_->take_commands(now); }
std::optional<Timestamp> Engine::next_wakeup() const { return impl_->next_wakeup(); }
std::optional<ReconcileReport> Engine::take_reconcile_report() {
  auto r = std::move(impl_->finished_report_);
  impl_->finished_report_.reset();
  return r;
}
std::optional<ReconcileReport> Engine::reconcile_progress() const {
  if (!impl_->reconcile_requested_) return std::nullopt;
  ReconcileReport r = impl_->report_;
  r.complete = false;
  return r;
}
Health Engine::health(Timestamp now) const { return impl_->health(now); }
const EngineMetrics& Engine::metrics() const { return impl_->metrics_; }
std::string Engine::metrics_text(Timestamp now) const { return impl_->metrics_text(now); }
std::vector<PositionView> Engine::positions() const { return impl_->positions(); }
std::vector<Trade> Engine::trades() const {
  std::vector<Trade> out;
  for (auto& [id, t] : impl_->trades_) out.push_back(t);
  return out;
}
std::vector<Order> Engine::orders() const {
  std::vector<Order> out;
  for (auto& [id, o] : impl_->orders_) out.push_back(o);
  return out;
}
std::optional<Order> Engine::order(OrderId id) const {
  auto it = impl_->orders_.find(id);
  if (it == impl_->orders_.end()) return std::nullopt;
  return it->second;
}
std::optional<Order> Engine::order_by_client_id(std::string_view cid) const {
  auto it = impl_->by_cid_.find(std::string(cid));
  if (it == impl_->by_cid_.end()) return std::nullopt;
  return order(it->second);
}
std::vector<Alert> Engine::active_alerts() const {
  std::vector<Alert> out;
  for (auto& [key, id] : impl_->active_alerts_) {
    if (auto a = impl_->alerts_.find(id); a != impl_->alerts_.end()) out.push_back(a->second);
  }
  return out;
}
const std::string& Engine::owner() const { return impl_->owner_; }
std::size_t Engine::inflight_commands() const { return impl_->outstanding_; }
std::size_t Engine::queued_commands() const { return impl_->queue_.size(); }

}  // namespace orderly
