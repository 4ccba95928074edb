// Synchronizer: stream updates, fill catch-up, open-order sweeps, positions reads
// (judged by PositionsReconciler); timers and in-flight checks (alerts: AlertRules).
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "engine/crypto.h"
#include "engine/lookups.h"
#include "engine/synchronizer.h"
#include "engine/trade_executor.h"
#include "engine/transaction.h"

namespace orderly {

std::optional<OrderId> Synchronizer::find_local(const BrokerOrder& b) {
  if (auto id = s_.ledger.by_broker_id(b.id)) return id;
  if (auto id = s_.ledger.by_client_id(b.client_order_id)) {
    // An event that beats the submit reply: matched by our client id.
    tx_.learn_broker_id(*id, b.id);
    return id;
  }
  return match_leg(b);
}

// A bracket/OCO leg carries a client id the broker made up, and a lookup of its parent by
// client id does not list it: recognise it by what we asked for (symbol, side, type, qty,
// price) among our legs whose id we have not learned yet. Only when one leg fits: a leg
// carries no link to its parent, and two trades' legs can be alike (DST extended seed
// 12000000002351: an OCO's stop leg, canceled as its take-profit filled, was taken for
// another trade's stop of the same price and qty whose parent's answer was lost; the OCO's
// own leg was never resolved and its trade stayed closing). An event that fits several is
// held until an answer or a listing of its parent names the leg (learn_broker_id).
std::optional<OrderId> Synchronizer::match_leg(const BrokerOrder& b) {
  if (b.order_class != OrderClass::bracket && b.order_class != OrderClass::oco) {
    return std::nullopt;
  }
  std::optional<OrderId> fit;
  for (OrderId id : s_.ledger.of_symbol(b.symbol)) {
    const Order* op = s_.ledger.order(id);
    if (!op || !op->parent_order_id || op->broker_order_id || op->side != b.side) continue;
    const Order& o = *op;
    const Order* parent = tx_.linked_order(o, o.parent_order_id, "parent", s_.last_now);
    // A parent sent whose answer is not in yet (lost, or a lookup pending) may own the event
    // as well: counted among the fits (DST trades seed 23200000005030: two OCOs alike, one's
    // answer lost; its stop leg's `canceled` was taken for the other's, whose row then held
    // that id and every later commit of the leg failed on the store's unique broker id).
    if (!parent || (!parent->broker_order_id && (parent->state == OrderState::created ||
                                                 parent->state == OrderState::parked ||
                                                 parent->state == OrderState::submit_failed))) {
      continue;
    }
    const bool type_ok = o.role == OrderRole::take_profit ? b.type == OrderType::limit
                                                            : b.type != OrderType::limit;
    const bool price_ok = o.role == OrderRole::take_profit ? b.limit_price == o.limit_price
                                                             : b.stop_price == o.stop_price;
    if (!type_ok || !price_ok || b.qty != o.qty) continue;
    if (fit) return std::nullopt;
    fit = id;
  }
  if (fit) tx_.learn_broker_id(*fit, b.id);
  return fit;
}

// Ours at the broker but never recorded here (crash between send and commit, or a store
// restored from a backup): adopted as a new local order of its trade.
std::optional<OrderId> Synchronizer::adopt_unrecorded(const BrokerOrder& b, Timestamp now) {
  auto parts = parse_client_order_id(b.client_order_id);
  if (!parts || parts->owner != s_.owner) return std::nullopt;
  const Trade* trade = s_.ledger.trade(parts->trade_id);
  if (trade == nullptr) {
    // Its trade ended and left memory, or was never loaded: the store knows it, or nobody does.
    auto stored = tx_.read_or_end_input(s_.store.get_trade(parts->trade_id));
    if (!stored) return std::nullopt;
    s_.ledger.put_trade(*stored);
    if (is_terminal(stored->state)) s_.ended_trades[parts->trade_id] = now;
    trade = s_.ledger.trade(parts->trade_id);
  }
  Order o = trades_.make_order(*trade, parts->role, parts->generation, b.side, b.type,
                               b.qty.value_or(Decimal()), now);
  o.client_order_id = b.client_order_id;
  o.order_class = b.order_class;
  o.limit_price = b.limit_price;
  o.stop_price = b.stop_price;
  o.state = OrderState::unknown;  // the broker's status follows through adopt()
  OrderId id = o.id;
  Order& ins = tx_.insert_order(std::move(o));
  tx_.audit(ins, std::nullopt, EventSource::reconcile,
            "ours at the broker but not recorded locally: adopted", b.raw, now);
  ++s_.reconcile.report().orders_adopted;
  return id;
}

// Idempotence key: the execution, else the same event of the same order at the same time.
RecentKeys::Fp Synchronizer::event_key(const TradeUpdate& u) {
  if (u.execution_id) return RecentKeys::fingerprint({"x:", *u.execution_id});
  return RecentKeys::fingerprint(
      {"e:", u.order.id, u.event,
       std::string_view(reinterpret_cast<const char*>(&u.timestamp.ns), sizeof u.timestamp.ns)});
}

void Synchronizer::on_trade_update(const TradeUpdate& u, const RecentKeys::Fp& key, Timestamp now) {
  ++s_.metrics.stream_events;
  s_.stream.event_heard(now);
  // Idempotent: the same execution (or the same event of the same order) is applied once.
  if (!s_.seen_events.insert(key)) return;
  std::optional<OrderId> local = find_local(u.order);
  // One of ours (or a leg: its client id is the broker's) no longer held in memory.
  if (!local &&
      (is_ours(u.order.client_order_id, s_.owner) || u.order.order_class == OrderClass::bracket ||
       u.order.order_class == OrderClass::oco)) {
    local = tx_.restore_pruned(u.order.id, u.order.client_order_id, now);
  }
  if (!local) {
    if (is_ours(u.order.client_order_id, s_.owner)) {
      local = adopt_unrecorded(u.order, now);
    }
  }
  if (!local) {
    // A fill of it moved the symbol's position all the same: the last positions read says
    // nothing of it (DST trades seed 25400000008939: an OCO stop leg's fill, its id not known
    // yet; a read from before it let a fractional sell pass as within a long, and the broker
    // refused it as a short).
    if (u.event == "fill" || u.event == "partial_fill") {
      s_.positions_read.our_fill(u.order.symbol, now);
    }
    // Possibly a leg whose id the parent's reply has not told us yet: held until it does.
    s_.unmatched.hold(u);
    return;
  }
  apply_update(*local, u, now);
}

// Stream events held for an order not matched yet, released once it was.
void Synchronizer::drain_held_back(Timestamp now) {
  while (s_.unmatched.any_released()) {
    TradeUpdate u = s_.unmatched.take_released();
    if (auto id = s_.ledger.by_broker_id(u.order.id)) apply_update(*id, u, now);
  }
}

void Synchronizer::apply_update(OrderId id, const TradeUpdate& u, Timestamp now) {
  const std::int64_t lat = std::max<std::int64_t>(0, now.ms_since(u.timestamp));
  record_latency(lat);
  const Decimal before = s_.ledger.order_at(id).filled_qty;
  const bool was_terminal = is_terminal(s_.ledger.order_at(id).state);
  if (u.order.status) {
    StateUpdate su = tx_.update_from(u.order);
    std::optional<Fill> execution;
    if (u.execution_id && u.qty && u.price) {
      execution = Fill{*u.execution_id, id, {}, Side::buy, *u.qty, *u.price, u.timestamp};
    }
    tx_.apply(id, su, EventSource::stream, "trade_updates " + u.event, u.raw, now,
              execution ? &*execution : nullptr);
    if (u.position_qty) s_.reconciler.note_crypto_position(id, before, *u.position_qty);
  }
  tx_.adopt_legs(id, u.order, EventSource::stream, now);
  if (!was_terminal) on_exit_ended(id, now, false);
  // Fills keep the account counted as trading (catchup_interval).
  if (s_.ledger.order_at(id).filled_qty > before) s_.cadence.trading(now);
}

void Synchronizer::record_latency(std::int64_t ms) {
  s_.metrics.apply_latency_sum_ms += ms;
  std::size_t i = 0;
  while (i < s_.metrics.apply_latency_bucket_ms.size() &&
         ms > s_.metrics.apply_latency_bucket_ms[i]) {
    ++i;
  }
  s_.metrics.apply_latency_counts[i]++;
}

// When one order of an OCO or bracket ends (filled, canceled, expired, rejected) the broker
// ends the rest of its group (alpaca-api.md §8), and their events may be lost with it
// (alpaca-py #198: a stop leg's cancel never announced). Each still open here is fetched: at
// once when the evidence came from a poll, else if its own event has not come within a poll
// interval (DST extended seed 9400000000139: an OCO's stop leg was heard canceled, its
// take-profit's event was dropped and it counted as cover for 8 s).
void Synchronizer::on_exit_ended(OrderId id, Timestamp now, bool at_once) {
  const Order& o = s_.ledger.order_at(id);
  if (!is_exit_role(o.role) || !is_terminal(o.state) || o.state == OrderState::replaced) return;
  const OrderId group = o.parent_order_id.value_or(o.id);
  const bool ended_elsewhere = ended_unfilled_elsewhere(o, group);
  for (OrderId sid : s_.ledger.of_trade(o.trade_id)) {
    const Order& s = s_.ledger.order_at(sid);
    if (sid == id || !is_open_at_broker(s.state)) continue;
    if (sid != group && s.parent_order_id != group) continue;
    OrderAux& ax = s_.aux[sid];
    if (ended_elsewhere && !ax.unconfirmed_since) {
      ax.unconfirmed_since = o.broker_updated_at.value_or(now);
      s_.protection_monitor.unconfirmed_changed();
      s_.protection_check.touched(s.symbol);
    }
    if (at_once) {
      lookups_.stage_refresh(sid, now, false);
    } else {
      s_.retries.refresh_unless_waiting(sid, now.plus_ms(s_.cfg.poll_interval_ms));
    }
  }
}

// A leg of a group ended unfilled, and no cancel of ours asked for it or its group: Alpaca
// ends the rest of the group with it ("cancelling any order in the group cancels the rest",
// alpaca-api.md), so its other orders cover nothing from then until the broker answers for
// them (DST trades seed 25400000005168: another client canceled an OCO's stop leg; the
// take-profit's own `canceled` was lost, the fetch of it waited for the budget, and 45 MSFT
// stood naked 8.4 s counted as covered by it).
bool Synchronizer::ended_unfilled_elsewhere(const Order& o, OrderId group) const {
  if (o.filled_qty.is_positive() || o.state == OrderState::filled) return false;
  for (OrderId sid : s_.ledger.of_trade(o.trade_id)) {
    const Order& s = s_.ledger.order_at(sid);
    if (sid != group && s.parent_order_id != group) continue;
    const auto ax = s_.aux.find(sid);
    if (ax != s_.aux.end() && (ax->second.we_canceled || ax->second.cancel_sent)) return false;
  }
  return true;
}

// A refresh that got no answer (a timeout, 5xx, 429) proves nothing and is asked again on its
// own, from ask_again_after_ms doubling to kPollBackoffCapMs: waiting for the next sweep that
// misses the order left it counted as cover while sweeps waited for the budget (DST extended
// seed 9400000000001: a bracket's stop leg canceled by another client, 14 s).
void Synchronizer::refresh_failed(OrderId id, const BrokerError& e, Timestamp now) {
  s_.retries.refresh_at(id, now.plus_ms(backed_off_ms(e, s_.aux[id].refresh_failures)));
}

// ask_again_after_ms doubled for each of `failures` in a row (then counted), up to
// kPollBackoffCapMs.
std::int64_t Synchronizer::backed_off_ms(const BrokerError& e, int& failures) const {
  std::int64_t delay = lookups_.ask_again_after_ms(e);
  for (int i = 0; i < failures && delay < kPollBackoffCapMs; ++i) delay *= 2;
  ++failures;
  return std::min(delay, kPollBackoffCapMs);
}

// The broker told where the order stands: it is confirmed (or ended), and its group follows.
void Synchronizer::refresh_answered(OrderId id, Timestamp now) {
  OrderAux& ax = s_.aux[id];
  ax.refresh_failures = 0;
  if (ax.unconfirmed_since) s_.protection_monitor.unconfirmed_changed();
  ax.unconfirmed_since.reset();
  s_.retries.refresh_answered(id);
  on_exit_ended(id, now, false);
}

// The fetch of an order a fill named but we could not match (an entry whose submit outcome is
// unknown) got no answer: fetched again after the next catch-up. Fetched once only, a fill
// found while the engine was down stayed unknown, and its position unraised, until the lookup
// by client id got through 5-10 s later (DST extended seed 9700000001477).
void Synchronizer::unknown_fill_fetch_failed(const std::string& broker_order_id) {
  checked_unknown_.erase(broker_order_id);
  unknown_fill_orders_.insert(broker_order_id);
}

void Synchronizer::stage_due_refreshes(Timestamp now) {
  for (OrderId id : s_.retries.take_due_refreshes(now)) {
    const Order* o = s_.ledger.order(id);
    if (o != nullptr && is_open_at_broker(o->state)) lookups_.stage_refresh(id, now, true);
  }
}

void Synchronizer::on_stream_connected(Timestamp now) {
  if (!s_.stream.connected(now)) return;
  ++s_.metrics.stream_reconnects;
  s_.alerts.clear(AlertKind::stream_down, "stream", now);
  // Missed events are not replayed by Alpaca: resync everything.
  begin_full_resync(now);
}

void Synchronizer::on_stream_disconnected(std::string_view reason, Timestamp now) {
  if (!s_.stream.disconnected(now)) return;
  s_.blindness.begins(now);
  s_.alerts.raise(AlertKind::stream_down, "stream",
                  "trade_updates disconnected: " + std::string(reason), now);
}

void Synchronizer::on_broker_reachability(bool reachable, std::string_view detail, Timestamp now) {
  if (reachable) {
    if (!s_.alerts.active(AlertKind::broker_unreachable, "broker")) return;
    s_.alerts.clear(AlertKind::broker_unreachable, "broker", now);
    begin_full_resync(now);
    return;
  }
  s_.alerts.raise(
      AlertKind::broker_unreachable, "broker",
      "connection attempts fail (" + std::string(detail) + "); calls wait for its return", now);
}

void Synchronizer::on_stream_unreadable(std::string raw, std::string reason, Timestamp now) {
  UnreadableItem u;
  u.kind = "trade_updates message";
  u.raw = std::move(raw);
  if (u.raw.size() > UnreadableItem::kMaxRaw) u.raw.resize(UnreadableItem::kMaxRaw);
  u.reason = std::move(reason);
  s_.alert_rules.note_unreadable({u}, now);
  // It may have been a fill: look for fills now rather than at the next poll.
  start_catchup(now);
}

// The sweep of a resync (after a start, a reconnect, a lost commit) is how the engine learns
// what ended while it heard nothing: an exit canceled or expired then leaves a position naked
// until it is found. Its pages go with the lookups, ahead of entries and of the idle sweeps'
// share (DST extended seeds 9100000000008, 128, 246, 294: after a restart that followed a
// burst, the sweep waited 30-50 s for the window to drain and gaps went unseen for 8 s).
void Synchronizer::begin_full_resync(Timestamp now) {
  // Its catch-up too: how a fill lost meanwhile is found (DST extended seed 9400000001433:
  // after a reconnect the catch-up waited 7 s behind the lookups of a full window).
  s_.catchup.mark_for_resync();
  start_catchup(now);
  s_.sweep.mark_for_resync();
  for (Command& c : s_.outbox.queue()) {
    if (c.kind == CommandKind::list_orders || c.kind == CommandKind::fill_activities) {
      c.priority = CommandPriority::lookup;
    }
  }
  start_sweep(now);
  stage_positions(now);
}

void Synchronizer::start_catchup(Timestamp now) {
  if (!s_.catchup.begin(now)) return;
  stage_catchup_page(std::nullopt);
}

void Synchronizer::stage_catchup_page(std::optional<std::string> page_token) {
  const bool first_page = !page_token;
  Command c;
  c.kind = CommandKind::fill_activities;
  c.priority = s_.catchup.for_resync() ? CommandPriority::lookup : CommandPriority::catch_up;
  c.activities.ascending = true;
  c.activities.page_size = s_.cfg.activity_page_size;
  auto wt = s_.sync_state.find(std::string(kWatermarkTime));
  if (wt != s_.sync_state.end()) {
    if (auto t = parse_rfc3339(wt->second)) {
      // Overlap by a second: executions at the same instant as the watermark are not missed;
      // seen ones are skipped by id (and fills apply by cumulative qty anyway).
      c.activities.after = t->plus_ms(-kActivityOverlapMs);
    }
  }
  auto wid = s_.sync_state.find(std::string(kWatermarkId));
  if (!page_token && watermark_settled_ && wid != s_.sync_state.end() && !wid->second.empty()) {
    // The overlap was read again once everything up to the watermark was visible: start past
    // it. Re-reading it on every poll cost a page per 100 fills of the last second before the
    // watermark, for as long as no newer fill came (10 calls a poll after 1,000 fills at once).
    page_token = wid->second;
  }
  c.activities.page_token = std::move(page_token);
  const CommandId id = tx_.stage(std::move(c), Purpose::catchup_page);
  if (first_page) s_.catchup_first_page = id;
}

// One fill of a catch-up page: applied when it tells more than the stream did (its order's
// cumulative qty), else remembered as seen; a fill of an order we cannot match is fetched
// once the page ends.
void Synchronizer::adopt_caught_up_fill(const FillActivity& a, Timestamp now) {
  if (!s_.seen_activities.first_sight(a.id)) return;
  std::optional<OrderId> known = s_.ledger.by_broker_id(a.order_id);
  // A fill of an order pruned since (its trade ended): the store still knows it.
  if (!known) known = tx_.restore_pruned(a.order_id, {}, now);
  if (!known) {
    // Unknown order id: an order we have not matched yet (a leg) or an external one.
    unknown_fill_orders_.insert(a.order_id);
    return;
  }
  const OrderId id = *known;
  const Order& o = s_.ledger.order_at(id);
  if (a.cum_qty <= o.filled_qty) return;  // the stream already told us
  StateUpdate su;
  su.to = a.order_status.value_or(a.leaves_qty.is_zero() ? OrderState::filled
                                                         : OrderState::partially_filled);
  su.filled_qty = a.cum_qty;
  if (o.filled_qty + a.qty == a.cum_qty) {
    Decimal prev = o.filled_avg_price.value_or(Decimal());
    auto num = (prev * o.filled_qty) + (a.price * a.qty);
    if (auto avg = num.checked_div(a.cum_qty)) su.filled_avg_price = avg->round_to(
        Decimal::must("0.0001"), Rounding::half_even);
  }
  su.broker_time = a.transaction_time;
  const Fill execution{a.id, id, o.symbol, o.side, a.qty, a.price, a.transaction_time};
  const bool applied = tx_.apply(id, su, EventSource::poll,
                                 fmt::format("fill found by catch-up: {} at {}, cum {}",
                                             a.qty.str(), a.price.str(), a.cum_qty.str()),
                                 a.raw, now, &execution);
  if (applied) {
    s_.stream.missed_fill(now);
    s_.protection_check.late_fill(o.symbol, a.transaction_time);
    ++s_.reconcile.report().fills_adopted;
    on_exit_ended(id, now, true);
  }
}

void Synchronizer::on_catchup_result(const CommandResult& r, Timestamp now) {
  if (r.error) {
    s_.catchup.failed(s_.cfg.poll_interval_ms);
    return;
  }
  s_.catchup.page_answered();
  std::optional<FillActivity> last;
  for (const FillActivity& a : r.activities.activities) {
    last = a;
    adopt_caught_up_fill(a, now);
  }
  auto wid = s_.sync_state.find(std::string(kWatermarkId));
  // Ids sort by time: the pages of the overlap, read again, do not move the watermark back.
  if (last && (wid == s_.sync_state.end() || wid->second < last->id)) {
    watermark_seen_at_ = now;
    watermark_settled_ = false;
    tx_.set_sync(kWatermarkTime, format_rfc3339(last->transaction_time));
    tx_.set_sync(kWatermarkId, last->id);
  }
  if (r.activities.more && (last || !r.activities.last_id.empty())) {
    // Past the page's last element even when it was unreadable (skipped and alerted).
    stage_catchup_page(r.activities.last_id.empty() ? last->id : r.activities.last_id);
    return;
  }
  s_.catchup.completed(now);
  // This catch-up was asked for the overlap after a fill in it had time to become visible.
  if (!watermark_settled_ && watermark_seen_at_ &&
      s_.catchup.started_at().ms_since(*watermark_seen_at_) >= kActivityOverlapMs) {
    watermark_settled_ = true;
  }
  mark_synced(now);
  // Fills of orders we could not match: fetch each once to learn whose they are.
  for (const std::string& bid : unknown_fill_orders_) {
    if (checked_unknown_.insert(bid).second) {
      tx_.note_unknown_fetch(bid);
      Command c;
      c.kind = CommandKind::get_order;
      c.priority = CommandPriority::lookup;
      c.broker_order_id = bid;
      tx_.stage(std::move(c), Purpose::refresh);
    }
  }
  unknown_fill_orders_.clear();
  // A reconcile whose sweep and positions read were answered first ends with this.
  s_.reconciler.finish_if_done();
}

void Synchronizer::start_sweep(Timestamp now) {
  if (!s_.sweep.begin(now)) return;
  sweep_seen_.clear();
  stage_sweep_page(std::nullopt);
}

void Synchronizer::stage_sweep_page(std::optional<Timestamp> after) {
  Command c;
  c.kind = CommandKind::list_orders;
  c.priority = s_.sweep.for_resync() ? CommandPriority::lookup : CommandPriority::sweep;
  c.list.status = OrderListStatus::open;
  c.list.limit = s_.cfg.list_page_size;
  c.list.ascending = true;
  c.list.nested = true;
  c.list.after = after;
  s_.outbox.pending(tx_.stage(std::move(c), Purpose::sweep_page)).sweep = s_.sweep.number();
}

void Synchronizer::sweep_order(const BrokerOrder& b, Timestamp now) {
  sweep_seen_.insert(b.id);
  ++s_.reconcile.report().orders_checked;
  std::optional<OrderId> local = find_local(b);
  if (!local && is_ours(b.client_order_id, s_.owner)) {
    local = adopt_unrecorded(b, now);
    if (!local && s_.reconcile.first_finding_about(b.id)) {
      ++s_.reconcile.report().orders_unadopted;
      s_.reconcile.report().findings.push_back(fmt::format(
          "open order {} {} {} {} carries our client id ({}) but its trade is in no store: "
          "not adopted; cancel it at the broker or look for the orderly that placed it",
          b.id, to_string(b.side), b.qty.value_or(Decimal()).str(), b.symbol, b.client_order_id));
    }
  }
  if (local) {
    tx_.adopt(*local, b, EventSource::poll, "open-order sweep", now);
  } else if (!b.client_order_id.empty() && !is_ours(b.client_order_id, s_.owner)) {
    if (s_.reconcile.first_finding_about(b.id)) {
      ++s_.reconcile.report().orders_external;
      s_.reconcile.report().findings.push_back(
          fmt::format("external open order {} {} {} {} ({})", b.id, to_string(b.side),
                      b.qty.value_or(Decimal()).str(), b.symbol, b.client_order_id));
    }
  }
  for (const BrokerOrder& leg : b.legs) sweep_seen_.insert(leg.id);
}

void Synchronizer::on_sweep_result(const Pending& p, const CommandResult& r, Timestamp now) {
  // A resync (after a rolled-back input) abandons the running sweep and begins its own. A page
  // of the abandoned one, answered late, lists the broker as of before: counted into the new
  // sweep it showed an exit canceled since as still open, which then covered a naked position
  // for 8 s unraised (DST extended seed 22000000008237). The new sweep lists again.
  if (p.sweep != s_.sweep.number()) return;
  if (r.error) {
    s_.sweep.failed(s_.cfg.poll_interval_ms);
    return;
  }
  s_.sweep.page_answered();
  // The listing shows the broker as of its first page's release, not as of when the sweep was
  // staged: a page that waited for the budget judged orders changed meanwhile as "heard since
  // the sweep began" and never fetched them (DST extended seed 12000000020182: a canceled
  // bracket's held legs, left pending_cancel by its DELETE answer, waited 32 s in the queue
  // and stayed pending_cancel through the quiet period).
  if (!p.command.list.after) s_.sweep.starts_no_earlier_than(p.released_at);
  for (const BrokerOrder& b : r.orders) sweep_order(b, now);
  const bool more = static_cast<int>(r.orders.size()) >= p.command.list.limit && !r.orders.empty();
  if (!more) s_.sweep.last_page_answered();
  if (more) {
    // `after` is exclusive: paging from the last created_at would skip the orders that share
    // it on the next page (each then costs a GET of its own on every sweep). Step back one
    // nanosecond so they are listed again (the seen-set absorbs the repeats), unless the whole
    // page shares one timestamp: then only moving past it makes progress.
    const Timestamp last = r.orders.back().created_at;
    const bool progressed = !p.command.list.after || last.ns - 1 > p.command.list.after->ns;
    stage_sweep_page(progressed ? Timestamp{last.ns - 1} : last);
    return;
  }
  s_.sweep.completed(now);
  mark_synced(now);
  // What the listing shows missing ended while the engine could not hear it: since the sweep
  // began, or, blind then, since the blindness began (its lives before this one included:
  // DST trades seed 23700000013087, bracket legs canceled elsewhere at a kill; the next life's
  // sweep was lost, the one after found them missing 4.8 s of blind lives later, and dated the
  // gap from a new entry's event: 8.6 s naked, unraised).
  const Timestamp missing_since = s_.blindness.missing_since(s_.sweep.started_at());
  s_.blindness.sweep_answered(s_.sweep.started_at(),
                              s_.stream.heard_throughout_since(s_.sweep.started_at()));
  check_missing_orders(missing_since, now);
  s_.reconciler.finish_if_done();
}

// Non-terminal locally, absent from the open list: it ended at the broker. One fetch each;
// until an answer it covers nothing (DST extended seeds 9400000001282, 9400000001933: the
// fetch went unanswered, 429 or lost in a crash, and a canceled exit counted as cover).
void Synchronizer::check_missing_orders(Timestamp missing_since, Timestamp now) {
  for (const auto& [id, o] : s_.ledger.orders()) {
    if (!o.broker_order_id || !is_open_at_broker(o.state)) continue;
    if (sweep_seen_.count(*o.broker_order_id)) {
      s_.aux[id].missing_checked = false;
      if (s_.aux[id].unconfirmed_since) s_.protection_monitor.unconfirmed_changed();
      s_.aux[id].unconfirmed_since.reset();
      continue;
    }
    if (heard_since(o, s_.sweep.started_at())) continue;  // sent or changed while the sweep ran
    OrderAux& ax = s_.aux[id];
    if (!ax.unconfirmed_since) {
      ax.unconfirmed_since = missing_since;
      s_.protection_monitor.unconfirmed_changed();
      s_.protection_check.touched(o.symbol);
    }
    // Once per order while it stays missing; again after inflight_check_ms in case the fetch
    // never went out or its answer never came (a rolled-back commit, a lost response).
    if (ax.missing_checked && now.ms_since(ax.missing_checked_at) < s_.cfg.inflight_check_ms) {
      continue;
    }
    ax.missing_checked = true;
    ax.missing_checked_at = now;
    lookups_.stage_refresh(id, now, true);
  }
}

// Broker evidence about `o`, or a request for it, after `t`: a listing that began at `t` may
// not show what it says.
bool Synchronizer::heard_since(const Order& o, Timestamp t) const {
  if (o.broker_updated_at && *o.broker_updated_at > t) return true;
  auto ax = s_.aux.find(o.id);
  return ax != s_.aux.end() && ax->second.sent_at && *ax->second.sent_at > t;
}

void Synchronizer::mark_synced(Timestamp now) {
  s_.last_sync_at = now;
  s_.cadence.synced(now);
  s_.alerts.clear(AlertKind::sync_lag, "sync", now);
}

// Asked at once, as a resync's polls are (the broker back, the stream reconnected).
void Synchronizer::stage_positions(Timestamp now) {
  if (s_.positions_read.inflight()) return;
  Command c;
  c.kind = CommandKind::list_positions;
  c.priority = CommandPriority::lookup;
  s_.positions_read.ask(tx_.stage(std::move(c), Purpose::positions), now);
}

// For what waits on a read (a sell's pre-check, the holders of a 40310000): not while failed
// reads back off. Each failure was asked again at once, and with GET /v2/positions answering
// 500 that spent the whole REST budget (191 reads in a minute) that exits needed.
void Synchronizer::ask_positions(Timestamp now) {
  if (!positions_backoff_.waiting(now)) stage_positions(now);
}

void Synchronizer::on_positions_result(const Pending& p, const CommandResult& r, Timestamp now) {
  if (r.error) {
    s_.positions_read.failed(p.command.id);
    positions_backoff_.failed(s_.positions_read.staged_at(), s_.cfg.poll_interval_ms);
    return;
  }
  positions_backoff_.answered();
  s_.positions_read.answered(p.command.id, r.positions, now);
  s_.touched_trades.insert(s_.crypto_watch.begin(), s_.crypto_watch.end());  // their price moved
  // Sells that waited for a fresh read are looked at again.
  s_.submit_candidates.insert(s_.await_positions.begin(), s_.await_positions.end());
  s_.await_positions.clear();
  // Holdings changed? Orders waiting for shares may go again.
  for (OrderId id : std::vector<OrderId>(s_.hold_waiting.begin(), s_.hold_waiting.end())) {
    auto ax = s_.aux.find(id);
    if (ax == s_.aux.end() || !ax->second.hold_wait || !s_.ledger.holds(id)) {
      s_.hold_waiting.erase(id);
      continue;
    }
    const Order& o = s_.ledger.order_at(id);
    if (s_.positions_read.qty_available(o.symbol) >= tx_.added_qty(o)) {
      set_hold_wait(id, false);
      s_.alerts.clear(AlertKind::external_hold, o.symbol, now);
      Order& m = tx_.mut_order(id);
      tx_.audit(m, m.state, EventSource::poll,
                fmt::format("holdings changed: qty_available {} covers {}",
                            s_.positions_read.qty_available(o.symbol).str(), o.qty.str()),
                {}, now);
    }
  }
  s_.reconciler.reconcile(now);
  s_.reconciler.finish_if_done();
}

// An entry a positions read may show filled (PositionsReconciler::ask_entries_beyond).
void Synchronizer::ask_about_entry(OrderId id, Timestamp now) {
  if (s_.ledger.order_at(id).state == OrderState::submitting) {
    if (!s_.aux[id].command_outstanding) lookups_.stage_resolve(id);
  } else {
    lookups_.stage_refresh(id, now, false);
  }
}

void Synchronizer::request_reconcile(bool, Timestamp now) {
  tx_.begin();
  s_.reconcile.request();
  begin_full_resync(now);
  tx_.finish_input(now);
}

void Synchronizer::on_tick(Timestamp now) {
  s_.last_now = now;
  tx_.prune_ended_trades(now);
  s_.alerts.prune_cleared(now, kPruneAfterMs);
  if (s_.resync_due) {
    s_.resync_due = false;
    // The rolled-back input's evidence is lost: what it told is not known until a sweep.
    s_.blindness.begins(now);
    s_.sweep.abandon();
    s_.catchup.abandon();
    s_.positions_read.failed();
    begin_full_resync(now);
  }
  const std::int64_t sweep_every =
      s_.cadence.stream_suspect(now) ? s_.cfg.poll_interval_ms : s_.cfg.idle_sweep_interval_ms;
  if (!s_.catchup.running() && s_.catchup.due(s_.cadence.catchup_interval(now), now)) {
    start_catchup(now);
  }
  if (!s_.sweep.running() && s_.sweep.due(sweep_every, now)) {
    start_sweep(now);
  }
  stage_positions_when_due(now);
  stage_due_refreshes(now);
  s_.inflight.run(now);
  // A clearing waiting on a market entry's fill ends by the clock too (end_clearing_if_done).
  for (const std::string& symbol : s_.clearing.symbols()) trades_.end_clearing_if_done(symbol);
  for (TradeId tid : take_due(s_.exit_cap_wake_at, now)) s_.touched_trades.insert(tid);
  for (OrderId id : s_.retries.take_due_cancels(now)) {
    if (const Order* o = s_.ledger.order(id)) s_.touched_trades.insert(o->trade_id);
  }
  s_.alert_rules.check(now);
}

void Synchronizer::stage_positions_when_due(Timestamp now) {
  if (positions_backoff_.waiting(now)) return;
  const std::optional<Timestamp> last = s_.positions_read.last_answered_at();
  // Our own fills moved a position: the broker's is read again soon, so that the fill does not
  // show as drift for a minute (at most one read a second). A crypto trade's exit follows the
  // broker's price (trade_executor.cc switch_crypto_exit): one read per idle poll interval while
  // any such trade holds coins.
  const bool due = positions_backoff_.failing() || !last ||
                   now.ms_since(*last) >= s_.cfg.reconcile_interval_ms ||
                   (s_.positions_read.any_changed() && now.ms_since(*last) >= 1000) ||
                   ((any_hold_wait() || !s_.crypto_watch.empty()) &&
                    now.ms_since(*last) >= s_.cfg.idle_poll_interval_ms);
  if (due) stage_positions(now);
}

// A leg whose broker id no reply told us (a lookup of the parent by client id, a PATCH reply
// do not list legs): one nested listing of the symbol's orders since the parent finds it.
void Synchronizer::check_unresolved_leg(OrderId id, Timestamp now) {
  const Order* lp = s_.ledger.order(id);
  if (!lp) return;
  const Order& leg = *lp;
  if (leg.broker_order_id || !is_local(leg.state) || leg.state == OrderState::parked) return;
  const Order* pp = tx_.linked_order(leg, leg.parent_order_id, "parent", now);
  if (!pp) return;
  const Order& parent = *pp;
  if (!parent.broker_order_id || !is_known_to_broker(parent.state)) return;
  // The parent's own answer brings its legs' ids: while its submit is unanswered (the stream's
  // `new` can come first) nothing is missing yet, and the wait counts from when it left, not
  // from the legs' creation (an entry that waited for the budget had its legs looked up the
  // moment the stream acknowledged it, spending the budget entries needed: BENCHMARKS D).
  const auto pax = s_.aux.find(parent.id);
  const bool known = pax != s_.aux.end();
  if (known && pax->second.command_outstanding) return;
  const Timestamp since = known && pax->second.sent_at && *pax->second.sent_at > leg.updated_at
                              ? *pax->second.sent_at
                              : leg.updated_at;
  OrderAux& ax = s_.aux[id];
  if (now.ms_since(since) < s_.cfg.inflight_check_ms) return;
  if (ax.legs_retry_at
          ? now < *ax.legs_retry_at
          : ax.last_refresh_at && now.ms_since(*ax.last_refresh_at) < s_.cfg.stuck_order_ms) {
    return;
  }
  ax.last_refresh_at = now;
  ax.legs_retry_at.reset();
  Command c = lookups_.listing_since(parent.created_at.plus_ms(-60'000));
  c.list.symbols = {leg.symbol};
  tx_.stage(std::move(c), Purpose::legs, id);
}

// A listing that got no answer is asked again with the refreshes' backoff, not after
// stuck_order_ms: until it is answered the leg covers nothing (book_of), and a 429 left a
// position whose legs another client had canceled naked for 10 s (DST trades seed
// 22100000000465).
void Synchronizer::on_legs_result(const Pending& p, const CommandResult& r, Timestamp now) {
  if (r.error) {
    if (s_.ledger.order(p.for_order) != nullptr) {
      OrderAux& ax = s_.aux[p.for_order];
      ax.legs_retry_at = now.plus_ms(backed_off_ms(*r.error, ax.refresh_failures));
    }
    return;
  }
  for (const BrokerOrder& b : r.orders) {
    const std::optional<OrderId> id = s_.ledger.by_broker_id(b.id);
    if (!id || b.legs.empty()) continue;
    tx_.adopt_legs(*id, b, EventSource::lookup, now);
  }
}

bool Synchronizer::any_hold_wait() const {
  for (OrderId id : s_.hold_waiting) {
    const Order* o = s_.ledger.order(id);
    if (o != nullptr && o->state == OrderState::created) return true;
  }
  return false;
}

void Synchronizer::set_hold_wait(OrderId id, bool wait) {
  s_.aux[id].hold_wait = wait;
  if (wait) {
    s_.hold_waiting.insert(id);
  } else {
    s_.hold_waiting.erase(id);
    s_.submit_candidates.insert(id);
  }
}

}  // namespace orderly
