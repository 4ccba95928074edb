#include "engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cassert>
#include <deque>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/ids.h"

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
      if (res.ok()) r.orders = std::move(res.value()); else r.error = res.error();
      break;
    }
    case CommandKind::fill_activities: {
      auto res = broker.fill_activities(c.activities);
      if (res.ok()) r.activities = std::move(res.value()); else r.error = res.error();
      break;
    }
    case CommandKind::list_positions: {
      auto res = broker.list_positions();
      if (res.ok()) r.positions = std::move(res.value()); else r.error = res.error();
      break;
    }
    case CommandKind::get_account: {
      auto res = broker.get_account();
      if (res.ok()) r.account = std::move(res.value()); else r.error = res.error();
      break;
    }
  }
  return r;
}

namespace {

constexpr std::string_view kWatermarkTime = "fill_watermark_time";
constexpr std::string_view kWatermarkId = "fill_watermark_id";
constexpr std::string_view kRateWindow = "rest_calls_last_minute";

// Why a command was issued: decides what its answer means.
enum class Purpose : std::uint8_t {
  send,            // submit or replace of an order
  resolve,         // lookup by client id of a submitting/unknown order
  refresh,         // get by broker id (in-flight check, missing from sweep, sibling of a fill)
  related,         // get by broker id of a 40310000 related order, for `order_id`
  cancel,
  sweep_page,
  catchup_page,
  positions,
  legs,            // nested listing to learn legs' ids
};

struct Pending {
  Command command;
  Purpose purpose = Purpose::send;
  OrderId for_order = 0;  // related: the order whose submission got 40310000
  Timestamp released_at;
};

// Per-order engine bookkeeping that is not persisted (rebuilt after a restart by the resync).
struct OrderAux {
  bool command_outstanding = false;  // a send/resolve is queued or in flight
  int not_found = 0;                 // definite 404s on lookup by client id
  int related_waiting = 0;           // 40310000 related-order fetches not answered yet
  bool hold_wait = false;            // waiting for holdings to change before a resend
  Decimal hold_available;            // qty_available when the hold was seen
  std::optional<Timestamp> last_refresh_at;
  bool missing_checked = false;      // fetched once after missing from a sweep
  Timestamp missing_checked_at;      // ... at this time
  bool cancel_sent = false;
  std::optional<Timestamp> sent_at;  // last submit/replace released for it
};

bool is_exit_role(OrderRole r) { return r != OrderRole::entry; }

Decimal signed_qty(Side s, Decimal q) { return s == Side::buy ? q : -q; }

}  // namespace

class Engine::Impl {
 public:
  Impl(Store& store, EngineConfig config)
      : store_(store), cfg_(std::move(config)), rng_(cfg_.seed) {}

  // ---------------------------------------------------------------------------------------
  // Transaction: every input mutates through these helpers, then finish() commits one batch.
  // ---------------------------------------------------------------------------------------
  struct Txn {
    std::map<OrderId, std::optional<Order>> orders_before;
    std::map<TradeId, std::optional<Trade>> trades_before;
    std::map<std::string, std::optional<Position>> positions_before;
    std::map<std::int64_t, std::optional<Alert>> alerts_before;
    std::map<std::string, std::optional<std::string>> sync_before;
    std::vector<OrderEvent> events;
    std::vector<Fill> fills;
    std::vector<Command> staged;
    TradeId max_trade_id = 0;
    OrderId max_order_id = 0;
    std::int64_t max_alert_id = 0;
  };

  void begin() {
    txn_ = Txn{};
    txn_.max_trade_id = max_trade_id_;
    txn_.max_order_id = max_order_id_;
    txn_.max_alert_id = max_alert_id_;
  }

  Order& mut_order(OrderId id) {
    auto it = orders_.find(id);
    assert(it != orders_.end());
    if (!txn_.orders_before.count(id)) txn_.orders_before[id] = it->second;
    submit_candidates_.insert(id);
    return it->second;
  }

  Trade& mut_trade(TradeId id) {
    auto it = trades_.find(id);
    assert(it != trades_.end());
    if (!txn_.trades_before.count(id)) txn_.trades_before[id] = it->second;
    return it->second;
  }

  Position& mut_position(const std::string& symbol) {
    auto it = positions_.find(symbol);
    if (!txn_.positions_before.count(symbol)) {
      txn_.positions_before[symbol] =
          it == positions_.end() ? std::nullopt : std::optional<Position>(it->second);
    }
    if (it == positions_.end()) it = positions_.emplace(symbol, Position{symbol, {}, {}}).first;
    return it->second;
  }

