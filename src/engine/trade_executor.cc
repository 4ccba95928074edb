// TradeExecutor: intents, what each touched trade needs next, and the pricing of
// exits past our own opposite orders (wash-trade check).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <utility>

#include "engine/crypto.h"
#include "engine/lookups.h"
#include "engine/submitter.h"
#include "engine/synchronizer.h"
#include "engine/trade_executor.h"
#include "engine/trade_manager.h"
#include "engine/transaction.h"

namespace orderly {

Order TradeExecutor::make_order(const Trade& t, OrderRole role, int generation, Side side,
                                OrderType type, Decimal qty, Timestamp now) {
  Order o;
  o.id = s_.ledger.next_order_id();
  o.trade_id = t.id;
  o.role = role;
  o.client_order_id = make_client_order_id(s_.owner, t.id, role, generation);
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

void TradeExecutor::record_new(Order o, std::string note, Timestamp now) {
  Order& ins = tx_.insert_order(std::move(o));
  tx_.audit(ins, std::nullopt, EventSource::intent, std::move(note), {}, now);
}

Status TradeExecutor::refuse_open(const TradeSpec& spec) const {
  if (std::string err = validate(spec); !err.empty()) {
    return Status::error(Status::Code::invalid_argument, err);
  }
  if (std::string err = s_.admission.refuse_reversal(spec); !err.empty()) {
    return Status::error(Status::Code::invalid_argument, err);
  }
  if (std::string err = s_.admission.refuse_unprotectable_pair(spec, 0, std::nullopt);
      !err.empty()) {
    return Status::error(Status::Code::conflict, err);
  }
  return s_.admission.refuse_fractional_short(spec);
}

TradeId TradeExecutor::open_trade(const TradeSpec& spec, Timestamp now) {
  Trade t;
  t.id = s_.ledger.next_trade_id();
  t.spec = spec;
  t.state = TradeState::pending;
  t.created_at = now;
  t.updated_at = now;
  s_.ledger.create_trade(t);
  Order entry = make_order(t, OrderRole::entry, 0, spec.side, spec.entry_type, spec.qty, now);
  entry.limit_price = spec.entry_limit_price;
  entry.stop_price = spec.entry_stop_price;
  entry.notional = spec.notional;
  entry.extended_hours = spec.extended_hours;
  // A bracket needs its exit prices in the request, whole shares and a market or limit entry.
  // Otherwise (percent targets of a market entry, a fractional qty, a stop entry) native exits
  // are sent once the fill is known, as one OCO (a simple day order when fractional): they
  // still never wait for a person.
  std::optional<ExitPrices> prices;
  if (spec.entry_limit_price) {
    prices = exit_prices(spec, *spec.entry_limit_price);
  } else if (spec.take_profit.price && spec.stop_loss && spec.stop_loss->price) {
    prices = exit_prices(spec, *spec.take_profit.price);
  }
  const bool bracket_entry =
      spec.entry_type == OrderType::market || spec.entry_type == OrderType::limit;
  if (spec.exits == ExitMode::native && prices && prices->take_profit && prices->stop_loss &&
      !spec.fractional() && bracket_entry) {
    record_bracket(t, std::move(entry), *prices, now);
  } else if (spec.exits == ExitMode::none) {
    record_new(std::move(entry), "trade opened: entry alone (\"exits\": \"none\")", now);
  } else if (spec.exits == ExitMode::native) {
    record_new(std::move(entry),
               spec.fractional()
                   ? "trade opened: entry; a fractional qty takes no bracket: its exit is a "
                     "simple day order once the entry fills"
                   : "trade opened: entry; native exits that Alpaca takes in no bracket with "
                     "this entry are sent as one OCO once the fill price is known",
               now);
  } else {
    record_new(std::move(entry), "trade opened: entry; exits follow its fills", now);
  }
  s_.touched_trades.insert(t.id);
  return t.id;
}

// One bracket: the legs are created by the broker with the entry, never sent alone.
void TradeExecutor::record_bracket(const Trade& t, Order entry, const ExitPrices& prices,
                                   Timestamp now) {
  const OrderId entry_id = entry.id;
  entry.order_class = OrderClass::bracket;
  record_new(std::move(entry), "trade opened: bracket entry", now);
  const Side exit_side = opposite(t.spec.side);
  Order tp = make_order(t, OrderRole::take_profit, 0, exit_side, OrderType::limit, t.spec.qty,
                        now);
  tp.parent_order_id = entry_id;
  tp.limit_price = prices.take_profit;
  record_new(std::move(tp), "bracket take-profit leg", now);
  Order sl = make_order(t, OrderRole::stop_loss, 0, exit_side, OrderType::stop, t.spec.qty, now);
  sl.parent_order_id = entry_id;
  sl.stop_price = prices.stop_loss;
  record_new(std::move(sl), "bracket stop-loss leg", now);
}

Status TradeExecutor::refuse_cancel(TradeId id) const {
  const Trade* found = s_.ledger.trade(id);
  if (found == nullptr) {
    return Status::error(Status::Code::not_found, fmt::format("no open trade {}", id));
  }
  if (is_terminal(found->state)) {
    return Status::error(Status::Code::conflict,
                         fmt::format("trade {} is already {}", id, to_string(found->state)));
  }
  if (std::string err = s_.admission.refuse_blocked_flatten(id); !err.empty()) {
    return Status::error(Status::Code::conflict, err);
  }
  return Status::success();
}

void TradeExecutor::cancel_trade(TradeId id) {
  Trade& t = tx_.mut_trade(id);
  t.state = TradeState::closing;
  t.note = "cancel requested";
  s_.touched_trades.insert(id);
}

Status TradeExecutor::refuse_cancel_entry(TradeId id) const {
  const Trade* t = s_.ledger.trade(id);
  if (t == nullptr) {
    return Status::error(Status::Code::not_found, fmt::format("no open trade {}", id));
  }
  if (is_terminal(t->state) || t->state == TradeState::closing) {
    return Status::error(Status::Code::conflict,
                         fmt::format("trade {} is already {}", id, to_string(t->state)));
  }
  const TradeView v = view_of(s_.ledger, id);
  if (v.entry_filled.is_positive()) {
    return Status::error(
        Status::Code::conflict,
        fmt::format("trade {} holds {} {} (its entry filled {}): cancel it with flatten to "
                    "sell at market, or close it",
                    id, (v.entry_filled - v.exit_filled).str(), t->spec.symbol,
                    v.entry_filled.str()));
  }
  const Order& e = s_.ledger.order_at(v.entry);
  const bool local = e.state == OrderState::created && !e.broker_order_id;
  const bool at_broker = e.broker_order_id && is_open_at_broker(e.state);
  if (!local && !at_broker && !is_terminal(e.state) && e.state != OrderState::parked) {
    return Status::error(Status::Code::conflict,
                         fmt::format("trade {}'s entry is on its way to the broker ({}): ask "
                                     "again once it is there",
                                     id, to_string(e.state)));
  }
  return Status::success();
}

void TradeExecutor::cancel_entry(TradeId id, Timestamp now) {
  const TradeView v = view_of(s_.ledger, id);
  const Order& e = s_.ledger.order_at(v.entry);
  const bool local = e.state == OrderState::created && !e.broker_order_id;
  const bool at_broker = e.broker_order_id && is_open_at_broker(e.state);
  if (local) {
    tx_.apply(v.entry, {OrderState::canceled, std::nullopt, std::nullopt, std::nullopt},
              EventSource::intent, "trade canceled before its entry was sent", {}, now);
  } else if (at_broker && !s_.aux[v.entry].cancel_sent && e.state != OrderState::pending_cancel) {
    request_cancel(v.entry, "cancel requested: the trade's entry, nothing filled yet", now);
  }
  tx_.mut_trade(id).note = "cancel requested (entry)";
  s_.touched_trades.insert(id);
}

std::vector<TradeId> TradeExecutor::close_all() {
  std::vector<TradeId> closing;
  for (const auto& [id, t] : s_.ledger.trades()) {
    if (is_terminal(t.state) || t.state == TradeState::closing) continue;
    Trade& m = tx_.mut_trade(id);
    m.state = TradeState::closing;
    m.note = "close-all requested";
    s_.touched_trades.insert(id);
    closing.push_back(id);
  }
  return closing;
}

void TradeExecutor::note_if_oversold(const Trade& t, const TradeView& v) {
  if (v.entry == 0 || !v.entries_done) return;
  if (own_qty(t.spec, v.entry_filled, v.exit_filled).is_negative()) {
    s_.oversold_symbols.insert(t.spec.symbol);
    s_.oversold_trades.insert(t.id);
  }
}

// Written when the list changed; a rolled-back write differs from memory, and is written again.
void TradeExecutor::keep_oversold_trades() {
  if (s_.oversold_trades.empty() && !s_.sync_state.count(std::string(kOversoldTrades))) return;
  const std::string value = fmt::format("{}", fmt::join(s_.oversold_trades, " "));
  const auto it = s_.sync_state.find(std::string(kOversoldTrades));
  if ((it == s_.sync_state.end() ? std::string() : it->second) != value) {
    tx_.set_sync(kOversoldTrades, value);
  }
}

bool TradeExecutor::oversold_still_charged(TradeId tid) {
  const Trade* t = s_.ledger.trade(tid);
  if (t == nullptr) return false;
  const TradeView v = view_of(s_.ledger, tid);
  if (!own_qty(t->spec, v.entry_filled, v.exit_filled).is_negative()) return false;
  for (const TradeHolding& h : holdings_of(s_.ledger, t->spec.symbol, t->spec.side)) {
    if (h.held < h.own) return true;
  }
  return false;
}

// The one place a cancel is asked for; cancel_sent keeps it to one request in flight.
void TradeExecutor::request_cancel(OrderId id, std::string why, Timestamp now) {
  s_.aux[id].cancel_sent = true;
  s_.aux[id].we_canceled = true;
  Order& m = tx_.mut_order(id);
  tx_.audit(m, m.state, EventSource::intent, std::move(why), {}, now);
  Command c;
  c.kind = CommandKind::cancel;
  c.priority = CommandPriority::protective;
  c.order_id = id;
  c.broker_order_id = *m.broker_order_id;
  tx_.stage(std::move(c), Purpose::cancel);
}

void TradeExecutor::step_trade(TradeId tid, Timestamp now) {
  const Trade* tp = s_.ledger.trade(tid);
  if (tp == nullptr) return;
  s_.protection_check.touched(tp->spec.symbol);
  end_clearing_if_done(tp->spec.symbol);
  TradeView v = view_of(s_.ledger, tid);
  note_if_oversold(*tp, v);
  if (is_terminal(tp->state)) {
    s_.crypto_watch.erase(tid);
    return;
  }
  if (v.entry == 0) return;
  const Trade& t = *tp;
  const Decimal held = held_of(s_.ledger, s_.oversold_symbols, tid, v);
  if (const Decimal own = own_qty(t.spec, v.entry_filled, v.exit_filled); held < own) {
    std::string note = fmt::format(
        "holds {} of the {} its own fills leave it: exits of ours sold {} {} beyond their own "
        "trades (a replace raced a fill)",
        held.str(), own.str(), (own - held).str(), t.spec.symbol);
    if (t.note != note) tx_.mut_trade(tid).note = std::move(note);
  }
  drop_unfitting_exits(v, held, now);
  if (settle_trade_state(tid, v, held, now)) return;
  if (t.state == TradeState::closing) {
    step_closing(tid, v, held, now);
    return;
  }
  // "exits": "none": the caller holds the position unguarded by choice.
  const bool watch = held.is_positive() && t.spec.exits != ExitMode::none &&
                     is_crypto_symbol(t.spec.symbol) && t.spec.has_take_profit() &&
                     t.spec.stop_loss;
  if (watch)
    s_.crypto_watch.insert(tid);
  else
    s_.crypto_watch.erase(tid);
  if (!held.is_positive() || t.spec.exits == ExitMode::none) return;
  keep_exits_working(tid, v, held, watch, now);
}

// An exit still unsent that no longer fits what is held (another exit filled meanwhile) is
// dropped; a right-sized one is placed again if still needed.
void TradeExecutor::drop_unfitting_exits(const TradeView& v, Decimal held, Timestamp now) {
  const auto outstanding = [this](OrderId id) {
    const auto ax = s_.aux.find(id);
    return ax != s_.aux.end() && ax->second.command_outstanding;
  };
  for (OrderId id : unfitting_exits(s_.ledger, v, held, outstanding)) {
    tx_.set_local_state(id, OrderState::canceled, EventSource::intent,
                        fmt::format("not sent: {} held no longer needs this exit of {}", held.str(),
                                    s_.ledger.order_at(id).qty.str()),
                        {}, now);
    sync_.set_hold_wait(id, false);
  }
}

// The trade's state from its orders (trade_manager.h settle). True when the trade ended here
// (nothing more to step).
bool TradeExecutor::settle_trade_state(TradeId tid, const TradeView& v, Decimal held,
                                       Timestamp now) {
  Settlement s = settle(s_.ledger.trade_at(tid), v, s_.ledger, held);
  if (s.state) {
    Trade& m = tx_.mut_trade(tid);
    m.state = *s.state;
    m.note = std::move(s.note);
  }
  if (s.drop_unsent_exits) cancel_local_exits(tid, now);
  return s.ended;
}

// A held position's exits: placed again when none works (principle 9), grown as more of the
// entry fills, or canceled to be placed again when they cannot grow.
void TradeExecutor::keep_exits_working(TradeId tid, const TradeView& v, Decimal held, bool watch,
                                       Timestamp now) {
  const ExitNeed need = exit_need(s_.ledger, v, held);
  if (need.kind == ExitNeed::Kind::leg_covers) return;
  if (need.kind == ExitNeed::Kind::place) {
    ensure_exits(tid, v, held, now);
    return;
  }
  if (watch && switch_crypto_exit(s_.ledger.trade_at(tid), need.active, now)) return;
  if (need.kind == ExitNeed::Kind::resize) {
    resize_exit(tid, need.active, held, v, now);
  } else if (need.kind == ExitNeed::Kind::cancel_to_replace && !s_.aux[need.active].cancel_sent &&
             !s_.retries.cancel_waits(need.active)) {
    // The broker refused to resize it, or it filled in part and covers other than what is
    // held: cancel it; once it is gone a new exit is placed for everything held.
    request_cancel(need.active,
                   fmt::format("exit covers {} of {} held and cannot be resized; cancel to "
                               "re-place it for everything held",
                               need.covers.str(), held.str()),
                   now);
  }
}

// No working exit covers what the trade holds: one is placed unless one was refused for good
// or the per-minute cap holds (trade_manager.h placement_gate).
void TradeExecutor::ensure_exits(TradeId tid, const TradeView& v, Decimal held, Timestamp now) {
  // An entry of the symbol is clearing its way through the wash-trade check: exits follow it.
  if (s_.clearing.clearing(s_.ledger.trade_at(tid).spec.symbol)) return;
  const auto canceled_by_us = [this](OrderId id) {
    const auto ax = s_.aux.find(id);
    return ax != s_.aux.end() && ax->second.we_canceled;
  };
  const PlacementGate gate =
      placement_gate(s_.ledger, v, now, kMaxExitPlacementsPerMinute, canceled_by_us);
  if (gate.kind == PlacementGate::Kind::refused_for_good) return;
  if (gate.kind == PlacementGate::Kind::capped) {
    // Stepped again once the oldest of them leaves the minute: nothing else may touch the
    // trade before then (DST trades seed 23400000064213: no event came, and the position
    // stayed naked).
    s_.exit_cap_wake_at[tid] = gate.cap_ends;
    s_.alerts.raise(
        AlertKind::stuck_order, s_.ledger.trade_at(tid).spec.symbol,
        fmt::format("{}: {} exits placed for trade {} within a minute all ended without "
                    "closing it; not placing more",
                    s_.ledger.trade_at(tid).spec.symbol, gate.recent, tid),
        now);
    return;
  }
  create_emulated_exit(tid, v, held, now);
}

void TradeExecutor::create_emulated_exit(TradeId tid, const TradeView& v, Decimal held,
                                         Timestamp now) {
  const Trade& t = s_.ledger.trade_at(tid);
  const Order& entry = s_.ledger.order_at(v.entry);
  std::optional<Decimal> basis = entry.filled_avg_price;
  if (!basis) basis = entry.limit_price;
  const bool percent =
      t.spec.take_profit.percent || (t.spec.stop_loss && t.spec.stop_loss->percent);
  if (!basis && !percent) basis = Decimal::from_int(1);  // absolute or trailing: no basis used
  if (!basis) {
    // The fill price is needed for percent exits: learn it from the order itself.
    lookups_.stage_refresh(v.entry, now, /*force=*/false);
    return;
  }
  auto prices = exit_prices(t.spec, *basis);
  if (!prices) return;
  const Side exit_side = opposite(t.spec.side);
  const int generation = next_generation(s_.ledger, v, /*flatten=*/false);
  // Crypto takes simple orders only (no OCO), like a fractional position: one exit at a time.
  if (!held.is_integer() || is_crypto_symbol(t.spec.symbol)) {
    create_fractional_exit(t, *prices, held, generation, now);
    return;
  }
  if (!prices->take_profit || !prices->stop_loss) {
    create_simple_exit(t, *prices, held, generation, now);
    return;
  }
  Order tp = make_order(t, OrderRole::take_profit, generation, exit_side,
                        OrderType::limit, held, now);
  tp.tif = TimeInForce::gtc;
  tp.limit_price = prices->take_profit;
  const OrderId tp_id = tp.id;
  // One OCO, not two sells: separate TP and SL orders collide on the hold (40310000).
  tp.order_class = OrderClass::oco;
  record_new(std::move(tp), fmt::format("exit for {} held: oco take-profit {} / stop {}",
                                        held.str(), prices->take_profit->str(),
                                        prices->stop_loss->str()),
             now);
  Order sl = make_order(t, OrderRole::stop_loss, generation, exit_side,
                        OrderType::stop, held, now);
  sl.tif = TimeInForce::gtc;
  sl.stop_price = prices->stop_loss;
  sl.parent_order_id = tp_id;
  record_new(std::move(sl), "oco stop-loss leg", now);
}

// A trade with one exit: a take-profit limit, a stop, or a trailing stop (Alpaca's
// trailing_stop, which no OCO takes and which the wash-trade check exempts), gtc.
void TradeExecutor::create_simple_exit(const Trade& t, const ExitPrices& prices, Decimal held,
                                       int generation, Timestamp now) {
  const Side exit_side = opposite(t.spec.side);
  if (prices.take_profit) {
    Order tp = make_order(t, OrderRole::take_profit, generation, exit_side, OrderType::limit,
                          held, now);
    tp.tif = TimeInForce::gtc;
    tp.limit_price = prices.take_profit;
    std::string why =
        fmt::format("exit for {} held: take-profit {}", held.str(), prices.take_profit->str());
    price_past_own_orders(tp, why);
    record_new(std::move(tp), why, now);
    return;
  }
  if (!t.spec.stop_loss) return;
  const PriceTarget& sl = *t.spec.stop_loss;
  Order x = make_order(t, OrderRole::stop_loss, generation, exit_side,
                       sl.trailing() ? OrderType::trailing_stop : OrderType::stop, held, now);
  x.tif = TimeInForce::gtc;
  x.stop_price = prices.stop_loss;
  x.trail_price = sl.trail_price;
  x.trail_percent = sl.trail_percent;
  const std::string how =
      sl.trail_price     ? fmt::format("trailing stop {} behind", sl.trail_price->str())
      : sl.trail_percent ? fmt::format("trailing stop {}% behind", sl.trail_percent->str())
                         : fmt::format("stop {}", prices.stop_loss->str());
  std::string why = fmt::format("exit for {} held: {}", held.str(), how);
  if (!sl.trailing()) price_past_own_orders(x, why);
  record_new(std::move(x), std::move(why), now);
}

// Whether the trade's stop, placed alone now (priced past our opposite limits when they are all
// it meets), would still meet an opposite order of ours in Alpaca's wash-trade check.
bool TradeExecutor::lone_stop_blocked_now(const Trade& t, const ExitPrices& prices,
                                          Decimal held) const {
  if (!prices.stop_loss) return true;
  const Side exit_side = opposite(t.spec.side);
  const bool crypto = is_crypto_symbol(t.spec.symbol);
  const std::optional<Decimal> own =
      crypto
          ? std::optional(crypto_stop_limit(*prices.stop_loss, exit_side, t.spec.price_increment))
          : std::nullopt;
  Order probe;
  probe.symbol = t.spec.symbol;
  probe.side = exit_side;
  probe.role = OrderRole::stop_loss;
  probe.type = crypto ? OrderType::stop_limit : OrderType::stop;
  probe.qty = held;
  probe.stop_price = prices.stop_loss;
  probe.limit_price = own;
  if (auto p = wash_safe_price(s_.ledger, probe, own); p != own) set_exit_price(probe, p, own);
  return !s_.cover.book_of(t.spec.symbol)
              .wash_blockers(exit_side, probe.type, probe.limit_price)
              .empty();
}

// A crypto position takes one exit at a time (Alpaca takes no OCO for crypto, and two sells of
// the same coins collide on the hold): the stop_limit rests at the broker, and once the broker's
// price (the position's current_price, read every idle poll interval while such a trade holds
// coins) is at or past the take-profit, the stop makes way for the take-profit limit; if the
// price falls back under it before that fills, the stop comes back.
bool TradeExecutor::crypto_take_profit_due(const Trade& t, const ExitPrices& prices) const {
  const BrokerPosition* read = s_.positions_read.find(t.spec.symbol);
  if (!prices.take_profit || read == nullptr || !read->current_price) return false;
  const Decimal price = *read->current_price;
  return t.spec.side == Side::buy ? price >= *prices.take_profit
                                  : price <= *prices.take_profit;
}

// True when the working exit is being canceled to make way for the other one.
bool TradeExecutor::switch_crypto_exit(const Trade& t, OrderId active, Timestamp now) {
  const Order& ex = s_.ledger.order_at(active);
  if (s_.aux[active].cancel_sent) return true;
  if (!ex.broker_order_id || !is_open_at_broker(ex.state) ||
      ex.state == OrderState::pending_cancel || !ex.filled_qty.is_zero()) {
    return false;
  }
  // The broker's price decides; with none read (the position missing from the last read) the
  // working exit stays. Taken for "under the take-profit", a take-profit made way for the stop
  // on no evidence, and the missing price ended the input in an exception (DST trades seed
  // 24300000001718: a modify of a crypto trade rolled back).
  const BrokerPosition* read = s_.positions_read.find(t.spec.symbol);
  if (read == nullptr || !read->current_price) return false;
  const Order& entry = s_.ledger.order_at(view_of(s_.ledger, t.id).entry);
  auto prices = exit_prices(t.spec, entry.filled_avg_price.value_or(Decimal::from_int(1)));
  if (!prices || !prices->take_profit) return false;
  const bool tp_due = crypto_take_profit_due(t, *prices);
  const bool is_stop = ex.role == OrderRole::stop_loss;
  if (tp_due != is_stop) return false;
  // The stop comes back only if it can be placed: while our own orders on the other side would
  // meet it in the wash-trade check, the take-profit stays (DST seed 13000000000172: canceled
  // and placed again ten times, then the position stood with neither).
  if (!is_stop && lone_stop_blocked_now(t, *prices, ex.qty - ex.filled_qty)) return false;
  const BrokerPosition& p = *read;
  request_cancel(active,
                 tp_due ? fmt::format("crypto: price {} reached the take-profit {}: the stop "
                                      "makes way for it (one exit at a time)",
                                      p.current_price->str(), prices->take_profit->str())
                        : fmt::format("crypto: price {} is back under the take-profit {}: the "
                                      "stop comes back",
                                      p.current_price->str(), prices->take_profit->str()),
                 now);
  return true;
}

// Alpaca takes fractional quantities only in simple day orders: no OCO, and two sells of the
// same shares would collide on the hold. The position gets one day order: the stop-loss when
// there is one (the loss is what must not run unattended), else the take-profit. It expires
// at the close and is placed again (ensure_exits); sent after the close, Alpaca queues it for
// the next session. Crypto likewise takes simple orders only, but gtc (it has no session) and
// its stop is a stop_limit (engine/crypto.h).
void TradeExecutor::create_fractional_exit(const Trade& t, const ExitPrices& prices, Decimal held,
                                           int generation, Timestamp now) {
  const Side exit_side = opposite(t.spec.side);
  const bool crypto = is_crypto_symbol(t.spec.symbol);
  const std::optional<Decimal> stop_limit =
      crypto && prices.stop_loss
          ? std::optional(crypto_stop_limit(*prices.stop_loss, exit_side, t.spec.price_increment))
          : std::nullopt;
  // A simple stop meets every opposite order of ours in Alpaca's wash-trade check, and a
  // fractional position takes no OCO (exempt): while such orders rest, the take-profit, a limit
  // that passes them, covers it (DST seed 31035: the stop was refused again and again and the
  // position stood without an exit). Without a take-profit the stop is still the exit.
  const bool refused = s_.fractional_stop_refused.erase(t.id) > 0;
  const OrderType stop_type = crypto ? OrderType::stop_limit : OrderType::stop;
  const bool blocked = refused || lone_stop_blocked_now(t, prices, held);
  const bool stop = prices.stop_loss.has_value() && (!blocked || !prices.take_profit) &&
                    !(crypto && crypto_take_profit_due(t, prices));
  if (!stop && !prices.take_profit) return;  // neither: validate() lets no such trade in
  Order x = make_order(t, stop ? OrderRole::stop_loss : OrderRole::take_profit, generation,
                       exit_side, stop ? stop_type : OrderType::limit, held, now);
  x.tif = crypto ? TimeInForce::gtc : TimeInForce::day;
  if (stop) {
    x.stop_price = prices.stop_loss;
    x.limit_price = stop_limit;
  } else {
    x.limit_price = prices.take_profit;
  }
  std::string why = fmt::format(
      "exit for {} held ({}): {} {}{}", held.str(),
      crypto ? "crypto: one simple gtc order" : "fractional: one simple day order",
      stop ? (crypto ? "stop_limit" : "stop") : "take-profit",
      stop ? prices.stop_loss->str() : prices.take_profit->str(),
      prices.stop_loss && !stop ? " (a stop would meet our own opposite orders in Alpaca's "
                                  "wash-trade check)"
                                : "");
  price_past_own_orders(x, why);
  record_new(std::move(x), std::move(why), now);
}

void TradeExecutor::resize_exit(TradeId tid, OrderId old_id, Decimal held, const TradeView& v,
                                Timestamp now) {
  const Trade& t = s_.ledger.trade_at(tid);
  const Order& old = s_.ledger.order_at(old_id);
  Order r = make_order(t, old.role, next_generation(s_.ledger, v, /*flatten=*/false), old.side,
                       old.type, held, now);
  r.tif = old.tif;
  r.order_class = old.order_class;
  r.limit_price = old.limit_price;
  r.stop_price = old.stop_price;
  // A trailing stop keeps its trail: without it a later modify took the grown one for a trail
  // of the other kind and sent its new percent as a price (DST trades seed 23500000040361: a
  // 2.3% trail went to the broker as $2.30).
  r.trail_price = old.trail_price;
  r.trail_percent = old.trail_percent;
  r.extended_hours = old.extended_hours;
  r.replaces_order_id = old_id;
  const OrderId rid = r.id;
  record_new(std::move(r),
             held > old.qty
                 ? fmt::format("grow exit {} from {} to {} (entry filled more)",
                               old.client_order_id, old.qty.str(), held.str())
                 : fmt::format("shrink exit {} from {} to {} held (it covered more: the order "
                               "it replaced filled in part meanwhile)",
                               old.client_order_id, old.qty.str(), held.str()),
             now);
  // The legs stay: the broker moves them to the replacement (see adopt_replacement). A price
  // stepped past our opposite orders goes with it, and is watched to step back as the old one
  // was (DST trades seed 23000000052941: the grown take-profit kept 122.43 past orders long
  // gone, where the trade's own was 121.95).
  track_wash_priced(rid);
}

// A replaced OCO parent keeps its legs at the broker (they move to the new order): the local
// legs follow, so their broker ids and states keep matching.
void TradeExecutor::adopt_replacement(OrderId new_id, Timestamp now) {
  const Order& n = s_.ledger.order_at(new_id);
  if (!n.replaces_order_id) return;
  const OrderId old_id = *n.replaces_order_id;
  // A replaced leg's replacement takes its place in the group (sent alone, a leg by now).
  if (const Order& old = s_.ledger.order_at(old_id); old.parent_order_id && !n.parent_order_id) {
    tx_.mut_order(new_id).parent_order_id = old.parent_order_id;
  }
  for (OrderId oid : std::vector<OrderId>(s_.ledger.of_trade(n.trade_id))) {
    if (s_.ledger.order_at(oid).parent_order_id != old_id) continue;
    Order& leg = tx_.mut_order(oid);
    leg.parent_order_id = new_id;
    tx_.audit(leg, leg.state, EventSource::response,
              fmt::format("leg moves to the replacement {}", n.client_order_id), {}, now);
  }
}

void TradeExecutor::cancel_local_exits(TradeId tid, Timestamp now) {
  for (OrderId id : s_.ledger.of_trade(tid)) {
    const Order& o = s_.ledger.order_at(id);
    if (o.role != OrderRole::entry && o.state == OrderState::created) {
      tx_.apply(id, {OrderState::canceled, std::nullopt, std::nullopt, std::nullopt},
                EventSource::intent, "trade ended before this exit was sent", {}, now);
    }
  }
}

void TradeExecutor::step_closing(TradeId tid, const TradeView& v, Decimal held, Timestamp now) {
  const ClosingPlan plan = closing_plan(s_.ledger, v, held);
  for (const ClosingStep& step : plan.steps) {
    if (step.kind == ClosingStep::Kind::drop_unsent) {
      tx_.apply(step.id, {OrderState::canceled, std::nullopt, std::nullopt, std::nullopt},
                EventSource::intent, "trade canceled before this order was sent", {}, now);
    } else if (!s_.aux[step.id].cancel_sent && !s_.retries.cancel_waits(step.id)) {
      request_cancel(step.id, "cancel requested (trade closing)", now);
    }
  }
  if (!plan.flatten) return;
  const Trade& t = s_.ledger.trade_at(tid);
  Order x = make_order(t, OrderRole::exit, next_generation(s_.ledger, v, /*flatten=*/true),
                       opposite(t.spec.side), OrderType::market, held, now);
  x.tif = session_tif(t.spec.symbol);
  std::string why = fmt::format("flatten {} held (trade canceled)", held.str());
  price_past_own_orders(x, why);
  record_new(std::move(x), why, now);
}

void TradeExecutor::track_wash_priced(OrderId id) {
  const Order& o = s_.ledger.order_at(id);
  if (is_stand_in(s_.ledger, o) && working_or_pending(o)) s_.stand_in_entries.insert(id);
  if (wash_adjustable(o) && working_or_pending(o) &&
      o.limit_price != own_exit_price(s_.ledger, o)) {
    s_.wash_priced_exits.insert(id);
  }
}

// A new exit takes the price that passes the check from the start (no refusal first).
void TradeExecutor::price_past_own_orders(Order& x, std::string& why) {
  const std::optional<Decimal> own = x.type == OrderType::market ? std::nullopt : x.limit_price;
  const std::optional<Decimal> price = wash_safe_price(s_.ledger, x, own);
  if (price == own) return;
  set_exit_price(x, price, own);
  s_.wash_priced_exits.insert(x.id);
  why += fmt::format("; as {} {}, past our own opposite orders (wash-trade check)",
                     to_string(x.type), price->str());
}

// The refusal named an order of ours we did not count yet (its reply was still on the way):
// price again. Same intent, same client id: the broker never created the refused one.
bool TradeExecutor::reprice_past_wash_check(OrderId id, const BrokerError& e, Timestamp now) {
  constexpr std::string_view kKey = "\"existing_order_id\":\"";
  auto pos = e.body.find(kKey);
  if (e.body.find("wash trade") == std::string::npos || pos == std::string::npos) return false;
  pos += kKey.size();
  auto end = e.body.find('"', pos);
  if (end == std::string::npos) return false;
  const std::optional<OrderId> blocker = s_.ledger.by_broker_id(e.body.substr(pos, end - pos));
  if (!blocker) return false;  // not ours: retried with backoff, then alerted
  const Order& o = s_.ledger.order_at(id);
  const std::optional<Decimal> price = wash_safe_price(s_.ledger, o, own_exit_price(s_.ledger, o));
  if (!price || price == o.limit_price) return false;
  Order& m = tx_.mut_order(id);
  set_exit_price(m, price, own_exit_price(s_.ledger, o));
  s_.wash_priced_exits.insert(id);
  tx_.audit(
      m, m.state, EventSource::error,
      fmt::format("wash-trade check against our {}: exit as {} {}",
                  s_.ledger.order_at(*blocker).client_order_id, to_string(m.type), price->str()),
      e.body, now);
  return true;
}

// Our opposite orders changed (filled when the market came to them, canceled): the exit may
// no longer need its stepped-around price, and a limit left behind by a market that moved
// away would never fill. An unsent exit is priced again in place; one resting at the broker
// is canceled, and the trade then places the next one for what is still held. Returns false
// once the exit is back at its own price.
bool TradeExecutor::reprice_wash_priced_exit(OrderId id, Timestamp now) {
  const Order& o = s_.ledger.order_at(id);
  const std::optional<Decimal> own = own_exit_price(s_.ledger, o);
  const std::optional<Decimal> price = wash_safe_price(s_.ledger, o, own);
  if (price == o.limit_price) return price != own;
  // A market or stop order of ours on the other side: no price passes it, and what the exit
  // rests at stays until that order goes. Taken for "back to its own price", a flatten priced
  // past a stand-in entry was canceled to go as market whenever a market entry queued, and
  // priced past the stand-in again once that entry was withheld (DST trades seed
  // 24900000012966: a short's flatten placed and canceled 300 times, the entries starved).
  if (price == own && market_order_opposite(s_.ledger, o)) return true;
  if (price && o.limit_price &&
      (o.side == Side::sell ? *price > *o.limit_price : *price < *o.limit_price)) {
    return true;  // a new order of ours crosses it (a bracket entry, exempt): it stays
  }
  if (o.state == OrderState::created && !o.broker_order_id && !s_.aux[id].command_outstanding) {
    Order& m = tx_.mut_order(id);
    set_exit_price(m, price, own);
    tx_.audit(m, m.state, EventSource::intent,
              fmt::format("our opposite orders changed: exit as {}{}", to_string(m.type),
                          m.limit_price ? " " + m.limit_price->str() : std::string()),
              {}, now);
    return price != own;
  }
  const std::string to = !price ? std::string(o.role == OrderRole::stop_loss ? "its own stop"
                                                                              : "market")
                         : o.role == OrderRole::stop_loss ? "stop_limit " + price->str()
                                                          : "limit " + price->str();
  if (!o.broker_order_id || !is_open_at_broker(o.state) || s_.aux[id].cancel_sent ||
      s_.retries.cancel_waits(id) || o.state == OrderState::pending_cancel ||
      o.state == OrderState::pending_replace) {
    return true;
  }
  request_cancel(id, "our opposite orders changed: cancel, place the exit again as " + to, now);
  return true;
}

// ---- Entries and the exit book ------------------------------------------------------------

// Principle 9 meets Alpaca's wash-trade check (§5): a new entry is never sent in a form the
// check refuses against our own orders. The cheapest safe form, per case:
//  - nothing of ours in the way, or a complex (bracket) entry: sent as asked;
//  - only limits of ours on the other side (a take-profit, the active side of an OCO or of a
//    bracket, whose stop legs are held): a limit one tick inside the tightest of them. A market
//    buy becomes a buy limit one tick under our lowest resting sell, marketable while it rests;
//  - a market or stop order of ours on the other side (a stop exit, a flatten): that exit is
//    canceled, the entry waits for the broker's confirmed `canceled`, is sent, and the exits of
//    every trade on the symbol are placed again. Another trade's entry in the way is waited for.
// Returns false while the entry must wait.
bool TradeExecutor::entry_path_clear(OrderId id, Timestamp now) {
  const Order& o = s_.ledger.order_at(id);
  if (o.order_class != OrderClass::simple) return true;
  restore_entry_price(id, now);
  const SymbolBook book = s_.cover.book_of(o.symbol);
  const bool clear_all = s_.clearing.clears_all(id);
  std::vector<const BookOrder*> blockers = book.wash_blockers(o.side, o.type, o.limit_price);
  if (clear_all) {
    // The broker refused it against an order of ours the rule above let pass (a held leg
    // counted after all): every opposite order of ours goes first.
    blockers.clear();
    for (const BookOrder& b : book.orders()) {
      if (b.side != o.side) blockers.push_back(&b);
    }
  }
  if (blockers.empty()) return true;
  // A stop_limit of ours on the other side (a stop priced past our entries, a crypto stop) has
  // its limit beyond the market: an entry priced inside it would rest there instead of filling
  // (DST seeds 11300000000206, 11300000000868: a market buy became a limit under the market
  // and kept a stop from ever being placed). Such exits are canceled first instead.
  const bool stop_limit_opposite =
      std::any_of(book.orders().begin(), book.orders().end(), [&](const BookOrder& b) {
        return b.checked && b.side != o.side && b.type == OrderType::stop_limit;
      });
  // Nor once our exits are being canceled for it: priced inside exits that are going, it rested
  // below a market that had left them, beside another trade's lone stop that the wash-trade
  // check then refused to the end (DST trades seed 23000000005478, "attempt 34 of 8").
  if (!clear_all && !stop_limit_opposite && !s_.clearing.clears_its_way(o) &&
      (o.type == OrderType::market || o.type == OrderType::limit)) {
    const std::optional<Decimal> own =
        o.type == OrderType::limit ? o.limit_price : std::optional<Decimal>();
    const std::optional<Decimal> increment = price_increment_of(s_.ledger, o);
    if (const std::optional<Decimal> price = book.passing_limit(o.side, own, increment);
        price && !s_.admission.stand_in_blocks_a_lone_stop(o, *price)) {
      Order& m = tx_.mut_order(id);
      const std::string was = m.type == OrderType::market ? "market" : m.limit_price->str();
      m.type = OrderType::limit;
      m.limit_price = price;
      s_.stand_in_entries.insert(id);
      tx_.audit(m, m.state, EventSource::intent,
                fmt::format("entry as limit {} (was {}): one tick inside our own {} orders on the "
                            "other side, which a crossing order would meet in Alpaca's wash-trade "
                            "check; they stay working",
                            price->str(), was, o.side == Side::buy ? "sell" : "buy"),
                {}, now);
      return true;
    }
  }
  if (waits_for_our_orders(id, blockers, now)) return false;
  cancel_blocking_exits(id, blockers, now);
  return false;
}

// An entry priced inside our opposite orders on an earlier pass and still unsent (it waited
// for the budget, a retry, its turn) is judged again from its own price: the orders it stepped
// around may be gone, and a limit made for a market that moved since would rest instead of
// filling (DST seed 11300000000206: a market buy priced at 700.39 was sent 13 s later with the
// market at 726; it rested, and kept another trade's stop from being placed).
void TradeExecutor::restore_entry_price(OrderId id, Timestamp now) {
  const Order& o = s_.ledger.order_at(id);
  const Trade* t = s_.ledger.trade(o.trade_id);
  if (t == nullptr || o.replaces_order_id || o.broker_order_id ||
      (t->spec.entry_type != OrderType::market && t->spec.entry_type != OrderType::limit) ||
      (o.type == t->spec.entry_type && o.limit_price == t->spec.entry_limit_price)) {
    return;
  }
  Order& m = tx_.mut_order(id);
  const std::string was = m.limit_price ? m.limit_price->str() : std::string("-");
  m.type = t->spec.entry_type;
  m.limit_price = t->spec.entry_limit_price;
  tx_.audit(m, m.state, EventSource::intent,
            fmt::format("judged again from its own price (was limit {}): our orders on the other "
                        "side may have changed since",
                        was),
            {}, now);
}

// Another trade's entry or a flatten of ours in the way fills or ends on its own: the entry
// waits for it with every exit still working, and cancels the exits in its way only once
// nothing else is. Canceled first, they stayed off for as long as that order rested (DST
// trades seed 9800000001611: a flatten priced past a resting entry rested for minutes; EPD 196
// held, 60 covered, to the end of the run). Not once the way is being cleared already.
bool TradeExecutor::waits_for_our_orders(OrderId entry_id,
                                         const std::vector<const BookOrder*>& blockers,
                                         Timestamp now) {
  const Order& e = s_.ledger.order_at(entry_id);
  if (s_.clearing.clearing(e.symbol)) return false;
  std::vector<std::string> names;
  for (const BookOrder* b : blockers) {
    if (b->role == OrderRole::entry || b->role == OrderRole::exit) {
      names.push_back(s_.ledger.order_at(b->id).client_order_id);
    }
  }
  if (names.empty()) return false;
  if (!std::exchange(s_.aux[entry_id].waits_told, true)) {
    tx_.audit(e, e.state, EventSource::intent,
              fmt::format("waits: our {} on the other side of {} would meet it in Alpaca's "
                          "wash-trade check; it fills or ends on its own, the exits stay working "
                          "meanwhile",
                          fmt::join(names, ", "), e.symbol),
              {}, now);
  }
  return true;
}

// The cancel-first path of entry_path_clear: the exits in the way are canceled, their trades
// wait to place exits again until the entry is at the broker (way_clearing.h), and every order
// involved says why in its audit.
void TradeExecutor::cancel_blocking_exits(OrderId entry_id,
                                          const std::vector<const BookOrder*>& blockers,
                                          Timestamp now) {
  const Order& e = s_.ledger.order_at(entry_id);
  const WayClearing::Join join = s_.clearing.join(e.symbol, e.side, entry_id);
  // The way is being cleared for the other side: this entry's turn comes once it is done.
  if (join == WayClearing::Join::other_side) return;
  std::vector<std::string> names;
  for (const BookOrder* b : blockers) {
    const Order& x = s_.ledger.order_at(b->id);
    names.push_back(x.client_order_id);
    // Another trade's entry, or a flatten under way: it fills or ends soon; wait for it.
    if (x.role == OrderRole::entry || x.role == OrderRole::exit) continue;
    // An OCO goes with its parent; a bracket's legs are canceled themselves (the group goes).
    OrderId target = x.id;
    if (x.parent_order_id && s_.ledger.order_at(*x.parent_order_id).role != OrderRole::entry) {
      target = *x.parent_order_id;
    }
    const Order& t = s_.ledger.order_at(target);
    if (!t.broker_order_id || !is_open_at_broker(t.state) || s_.aux[target].cancel_sent ||
        s_.retries.cancel_waits(target) || t.state == OrderState::pending_cancel) {
      continue;
    }
    request_cancel(target,
                   fmt::format("canceled so that entry {} passes Alpaca's wash-trade check; "
                               "the exits of {} are placed again once it is at the broker",
                               e.client_order_id, e.symbol),
                   now);
  }
  if (join == WayClearing::Join::joined) {
    tx_.audit(e, e.state, EventSource::intent,
              fmt::format("waits: our orders {} on the other side of {} would meet it in Alpaca's "
                          "wash-trade check; exits are canceled first",
                          fmt::join(names, ", "), e.symbol),
              {}, now);
  }
}

// Once every entry that cleared the way is at the broker (or ended), every trade of the
// symbol places its exits again (step_trade -> ensure_exits). A market entry at the broker
// still unfilled is an open order a stop exit would meet in the wash-trade check: it is waited
// for until it fills, or for inflight_check_ms at most (outside hours it rests till the open).
void TradeExecutor::end_clearing_if_done(const std::string& symbol) {
  const auto still_waits = [this](OrderId id) {
    const Order* o = s_.ledger.order(id);
    const bool on_its_way = o != nullptr && !is_known_to_broker(o->state) &&
                            !is_terminal(o->state) && o->state != OrderState::parked;
    const bool filling = o != nullptr && o->type == OrderType::market &&
                         is_open_at_broker(o->state) && o->filled_qty.is_zero() &&
                         s_.last_now.ms_since(o->updated_at) < s_.cfg.inflight_check_ms;
    return on_its_way || filling;
  };
  if (s_.clearing.end_if_done(symbol, still_waits)) touch_trades_of(symbol);
}

void TradeExecutor::touch_trades_of(const std::string& symbol) {
  for (OrderId id : s_.ledger.of_symbol(symbol)) {
    s_.touched_trades.insert(s_.ledger.order_at(id).trade_id);
  }
}

// A wash-trade refusal of an entry. Against an order of ours: every opposite order of ours is
// canceled first, then the entry is sent again at once (same client id: the broker created
// nothing). Against someone else's: bounded retry, then parked with an alert. Never a trade
// failed in silence.
// The order a wash-trade refusal names (its existing_order_id), "" when none.
static std::string wash_refusal_existing(const BrokerError& e) {
  if (e.body.find("wash trade") == std::string::npos) return {};
  constexpr std::string_view kKey = "\"existing_order_id\":\"";
  const auto pos = e.body.find(kKey);
  if (pos == std::string::npos) return {};
  const auto end = e.body.find('"', pos + kKey.size());
  if (end == std::string::npos) return {};
  return e.body.substr(pos + kKey.size(), end - pos - kKey.size());
}

bool TradeExecutor::refused_against_ours(const BrokerError& e) const {
  const std::string existing = wash_refusal_existing(e);
  return !existing.empty() && s_.ledger.by_broker_id(existing).has_value();
}

bool TradeExecutor::on_entry_wash_refusal(OrderId id, const BrokerError& e, Timestamp now) {
  if (e.body.find("wash trade") == std::string::npos) return false;
  const std::string existing = wash_refusal_existing(e);
  const bool ours = s_.ledger.by_broker_id(existing).has_value();
  if (ours) s_.clearing.refused_against_ours(id);
  submitter_.schedule_retry(id, e.describe(), now, EventSource::error, e.body, std::nullopt,
                            /*at_once=*/ours);
  if (!ours) {
    const Order& o = s_.ledger.order_at(id);
    s_.alerts.raise(
        AlertKind::external_hold, o.symbol,
        fmt::format("{}: entry {} refused by Alpaca's wash-trade check against order {}, "
                    "which is not ours; retried with backoff",
                    o.symbol, o.client_order_id, existing),
        now);
  }
  return true;
}

}  // namespace orderly
