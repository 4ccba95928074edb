// Transaction: every input mutates through these helpers, then finish() commits one batch (the
// transactional outbox); audit, state changes, anomalies, start/recovery, pruning.
#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "core/check.h"
#include "engine/crypto.h"
#include "engine/transaction.h"

namespace orderly {

void Transaction::begin() {
  if (group_ && txn_open_) return;  // the group's one transaction goes on
  txn_open_ = true;
  txn_ = Txn{};
  s_.outbox.begin_input();
  s_.seen_activities.begin_input();
  txn_.blindness_before = s_.blindness;
  txn_.catchup_completed_before = s_.catchup.last_completed();
  s_.ledger.begin_input();
  s_.alerts.begin();
}

Order& Transaction::mut_order(OrderId id) {
  ORDERLY_ASSERT(s_.ledger.holds(id), fmt::format("order {} changed but not loaded", id));
  s_.submit_candidates.insert(id);
  if (!s_.await_positions.empty()) s_.await_positions.erase(id);
  return s_.ledger.change_order(id);
}

Trade& Transaction::mut_trade(TradeId id) {
  ORDERLY_ASSERT(s_.ledger.trade(id) != nullptr,
                 fmt::format("trade {} changed but not loaded", id));
  return s_.ledger.change_trade(id);
}

Position& Transaction::mut_position(const std::string& symbol) {
  s_.positions_read.our_fill(symbol, s_.last_now);
  return s_.ledger.change_position(symbol);
}

void Transaction::set_sync(std::string_view key, std::string value) {
  std::string k(key);
  if (!txn_.sync_before.count(k)) {
    auto it = s_.sync_state.find(k);
    txn_.sync_before[k] =
        it == s_.sync_state.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  s_.sync_state[k] = std::move(value);
}

Order& Transaction::insert_order(Order o) {
  s_.submit_candidates.insert(o.id);
  return s_.ledger.create(std::move(o));
}

CommandId Transaction::stage(Command c, Purpose p, OrderId for_order) {
  return s_.outbox.stage(std::move(c), p, for_order);
}

// Commits the input's changes and releases its commands; rolls back on failure.
Status Transaction::finish(Timestamp now) {
  txn_open_ = false;
  if (s_.rate_dirty) {
    // The REST calls of the last minute survive a restart: a crash loop must not multiply
    // the budget (Alpaca counts per account, not per process).
    s_.rate_dirty = false;
    set_sync(kRateWindow, s_.budget.encode_window(now));
  }
  WriteBatch b;
  const Ledger::Changes& changes = s_.ledger.changes();
  for (const auto& [id, before] : changes.orders) {
    (void)before;
    Order& o = s_.ledger.order_at(id);
    o.version += 1;
    o.updated_at = now;
    b.orders.push_back(o);
    note_committed_order(id);  // a failed commit's rollback notes the restored order again
  }
  for (const auto& [id, before] : changes.trades) {
    (void)before;
    Trade& t = s_.ledger.trade_at(id);
    t.updated_at = now;
    b.trades.push_back(t);
    if (is_terminal(t.state)) s_.ended_trades[id] = now;
  }
  for (const auto& entry : changes.positions) {
    b.positions.push_back(s_.ledger.positions().at(entry.first));
  }
  s_.alerts.add_to_batch(b.alerts);
  for (auto& entry : txn_.sync_before) b.sync_state[entry.first] = s_.sync_state.at(entry.first);
  // Requests released since the last commit came first: their "sent" events too.
  b.events = s_.sent_events;
  b.events.insert(b.events.end(), std::make_move_iterator(txn_.events.begin()),
                  std::make_move_iterator(txn_.events.end()));
  b.fills = std::move(txn_.fills);
  if (b.empty() && !s_.outbox.any_staged()) return Status::success();
  Status st = b.empty() ? Status::success() : s_.store.commit(b);
  if (b.empty() == false) ++s_.metrics.commits;
  if (!st.ok()) {
    ++s_.metrics.commit_failures;
    // What the trades of this batch decided (an exit placed for what a fill left) is lost with
    // it, and nothing else may touch them again: they are stepped anew (DST seed 811797337: an
    // OCO for the rest of a position rolled back, the trade stayed open without an exit).
    for (const Order& o : b.orders) s_.touched_trades.insert(o.trade_id);
    for (const Trade& t : b.trades) s_.touched_trades.insert(t.id);
    rollback();
    s_.store_health.failed(std::string(st.message()), now);
    // The evidence of this input is lost with the rollback; the resync finds it again.
    s_.resync_due = true;
    return st;
  }
  s_.alerts.committed();
  s_.sent_events.clear();
  if (!s_.store_health.ok()) note_store_back(now);
  s_.outbox.commit_staged();
  return Status::success();
}

// The first good commit after failed ones: the store's alert is cleared (written with the next).
void Transaction::note_store_back(Timestamp now) {
  s_.store_health.back();
  s_.alerts.clear_carried(AlertKind::anomaly, "store", now);
}

void Transaction::rollback(std::string_view subject, std::string_view why) {
  // The kept list of unconfirmed exits may have rolled back with the input.
  s_.protection_monitor.unconfirmed_changed();
  const Ledger::Changes undone = s_.ledger.undo_input();
  for (const auto& [id, before] : undone.orders) {
    if (before) {
      s_.submit_candidates.insert(id);
      note_committed_order(id);
      // What was learned of it is lost: the next sweep that misses it fetches it again.
      s_.aux[id].missing_checked = false;
    } else {
      forget_watch(id);  // made by this input
      s_.aux.erase(id);
    }
  }
  for (const auto& [id, before] : undone.trades) {
    if (!before || !is_terminal(before->state)) s_.ended_trades.erase(id);
  }
  // Its reprice may be what rolled back (DST seed 4914527916: the flatten rested for good).
  for (const auto& [id, before] : undone.orders) {
    if (before) host_.track_wash_priced(id);
  }
  s_.alerts.roll_back();
  for (auto& [k, before] : txn_.sync_before) {
    if (before)
      s_.sync_state[k] = *before;
    else
      s_.sync_state.erase(k);
  }
  // A fill whose apply was rolled back is not seen: the next catch-up applies it.
  s_.seen_activities.roll_back();
  // Its activity stays seen (the input that read it committed): the order is fetched again
  // (DST trades seed 26300000008929: a fetch's fill rolled back twice, then 11 s naked until
  // the in-flight check fetched the entry).
  for (const std::string& bid : txn_.unknown_fetches) host_.unknown_fill_fetch_failed(bid);
  // A sweep's answer rolled back did not happen: blind since as long as before it (DST trades
  // seed 26600000030319: the start's sweep found a bracket stop and an entry filled while no
  // process ran; its commit failed, the blindness began anew at the failure, and 22 INTC
  // stayed naked, unraised, until the next catch-up 2.8 s later). Nor did a catch-up's: fills
  // are unknown since the last one that committed (fills_unknown_since).
  s_.blindness = txn_.blindness_before;
  s_.catchup.restore_last_completed(txn_.catchup_completed_before);
  s_.rate_dirty = true;  // the window written with this batch was not: write it with the next
  drop_staged();
  txn_ = Txn{};
  txn_open_ = false;
  // Visible at once in memory (health, /api/alerts); written with the next good commit.
  s_.alerts.raise_carried(AlertKind::anomaly, std::string(subject), std::string(why), s_.last_now);
}

void Transaction::audit(const Order& o, std::optional<OrderState> from, EventSource src,
                        std::string note, std::string payload, Timestamp now) {
  OrderEvent e;
  e.order_id = o.id;
  e.at = now;
  e.source = src;
  e.from = from;
  e.to = o.state;
  e.filled_qty = o.filled_qty;
  e.payload = std::move(payload);
  e.note = std::move(note);
  txn_.events.push_back(std::move(e));
}

// Applies evidence (or our own intent) to an order. Returns true when it changed the order.
bool Transaction::apply(OrderId id, const StateUpdate& u, EventSource src, std::string note,
                        const std::string& payload, Timestamp now, const Fill* execution) {
  if (s_.ledger.order_at(id).state == OrderState::created && !is_local(u.to) &&
      src != EventSource::intent) {
    // Broker evidence for an order we believed unsent (a "not sent" that was sent after all):
    // it did reach the broker, so it is adopted, never sent again.
    StateUpdate sent{OrderState::submitting, std::nullopt, std::nullopt, std::nullopt};
    apply(id, sent, src, "the broker holds this order: an earlier attempt reached it", {}, now);
  }
  Order& cur = s_.ledger.order_at(id);
  Decision d = evaluate(cur.snapshot(), u);
  if (src != EventSource::intent && (d.ok() || d.verdict == Verdict::duplicate)) {
    s_.aux[id].heard_at = now;
  }
  if (d.verdict == Verdict::duplicate) {
    return false;
  }
  if (!d.ok()) {
    ++s_.metrics.anomalies;
    Order& o = mut_order(id);
    audit(o, o.state, src,
          fmt::format("refused ({}): {}; evidence: {}", to_string(d.verdict), d.reason, note),
          payload, now);
    if (d.verdict != Verdict::stale) {
      s_.alerts.raise(AlertKind::anomaly, o.client_order_id,
                      fmt::format("{}: {}", to_string(d.verdict), d.reason), now);
    }
    return false;
  }
  Order& o = mut_order(id);
  const OrderState from = o.state;
  const Decimal before_filled = o.filled_qty;
  const std::optional<Decimal> before_avg = o.filled_avg_price;
  o.state = u.to;
  if (u.filled_qty) o.filled_qty = *u.filled_qty;
  ORDERLY_ASSERT(o.filled_qty >= before_filled,
                 fmt::format("order {} filled qty {} -> {}", id, before_filled.str(),
                             o.filled_qty.str()));
  if (u.filled_avg_price) o.filled_avg_price = u.filled_avg_price;
  if (u.broker_time && (!o.broker_updated_at || *u.broker_time > *o.broker_updated_at)) {
    o.broker_updated_at = u.broker_time;
  }
  if ((o.filled_qty > before_filled || (o.state == OrderState::new_ && from != o.state)) &&
      !is_crypto_symbol(o.symbol)) {
    s_.last_stock_routed_at = now;
  }
  if (o.filled_qty > before_filled) {
    const Decimal delta = o.filled_qty - before_filled;
    add_fill_to_position(mut_position(o.symbol), o, delta);
    for (Fill& f : fill_rows(o, before_filled, before_avg, execution,
                             u.broker_time.value_or(now))) {
      txn_.fills.push_back(std::move(f));
    }
    if (src == EventSource::stream)
      ++s_.metrics.fills_from_stream;
    else
      ++s_.metrics.fills_from_poll;
    if (u.broker_time) {
      s_.metrics.detection_ms_max =
          std::max<std::int64_t>(s_.metrics.detection_ms_max, now.ms_since(*u.broker_time));
    }
    s_.touched_trades.insert(o.trade_id);
  }
  if (from != o.state) s_.touched_trades.insert(o.trade_id);
  audit(o, from, src, std::move(note), payload, now);
  const bool woke = o.state == OrderState::new_ || o.state == OrderState::partially_filled ||
                    o.state == OrderState::filled;
  if (from == OrderState::held && woke && o.parent_order_id) leg_woke(s_.ledger.order_at(id), now);
  return true;
}

// A bracket leg leaves `held` only once its entry filled: an entry we hold unfilled is fetched
// now, its fill unheard (DST trades seed 23600000034625: the fill's commit failed and the
// resync missed it; the legs' `new` came and went, another client canceled them, and 51 PEP
// stood naked 27 s, unraised, until an in-flight check fetched the entry).
void Transaction::leg_woke(const Order& leg, Timestamp now) {
  const Order* parent = s_.ledger.order(*leg.parent_order_id);
  if (parent == nullptr || parent->role != OrderRole::entry || !is_open_at_broker(parent->state) ||
      parent->filled_qty.is_positive()) {
    return;
  }
  host_.stage_refresh(parent->id, now, /*force=*/true);
}

void Transaction::learn_broker_id(OrderId id, const std::string& bid) {
  Order& cur = s_.ledger.order_at(id);
  if (cur.broker_order_id == bid) return;
  if (cur.broker_order_id) return;  // never replaced: the first id learned stays
  Order& o = mut_order(id);
  o.broker_order_id = bid;
  s_.ledger.index_broker_id(id);
  s_.unmatched.release(bid);
}

StateUpdate Transaction::update_from(const BrokerOrder& b) {
  StateUpdate u;
  u.to = b.status.value_or(OrderState::new_);
  u.filled_qty = b.filled_qty;
  u.filled_avg_price = b.filled_avg_price;
  u.broker_time = b.updated_at.ns != 0 ? std::optional<Timestamp>(b.updated_at) : std::nullopt;
  return u;
}

// Adopts a broker order (response, lookup, sweep) into a local order: id, status, legs.
void Transaction::adopt(OrderId id, const BrokerOrder& b, EventSource src, std::string note,
                        Timestamp now) {
  if (!b.status) {
    Order& o = mut_order(id);
    audit(o, o.state, src, "unknown broker status '" + b.status_text + "' kept as is", b.raw,
          now);
    learn_broker_id(id, b.id);
    return;
  }
  learn_broker_id(id, b.id);
  apply(id, update_from(b), src, std::move(note), b.raw, now);
  adopt_legs(id, b, src, now);
}

void Transaction::adopt_legs(OrderId parent, const BrokerOrder& b, EventSource src, Timestamp now) {
  for (const BrokerOrder& leg : b.legs) {
    OrderId child = 0;
    if (auto known = s_.ledger.by_broker_id(leg.id)) {
      child = *known;
    } else {
      const OrderRole role =
          leg.type == OrderType::limit ? OrderRole::take_profit : OrderRole::stop_loss;
      for (OrderId cid : s_.ledger.of_trade(s_.ledger.order_at(parent).trade_id)) {
        const Order& c = s_.ledger.order_at(cid);
        if (c.parent_order_id == parent && c.role == role && !c.broker_order_id) {
          child = cid;
          break;
        }
      }
    }
    if (child == 0) continue;
    learn_broker_id(child, leg.id);
    if (leg.status) apply(child, update_from(leg), src, "leg of " + b.id, leg.raw, now);
  }
}

// Local-state moves of a parent are mirrored on its legs: they ride on the parent's request.
void Transaction::set_local_state(OrderId id, OrderState to, EventSource src, std::string note,
                                  const std::string& payload, Timestamp now) {
  StateUpdate u{to, std::nullopt, std::nullopt, std::nullopt};
  apply(id, u, src, note, payload, now);
  for (OrderId c : s_.ledger.of_trade(s_.ledger.order_at(id).trade_id)) {
    const Order& child = s_.ledger.order_at(c);
    if (child.parent_order_id == id && is_local(child.state) && !child.broker_order_id) {
      apply(c, u, src, "leg follows its parent: " + note, {}, now);
    }
  }
}

Status Transaction::start(Timestamp now) {
  auto loaded = s_.store.load();
  if (!loaded.ok()) {
    s_.store_health.load_failed(std::string(loaded.status().message()));
    return loaded.status();
  }
  LoadedState& s = loaded.value();
  if (Status st = load_linked(s); !st.ok()) {
    s_.store_health.load_failed(std::string(st.message()));
    return st;
  }
  s_.owner = account_tag(s_.cfg.account_identity) + s.instance_tag;
  s_.ledger.set_max_ids(s.max_trade_id, s.max_order_id);
  for (auto& t : s.open_trades) s_.ledger.put_trade(t);
  for (auto& o : s.open_orders) {
    s_.submit_candidates.insert(o.id);
    s_.ledger.add(o);
  }
  for (const auto& [id, o] : s_.ledger.orders()) {
    host_.track_wash_priced(id);
    s_.inflight.watch(id);
    note_committed_order(id);
    note_routed_before_start(o);
  }
  for (const auto& [id, t] : s_.ledger.trades()) {
    if (is_terminal(t.state)) s_.ended_trades[id] = t.updated_at;
  }
  for (auto& p : s.positions) s_.ledger.set_position(p);
  s_.alerts.load(s.max_alert_id, s.active_alerts);
  s_.sync_state = s.sync_state;
  if (auto rw = s_.sync_state.find(std::string(kRateWindow)); rw != s_.sync_state.end()) {
    s_.budget.restore_window(rw->second);
    s_.budget.assume_unrecorded_calls(now);
  }
  s_.started_at = now;
  s_.last_now = now;
  s_.protection_monitor.carry_blind_time();

  begin();
  if (!s_.sync_state.count(std::string(kWatermarkTime))) {
    // Fills before this store existed are not ours to track.
    set_sync(kWatermarkTime, format_rfc3339(now.plus_ms(-60'000)));
  }
  // Crash-only recovery: every order whose outcome we do not know is resolved by a lookup by
  // client id before anything else is sent for it.
  host_.start_recovery();
  for (const auto& [id, t] : s_.ledger.trades()) s_.touched_trades.insert(id);
  host_.begin_full_resync(now);
  Status st = finish(now);
  return st;
}

// The store loads the orders that are not terminal and every order of an open trade. An order
// names others (its parent, the order it replaces) and its trade, which may have ended: they are
// loaded too, so every link the engine follows is held (issue 18: a leg loaded without its ended
// parent threw std::out_of_range from check_unresolved_leg on the first tick after a restart).
Status Transaction::load_linked(LoadedState& s) {
  std::set<OrderId> have;
  std::set<TradeId> trades;
  for (const Order& o : s.open_orders) have.insert(o.id);
  for (const Trade& t : s.open_trades) trades.insert(t.id);
  if (Status st = load_oversold_trades(s, have, trades); !st.ok()) return st;
  for (std::size_t i = 0; i < s.open_orders.size(); ++i) {
    const Order o = s.open_orders[i];  // a copy: the loop appends to the vector
    for (std::optional<OrderId> link : {o.parent_order_id, o.replaces_order_id}) {
      if (!link || have.count(*link)) continue;
      auto r = s_.store.get_order(*link);
      if (!r.ok()) return r.status();
      have.insert(*link);
      if (r->has_value()) s.open_orders.push_back(**r);
    }
    if (trades.insert(o.trade_id).second) {
      auto t = s_.store.get_trade(o.trade_id);
      if (!t.ok()) return t.status();
      if (t->has_value()) s.open_trades.push_back(**t);
    }
  }
  // The ledger walks orders by id: the order of this vector does not matter.
  return Status::success();
}

Status Transaction::load_oversold_trades(LoadedState& s, std::set<OrderId>& have,
                                         std::set<TradeId>& trades) {
  const auto kept = s.sync_state.find(std::string(kOversoldTrades));
  if (kept == s.sync_state.end()) return Status::success();
  std::istringstream in(kept->second);
  TradeId id = 0;
  while (in >> id) {
    if (trades.count(id)) {
      s_.oversold_trades.insert(id);
      continue;
    }
    auto t = s_.store.get_trade(id);
    if (!t.ok()) return t.status();
    if (!t->has_value()) continue;  // not in the store: nothing to charge; dropped from the list
    trades.insert(id);
    s_.oversold_trades.insert(id);
    s.open_trades.push_back(**t);
    OrderFilter of;
    of.trade_id = id;
    auto orders = s_.store.list_orders(of);
    if (!orders.ok()) return orders.status();
    for (Order& o : *orders) {
      if (have.insert(o.id).second) s.open_orders.push_back(std::move(o));
    }
  }
  return Status::success();
}

void Transaction::report_anomaly(const std::string& what, Timestamp now) {
  ++s_.metrics.anomalies;
  s_.alerts.raise(AlertKind::anomaly, "engine", what, now);
  host_.begin_full_resync(now);
}

const Order* Transaction::linked_order(const Order& from, std::optional<OrderId> link,
                                       std::string_view what, Timestamp now) {
  if (!link) return nullptr;
  if (const Order* o = s_.ledger.order(*link)) return o;
  // Once per order: the walks that follow links run on every tick.
  if (!anomalous_.insert(from.id).second) return nullptr;
  audit(from, from.state, EventSource::intent,
        fmt::format("anomaly: its {} (order {}) is not held; refreshing from the broker", what,
                    *link),
        {}, now);
  report_anomaly(fmt::format("order {} ({}) names {} {} which is not held", from.id,
                             from.client_order_id, what, *link),
                 now);
  return nullptr;
}

Decimal Transaction::added_qty(const Order& o) {
  if (!o.replaces_order_id) return o.qty;
  const Order* old = linked_order(o, o.replaces_order_id, "order to replace", s_.last_now);
  return old ? o.qty - old->qty : o.qty;
}

void Transaction::forget_order(OrderId id) {
  if (!s_.ledger.holds(id)) return;
  forget_watch(id);
  s_.ledger.remove(id);
}

void Transaction::forget_watch(OrderId id) {
  s_.submit_candidates.erase(id);
  s_.await_positions.erase(id);
  s_.inflight.forget(id);
  s_.hold_waiting.erase(id);
  s_.retries.forget(id);
  s_.wash_priced_exits.erase(id);
  s_.stand_in_entries.erase(id);
  anomalous_.erase(id);
}

// The commands of a rolled-back batch never leave: what each was for is asked again.
void Transaction::drop_staged() {
  for (const Pending& p : s_.outbox.drop_staged()) {
    if (p.command.order_id != 0) {
      OrderAux& ax = s_.aux[p.command.order_id];
      ax.command_outstanding = false;
      // The cancel never left: let the trade step ask for it again.
      if (p.command.kind == CommandKind::cancel) ax.cancel_sent = false;
      // Nor the fetch of an order a sweep missed: the next sweep asks, not one 5 s later (DST
      // extended seed 9100000000195: an exit canceled with the stream down stayed "new").
      if (p.purpose == Purpose::refresh) ax.missing_checked = false;
      if (const Order* o = s_.ledger.order(p.command.order_id)) {
        s_.touched_trades.insert(o->trade_id);  // what it was for is still to do
      }
    }
    if (p.purpose == Purpose::recovery_page) host_.abandon_recovery(false);
    // A poll whose page never left is not running. Left marked as running, no later one began
    // (DST trades seed 23200000002327: a rolled-back input dropped the sweep's page and no
    // sweep ran for the 80 s of the quiet period; a bracket canceled elsewhere, its events
    // lost, stayed open locally).
    switch (p.purpose) {
      case Purpose::sweep_page:
        if (p.sweep == s_.sweep.number()) s_.sweep.abandon();
        break;
      case Purpose::catchup_page: s_.catchup.abandon(); break;
      case Purpose::positions: s_.positions_read.failed(p.command.id); break;
      default: break;
    }
  }
}

// After a change of the order (committed, or restored by a rollback).
void Transaction::note_committed_order(OrderId id) {
  const Order* found = s_.ledger.order(id);
  if (found == nullptr) {
    s_.retries.no_send(id);
    return;
  }
  const Order& o = *found;
  if (o.state == OrderState::created && o.next_attempt_at) {
    s_.retries.send_at(id, *o.next_attempt_at);
  } else if (s_.retries.any_sends()) {
    s_.retries.no_send(id);
  }
  s_.inflight.watch_if_needed(o);
}

void Transaction::prune_ended_trades(Timestamp now) {
  for (auto it = s_.ended_trades.begin(); it != s_.ended_trades.end();) {
    const TradeId tid = it->first;
    if (now.ms_since(it->second) < kPruneAfterMs) {
      ++it;
      continue;
    }
    const Trade* t = s_.ledger.trade(tid);
    if (t != nullptr && !is_terminal(t->state)) {
      it = s_.ended_trades.erase(it);
      continue;
    }
    const std::vector<OrderId> orders = s_.ledger.of_trade(tid);
    bool done = true;
    for (OrderId id : orders) {
      const Order* o = s_.ledger.order(id);
      if (o == nullptr) continue;
      auto ax = s_.aux.find(id);
      // A parked order waits for a person; one with a command out waits for its answer.
      if (!is_terminal(o->state) || s_.ledger.changes().orders.count(id) ||
          (ax != s_.aux.end() && (ax->second.command_outstanding || ax->second.cancel_sent ||
                                  ax->second.related_waiting > 0))) {
        done = false;
        break;
      }
    }
    if (!done || s_.ledger.changes().trades.count(tid) || host_.oversold_still_charged(tid)) {
      it->second = now;  // looked at again after another retention period
      ++it;
      continue;
    }
    for (OrderId id : orders) {
      forget_order(id);
      s_.aux.erase(id);
    }
    s_.ledger.erase_trade(tid);
    s_.touched_trades.erase(tid);
    s_.oversold_trades.erase(tid);
    it = s_.ended_trades.erase(it);
  }
}

// An order not in memory that the broker still talks about: a pruned one (or one of a trade that
// ended before a restart). Brought back from the store as it was committed, so the evidence is
// judged by the state machine like any other; it is pruned again with its trade.
std::optional<OrderId> Transaction::restore_pruned(const std::string& broker_id,
                                                   const std::string& cid, Timestamp now) {
  std::optional<Order> found;
  if (!broker_id.empty()) found = read_or_end_input(s_.store.find_order_by_broker_id(broker_id));
  if (!found && !cid.empty() && is_ours(cid, s_.owner)) {
    found = read_or_end_input(s_.store.find_order_by_client_id(cid));
  }
  if (!found) return std::nullopt;
  if (s_.ledger.holds(found->id)) return found->id;
  const Trade* t = s_.ledger.trade(found->trade_id);
  if (t != nullptr && !is_terminal(t->state)) {
    return std::nullopt;  // every order of an open trade is held: not one of ours to restore
  }
  if (t == nullptr) {
    if (auto tr = read_or_end_input(s_.store.get_trade(found->trade_id))) s_.ledger.put_trade(*tr);
  }
  s_.ended_trades[found->trade_id] = now;
  // With the orders it names (its parent, the order it replaces), as start() loads them.
  std::vector<Order> restore{std::move(*found)};
  for (std::size_t i = 0; i < restore.size(); ++i) {
    for (std::optional<OrderId> link : {restore[i].parent_order_id, restore[i].replaces_order_id}) {
      if (!link || s_.ledger.holds(*link)) continue;
      if (auto linked = read_or_end_input(s_.store.get_order(*link))) restore.push_back(*linked);
    }
  }
  const OrderId id = restore.front().id;
  for (Order& o : restore) {
    if (s_.ledger.holds(o.id)) continue;
    const OrderId oid = o.id;
    s_.ledger.add(std::move(o));
    note_committed_order(oid);
  }
  return id;
}

// Taken from each order the store holds at a start (unfilled_before_this_life).
void Transaction::note_routed_before_start(const Order& o) {
  const bool routed = !o.filled_qty.is_zero() || o.state == OrderState::new_ ||
                      o.state == OrderState::partially_filled;
  if (!routed || is_crypto_symbol(o.symbol) || !o.broker_updated_at) return;
  if (!s_.stock_routed_before_start || *o.broker_updated_at > *s_.stock_routed_before_start) {
    s_.stock_routed_before_start = o.broker_updated_at;
  }
}

// ProtectionMonitor::Host: a gap's audit row on an order whose state it does not change.
void Transaction::audit_gap(const Order& o, const std::string& note, Timestamp now) {
  audit(o, o.state, EventSource::intent, note, {}, now);
}

}  // namespace orderly