  void set_sync(std::string_view key, std::string value) {
    std::string k(key);
    if (!txn_.sync_before.count(k)) {
      auto it = sync_state_.find(k);
      txn_.sync_before[k] =
          it == sync_state_.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
    sync_state_[k] = std::move(value);
  }

  Order& insert_order(Order o) {
    txn_.orders_before[o.id] = std::nullopt;
    by_cid_[o.client_order_id] = o.id;
    if (o.broker_order_id) by_bid_[*o.broker_order_id] = o.id;
    by_trade_[o.trade_id].push_back(o.id);
    submit_candidates_.insert(o.id);
    return orders_.emplace(o.id, std::move(o)).first->second;
  }

  CommandId stage(Command c, Purpose p, OrderId for_order = 0) {
    c.id = ++next_command_id_;
    pending_[c.id] = Pending{c, p, for_order, {}};
    txn_.staged.push_back(std::move(c));
    return txn_.staged.back().id;
  }

  // Commits the input's changes and releases its commands; rolls back on failure.
  Status finish(Timestamp now) {
    if (rate_dirty_) {
      // The REST calls of the last minute survive a restart: a crash loop must not multiply
      // the budget (Alpaca counts per account, not per process).
      rate_dirty_ = false;
      set_sync(kRateWindow, encode_rate_window(now));
    }
    WriteBatch b;
    for (auto& [id, before] : txn_.orders_before) {
      (void)before;
      Order& o = orders_.at(id);
      o.version += 1;
      o.updated_at = now;
      b.orders.push_back(o);
    }
    for (auto& [id, before] : txn_.trades_before) {
      (void)before;
      Trade& t = trades_.at(id);
      t.updated_at = now;
      b.trades.push_back(t);
    }
    for (auto& [sym, before] : txn_.positions_before) {
      (void)before;
      b.positions.push_back(positions_.at(sym));
    }
    for (std::int64_t id : carry_alerts_) txn_.alerts_before.try_emplace(id, alerts_.at(id));
    for (auto& [id, before] : txn_.alerts_before) {
      (void)before;
      b.alerts.push_back(alerts_.at(id));
    }
    for (auto& [k, before] : txn_.sync_before) {
      (void)before;
      b.sync_state[k] = sync_state_.at(k);
    }
    b.events = std::move(txn_.events);
    b.fills = std::move(txn_.fills);
    if (b.empty() && txn_.staged.empty()) return Status::ok();
    Status st = b.empty() ? Status::ok() : store_.commit(b);
    if (b.empty() == false) ++metrics_.commits;
    if (!st.is_ok()) {
      ++metrics_.commit_failures;
      rollback();
      store_ok_ = false;
      store_error_ = st.message();
      // The evidence of this input is lost with the rollback; the resync finds it again.
      resync_due_ = true;
      return st;
    }
    carry_alerts_.clear();
    if (!store_ok_) {
      store_ok_ = true;
      auto act = active_alerts_.find({AlertKind::anomaly, "store"});
      if (act != active_alerts_.end()) {
        alerts_[act->second].cleared_at = now;
        carry_alerts_.insert(act->second);  // written with the next commit
        active_alerts_.erase(act);
      }
      store_error_.clear();
    }
    for (auto& c : txn_.staged) queue_.push_back(std::move(c));
    txn_.staged.clear();
    return Status::ok();
  }

  void rollback() {
    for (auto& [id, before] : txn_.orders_before) {
      auto it = orders_.find(id);
      if (it != orders_.end()) {
        by_cid_.erase(it->second.client_order_id);
        if (it->second.broker_order_id) by_bid_.erase(*it->second.broker_order_id);
      }
      if (before) {
        orders_[id] = *before;
        submit_candidates_.insert(id);
        by_cid_[before->client_order_id] = id;
        if (before->broker_order_id) by_bid_[*before->broker_order_id] = id;
      } else {
        if (it != orders_.end()) {
          auto& v = by_trade_[it->second.trade_id];
          v.erase(std::remove(v.begin(), v.end(), id), v.end());
          orders_.erase(it);
        }
        aux_.erase(id);
      }
    }
    for (auto& [id, before] : txn_.trades_before) {
      if (before) trades_[id] = *before; else trades_.erase(id);
    }
    for (auto& [sym, before] : txn_.positions_before) {
      if (before) positions_[sym] = *before; else positions_.erase(sym);
    }
    for (auto& [id, before] : txn_.alerts_before) {
      if (before) alerts_[id] = *before; else alerts_.erase(id);
    }
    rebuild_active_alerts();
    for (auto& [k, before] : txn_.sync_before) {
      if (before) sync_state_[k] = *before; else sync_state_.erase(k);
    }
    rate_dirty_ = true;  // the window written with this batch was not: write it with the next
    for (auto& c : txn_.staged) {
      auto it = pending_.find(c.id);
      if (it != pending_.end()) {
        if (it->second.command.order_id != 0) {
          OrderAux& ax = aux_[it->second.command.order_id];
          ax.command_outstanding = false;
          // The cancel never left: let the trade step ask for it again.
          if (c.kind == CommandKind::cancel) ax.cancel_sent = false;
          if (auto o = orders_.find(it->second.command.order_id); o != orders_.end()) {
            touched_trades_.insert(o->second.trade_id);  // what it was for is still to do
          }
        }
        pending_.erase(it);
      }
    }
    max_trade_id_ = txn_.max_trade_id;
    max_order_id_ = txn_.max_order_id;
    max_alert_id_ = txn_.max_alert_id;
    txn_ = Txn{};
    // Visible at once in memory (health, /api/alerts); written with the next good commit.
    raise(AlertKind::anomaly, "store", "store commit failed, changes rolled back", last_now_);
    for (auto& [id, before] : txn_.alerts_before) carry_alerts_.insert(id);
    txn_ = Txn{};
  }

  // ---------------------------------------------------------------------------------------
  // Audit + state changes through the state machine.
  // ---------------------------------------------------------------------------------------
  void audit(const Order& o, std::optional<OrderState> from, EventSource src, std::string note,
             std::string payload, Timestamp now) {
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
  bool apply(OrderId id, const StateUpdate& u, EventSource src, std::string note,
             const std::string& payload, Timestamp now) {
    if (orders_.at(id).state == OrderState::created && !is_local(u.to) &&
        src != EventSource::intent) {
      // Broker evidence for an order we believed unsent (a "not sent" that was sent after all):
      // it did reach the broker, so it is adopted, never sent again.
      StateUpdate sent{OrderState::submitting, std::nullopt, std::nullopt, std::nullopt};
      apply(id, sent, src, "the broker holds this order: an earlier attempt reached it", {}, now);
    }
    Order& cur = orders_.at(id);
    Decision d = evaluate(cur.snapshot(), u);
    if (d.verdict == Verdict::duplicate) {
      return false;
    }
    if (!d.ok()) {
      ++metrics_.anomalies;
      Order& o = mut_order(id);
      audit(o, o.state, src,
            fmt::format("refused ({}): {}; evidence: {}", to_string(d.verdict), d.reason, note),
            payload, now);
      if (d.verdict != Verdict::stale) {
        raise(AlertKind::anomaly, o.client_order_id,
              fmt::format("{}: {}", to_string(d.verdict), d.reason), now);
      }
      return false;
    }
    Order& o = mut_order(id);
    const OrderState from = o.state;
    const Decimal before_filled = o.filled_qty;
    o.state = u.to;
    if (u.filled_qty) o.filled_qty = *u.filled_qty;
    if (u.filled_avg_price) o.filled_avg_price = u.filled_avg_price;
    if (u.broker_time && (!o.broker_updated_at || *u.broker_time > *o.broker_updated_at)) {
      o.broker_updated_at = u.broker_time;
    }
    if (o.filled_qty > before_filled) {
      Decimal delta = o.filled_qty - before_filled;
      Position& p = mut_position(o.symbol);
      p.qty += signed_qty(o.side, delta);
      if (o.filled_avg_price && o.side == Side::buy && p.qty.is_positive()) {
        p.avg_entry_price = *o.filled_avg_price;
      }
      if (src == EventSource::stream) ++metrics_.fills_from_stream;
      else ++metrics_.fills_from_poll;
      if (u.broker_time) {
        metrics_.detection_ms_max =
            std::max<std::int64_t>(metrics_.detection_ms_max, now.ms_since(*u.broker_time));
      }
      touched_trades_.insert(o.trade_id);
    }
    if (from != o.state) touched_trades_.insert(o.trade_id);
    audit(o, from, src, std::move(note), payload, now);
    return true;
  }

  void learn_broker_id(OrderId id, const std::string& bid) {
    Order& cur = orders_.at(id);
    if (cur.broker_order_id == bid) return;
    if (cur.broker_order_id) return;  // never replaced: the first id learned stays
    Order& o = mut_order(id);
    o.broker_order_id = bid;
    by_bid_[bid] = id;
    auto it = unmatched_.find(bid);
    if (it != unmatched_.end()) {
      held_back_.insert(held_back_.end(), it->second.begin(), it->second.end());
      unmatched_.erase(it);
    }
  }

  StateUpdate update_from(const BrokerOrder& b) {
    StateUpdate u;
    u.to = b.status.value_or(OrderState::new_);
    u.filled_qty = b.filled_qty;
    u.filled_avg_price = b.filled_avg_price;
    u.broker_time = b.updated_at.ns != 0 ? std::optional<Timestamp>(b.updated_at) : std::nullopt;
    return u;
  }

  // Adopts a broker order (response, lookup, sweep) into a local order: id, status, legs.
  void adopt(OrderId id, const BrokerOrder& b, EventSource src, std::string note, Timestamp now) {
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

  void adopt_legs(OrderId parent, const BrokerOrder& b, EventSource src, Timestamp now) {
    for (const BrokerOrder& leg : b.legs) {
      OrderId child = 0;
      auto known = by_bid_.find(leg.id);
      if (known != by_bid_.end()) {
        child = known->second;
      } else {
        const OrderRole role =
            leg.type == OrderType::limit ? OrderRole::take_profit : OrderRole::stop_loss;
        for (OrderId cid : by_trade_[orders_.at(parent).trade_id]) {
          const Order& c = orders_.at(cid);
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
  void set_local_state(OrderId id, OrderState to, EventSource src, std::string note,
                       const std::string& payload, Timestamp now) {
    StateUpdate u{to, std::nullopt, std::nullopt, std::nullopt};
    apply(id, u, src, note, payload, now);
    for (OrderId c : by_trade_[orders_.at(id).trade_id]) {
      const Order& child = orders_.at(c);
      if (child.parent_order_id == id && is_local(child.state) && !child.broker_order_id) {
        apply(c, u, src, "leg follows its parent: " + note, {}, now);
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Alerts (raised once per kind+subject, cleared when the condition goes away).
  // ---------------------------------------------------------------------------------------
  void raise(AlertKind k, const std::string& subject, std::string message, Timestamp now) {
    auto key = std::make_pair(k, subject);
    if (active_alerts_.count(key)) return;
    Alert a;
    a.id = ++max_alert_id_;
    a.kind = k;
    a.subject = subject;
    a.message = std::move(message);
    a.raised_at = now;
    txn_.alerts_before[a.id] = std::nullopt;
    active_alerts_[key] = a.id;
    alerts_[a.id] = std::move(a);
  }

  void clear(AlertKind k, const std::string& subject, Timestamp now) {
    auto key = std::make_pair(k, subject);
    auto it = active_alerts_.find(key);
    if (it == active_alerts_.end()) return;
    std::int64_t id = it->second;
    if (!txn_.alerts_before.count(id)) txn_.alerts_before[id] = alerts_[id];
    alerts_[id].cleared_at = now;
    active_alerts_.erase(it);
  }

  bool alert_active(AlertKind k, const std::string& subject) const {
    return active_alerts_.count({k, subject}) > 0;
  }

  void rebuild_active_alerts() {
    active_alerts_.clear();
    for (auto& [id, a] : alerts_) {
      if (a.active()) active_alerts_[{a.kind, a.subject}] = id;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Start / recovery.
  // ---------------------------------------------------------------------------------------
  Status start(Timestamp now) {
    auto loaded = store_.load();
    if (!loaded.ok()) {
      store_ok_ = false;
      store_error_ = loaded.status().message();
      return loaded.status();
    }
    LoadedState& s = loaded.value();
    owner_ = account_tag(cfg_.account_identity) + s.instance_tag;
    max_trade_id_ = s.max_trade_id;
    max_order_id_ = s.max_order_id;
    max_alert_id_ = s.max_alert_id;
    for (auto& t : s.open_trades) trades_[t.id] = t;
    for (auto& o : s.open_orders) {
      by_cid_[o.client_order_id] = o.id;
      if (o.broker_order_id) by_bid_[*o.broker_order_id] = o.id;
      by_trade_[o.trade_id].push_back(o.id);
      orders_[o.id] = o;
      submit_candidates_.insert(o.id);
    }
    for (auto& [id, o] : orders_) {
      if (wash_adjustable(o) && o.limit_price != own_exit_price(o)) wash_priced_exits_.insert(id);
    }
    for (auto& p : s.positions) positions_[p.symbol] = p;
    for (auto& a : s.active_alerts) alerts_[a.id] = a;
    rebuild_active_alerts();
    sync_state_ = s.sync_state;
    if (auto rw = sync_state_.find(std::string(kRateWindow)); rw != sync_state_.end()) {
      restore_rate_window(rw->second);
    }
    started_at_ = now;
    last_now_ = now;

    begin();
    if (!sync_state_.count(std::string(kWatermarkTime))) {
      // Fills before this store existed are not ours to track.
      set_sync(kWatermarkTime, format_rfc3339(now.plus_ms(-60'000)));
    }
    // Crash-only recovery: every order whose outcome we do not know is resolved by a lookup by
    // client id before anything else is sent for it.
    for (auto& [id, o] : orders_) {
      if ((o.state == OrderState::submitting || o.state == OrderState::unknown) &&
          !o.parent_order_id) {
        stage_resolve(id);
      }
    }
    for (auto& [id, t] : trades_) touched_trades_.insert(id);
    begin_full_resync(now);
    Status st = finish(now);
    return st;
  }

  // ---------------------------------------------------------------------------------------
  // Intents.
  // ---------------------------------------------------------------------------------------
  Order make_order(const Trade& t, OrderRole role, int generation, Side side, OrderType type,
                   Decimal qty, Timestamp now) {
    Order o;
    o.id = ++max_order_id_;
    o.trade_id = t.id;
    o.role = role;
    o.client_order_id = make_client_order_id(owner_, t.id, role, generation);
    o.symbol = t.spec.symbol;
    o.side = side;
    o.type = type;
    o.tif = t.spec.tif;
    o.qty = qty;
    o.state = OrderState::created;
    o.created_at = now;
    o.updated_at = now;
    return o;
  }

  void record_new(Order o, std::string note, Timestamp now) {
    Order& ins = insert_order(std::move(o));
    audit(ins, std::nullopt, EventSource::intent, std::move(note), {}, now);
  }

  StatusOr<Trade> open_trade(const TradeSpec& spec, Timestamp now) {
    if (std::string err = validate(spec); !err.empty()) {
      return Status::error(Status::Code::invalid_argument, err);
    }
    begin();
    Trade t;
    t.id = ++max_trade_id_;
    t.spec = spec;
    t.state = TradeState::pending;
    t.created_at = now;
    t.updated_at = now;
    txn_.trades_before[t.id] = std::nullopt;
    trades_[t.id] = t;
    Order entry = make_order(t, OrderRole::entry, 0, spec.side, spec.entry_type, spec.qty, now);
    entry.limit_price = spec.entry_limit_price;
    const OrderId entry_id = entry.id;
    if (spec.exits == ExitMode::native) {
      // One bracket: the legs are created by the broker with the entry, never sent alone.
      entry.order_class = OrderClass::bracket;
      record_new(std::move(entry), "trade opened: bracket entry", now);
      const Side exit_side = opposite(spec.side);
      auto prices = spec.entry_limit_price ? exit_prices(spec, *spec.entry_limit_price)
                                           : std::optional<ExitPrices>();
      Order tp = make_order(t, OrderRole::take_profit, 0, exit_side, OrderType::limit, spec.qty,
                            now);
      tp.parent_order_id = entry_id;
      tp.limit_price = spec.take_profit.price ? spec.take_profit.price
                       : prices ? std::optional<Decimal>(prices->take_profit) : std::nullopt;
      record_new(std::move(tp), "bracket take-profit leg", now);
      Order sl = make_order(t, OrderRole::stop_loss, 0, exit_side, OrderType::stop, spec.qty, now);
      sl.parent_order_id = entry_id;
      sl.stop_price = spec.stop_loss->price ? spec.stop_loss->price
                      : prices ? prices->stop_loss : std::nullopt;
      record_new(std::move(sl), "bracket stop-loss leg", now);
    } else {
      record_new(std::move(entry), "trade opened: entry; exits follow its fills", now);
    }
    touched_trades_.insert(t.id);
    run_submitter(now);
    Status st = finish(now);
    if (!st.is_ok()) return st;
    return trades_.at(t.id);
  }

  Status cancel_trade(TradeId id, Timestamp now) {
    auto it = trades_.find(id);
    if (it == trades_.end()) {
      return Status::error(Status::Code::not_found, fmt::format("no open trade {}", id));
    }
    if (is_terminal(it->second.state)) {
      return Status::error(Status::Code::conflict,
                           fmt::format("trade {} is already {}", id, to_string(it->second.state)));
    }
    begin();
    Trade& t = mut_trade(id);
    t.state = TradeState::closing;
    t.note = "cancel requested";
    touched_trades_.insert(id);
    run_submitter(now);
    return finish(now);
  }

  // ---------------------------------------------------------------------------------------
  // TradeManager: what each touched trade needs next.
  // ---------------------------------------------------------------------------------------
  struct TradeView {
    OrderId entry = 0;
    std::vector<OrderId> exits;  // exit parents (orders we send): tp/oco, flatten
    std::vector<OrderId> all_exits;  // including legs
    Decimal entry_filled;
    Decimal exit_filled;
    int exit_generation = 0;
    int flatten_generation = 0;
  };

  TradeView view_of(TradeId tid) {
    TradeView v;
    for (OrderId id : by_trade_[tid]) {
      const Order& o = orders_.at(id);
      if (o.role == OrderRole::entry) {
        if (!o.replaces_order_id) v.entry = id;
        v.entry_filled += o.filled_qty;
        continue;
      }
      v.all_exits.push_back(id);
      v.exit_filled += o.filled_qty;
      if (!o.parent_order_id) v.exits.push_back(id);  // the orders we send ourselves
      auto parts = parse_client_order_id(o.client_order_id);
      int gen = parts ? parts->generation + 1 : 1;
      if (o.role == OrderRole::exit) v.flatten_generation = std::max(v.flatten_generation, gen);
      else v.exit_generation = std::max(v.exit_generation, gen);
    }
    return v;
  }

  // The one place a cancel is asked for; cancel_sent keeps it to one request in flight.
  void request_cancel(OrderId id, std::string why, Timestamp now) {
    aux_[id].cancel_sent = true;
    Order& m = mut_order(id);
    audit(m, m.state, EventSource::intent, std::move(why), {}, now);
    Command c;
    c.kind = CommandKind::cancel;
    c.priority = CommandPriority::trading;
    c.order_id = id;
    c.broker_order_id = *m.broker_order_id;
    stage(std::move(c), Purpose::cancel);
  }

  static bool never_sent(const Order& o) {
    return !o.broker_order_id &&
           (o.state == OrderState::created || o.state == OrderState::canceled ||
            o.state == OrderState::submit_failed);
  }

  bool working_or_pending(const Order& o) const {
    return !is_terminal(o.state) && o.state != OrderState::parked;
  }

  void step_trade(TradeId tid, Timestamp now) {
    auto tit = trades_.find(tid);
    if (tit == trades_.end() || is_terminal(tit->second.state)) return;
    TradeView v = view_of(tid);
    if (v.entry == 0) return;
    const Order& entry = orders_.at(v.entry);
    const Trade& t = tit->second;
    const Decimal held = v.entry_filled - v.exit_filled;
    const bool entry_done = is_terminal(entry.state) || entry.state == OrderState::parked;
    // An exit still unsent that no longer fits what is held (another exit filled meanwhile) is
    // dropped; a right-sized one is placed again if still needed.
    for (OrderId id : v.exits) {
      const Order& o = orders_.at(id);
      if (o.state != OrderState::created || o.broker_order_id || o.replaces_order_id ||
          aux_[id].command_outstanding || o.role == OrderRole::exit) {
        continue;
      }
      if (!held.is_positive() || o.qty > held) {
        set_local_state(id, OrderState::canceled, EventSource::intent,
                        fmt::format("not sent: {} held no longer needs this exit of {}",
                                    held.str(), o.qty.str()),
                        {}, now);
        aux_[id].hold_wait = false;
      }
    }

    if (t.state == TradeState::pending && v.entry_filled.is_positive()) {
      Trade& m = mut_trade(tid);
      m.state = TradeState::open;
      m.note = "entry filled " + v.entry_filled.str();
    }
    if (!v.entry_filled.is_positive() && entry_done) {
      Trade& m = mut_trade(tid);
      const bool failed = entry.state == OrderState::submit_failed ||
                          entry.state == OrderState::parked || entry.state == OrderState::rejected;
      m.state = failed ? TradeState::failed : TradeState::canceled;
      m.note = fmt::format("entry {} without a fill", to_string(entry.state));
      cancel_local_exits(tid, now);
      return;
    }
    if (v.entry_filled.is_positive() && !held.is_positive() && entry_done) {
      bool exits_done = true;
      for (OrderId id : v.all_exits) {
        if (!is_terminal(orders_.at(id).state) && orders_.at(id).state != OrderState::parked) {
          exits_done = false;
        }
      }
      if (exits_done) {
        Trade& m = mut_trade(tid);
        m.state = TradeState::closed;
        m.note = "flat";
        return;
      }
    }
    if (t.state == TradeState::closing) {
      step_closing(tid, v, held, now);
      return;
    }
    if (t.spec.exits == ExitMode::native) {
      // The broker's bracket cancels the other leg when one fills; nothing to send.
      return;
    }
    if (!held.is_positive()) return;
    // Emulated exits: one working exit order (OCO or plain limit) sized to what is held.
    std::optional<OrderId> active;
    for (OrderId id : v.exits) {
      const Order& o = orders_.at(id);
      if (o.role != OrderRole::exit && working_or_pending(o)) active = id;
    }
    if (!active) {
      // A canceled OCO parent whose leg we have not seen end yet: the leg may have filled (its
      // fill is what canceled the parent). Wait for it rather than placing a second exit.
      for (OrderId id : v.all_exits) {
        const Order& o = orders_.at(id);
        if (o.parent_order_id && orders_.at(*o.parent_order_id).role != OrderRole::entry &&
            working_or_pending(o)) {
          return;
        }
      }
    }
    if (!active) {
      // An exit that was parked or failed for good is not silently replaced by a new one.
      for (OrderId id : v.exits) {
        const Order& o = orders_.at(id);
        if (o.role != OrderRole::exit && !o.replaces_order_id &&
            (o.state == OrderState::parked || o.state == OrderState::submit_failed)) {
          return;
        }
      }
      create_emulated_exit(tid, v, held, now);
      return;
    }
    const Order& ex = orders_.at(*active);
    // Grow the exit by replace as more of the entry fills (only while nothing of it filled: a
    // replacement of a partially filled order re-used the original qty at Alpaca, #165).
    if (is_open_at_broker(ex.state) && ex.broker_order_id && ex.filled_qty.is_zero() &&
        ex.qty < held && ex.state != OrderState::pending_replace &&
        ex.state != OrderState::pending_cancel && !has_pending_replacement(*active)) {
      if (!replacement_tried(*active)) {
        grow_exit(tid, *active, held, v, now);
      } else if (!aux_[*active].cancel_sent && !cancel_retry_at_.count(*active)) {
        // The broker refused to grow it: cancel it; once it is gone a new exit is placed for
        // everything held. One replace attempt per exit, never a loop of them.
        request_cancel(*active,
                       fmt::format("replace refused; cancel to re-place the exit for {} held",
                                   held.str()),
                       now);
      }
    }
  }

  bool replacement_tried(OrderId id) {
    for (OrderId oid : by_trade_[orders_.at(id).trade_id]) {
      if (orders_.at(oid).replaces_order_id == id) return true;
    }
    return false;
  }

  bool has_pending_replacement(OrderId id) {
    for (OrderId oid : by_trade_[orders_.at(id).trade_id]) {
      const Order& o = orders_.at(oid);
      if (o.replaces_order_id == id && !is_terminal(o.state) && o.state != OrderState::parked) {
        return true;
      }
    }
    return false;
  }

  void create_emulated_exit(TradeId tid, const TradeView& v, Decimal held, Timestamp now) {
    const Trade& t = trades_.at(tid);
    const Order& entry = orders_.at(v.entry);
    std::optional<Decimal> basis = entry.filled_avg_price;
    if (!basis) basis = entry.limit_price;
    if (!basis && t.spec.take_profit.price &&
        (!t.spec.stop_loss || t.spec.stop_loss->price)) {
      basis = *t.spec.take_profit.price;  // absolute prices: the basis is not used
    }
    if (!basis) {
      // The fill price is needed for percent exits: learn it from the order itself.
      stage_refresh(v.entry, now, /*force=*/false);
      return;
    }
    auto prices = exit_prices(t.spec, *basis);
    if (!prices) return;
    const Side exit_side = opposite(t.spec.side);
    Order tp = make_order(t, OrderRole::take_profit, v.exit_generation, exit_side,
                          OrderType::limit, held, now);
    tp.tif = TimeInForce::gtc;
    tp.limit_price = prices->take_profit;
    const OrderId tp_id = tp.id;
    if (prices->stop_loss) {
      // One OCO, not two sells: separate TP and SL orders collide on the hold (40310000).
      tp.order_class = OrderClass::oco;
      record_new(std::move(tp), fmt::format("exit for {} held: oco take-profit {} / stop {}",
                                            held.str(), prices->take_profit.str(),
                                            prices->stop_loss->str()),
                 now);
      Order sl = make_order(t, OrderRole::stop_loss, v.exit_generation, exit_side,
                            OrderType::stop, held, now);
      sl.tif = TimeInForce::gtc;
      sl.stop_price = prices->stop_loss;
      sl.parent_order_id = tp_id;
      record_new(std::move(sl), "oco stop-loss leg", now);
    } else {
      std::string why =
          fmt::format("exit for {} held: take-profit {}", held.str(), prices->take_profit.str());
      price_past_own_orders(tp, why);
      record_new(std::move(tp), why, now);
    }
  }

  void grow_exit(TradeId tid, OrderId old_id, Decimal held, const TradeView& v, Timestamp now) {
    const Trade& t = trades_.at(tid);
    const Order& old = orders_.at(old_id);
    Order r = make_order(t, old.role, v.exit_generation, old.side, old.type, held, now);
    r.tif = old.tif;
    r.order_class = old.order_class;
    r.limit_price = old.limit_price;
    r.stop_price = old.stop_price;
    r.replaces_order_id = old_id;
    const OrderId rid = r.id;
    record_new(std::move(r),
               fmt::format("grow exit {} from {} to {} (entry filled more)",
                           old.client_order_id, old.qty.str(), held.str()),
               now);
    (void)rid;  // the legs stay: the broker moves them to the replacement (see adopt_replacement)
  }

  // A replaced OCO parent keeps its legs at the broker (they move to the new order): the local
  // legs follow, so their broker ids and states keep matching.
  void adopt_replacement(OrderId new_id, Timestamp now) {
    const Order& n = orders_.at(new_id);
    if (!n.replaces_order_id) return;
    const OrderId old_id = *n.replaces_order_id;
    for (OrderId oid : std::vector<OrderId>(by_trade_[n.trade_id])) {
      if (orders_.at(oid).parent_order_id != old_id) continue;
      Order& leg = mut_order(oid);
      leg.parent_order_id = new_id;
      audit(leg, leg.state, EventSource::response,
            fmt::format("leg moves to the replacement {}", n.client_order_id), {}, now);
    }
  }

  void cancel_local_exits(TradeId tid, Timestamp now) {
    for (OrderId id : by_trade_[tid]) {
      const Order& o = orders_.at(id);
      if (o.role != OrderRole::entry && o.state == OrderState::created) {
        apply(id, {OrderState::canceled, std::nullopt, std::nullopt, std::nullopt},
              EventSource::intent, "trade ended before this exit was sent", {}, now);
      }
    }
  }

  void step_closing(TradeId tid, const TradeView& v, Decimal held, Timestamp now) {
    bool waiting = false;
    auto cancel_one = [&](OrderId id) {
      const Order& o = orders_.at(id);
      if (is_terminal(o.state) || o.state == OrderState::parked) return;
      if (o.state == OrderState::created) {
        // A leg goes with its parent at the broker; only when the parent never got there is the
        // leg ours to end (DST seed 26: the leg of an unsent OCO kept the trade closing).
        if (!o.parent_order_id || never_sent(orders_.at(*o.parent_order_id))) {
          apply(id, {OrderState::canceled, std::nullopt, std::nullopt, std::nullopt},
                EventSource::intent, "trade canceled before this order was sent", {}, now);
        }
        return;
      }
      waiting = true;
      // A leg is canceled on its own only once its parent is done (a filled bracket entry);
      // canceling an OCO parent takes its leg with it.
      const bool cancelable_alone =
          !o.parent_order_id || is_terminal(orders_.at(*o.parent_order_id).state);
      if (o.broker_order_id && cancelable_alone && !aux_[id].cancel_sent &&
          !cancel_retry_at_.count(id) && is_open_at_broker(o.state) &&
          o.state != OrderState::pending_cancel) {
        request_cancel(id, "cancel requested (trade closing)", now);
      }
    };
    if (v.entry) cancel_one(v.entry);
    for (OrderId id : v.all_exits) {
      if (orders_.at(id).role != OrderRole::exit) cancel_one(id);
    }
    if (waiting || !held.is_positive()) return;
    for (OrderId id : v.exits) {
      const Order& o = orders_.at(id);
      if (o.role == OrderRole::exit && working_or_pending(o)) return;  // flatten under way
      // A flatten that was parked or refused for good is not replaced by another one: the
      // alert asks a person.
      if (o.role == OrderRole::exit &&
          (o.state == OrderState::parked || o.state == OrderState::submit_failed)) {
        return;
      }
    }
    const Trade& t = trades_.at(tid);
    Order x = make_order(t, OrderRole::exit, v.flatten_generation, opposite(t.spec.side),
                         OrderType::market, held, now);
    x.tif = TimeInForce::day;
    std::string why = fmt::format("flatten {} held (trade canceled)", held.str());
    price_past_own_orders(x, why);
    record_new(std::move(x), why, now);
  }

  // ---------------------------------------------------------------------------------------
  // Submitter.
  // ---------------------------------------------------------------------------------------
  std::int64_t backoff_ms(int attempts) {
    // Full jitter: uniform in [0, min(cap, base * 2^attempt)].
    std::int64_t ceiling = cfg_.retry_base_ms;
    for (int i = 1; i < attempts && ceiling < cfg_.retry_cap_ms; ++i) ceiling *= 2;
    ceiling = std::min(ceiling, cfg_.retry_cap_ms);
    std::uniform_int_distribution<std::int64_t> d(0, std::max<std::int64_t>(ceiling, 0));
    return d(rng_);
  }

  bool positions_fresh_for(const Order& o) const {
    return positions_read_at_ && *positions_read_at_ >= o.created_at &&
           (last_now_.ms_since(*positions_read_at_) <= cfg_.positions_max_age_ms ||
            *positions_read_at_ >= o.updated_at);
  }

  // Sends every order that is due. The only place a submit command is made.
  void run_submitter(Timestamp now) {
    drain_held_back(now);
    // An exit priced past our own opposite orders depends on other trades' orders: price it
    // again whenever anything changed.
    for (auto it = wash_priced_exits_.begin(); it != wash_priced_exits_.end();) {
      auto o = orders_.find(*it);
      if (o == orders_.end() || !working_or_pending(o->second) ||
          !reprice_wash_priced_exit(*it, now)) {
        it = wash_priced_exits_.erase(it);
        continue;
      }
      ++it;
    }
    // Trade steps first: they create exits and flattening orders.
    for (int round = 0; round < 3 && !touched_trades_.empty(); ++round) {
      auto touched = std::move(touched_trades_);
      touched_trades_.clear();
      for (TradeId tid : touched) step_trade(tid, now);
    }
    bool need_positions = false;
    if (cfg_.mutation_resubmit_known_orders) {
      for (auto& [id, o] : orders_) submit_candidates_.insert(id);
    }
    // Only orders changed since they were last seen here can be waiting to be sent: walking every
    // order held made each event O(orders).
    for (auto cit = submit_candidates_.begin(); cit != submit_candidates_.end();) {
      const OrderId id = *cit;
      auto oit = orders_.find(id);
      if (oit == orders_.end()) {
        cit = submit_candidates_.erase(cit);
        continue;
      }
      ++cit;
      Order& o = oit->second;
      if (cfg_.mutation_resubmit_known_orders && mutant_resend(id, now)) continue;
      if (o.state != OrderState::created || o.parent_order_id) {
        submit_candidates_.erase(id);
        continue;
      }
      OrderAux& ax = aux_[id];
      // Waiting for holdings to change: a positions read clears the flag when they have.
      if (ax.command_outstanding || ax.related_waiting > 0 || ax.hold_wait) continue;
      // Principle 2: an order the broker holds is never sent again.
      if (o.broker_order_id) continue;
      if (o.next_attempt_at && *o.next_attempt_at > now) continue;
      const Trade* t = trades_.count(o.trade_id) ? &trades_.at(o.trade_id) : nullptr;
      if (t && is_terminal(t->state)) continue;
      if (o.replaces_order_id) {
        const Order& old = orders_.at(*o.replaces_order_id);
        if (!old.broker_order_id || !is_open_at_broker(old.state)) {
          set_local_state(id, OrderState::canceled, EventSource::intent,
                          "not sent: the order to replace is no longer working", {}, now);
          continue;
        }
      }
      if (o.side == Side::sell && o.role != OrderRole::entry) {
        // Pre-submit check: the broker's qty_available must cover the sell, else it would only
        // earn a 40310000 (the incident).
        if (!positions_fresh_for(o)) {
          need_positions = true;
          continue;
        }
        // Our own sells sent after that read hold shares the read does not show yet: two
        // exits on one symbol in one pass must not race each other into a 40310000.
        Decimal avail = broker_available(o.symbol) - unseen_own_holds(o.symbol, id);
        Decimal needed = o.qty;
        if (o.replaces_order_id) needed = o.qty - orders_.at(*o.replaces_order_id).qty;
        if (avail < needed) {
          ax.hold_wait = true;
          ax.hold_available = avail;
          note_foreign_hold(o, now);
          Order& m = mut_order(id);
          audit(m, m.state, EventSource::intent,
                fmt::format("not sent: qty_available {} < {} for {}; waiting for holdings to "
                            "change",
                            avail.str(), needed.str(), o.symbol),
                {}, now);
          continue;
        }
      }
      send(id, now);
    }
    if (need_positions) stage_positions(now);
  }

  // Shares held at the broker beyond what our own open sells hold: someone else's orders.
  void note_foreign_hold(const Order& o, Timestamp now) {
    auto it = broker_positions_.find(o.symbol);
    if (it == broker_positions_.end()) return;
    const Decimal held = it->second.qty - it->second.qty_available;
    Decimal ours;
    for (auto& [id, x] : orders_) {
      if (x.symbol == o.symbol && x.side == Side::sell && !x.parent_order_id &&
          is_open_at_broker(x.state) && x.state != OrderState::held) {
        ours += x.qty - x.filled_qty;
      }
    }
    if (held > ours) {
      raise(AlertKind::external_hold, o.symbol,
            fmt::format("{}: {} shares held by orders that are not ours ({} held, ours {}); {} "
                        "waits for holdings to change",
                        o.symbol, (held - ours).str(), held.str(), ours.str(),
                        o.client_order_id),
            now);
    }
  }

  // DST mutation only: what the incident's platform did, resending "pending" orders the broker
  // already holds (under a fresh client id, as it did). The harness must catch this.
  bool mutant_resend(OrderId id, Timestamp now) {
    const Order& o = orders_.at(id);
    if (o.parent_order_id || !is_open_at_broker(o.state) ||
        now.ms_since(o.updated_at) < cfg_.poll_interval_ms) {
      return false;
    }
    OrderAux& ax = aux_[id];
    if (ax.last_refresh_at && now.ms_since(*ax.last_refresh_at) < cfg_.poll_interval_ms) {
      return true;
    }
    ax.last_refresh_at = now;
    Command c;
    c.kind = CommandKind::submit;
    c.priority = CommandPriority::trading;
    c.submit = request_for(o);
    c.submit.client_order_id = o.client_order_id + "-m" + std::to_string(++mutant_seq_);
    stage(std::move(c), Purpose::refresh);  // the answer matches no local order: ignored
    return true;
  }

  Decimal unseen_own_holds(const std::string& symbol, OrderId except) {
    Decimal held;
    for (auto& [oid, x] : orders_) {
      if (oid == except || x.symbol != symbol || x.side != Side::sell || x.parent_order_id) {
        continue;
      }
      const bool in_flight = x.state == OrderState::submitting || x.state == OrderState::unknown;
      const OrderAux& ax = aux_[oid];
      const bool after_read = ax.sent_at && positions_read_at_ && *ax.sent_at >= *positions_read_at_;
      if (in_flight || (after_read && is_open_at_broker(x.state))) {
        held += x.replaces_order_id ? x.qty - orders_.at(*x.replaces_order_id).qty
                                    : x.qty - x.filled_qty;
      }
    }
    return held;
  }

  Decimal broker_available(const std::string& symbol) const {
    auto it = broker_positions_.find(symbol);
    if (it == broker_positions_.end()) return Decimal();
    return it->second.qty_available;
  }

  void send(OrderId id, Timestamp now) {
    Order& o = mut_order(id);
    o.attempts += 1;
    o.next_attempt_at.reset();
    attempt_times_.push_back(now);
    if (o.attempts > 1) {
      metrics_.retries_by_reason[o.last_error.empty() ? "resend" : retry_reason(o.last_error)]++;
    }
    set_local_state(id, OrderState::submitting, EventSource::intent,
                    fmt::format("attempt {} with client_order_id {}", o.attempts,
                                o.client_order_id),
                    {}, now);
    aux_[id].command_outstanding = true;
    aux_[id].sent_at = now;
    Command c;
    c.priority = CommandPriority::trading;
    c.order_id = id;
    if (o.replaces_order_id) {
      const Order& old = orders_.at(*o.replaces_order_id);
      c.kind = CommandKind::replace;
      c.broker_order_id = *old.broker_order_id;
      c.replace.qty = o.qty;
      c.replace.client_order_id = o.client_order_id;
    } else {
      c.kind = CommandKind::submit;
      c.submit = request_for(o);
      ++metrics_.submissions;
    }
    stage(std::move(c), Purpose::send);
  }

  static std::string retry_reason(const std::string& last_error) {
    auto colon = last_error.find(':');
    return colon == std::string::npos ? last_error : last_error.substr(0, colon);
  }

  OrderRequest request_for(const Order& o) {
    OrderRequest r;
    r.symbol = o.symbol;
    r.side = o.side;
    r.type = o.type;
    r.tif = o.tif;
    r.qty = o.qty;
    r.limit_price = o.limit_price;
    r.stop_price = o.stop_price;
    r.client_order_id = o.client_order_id;
    r.order_class = o.order_class;
    for (OrderId cid : by_trade_[o.trade_id]) {
      const Order& c = orders_.at(cid);
      if (c.parent_order_id != o.id) continue;
      if (c.role == OrderRole::take_profit) r.take_profit_limit_price = c.limit_price;
      if (c.role == OrderRole::stop_loss) r.stop_loss_stop_price = c.stop_price;
    }
    if (o.order_class == OrderClass::oco) r.take_profit_limit_price = o.limit_price;
    return r;
  }

  void schedule_retry(OrderId id, const std::string& why, Timestamp now, EventSource src,
                      const std::string& payload, std::optional<std::int64_t> min_delay_ms,
                      bool at_once = false) {
    Order& o = mut_order(id);
    o.last_error = why;
    if (o.attempts >= cfg_.retry_max_attempts) {
      set_local_state(id, OrderState::parked, src,
                      fmt::format("parked after {} attempts; last: {}", o.attempts, why), payload,
                      now);
      raise(AlertKind::order_parked, o.client_order_id,
            fmt::format("{} {} parked after {} attempts: {}", o.symbol,
                        to_string(o.role), o.attempts, why),
            now);
      touched_trades_.insert(o.trade_id);
      return;
    }
    std::int64_t delay = at_once ? 0 : backoff_ms(o.attempts);
    if (min_delay_ms) delay = std::max(delay, *min_delay_ms);
    o.next_attempt_at = now.plus_ms(delay);
    set_local_state(id, OrderState::created, src,
                    fmt::format("retry in {} ms (attempt {} of {}): {}", delay, o.attempts,
                                cfg_.retry_max_attempts, why),
                    payload, now);
  }

  void to_unknown(OrderId id, const std::string& why, EventSource src, const std::string& payload,
                  Timestamp now) {
    orders_.at(id);
    mut_order(id).last_error = why;
    set_local_state(id, OrderState::unknown, src, "outcome unknown, look up by client id: " + why,
                    payload, now);
    stage_resolve(id);
  }

  void stage_resolve(OrderId id) {
    const Order& o = orders_.at(id);
    aux_[id].command_outstanding = true;
    Command c;
    c.kind = CommandKind::get_by_client_id;
    c.priority = CommandPriority::lookup;
    c.order_id = id;
    c.client_order_id = o.client_order_id;
    stage(std::move(c), Purpose::resolve);
  }

  void stage_refresh(OrderId id, Timestamp now, bool force) {
    const Order& o = orders_.at(id);
    if (!o.broker_order_id) return;
    OrderAux& ax = aux_[id];
    if (!force && ax.last_refresh_at && now.ms_since(*ax.last_refresh_at) < cfg_.poll_interval_ms) {
      return;
    }
    ax.last_refresh_at = now;
    Command c;
    c.kind = CommandKind::get_order;
    c.priority = CommandPriority::lookup;
    c.order_id = id;
    c.broker_order_id = *o.broker_order_id;
    stage(std::move(c), Purpose::refresh);
  }

  void on_send_result(const Pending& p, const CommandResult& r, Timestamp now) {
    const OrderId id = p.command.order_id;
    if (!orders_.count(id)) return;
    aux_[id].command_outstanding = false;
    const Order& o = orders_.at(id);
    const bool is_replace = p.command.kind == CommandKind::replace;
    if (!r.error) {
      if (!r.order) return;
      adopt(id, *r.order, EventSource::response,
            is_replace ? "replacement accepted" : "submit accepted", now);
      if (is_replace && o.replaces_order_id) {
        adopt_replacement(id, now);
        apply(*o.replaces_order_id,
              {OrderState::replaced, std::nullopt, std::nullopt, std::nullopt},
              EventSource::response, "replaced by " + r.order->id, r.order->raw, now);
      }
      touched_trades_.insert(o.trade_id);
      return;
    }
    const BrokerError& e = *r.error;
    const std::string why = e.describe();
    if (o.state != OrderState::submitting) {
      // Evidence (stream/lookup) already moved it on; the error reply is only recorded.
      Order& m = mut_order(id);
      audit(m, m.state, EventSource::error, "late error reply ignored: " + why, e.body, now);
      return;
    }
    switch (e.kind) {
      case BrokerError::Kind::not_sent:
        schedule_retry(id, "not_sent: " + e.message, now, EventSource::error, e.body,
                       e.retry_after_ms);
        return;
      case BrokerError::Kind::unknown_outcome:
        to_unknown(id, why, EventSource::error, e.body, now);
        return;
      case BrokerError::Kind::rejected:
        break;
    }
    if (e.duplicate_client_order_id()) {
      // Proof that an earlier attempt of this very intent reached the broker: adopt it.
      ++metrics_.duplicate_client_id_adopted;
      to_unknown(id, "40010001 client_order_id already used: an earlier attempt exists",
                 EventSource::error, e.body, now);
      return;
    }
    if (e.insufficient_qty_error()) {
      ++metrics_.insufficient_qty_errors;
      on_insufficient_qty(id, e, now);
      return;
    }
    if (e.http_status == 429 || e.http_status >= 500) {
      to_unknown(id, why, EventSource::error, e.body, now);
      return;
    }
    if (is_replace && e.http_status == 404) {
      set_local_state(id, OrderState::submit_failed, EventSource::error,
                      "replace refused, order gone: " + why, e.body, now);
      if (o.replaces_order_id) stage_refresh(*o.replaces_order_id, now, true);
      touched_trades_.insert(o.trade_id);
      return;
    }
    if (wash_adjustable(o) && !is_replace && e.http_status == 403 &&
        reprice_past_wash_check(id, e, now)) {
      // Priced to pass now: sent again at once, no backoff (attempts still count).
      schedule_retry(id, why, now, EventSource::error, e.body, std::nullopt, /*at_once=*/true);
      return;
    }
    if (is_exit_role(o.role) && !is_replace && e.http_status == 403) {
      // A protective or flattening sell refused for the moment (wash-trade check against an
      // opposite order, shares not yet settled...): bounded retry with backoff, then parked.
      // Never a new order per refusal.
      schedule_retry(id, why, now, EventSource::error, e.body, std::nullopt);
      return;
    }
    mut_order(id).last_error = why;
    set_local_state(id, OrderState::submit_failed, EventSource::error, "refused: " + why, e.body,
                    now);
    if (is_exit_role(o.role)) {
      raise(AlertKind::stuck_order, o.client_order_id,
            fmt::format("{} exit refused by the broker: {}", o.symbol, why), now);
    }
    if (is_replace && o.replaces_order_id) stage_refresh(*o.replaces_order_id, now, true);
    touched_trades_.insert(o.trade_id);
  }

  // Alpaca refuses an order that could cross an opposite-side open order of the same account
  // ("potential wash trade", 40310000): a market order against any, a limit against a crossing
  // limit; complex orders (our OCO exits, brackets) are exempt. A flatten (market) or a
  // take-profit alone (a simple limit) of one trade is thus refused while another trade of ours
  // has an entry resting on the other side. Such an exit is priced one tick past the most
  // aggressive of those orders: it crosses none of them, never sells lower (buys higher) than
  // its own price, and still executes at once when the market is beyond them, which it is
  // while they rest.
  static bool wash_adjustable(const Order& o) {
    return !o.parent_order_id && o.order_class == OrderClass::simple &&
           (o.role == OrderRole::exit || o.role == OrderRole::take_profit);
  }

  // The exit's own price before any stepping around: none for a flatten (market), the trade's
  // take-profit for a take-profit alone.
  std::optional<Decimal> own_exit_price(const Order& o) const {
    if (o.role != OrderRole::take_profit) return std::nullopt;
    auto trade = trades_.find(o.trade_id);
    auto siblings = by_trade_.find(o.trade_id);
    if (trade == trades_.end() || siblings == by_trade_.end()) return o.limit_price;
    const Trade& t = trade->second;
    for (OrderId id : siblings->second) {
      const Order& entry = orders_.at(id);
      if (entry.role != OrderRole::entry || entry.replaces_order_id) continue;
      std::optional<Decimal> basis = entry.filled_avg_price;
      if (!basis) basis = entry.limit_price;
      if (!basis) basis = t.spec.take_profit.price;
      if (!basis) break;
      if (auto prices = exit_prices(t.spec, *basis)) return prices->take_profit;
      break;
    }
    return o.limit_price;  // not derivable: the price it has is its own
  }

  // The price `o` may take given our own open orders on the other side; nullopt = market.
  // Walks every order: only for exits, and only while one steps around our own orders.
  std::optional<Decimal> wash_safe_price(const Order& o, std::optional<Decimal> own) const {
    std::optional<Decimal> extreme;  // highest buy limit against a sell, lowest sell limit
    for (const auto& [oid, other] : orders_) {
      if (other.symbol != o.symbol || other.side == o.side || !working_or_pending(other)) continue;
      if (never_sent(other) || (other.parent_order_id && other.state == OrderState::held)) {
        continue;  // not at the broker, or an inactive leg (not checked by the broker, §5)
      }
      if ((other.type != OrderType::limit && other.type != OrderType::stop_limit) ||
          !other.limit_price) {
        return own;  // a market/stop order of ours: no price passes, wait for it to go
      }
      const Decimal lp = *other.limit_price;
      if (!extreme || (o.side == Side::sell ? lp > *extreme : lp < *extreme)) extreme = lp;
    }
    if (!extreme) return own;
    const Decimal tick = Decimal::price_increment_for(*extreme);
    const Decimal beyond = o.side == Side::sell ? *extreme + tick : *extreme - tick;
    if (!beyond.is_positive()) return own;
    if (!own) return beyond;
    return o.side == Side::sell ? std::max(*own, beyond) : std::min(*own, beyond);
  }

  // A new exit takes the price that passes the check from the start (no refusal first).
  void price_past_own_orders(Order& x, std::string& why) {
    const std::optional<Decimal> own = x.type == OrderType::market ? std::nullopt : x.limit_price;
    const std::optional<Decimal> price = wash_safe_price(x, own);
    if (price == own) return;
    x.type = OrderType::limit;
    x.limit_price = price;
    x.tif = TimeInForce::day;  // a price made for this moment of the book
    wash_priced_exits_.insert(x.id);
    why += fmt::format("; as limit {}, past our own opposite orders (wash-trade check)",
                       price->str());
  }

  // The refusal named an order of ours we did not count yet (its reply was still on the way):
  // price again. Same intent, same client id: the broker never created the refused one.
  bool reprice_past_wash_check(OrderId id, const BrokerError& e, Timestamp now) {
    constexpr std::string_view kKey = "\"existing_order_id\":\"";
    auto pos = e.body.find(kKey);
    if (e.body.find("wash trade") == std::string::npos || pos == std::string::npos) return false;
    pos += kKey.size();
    auto end = e.body.find('"', pos);
    if (end == std::string::npos) return false;
    auto blocker = by_bid_.find(e.body.substr(pos, end - pos));
    if (blocker == by_bid_.end()) return false;  // not ours: retried with backoff, then alerted
    const Order& o = orders_.at(id);
    const std::optional<Decimal> price = wash_safe_price(o, own_exit_price(o));
    if (!price || price == o.limit_price) return false;
    Order& m = mut_order(id);
    m.type = OrderType::limit;
    m.limit_price = price;
    m.tif = TimeInForce::day;
    wash_priced_exits_.insert(id);
    audit(m, m.state, EventSource::error,
          fmt::format("wash-trade check against our {}: exit as limit {}",
                      orders_.at(blocker->second).client_order_id, price->str()),
          e.body, now);
    return true;
  }

  // Our opposite orders changed (filled when the market came to them, canceled): the exit may
  // no longer need its stepped-around price, and a limit left behind by a market that moved
  // away would never fill. An unsent exit is priced again in place; one resting at the broker
  // is canceled, and the trade then places the next one for what is still held. Returns false
  // once the exit is back at its own price.
  bool reprice_wash_priced_exit(OrderId id, Timestamp now) {
    const Order& o = orders_.at(id);
    const std::optional<Decimal> own = own_exit_price(o);
    const std::optional<Decimal> price = wash_safe_price(o, own);
    if (price == o.limit_price) return price != own;
    if (price && o.limit_price &&
        (o.side == Side::sell ? *price > *o.limit_price : *price < *o.limit_price)) {
      return true;  // a new order of ours crosses it (a bracket entry, exempt): it stays
    }
    const std::string to = price ? "limit " + price->str() : std::string("market");
    if (o.state == OrderState::created && !o.broker_order_id && !aux_[id].command_outstanding) {
      Order& m = mut_order(id);
      m.type = price ? OrderType::limit : (o.role == OrderRole::exit ? OrderType::market
                                                                        : OrderType::limit);
      m.limit_price = price ? price : own;
      if (m.role != OrderRole::exit && !price) m.tif = TimeInForce::gtc;
      audit(m, m.state, EventSource::intent,
            "our opposite orders changed: exit as " + to, {}, now);
      return price != own;
    }
    if (!o.broker_order_id || !is_open_at_broker(o.state) || aux_[id].cancel_sent ||
        cancel_retry_at_.count(id) || o.state == OrderState::pending_cancel ||
        o.state == OrderState::pending_replace) {
      return true;
    }
    request_cancel(id, "our opposite orders changed: cancel, place the exit again as " + to, now);
    return true;
  }

  // 40310000: someone's open orders hold the shares. Never a blind retry: find out whose.
  void on_insufficient_qty(OrderId id, const BrokerError& e, Timestamp now) {
    const InsufficientQty& iq = *e.insufficient_qty;
    Order& o = mut_order(id);
    o.last_error = e.describe();
    set_local_state(id, OrderState::created, EventSource::error,
                    fmt::format("40310000 insufficient qty: available {}, held_for_orders {}, "
                                "related {}; checking who holds the shares",
                                iq.available.str(), iq.held_for_orders.str(),
                                iq.related_orders.size()),
                    e.body, now);
    OrderAux& ax = aux_[id];
    ax.hold_wait = true;
    ax.hold_available = iq.available;
    // Our own view of holdings is stale by definition now.
    positions_read_at_.reset();
    for (const std::string& rid : iq.related_orders) {
      ++ax.related_waiting;
      Command c;
      c.kind = CommandKind::get_order;
      c.priority = CommandPriority::lookup;
      c.order_id = by_bid_.count(rid) ? by_bid_.at(rid) : 0;
      c.broker_order_id = rid;
      stage(std::move(c), Purpose::related, id);
    }
    if (iq.related_orders.empty()) {
      raise(AlertKind::external_hold, o.symbol,
            fmt::format("{}: only {} available for {} ({} held); waiting for holdings to change",
                        o.symbol, iq.available.str(), o.qty.str(), iq.held_for_orders.str()),
            now);
    }
  }

  void on_related_result(const Pending& p, const CommandResult& r, Timestamp now) {
    const OrderId waiting_id = p.for_order;
    if (!orders_.count(waiting_id)) return;
    OrderAux& ax = aux_[waiting_id];
    if (ax.related_waiting > 0) --ax.related_waiting;
    if (r.error || !r.order) {
      if (ax.related_waiting == 0) stage_positions(now);
      return;
    }
    const BrokerOrder& b = *r.order;
    const Order& waiting = orders_.at(waiting_id);
    std::optional<OrderId> local = find_local(b);
    if (!local && is_ours(b.client_order_id, owner_)) local = adopt_unrecorded(b, now);
    if (local) {
      adopt(*local, b, EventSource::lookup,
            "holds the shares of a refused sell (40310000 related order)", now);
      const Order& holder = orders_.at(*local);
      const bool same_trade_exit = holder.trade_id == waiting.trade_id &&
                                   is_exit_role(holder.role) &&
                                   is_open_at_broker(holder.state) &&
                                   waiting.role != OrderRole::exit;
      if (same_trade_exit) {
        set_local_state(waiting_id, OrderState::canceled, EventSource::lookup,
                        "not needed: our working exit " + holder.client_order_id +
                            " already covers this trade",
                        b.raw, now);
        touched_trades_.insert(waiting.trade_id);
        return;
      }
      Order& m = mut_order(waiting_id);
      audit(m, m.state, EventSource::lookup,
            "shares held by our own order " + holder.client_order_id +
                "; no retry until holdings change",
            b.raw, now);
    } else {
      raise(AlertKind::external_hold, waiting.symbol,
            fmt::format("{} shares held by external order {} ({}); {} waits for holdings to "
                        "change",
                        waiting.symbol, b.id, b.client_order_id, waiting.client_order_id),
            now);
      Order& m = mut_order(waiting_id);
      audit(m, m.state, EventSource::lookup, "shares held by external order " + b.id, b.raw, now);
    }
    if (ax.related_waiting == 0) stage_positions(now);
  }

  void on_resolve_result(const Pending& p, const CommandResult& r, Timestamp now) {
    const OrderId id = p.command.order_id;
    if (!orders_.count(id)) return;
    OrderAux& ax = aux_[id];
    ax.command_outstanding = false;
    const Order& o = orders_.at(id);
    if (!r.error && r.order) {
      ax.not_found = 0;
      adopt(id, *r.order, EventSource::lookup, "found by client_order_id: adopted, not resent",
            now);
      if (o.replaces_order_id && is_known_to_broker(orders_.at(id).state)) {
        adopt_replacement(id, now);
        apply(*o.replaces_order_id,
              {OrderState::replaced, std::nullopt, std::nullopt, std::nullopt},
              EventSource::lookup, "replaced by " + r.order->id, {}, now);
      }
      touched_trades_.insert(o.trade_id);
      return;
    }
    if (!r.error) return;
    const BrokerError& e = *r.error;
    if (o.state != OrderState::submitting && o.state != OrderState::unknown) return;
    if (e.not_found()) {
      // Only a definite 404 counts: the broker does not hold this intent, a resend (same client
      // id) is safe.
      ++ax.not_found;
      schedule_retry(id, "lookup: no order with this client_order_id (404)", now,
                     EventSource::lookup, e.body, std::nullopt);
      return;
    }
    // A network error proves nothing: stay unknown and look again later.
    if (o.state == OrderState::submitting) {
      set_local_state(id, OrderState::unknown, EventSource::error,
                      "lookup failed: " + e.describe(), e.body, now);
    } else {
      Order& m = mut_order(id);
      audit(m, m.state, EventSource::error, "lookup failed, will look again: " + e.describe(),
            e.body, now);
    }
    // A 429's X-Ratelimit-Reset can be a minute away. The transport already holds every request
    // until then when the account really is over its limit, so waiting the whole minute here
    // only keeps an order of unknown status unknown for longer (DST seed 322: an injected 429
    // left an entry unknown past the quiet period while every other call went through).
    const std::int64_t wait = std::max<std::int64_t>(
        cfg_.poll_interval_ms,
        std::min<std::int64_t>(e.retry_after_ms.value_or(0), cfg_.inflight_check_ms));
    retry_resolve_at_[id] = now.plus_ms(wait);
  }

  void on_refresh_result(const Pending& p, const CommandResult& r, Timestamp now) {
    OrderId id = p.command.order_id;
    if (r.error) {
      // A network error or 5xx proves nothing (Hummingbot #8457): the next sweep that misses
      // the order fetches it again, or it would stay "working" here forever.
      if (!r.error->not_found() && orders_.count(id)) aux_[id].missing_checked = false;
      if (r.error->not_found() && orders_.count(id)) {
        Order& m = mut_order(id);
        audit(m, m.state, EventSource::lookup,
              "broker has no order " + p.command.broker_order_id + " (404)", r.error->body, now);
        raise(AlertKind::reconciliation_mismatch, m.client_order_id,
              "local order has a broker id the broker does not know", now);
      }
      return;
    }
    if (!r.order) return;
    std::optional<OrderId> local = find_local(*r.order);
    if (!local) return;
    adopt(*local, *r.order, EventSource::lookup, "refreshed by id", now);
    // Still working (e.g. pending_cancel): the next sweep that misses it fetches it again.
    if (is_open_at_broker(orders_.at(*local).state)) aux_[*local].missing_checked = false;
  }

  void on_cancel_result(const Pending& p, const CommandResult& r, Timestamp now) {
    OrderId id = p.command.order_id;
    if (!orders_.count(id)) return;
    aux_[id].cancel_sent = false;
    if (r.error) {
      Order& m = mut_order(id);
      audit(m, m.state, EventSource::error, "cancel refused: " + r.error->describe(),
            r.error->body, now);
      // 429, 5xx, no answer: the order may still be working, and nothing else would ask for the
      // cancel again (DST seed 43: a canceled trade's entry stayed open for good). A 422 means
      // it is already done or going: the refresh below tells which.
      if (r.error->http_status != 422) {
        cancel_retry_at_[id] = now.plus_ms(std::max<std::int64_t>(
            cfg_.poll_interval_ms,
            std::min<std::int64_t>(r.error->retry_after_ms.value_or(0), cfg_.inflight_check_ms)));
      }
    }
    // Cancel is asynchronous at Alpaca: learn the outcome by id.
    stage_refresh(id, now, true);
  }

  // ---------------------------------------------------------------------------------------
  // Synchronizer.
  // ---------------------------------------------------------------------------------------
  std::optional<OrderId> find_local(const BrokerOrder& b) {
    auto it = by_bid_.find(b.id);
    if (it != by_bid_.end()) return it->second;
    auto ct = by_cid_.find(b.client_order_id);
    if (ct != by_cid_.end()) {
      // An event that beats the submit reply: matched by our client id.
      learn_broker_id(ct->second, b.id);
      return ct->second;
    }
    return match_leg(b);
  }

  // A bracket/OCO leg carries a client id the broker made up, and a lookup of its parent by
  // client id does not list it: recognise it by what we asked for (symbol, side, type, qty,
  // price) among our legs whose id we have not learned yet.
  std::optional<OrderId> match_leg(const BrokerOrder& b) {
    if (b.order_class != OrderClass::bracket && b.order_class != OrderClass::oco) {
      return std::nullopt;
    }
    for (auto& [id, o] : orders_) {
      if (!o.parent_order_id || o.broker_order_id || o.symbol != b.symbol || o.side != b.side) {
        continue;
      }
      const Order& parent = orders_.at(*o.parent_order_id);
      if (!parent.broker_order_id) continue;
      const bool type_ok = o.role == OrderRole::take_profit ? b.type == OrderType::limit
                                                              : b.type != OrderType::limit;
      const bool price_ok = o.role == OrderRole::take_profit ? b.limit_price == o.limit_price
                                                               : b.stop_price == o.stop_price;
      if (type_ok && price_ok && b.qty == o.qty) {
        learn_broker_id(id, b.id);
        return id;
      }
    }
    return std::nullopt;
  }

  // Ours at the broker but never recorded here (crash between send and commit, or a store
  // restored from a backup): adopted as a new local order of its trade.
  std::optional<OrderId> adopt_unrecorded(const BrokerOrder& b, Timestamp now) {
    auto parts = parse_client_order_id(b.client_order_id);
    if (!parts || parts->owner != owner_) return std::nullopt;
    auto tit = trades_.find(parts->trade_id);
    if (tit == trades_.end()) return std::nullopt;
    Order o = make_order(tit->second, parts->role, parts->generation, b.side, b.type,
                         b.qty.value_or(Decimal()), now);
    o.client_order_id = b.client_order_id;
    o.order_class = b.order_class;
    o.limit_price = b.limit_price;
    o.stop_price = b.stop_price;
    o.state = OrderState::unknown;  // the broker's status follows through adopt()
    OrderId id = o.id;
    Order& ins = insert_order(std::move(o));
    audit(ins, std::nullopt, EventSource::reconcile,
          "ours at the broker but not recorded locally: adopted", b.raw, now);
    ++report_.orders_adopted;
    return id;
  }

  void on_trade_update(const TradeUpdate& u, Timestamp now) {
    ++metrics_.stream_events;
    last_stream_event_at_ = now;
    // Idempotent: the same execution (or the same event of the same order) is applied once.
    std::string key = u.execution_id ? "x:" + *u.execution_id
                                     : fmt::format("e:{}:{}:{}", u.order.id, u.event,
                                                   u.timestamp.ns);
    if (!seen_events_.insert(key).second) return;
    seen_order_.push_back(key);
    if (seen_order_.size() > 200'000) {
      seen_events_.erase(seen_order_.front());
      seen_order_.pop_front();
    }
    std::optional<OrderId> local = find_local(u.order);
    if (!local) {
      if (is_ours(u.order.client_order_id, owner_)) {
        local = adopt_unrecorded(u.order, now);
      }
    }
    if (!local) {
      // Possibly a leg whose id the parent's reply has not told us yet: held until it does.
      auto& v = unmatched_[u.order.id];
      if (unmatched_.size() < 10'000 && v.size() < 16) v.push_back(u);
      return;
    }
    apply_update(*local, u, now);
  }

  void apply_update(OrderId id, const TradeUpdate& u, Timestamp now) {
    const std::int64_t lat = std::max<std::int64_t>(0, now.ms_since(u.timestamp));
    record_latency(lat);
    const Decimal before = orders_.at(id).filled_qty;
    if (u.order.status) {
      StateUpdate su = update_from(u.order);
      apply(id, su, EventSource::stream, "trade_updates " + u.event, u.raw, now);
    }
    adopt_legs(id, u.order, EventSource::stream, now);
    const Order& o = orders_.at(id);
    // Recorded once, by whichever source saw the execution first.
    if (o.filled_qty > before && u.execution_id && u.qty && u.price) {
      txn_.fills.push_back(Fill{*u.execution_id, id, o.symbol, o.side, *u.qty, *u.price,
                                u.timestamp});
    }
  }

  void record_latency(std::int64_t ms) {
    metrics_.apply_latency_sum_ms += ms;
    std::size_t i = 0;
    while (i < metrics_.apply_latency_bucket_ms.size() && ms > metrics_.apply_latency_bucket_ms[i]) {
      ++i;
    }
    metrics_.apply_latency_counts[i]++;
  }

  // When one exit of an OCO/bracket fills, the broker cancels the other: learn it at once when
  // the evidence came from a poll (its cancel event may be lost as well).
  void on_exit_filled(OrderId id, Timestamp now) {
    const Order& o = orders_.at(id);
    if (!is_exit_role(o.role) || o.state != OrderState::filled) return;
    std::optional<OrderId> group = o.parent_order_id ? o.parent_order_id : std::optional(o.id);
    for (OrderId sid : by_trade_[o.trade_id]) {
      const Order& s = orders_.at(sid);
      if (sid == id || !is_open_at_broker(s.state)) continue;
      if (sid == *group || s.parent_order_id == group) stage_refresh(sid, now, false);
    }
  }

  void on_stream_connected(Timestamp now) {
    if (stream_connected_) return;
    stream_connected_ = true;
    ++metrics_.stream_reconnects;
    connected_at_ = now;
    clear(AlertKind::stream_down, "stream", now);
    // Missed events are not replayed by Alpaca: resync everything.
    begin_full_resync(now);
  }

  void on_stream_disconnected(std::string_view reason, Timestamp now) {
    if (!stream_connected_ && disconnected_at_) return;
    stream_connected_ = false;
    disconnected_at_ = now;
    raise(AlertKind::stream_down, "stream", "trade_updates disconnected: " + std::string(reason),
          now);
  }

  bool stream_suspect(Timestamp now) const {
    if (!stream_connected_) return true;
    if (now.ms_since(connected_at_) < cfg_.idle_poll_interval_ms) return true;
    // A fill found by polling that the stream never delivered: the stream drops events.
    if (last_missed_fill_at_ && now.ms_since(*last_missed_fill_at_) < 10 * cfg_.idle_poll_interval_ms) {
      return true;
    }
    return false;
  }

  void begin_full_resync(Timestamp now) {
    start_catchup(now);
    start_sweep(now);
    stage_positions(now);
  }

  void start_catchup(Timestamp now) {
    if (catchup_running_) return;
    catchup_running_ = true;
    catchup_started_at_ = now;
    stage_catchup_page(std::nullopt);
  }

  void stage_catchup_page(std::optional<std::string> page_token) {
    Command c;
    c.kind = CommandKind::fill_activities;
    c.priority = CommandPriority::catch_up;
    c.activities.ascending = true;
    c.activities.page_size = cfg_.activity_page_size;
    auto wt = sync_state_.find(std::string(kWatermarkTime));
    if (wt != sync_state_.end()) {
      if (auto t = parse_rfc3339(wt->second)) {
        // Overlap by a second: executions at the same instant as the watermark are not missed;
        // seen ones are skipped by id (and fills apply by cumulative qty anyway).
        c.activities.after = t->plus_ms(-1000);
      }
    }
    c.activities.page_token = std::move(page_token);
    stage(std::move(c), Purpose::catchup_page);
  }

  void on_catchup_result(const CommandResult& r, Timestamp now) {
    if (r.error) {
      catchup_running_ = false;
      return;
    }
    std::optional<FillActivity> last;
    for (const FillActivity& a : r.activities.activities) {
      last = a;
      if (!seen_activities_.insert(a.id).second) continue;
      seen_activity_order_.push_back(a.id);
      if (seen_activity_order_.size() > 200'000) {
        seen_activities_.erase(seen_activity_order_.front());
        seen_activity_order_.pop_front();
      }
      auto it = by_bid_.find(a.order_id);
      if (it == by_bid_.end()) {
        // Unknown order id: an order we have not matched yet (a leg) or an external one.
        unknown_fill_orders_.insert(a.order_id);
        continue;
      }
      const OrderId id = it->second;
      const Order& o = orders_.at(id);
      if (a.cum_qty <= o.filled_qty) continue;  // the stream already told us
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
      const bool applied = apply(id, su, EventSource::poll,
                                 fmt::format("fill found by catch-up: {} at {}, cum {}",
                                             a.qty.str(), a.price.str(), a.cum_qty.str()),
                                 a.raw, now);
      if (applied) {
        last_missed_fill_at_ = now;
        ++report_.fills_adopted;
        txn_.fills.push_back(Fill{a.id, id, o.symbol, o.side, a.qty, a.price, a.transaction_time});
        on_exit_filled(id, now);
      }
    }
    if (last) {
      set_sync(kWatermarkTime, format_rfc3339(last->transaction_time));
      set_sync(kWatermarkId, last->id);
    }
    if (r.activities.more && last) {
      stage_catchup_page(last->id);
      return;
    }
    catchup_running_ = false;
    last_catchup_at_ = now;
    mark_synced(now);
    // Fills of orders we could not match: fetch each once to learn whose they are.
    for (const std::string& bid : unknown_fill_orders_) {
      if (checked_unknown_.insert(bid).second) {
        Command c;
        c.kind = CommandKind::get_order;
        c.priority = CommandPriority::lookup;
        c.broker_order_id = bid;
        stage(std::move(c), Purpose::refresh);
      }
    }
    unknown_fill_orders_.clear();
  }

  void start_sweep(Timestamp now) {
    if (sweep_running_) return;
    sweep_running_ = true;
    sweep_started_at_ = now;
    sweep_seen_.clear();
    stage_sweep_page(std::nullopt);
  }

  void stage_sweep_page(std::optional<Timestamp> after) {
    Command c;
    c.kind = CommandKind::list_orders;
    c.priority = CommandPriority::sweep;
    c.list.status = OrderListStatus::open;
    c.list.limit = cfg_.list_page_size;
    c.list.ascending = true;
    c.list.nested = true;
    c.list.after = after;
    stage(std::move(c), Purpose::sweep_page);
  }

  void sweep_order(const BrokerOrder& b, Timestamp now) {
    sweep_seen_.insert(b.id);
    ++report_.orders_checked;
    std::optional<OrderId> local = find_local(b);
    if (!local && is_ours(b.client_order_id, owner_)) local = adopt_unrecorded(b, now);
    if (local) {
      adopt(*local, b, EventSource::poll, "open-order sweep", now);
    } else if (!b.client_order_id.empty() && !is_ours(b.client_order_id, owner_)) {
      if (external_seen_.insert(b.id).second) {
        ++report_.orders_external;
        report_.findings.push_back(fmt::format("external open order {} {} {} {} ({})", b.id,
                                               to_string(b.side), b.qty.value_or(Decimal()).str(),
                                               b.symbol, b.client_order_id));
      }
    }
    for (const BrokerOrder& leg : b.legs) sweep_seen_.insert(leg.id);
  }

  void on_sweep_result(const Pending& p, const CommandResult& r, Timestamp now) {
    if (r.error) {
      sweep_running_ = false;
      return;
    }
    for (const BrokerOrder& b : r.orders) sweep_order(b, now);
    if (static_cast<int>(r.orders.size()) >= p.command.list.limit && !r.orders.empty()) {
      // `after` is exclusive: paging from the last created_at would skip the orders that share
      // it on the next page (each then costs a GET of its own on every sweep). Step back one
      // nanosecond so they are listed again (the seen-set absorbs the repeats), unless the whole
      // page shares one timestamp: then only moving past it makes progress.
      const Timestamp last = r.orders.back().created_at;
      const bool progressed = !p.command.list.after || last.ns - 1 > p.command.list.after->ns;
      stage_sweep_page(progressed ? Timestamp{last.ns - 1} : last);
      return;
    }
    sweep_running_ = false;
    last_sweep_at_ = now;
    mark_synced(now);
    // Non-terminal locally, absent from the open list: it ended at the broker. One fetch each.
    for (auto& [id, o] : orders_) {
      if (!o.broker_order_id || !is_open_at_broker(o.state)) continue;
      if (sweep_seen_.count(*o.broker_order_id)) {
        aux_[id].missing_checked = false;
        continue;
      }
      if (o.updated_at > sweep_started_at_) continue;  // changed while the sweep ran
      OrderAux& ax = aux_[id];
      // Once per order while it stays missing; again after inflight_check_ms in case the fetch
      // never went out or its answer never came (a rolled-back commit, a lost response).
      if (ax.missing_checked && now.ms_since(ax.missing_checked_at) < cfg_.inflight_check_ms) {
        continue;
      }
      ax.missing_checked = true;
      ax.missing_checked_at = now;
      stage_refresh(id, now, true);
    }
    finish_reconcile_if_done(now);
  }

  void mark_synced(Timestamp now) {
    last_sync_at_ = now;
    clear(AlertKind::sync_lag, "sync", now);
  }

  void stage_positions(Timestamp) {
    if (positions_inflight_) return;
    positions_inflight_ = true;
    Command c;
    c.kind = CommandKind::list_positions;
    c.priority = CommandPriority::lookup;
    stage(std::move(c), Purpose::positions);
  }

  void on_positions_result(const CommandResult& r, Timestamp now) {
    positions_inflight_ = false;
    if (r.error) return;
    broker_positions_.clear();
    for (const BrokerPosition& p : r.positions) broker_positions_[p.symbol] = p;
    positions_read_at_ = now;
    last_positions_at_ = now;
    // Holdings changed? Orders waiting for shares may go again.
    for (auto& [id, ax] : aux_) {
      if (!ax.hold_wait || !orders_.count(id)) continue;
      const Order& o = orders_.at(id);
      Decimal needed = o.qty;
      if (o.replaces_order_id) needed = o.qty - orders_.at(*o.replaces_order_id).qty;
      if (broker_available(o.symbol) >= needed) {
        ax.hold_wait = false;
        clear(AlertKind::external_hold, o.symbol, now);
        Order& m = mut_order(id);
        audit(m, m.state, EventSource::poll,
              fmt::format("holdings changed: qty_available {} covers {}",
                          broker_available(o.symbol).str(), o.qty.str()),
              {}, now);
      }
    }
    reconcile_positions(now);
    finish_reconcile_if_done(now);
  }

  // Drift between the local ledger and the broker's positions, flagged after it persists over
  // two reads (a fill in flight between the two sides is not drift).
  void reconcile_positions(Timestamp now) {
    std::set<std::string> symbols;
    for (auto& [s, p] : positions_) symbols.insert(s);
    for (auto& [s, p] : broker_positions_) symbols.insert(s);
    for (auto& [s, n] : drift_count_) symbols.insert(s);  // a drift that went away is cleared
    int mismatches = 0;
    for (const std::string& s : symbols) {
      Decimal local = positions_.count(s) ? positions_.at(s).qty : Decimal();
      Decimal broker = broker_positions_.count(s) ? broker_positions_.at(s).qty : Decimal();
      if (local == broker) {
        drift_count_.erase(s);
        clear(AlertKind::reconciliation_mismatch, s, now);
        continue;
      }
      ++mismatches;
      int& n = drift_count_[s];
      ++n;
      if (reconcile_requested_) {
        report_.findings.push_back(fmt::format("position {}: local {} broker {}", s, local.str(),
                                               broker.str()));
      }
      if (n >= 2 && !alert_active(AlertKind::reconciliation_mismatch, s)) {
        ++metrics_.reconcile_mismatches;
        raise(AlertKind::reconciliation_mismatch, s,
              fmt::format("position {}: local {} vs broker {}", s, local.str(), broker.str()),
              now);
      }
    }
    if (reconcile_requested_) report_.position_mismatches = mismatches;
  }

  void finish_reconcile_if_done(Timestamp) {
    if (!reconcile_requested_) return;
    if (sweep_running_ || catchup_running_ || positions_inflight_) return;
    reconcile_requested_ = false;
    report_.status = Status::ok();
    finished_report_ = report_;
  }

  void request_reconcile(bool, Timestamp now) {
    begin();
    reconcile_requested_ = true;
    report_ = ReconcileReport{};
    external_seen_.clear();
    begin_full_resync(now);
    finish(now);
  }

  // ---------------------------------------------------------------------------------------
  // Timers.
  // ---------------------------------------------------------------------------------------
  void on_tick(Timestamp now) {
    last_now_ = now;
    if (resync_due_) {
      resync_due_ = false;
      sweep_running_ = false;
      catchup_running_ = false;
      positions_inflight_ = false;
      begin_full_resync(now);
    }
    const std::int64_t sweep_every =
        stream_suspect(now) ? cfg_.poll_interval_ms : cfg_.idle_poll_interval_ms;
    if (!catchup_running_ && (!last_catchup_at_ || now.ms_since(*last_catchup_at_) >=
                                                        cfg_.poll_interval_ms)) {
      start_catchup(now);
    }
    if (!sweep_running_ && (!last_sweep_at_ || now.ms_since(*last_sweep_at_) >= sweep_every)) {
      start_sweep(now);
    }
    if (!last_positions_at_ || now.ms_since(*last_positions_at_) >= cfg_.reconcile_interval_ms) {
      stage_positions(now);
    }
    if (any_hold_wait() && (!last_positions_at_ ||
                            now.ms_since(*last_positions_at_) >= cfg_.idle_poll_interval_ms)) {
      stage_positions(now);
    }
    check_inflight(now);
    for (auto it = cancel_retry_at_.begin(); it != cancel_retry_at_.end();) {
      if (it->second > now) {
        ++it;
        continue;
      }
      if (auto o = orders_.find(it->first); o != orders_.end()) {
        touched_trades_.insert(o->second.trade_id);
      }
      it = cancel_retry_at_.erase(it);
    }
    check_alerts(now);
    run_submitter(now);
  }

  // A leg whose broker id no reply told us (a lookup of the parent by client id, a PATCH reply
  // do not list legs): one nested listing of the symbol's orders since the parent finds it.
  void check_unresolved_leg(OrderId id, Timestamp now) {
    const Order& leg = orders_.at(id);
    if (leg.broker_order_id || !is_local(leg.state) || leg.state == OrderState::parked) return;
    const Order& parent = orders_.at(*leg.parent_order_id);
    if (!parent.broker_order_id || !is_known_to_broker(parent.state)) return;
    OrderAux& ax = aux_[id];
    if (now.ms_since(leg.updated_at) < cfg_.inflight_check_ms) return;
    if (ax.last_refresh_at && now.ms_since(*ax.last_refresh_at) < cfg_.stuck_order_ms) return;
    ax.last_refresh_at = now;
    Command c;
    c.kind = CommandKind::list_orders;
    c.priority = CommandPriority::lookup;
    c.list.status = OrderListStatus::all;
    c.list.nested = true;
    c.list.ascending = true;
    c.list.limit = cfg_.list_page_size;
    c.list.symbols = {leg.symbol};
    c.list.after = parent.created_at.plus_ms(-60'000);
    stage(std::move(c), Purpose::legs);
  }

  void on_legs_result(const CommandResult& r, Timestamp now) {
    if (r.error) return;
    for (const BrokerOrder& b : r.orders) {
      auto it = by_bid_.find(b.id);
      if (it == by_bid_.end() || b.legs.empty()) continue;
      adopt_legs(it->second, b, EventSource::lookup, now);
    }
  }

  bool any_hold_wait() const {
    for (auto& [id, ax] : aux_) {
      if (ax.hold_wait && orders_.count(id) && orders_.at(id).state == OrderState::created) {
        return true;
      }
    }
    return false;
  }

  void check_inflight(Timestamp now) {
    for (auto& [id, o] : orders_) {
      if (o.parent_order_id) {
        check_unresolved_leg(id, now);
        continue;
      }
      OrderAux& ax = aux_[id];
      const std::int64_t age = now.ms_since(o.updated_at);
      if (o.state == OrderState::unknown && !ax.command_outstanding) {
        auto rt = retry_resolve_at_.find(id);
        if (rt == retry_resolve_at_.end() || rt->second <= now) {
          retry_resolve_at_.erase(id);
          stage_resolve(id);
        }
      } else if (o.state == OrderState::submitting && !ax.command_outstanding &&
                 age >= cfg_.inflight_check_ms) {
        stage_resolve(id);
      } else if ((o.state == OrderState::pending_new || o.state == OrderState::pending_cancel ||
                  o.state == OrderState::pending_replace) &&
                 age >= cfg_.inflight_check_ms &&
                 (!ax.last_refresh_at ||
                  now.ms_since(*ax.last_refresh_at) >= cfg_.inflight_check_ms)) {
        stage_refresh(id, now, true);
      }
      const bool stuck = (o.state == OrderState::submitting || o.state == OrderState::unknown) &&
                         age >= cfg_.stuck_order_ms;
      if (stuck) {
        raise(AlertKind::stuck_order, o.client_order_id,
              fmt::format("{} {} in {} for {} ms", o.symbol, to_string(o.role),
                          to_string(o.state), age),
              now);
      } else if (o.state != OrderState::submit_failed &&
                 alert_active(AlertKind::stuck_order, o.client_order_id) &&
                 (o.state != OrderState::submitting && o.state != OrderState::unknown)) {
        clear(AlertKind::stuck_order, o.client_order_id, now);
      }
    }
  }

  void check_alerts(Timestamp now) {
    if (last_sync_at_ && now.ms_since(*last_sync_at_) > cfg_.sync_lag_ms) {
      raise(AlertKind::sync_lag, "sync",
            fmt::format("no completed poll for {} ms", now.ms_since(*last_sync_at_)), now);
    }
    while (!attempt_times_.empty() &&
           now.ms_since(attempt_times_.front()) > cfg_.retry_storm_window_ms) {
      attempt_times_.pop_front();
    }
    const int attempts = static_cast<int>(attempt_times_.size());
    if (attempts >= cfg_.retry_storm_attempts) {
      raise(AlertKind::retry_storm, "submitter",
            fmt::format("{} submission attempts in {} ms", attempts, cfg_.retry_storm_window_ms),
            now);
    } else if (attempts < cfg_.retry_storm_attempts / 2) {
      clear(AlertKind::retry_storm, "submitter", now);
    }
    const std::int64_t used = calls_last_minute(now);
    if (used * 10 >= cfg_.rate_limit_per_min * 9) {
      raise(AlertKind::rate_limit_near, "rest",
            fmt::format("{} REST calls in the last minute (budget {})", used,
                        cfg_.rate_limit_per_min),
            now);
    } else if (used * 10 < cfg_.rate_limit_per_min * 7) {
      clear(AlertKind::rate_limit_near, "rest", now);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Outputs.
  // ---------------------------------------------------------------------------------------
  // "second:count,..." for the calls of the last 60 s.
  std::string encode_rate_window(Timestamp now) {
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

  void restore_rate_window(const std::string& text) {
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
  }

  std::int64_t calls_last_minute(Timestamp now) {
    while (!call_times_.empty() && now.ms_since(call_times_.front()) >= 60'000) {
      call_times_.pop_front();
    }
    return static_cast<std::int64_t>(call_times_.size());
  }

  std::vector<Command> take_commands(Timestamp now) {
    std::vector<Command> out;
    if (queue_.empty()) return out;
    std::stable_sort(queue_.begin(), queue_.end(), [](const Command& a, const Command& b) {
      return a.priority < b.priority;
    });
    std::int64_t used = calls_last_minute(now);
    const std::int64_t budget = cfg_.rate_limit_per_min;
    // Background reads leave a tenth of the budget to trading actions and lookups.
    const std::int64_t background_budget = budget - std::max<std::int64_t>(1, budget / 10);
    std::deque<Command> keep;
    for (Command& c : queue_) {
      const bool background = c.priority >= CommandPriority::catch_up;
      const std::int64_t limit = background ? background_budget : budget;
      const bool room = used < limit && static_cast<int>(outstanding_) < cfg_.max_inflight_commands;
      if (!room) {
        keep.push_back(std::move(c));
        continue;
      }
      ++used;
      ++outstanding_;
      ++metrics_.rest_calls;
      call_times_.push_back(now);
      rate_dirty_ = true;
      pending_[c.id].released_at = now;
      out.push_back(std::move(c));
    }
    queue_ = std::move(keep);
    return out;
  }

  void on_result(CommandId id, CommandResult r, Timestamp now) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending p = std::move(it->second);
    pending_.erase(it);
    if (outstanding_ > 0) --outstanding_;
    broker_ok_ = !(r.error && r.error->kind == BrokerError::Kind::not_sent);
    begin();
    last_now_ = now;
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
    }
    drain_held_back(now);
    run_submitter(now);
    finish(now);
  }

  void drain_held_back(Timestamp now) {
    while (!held_back_.empty()) {
      TradeUpdate u = std::move(held_back_.front());
      held_back_.pop_front();
      auto it = by_bid_.find(u.order.id);
      if (it != by_bid_.end()) apply_update(it->second, u, now);
    }
  }

  std::optional<Timestamp> next_wakeup() const {
    std::optional<Timestamp> w;
    auto consider = [&](Timestamp t) { if (!w || t < *w) w = t; };
    consider(last_now_.plus_ms(std::min<std::int64_t>(cfg_.poll_interval_ms, 1000)));
    for (auto& [id, o] : orders_) {
      if (o.state == OrderState::created && o.next_attempt_at) consider(*o.next_attempt_at);
    }
    return w;
  }

  // ---------------------------------------------------------------------------------------
  // Views.
  // ---------------------------------------------------------------------------------------
  Health health(Timestamp now) {
    Health h;
    h.stream_connected = stream_connected_;
    h.last_stream_event_at = last_stream_event_at_;
    h.last_sync_at = last_sync_at_;
    h.sync_lag_ms = last_sync_at_ ? now.ms_since(*last_sync_at_) : 0;
    h.store_ok = store_ok_;
    h.store_error = store_error_;
    h.broker_ok = broker_ok_;
    for (auto& [id, o] : orders_) {
      if (!is_terminal(o.state) && o.state != OrderState::parked) ++h.open_orders;
    }
    h.rest_calls_last_minute = calls_last_minute(now);
    h.rest_budget_per_minute = cfg_.rate_limit_per_min;
    return h;
  }

  std::string metrics_text(Timestamp now) {
    std::string s;
    auto line = [&](std::string_view name, std::string_view help, std::string_view type,
                    auto value) {
      s += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
    };
    std::map<OrderState, std::int64_t> by_state;
    for (auto& [id, o] : orders_) by_state[o.state]++;
    s += "# HELP orderly_orders Orders held in memory by state\n# TYPE orderly_orders gauge\n";
    for (auto& [st, n] : by_state) {
      s += fmt::format("orderly_orders{{state=\"{}\"}} {}\n", to_string(st), n);
    }
    line("orderly_submissions_total", "Submit requests sent", "counter", metrics_.submissions);
    s += "# HELP orderly_retries_total Resubmissions by reason\n# TYPE orderly_retries_total "
         "counter\n";
    for (auto& [reason, n] : metrics_.retries_by_reason) {
      s += fmt::format("orderly_retries_total{{reason=\"{}\"}} {}\n", reason, n);
    }
    line("orderly_insufficient_qty_errors_total", "40310000 answers", "counter",
         metrics_.insufficient_qty_errors);
    line("orderly_duplicate_client_id_adopted_total", "40010001 answers resolved by adoption",
         "counter", metrics_.duplicate_client_id_adopted);
    line("orderly_sync_lag_ms", "Milliseconds since the last completed poll", "gauge",
         last_sync_at_ ? now.ms_since(*last_sync_at_) : 0);
    line("orderly_stream_connected", "1 when trade_updates is connected", "gauge",
         stream_connected_ ? 1 : 0);
    line("orderly_stream_reconnects_total", "trade_updates (re)connects", "counter",
         metrics_.stream_reconnects);
    line("orderly_stream_events_total", "trade_updates messages", "counter",
         metrics_.stream_events);
    line("orderly_fills_detected_stream_total", "Fills first seen on the stream", "counter",
         metrics_.fills_from_stream);
    line("orderly_fills_detected_poll_total", "Fills first seen by polling", "counter",
         metrics_.fills_from_poll);
    line("orderly_rest_calls_total", "REST calls made", "counter", metrics_.rest_calls);
    const std::int64_t used = calls_last_minute(now);
    line("orderly_rest_calls_last_minute", "REST calls in the last 60 s", "gauge", used);
    line("orderly_rest_headroom", "REST calls left in the per-minute budget", "gauge",
         cfg_.rate_limit_per_min - used);
    line("orderly_reconcile_mismatches_total", "Position drifts flagged", "counter",
         metrics_.reconcile_mismatches);
    line("orderly_anomalies_total", "Evidence refused by the state machine", "counter",
         metrics_.anomalies);
    line("orderly_store_ok", "1 when the last store commit succeeded", "gauge", store_ok_ ? 1 : 0);
    line("orderly_active_alerts", "Alerts currently raised", "gauge", active_alerts_.size());
    s += "# HELP orderly_event_apply_latency_ms Broker event time to local state\n"
         "# TYPE orderly_event_apply_latency_ms histogram\n";
    std::int64_t cum = 0;
    for (std::size_t i = 0; i < metrics_.apply_latency_bucket_ms.size(); ++i) {
      cum += metrics_.apply_latency_counts[i];
      s += fmt::format("orderly_event_apply_latency_ms_bucket{{le=\"{}\"}} {}\n",
                       metrics_.apply_latency_bucket_ms[i], cum);
    }
    cum += metrics_.apply_latency_counts.back();
    s += fmt::format("orderly_event_apply_latency_ms_bucket{{le=\"+Inf\"}} {}\n", cum);
    s += fmt::format("orderly_event_apply_latency_ms_sum {}\n", metrics_.apply_latency_sum_ms);
    s += fmt::format("orderly_event_apply_latency_ms_count {}\n", cum);
    s += "# HELP orderly_position_qty Position by source\n# TYPE orderly_position_qty gauge\n";
    for (const PositionView& p : positions()) {
      s += fmt::format("orderly_position_qty{{symbol=\"{}\",source=\"local\"}} {}\n", p.symbol,
                       p.local_qty.str());
      if (p.broker_qty) {
        s += fmt::format("orderly_position_qty{{symbol=\"{}\",source=\"broker\"}} {}\n",
                         p.symbol, p.broker_qty->str());
      }
    }
    return s;
  }

  std::vector<PositionView> positions() const {
    std::set<std::string> symbols;
    for (auto& [s, p] : positions_) symbols.insert(s);
    for (auto& [s, p] : broker_positions_) symbols.insert(s);
    std::vector<PositionView> out;
    for (const std::string& s : symbols) {
      PositionView v;
      v.symbol = s;
      v.local_qty = positions_.count(s) ? positions_.at(s).qty : Decimal();
      if (positions_read_at_ || last_positions_at_) {
        v.broker_qty = broker_positions_.count(s) ? broker_positions_.at(s).qty : Decimal();
        v.drift = *v.broker_qty - v.local_qty;
      }
      out.push_back(std::move(v));
    }
    return out;
  }

  // ---- state ----
  Store& store_;
  EngineConfig cfg_;
  std::mt19937_64 rng_;
  std::string owner_;
  Txn txn_;

  std::map<TradeId, Trade> trades_;
  std::map<OrderId, Order> orders_;
  // Superset of the orders that may be waiting to be sent (state created, no parent): every
  // order that was inserted or changed since run_submitter last looked at it.
  std::set<OrderId> submit_candidates_;
  std::unordered_map<std::string, OrderId> by_cid_;
  std::unordered_map<std::string, OrderId> by_bid_;
  std::unordered_map<TradeId, std::vector<OrderId>> by_trade_;
  std::unordered_map<OrderId, OrderAux> aux_;
  std::map<std::string, Position> positions_;
  std::map<std::string, BrokerPosition> broker_positions_;
  std::map<std::int64_t, Alert> alerts_;
  std::map<std::pair<AlertKind, std::string>, std::int64_t> active_alerts_;
  std::map<std::string, std::string> sync_state_;
  TradeId max_trade_id_ = 0;
  OrderId max_order_id_ = 0;
  std::int64_t max_alert_id_ = 0;

  std::set<TradeId> touched_trades_;
  std::int64_t mutant_seq_ = 0;
  std::set<std::int64_t> carry_alerts_;
  std::unordered_map<CommandId, Pending> pending_;
  std::deque<Command> queue_;
  std::size_t outstanding_ = 0;
  CommandId next_command_id_ = 0;
  std::deque<Timestamp> call_times_;
  bool rate_dirty_ = false;
  std::deque<Timestamp> attempt_times_;
  std::unordered_map<OrderId, Timestamp> retry_resolve_at_;
  std::set<OrderId> wash_priced_exits_;  // exits priced past our own orders (wash-trade check)
  std::map<OrderId, Timestamp> cancel_retry_at_;  // a cancel that got no answer: ask again then

  std::unordered_set<std::string> seen_events_;
  std::deque<std::string> seen_order_;
  std::unordered_set<std::string> seen_activities_;
  std::deque<std::string> seen_activity_order_;
  std::unordered_map<std::string, std::vector<TradeUpdate>> unmatched_;
  std::deque<TradeUpdate> held_back_;
  std::set<std::string> unknown_fill_orders_;
  std::unordered_set<std::string> checked_unknown_;
  std::unordered_set<std::string> sweep_seen_;
  std::unordered_set<std::string> external_seen_;
  std::map<std::string, int> drift_count_;

  bool stream_connected_ = false;
  Timestamp connected_at_;
  std::optional<Timestamp> disconnected_at_;
  std::optional<Timestamp> last_stream_event_at_;
  std::optional<Timestamp> last_missed_fill_at_;
  bool catchup_running_ = false;
  Timestamp catchup_started_at_;
  std::optional<Timestamp> last_catchup_at_;
  bool sweep_running_ = false;
  Timestamp sweep_started_at_;
  std::optional<Timestamp> last_sweep_at_;
  bool positions_inflight_ = false;
  std::optional<Timestamp> positions_read_at_;
  std::optional<Timestamp> last_positions_at_;
  std::optional<Timestamp> last_sync_at_;
  bool resync_due_ = false;
  bool store_ok_ = true;
  std::string store_error_;
  bool broker_ok_ = true;
  Timestamp started_at_;
  Timestamp last_now_;

  bool reconcile_requested_ = false;
  ReconcileReport report_;
  std::optional<ReconcileReport> finished_report_;

  EngineMetrics metrics_;
};

// ---- Engine: thin wrappers that frame each input as one transaction ----------------------

Engine::Engine(Store& store, EngineConfig config)
    : impl_(std::make_unique<Impl>(store, std::move(config))) {}
Engine::~Engine() = default;

Status Engine::start(Timestamp now) { return impl_->start(now); }

StatusOr<Trade> Engine::open_trade(const TradeSpec& spec, Timestamp now) {
  impl_->last_now_ = now;
  return impl_->open_trade(spec, now);
}

Status Engine::cancel_trade(TradeId id, Timestamp now) {
  impl_->last_now_ = now;
  return impl_->cancel_trade(id, now);
}

void Engine::on_result(CommandId id, CommandResult result, Timestamp now) {
  impl_->on_result(id, std::move(result), now);
}

void Engine::on_trade_update(const TradeUpdate& update, Timestamp now) {
  impl_->last_now_ = now;
  impl_->begin();
  impl_->on_trade_update(update, now);
  impl_->run_submitter(now);
  impl_->finish(now);
}

void Engine::on_stream_connected(Timestamp now) {
  impl_->last_now_ = now;
  impl_->begin();
  impl_->on_stream_connected(now);
  impl_->finish(now);
}

void Engine::on_stream_disconnected(std::string_view reason, Timestamp now) {
  impl_->last_now_ = now;
  impl_->begin();
  impl_->on_stream_disconnected(reason, now);
  impl_->finish(now);
}

void Engine::on_tick(Timestamp now) {
  impl_->begin();
  impl_->on_tick(now);
  impl_->finish(now);
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
  return impl_->orders_.at(it->second);
}
std::vector<Alert> Engine::active_alerts() const {
  std::vector<Alert> out;
  for (auto& [key, id] : impl_->active_alerts_) out.push_back(impl_->alerts_.at(id));
  return out;
}
const std::string& Engine::owner() const { return impl_->owner_; }
std::size_t Engine::inflight_commands() const { return impl_->outstanding_; }
std::size_t Engine::queued_commands() const { return impl_->queue_.size(); }

}  // namespace orderly
