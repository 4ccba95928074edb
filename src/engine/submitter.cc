// Submitter: the only place orders are sent; retries, backoff, the broker's
// answers to our sends, lookups, refreshes and cancels.
#include <fmt/format.h>

#include <algorithm>

#include "engine/crypto.h"
#include "engine/exit_modifier.h"
#include "engine/lookups.h"
#include "engine/stand_in_entries.h"
#include "engine/submitter.h"
#include "engine/synchronizer.h"
#include "engine/trade_executor.h"
#include "engine/transaction.h"

namespace orderly {

std::int64_t Submitter::backoff_ms(int attempts) {
  // Full jitter: uniform in [0, min(cap, base * 2^attempt)].
  std::int64_t ceiling = s_.cfg.retry_base_ms;
  for (int i = 1; i < attempts && ceiling < s_.cfg.retry_cap_ms; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, s_.cfg.retry_cap_ms);
  std::uniform_int_distribution<std::int64_t> d(0, std::max<std::int64_t>(ceiling, 0));
  return d(rng_);
}

// A read asked for after the order was made: one answered after it but asked before shows the
// holdings before the fill the order is for (DST trades seed 23500000020729: a slow read's
// qty_available 0 held a 44 TSLA exit as if another order held the shares).
bool Submitter::positions_fresh_for(const Order& o) const {
  const std::optional<Timestamp> read_at = s_.positions_read.read_at();
  return read_at && s_.positions_read.asked_at() >= o.created_at &&
         (s_.last_now.ms_since(*read_at) <= s_.cfg.positions_max_age_ms ||
          *read_at >= o.updated_at);
}

// Sends every order that is due. The only place a submit command is made.
void Submitter::run_submitter(Timestamp now) {
  sync_.drain_held_back(now);
  reprice_wash_priced_exits(now);
  entries_.recheck_stand_in_entries(now);
  end_withheld_replaces(now);
  judge_withheld_entries_again(now);
  modifier_.resume_modify_cancels(now);
  // Trade steps first: they create exits and flattening orders.
  for (int round = 0; round < 3 && !s_.touched_trades.empty(); ++round) {
    auto touched = std::move(s_.touched_trades);
    s_.touched_trades.clear();
    for (TradeId tid : touched) trades_.step_trade(tid, now);
  }
  // Only orders changed since they were last seen here can be waiting to be sent: walking every
  // order held made each event O(orders).
  for (auto cit = s_.submit_candidates.begin(); cit != s_.submit_candidates.end();) {
    const OrderId id = *cit;
    Order* op = s_.ledger.order(id);
    if (op == nullptr) {
      cit = s_.submit_candidates.erase(cit);
      continue;
    }
    ++cit;
    consider_sending(id, *op, now);
  }
  if (!s_.await_positions.empty()) sync_.ask_positions(now);
  s_.protection_monitor.check(now);
}

// An exit priced past our own opposite orders depends on other trades' orders: price it again
// whenever anything changed.
void Submitter::reprice_wash_priced_exits(Timestamp now) {
  for (auto it = s_.wash_priced_exits.begin(); it != s_.wash_priced_exits.end();) {
    const Order* o = s_.ledger.order(*it);
    if (o == nullptr || !working_or_pending(*o) || !trades_.reprice_wash_priced_exit(*it, now)) {
      it = s_.wash_priced_exits.erase(it);
      continue;
    }
    ++it;
  }
}

// One candidate: sent when nothing holds it back, else left among the candidates (it waits
// for time or an answer) or taken out of them (only a change of the order brings it back).
void Submitter::consider_sending(OrderId id, Order& o, Timestamp now) {
  if (o.state != OrderState::created || o.parent_order_id) {
    s_.submit_candidates.erase(id);
    return;
  }
  OrderAux& ax = s_.aux[id];
  // Waiting for holdings to change: a positions read clears the flag when they have (and
  // puts it back among the candidates, as every change of the order does).
  if (ax.hold_wait) {
    s_.submit_candidates.erase(id);
    return;
  }
  if (ax.command_outstanding || ax.related_waiting > 0) return;
  // Principle 2: an order the broker holds is never sent again.
  if (o.broker_order_id) return;
  if (o.next_attempt_at && *o.next_attempt_at > now) return;
  const Trade* t = s_.ledger.trade(o.trade_id);
  if (t != nullptr && is_terminal(t->state)) {
    // An ended trade sends nothing more: its order never reached the broker (no broker id), and
    // ends here. One whose outcome was unknown when the trade ended came back to created once a
    // lookup found it nowhere, and stayed created for good (DST trades seed 20820000000241).
    s_.submit_candidates.erase(id);
    tx_.apply(id, {OrderState::canceled, std::nullopt, std::nullopt, std::nullopt},
              EventSource::intent, "not sent: its trade ended", {}, now);
    return;
  }
  if (o.replaces_order_id) {
    const Order* old = tx_.linked_order(o, o.replaces_order_id, "order to replace", now);
    if (!old || !old->broker_order_id || !is_open_at_broker(old->state)) {
      tx_.set_local_state(id, OrderState::canceled, EventSource::intent,
                          "not sent: the order to replace is no longer working", {}, now);
      return;
    }
    if (replace_waits(s_.ledger, o)) return;  // one replace of a trade at a time (exit_change.h)
  }
  if (o.side == Side::sell && o.role != OrderRole::entry && !shares_available(id, o, ax, now)) {
    return;
  }
  if (o.role == OrderRole::entry && entries_.waits_for_earlier_entry(id, now)) return;
  if (o.role == OrderRole::entry && held_for_session(id, now)) return;
  if (o.role == OrderRole::entry && !trades_.entry_path_clear(id, now)) return;
  if (o.role == OrderRole::entry && !fractional_sell_covered(id, o, now)) return;
  send(id, now);
}

// A fractional sell entry leaves only while a long still covers it: refuse_fractional_short
// judged it when its trade was taken, and the long can go before it leaves (our own exits
// sell it while the entry waits for the budget or for an earlier entry). Without a positions
// read asked after our last fill of the symbol it waits for the next one; on one that shows no
// such long it is not sent, and its trade ends refused, rather than meeting the broker's
// refusal of a fractional short (40310000).
bool Submitter::fractional_sell_covered(OrderId id, const Order& o, Timestamp now) {
  if (o.side != Side::sell || o.notional || o.qty.is_integer() || is_crypto_symbol(o.symbol)) {
    return true;
  }
  if (!s_.positions_read.read_at() || s_.positions_read.changed_since_asked(o.symbol)) {
    s_.submit_candidates.erase(id);
    s_.await_positions.insert(id);
    return false;
  }
  const Decimal available = s_.positions_read.available(o.symbol) - unseen_own_holds(o.symbol, id);
  if (available >= o.qty) return true;
  const std::string why = fmt::format(
      "not sent: a fractional sell of {} {} closes a long, and the broker's positions read now "
      "shows {} available (Alpaca sells no fractional shares short)",
      o.qty.str(), o.symbol, available.str());
  // Ended as the engine ends every order it decides not to send: the table takes created ->
  // canceled only (created -> submit_failed was refused, and the entry stayed created, judged
  // again at every pass).
  tx_.mut_order(id).last_error = why;
  tx_.set_local_state(id, OrderState::canceled, EventSource::intent, why, {}, now);
  s_.touched_trades.insert(o.trade_id);
  return false;
}

// Pre-submit check of a sell exit: the broker's qty_available must cover it, else it would only
// earn a 40310000 (the incident). False: not sent now (waiting for a fresh positions read, or
// for holdings to change).
bool Submitter::shares_available(OrderId id, const Order& o, OrderAux& ax, Timestamp now) {
  if (!positions_fresh_for(o)) {
    // Only a new positions read can make it fresh (or a change of the order, which makes
    // it a candidate again): it leaves the candidates until then.
    s_.submit_candidates.erase(id);
    s_.await_positions.insert(id);
    return false;
  }
  // Our own sells sent after that read hold shares the read does not show yet: two
  // exits on one symbol in one pass must not race each other into a 40310000.
  Decimal avail = s_.positions_read.qty_available(o.symbol) - unseen_own_holds(o.symbol, id);
  const Decimal needed = tx_.added_qty(o);
  if (avail >= needed) return true;
  sync_.set_hold_wait(id, true);
  ax.hold_available = avail;
  note_foreign_hold(o, now);
  Order& m = tx_.mut_order(id);
  tx_.audit(m, m.state, EventSource::intent,
            fmt::format("not sent: qty_available {} < {} for {}; waiting for holdings to "
                        "change",
                        avail.str(), needed.str(), o.symbol),
            {}, now);
  return false;
}

// Replacements whose request the release held back (release.h replace_overtaken) end unsent.
void Submitter::end_withheld_replaces(Timestamp now) {
  for (OrderId id : s_.release.take_withheld_replaces()) {
    const Order* o = s_.ledger.order(id);
    if (o == nullptr || o->state != OrderState::submitting || o->broker_order_id) continue;
    s_.aux[id].command_outstanding = false;
    tx_.set_local_state(id, OrderState::created, EventSource::intent,
                        "not sent: the order to replace filled in part or ended first", {}, now);
    tx_.set_local_state(id, OrderState::canceled, EventSource::intent,
                        "not sent: the order to replace filled in part or ended first", {}, now);
    s_.touched_trades.insert(o->trade_id);
  }
}

// Entries the release held back (release.h entry_overtaken) are judged again, their place in the
// queue lost: the attempt never left, so it is not counted.
void Submitter::judge_withheld_entries_again(Timestamp now) {
  for (OrderId id : s_.release.take_withheld_entries()) {
    const Order* o = s_.ledger.order(id);
    if (o == nullptr || o->state != OrderState::submitting || o->broker_order_id) continue;
    s_.aux[id].command_outstanding = false;
    Order& m = tx_.mut_order(id);
    if (m.attempts > 0) --m.attempts;
    tx_.set_local_state(id, OrderState::created, EventSource::intent,
                        fmt::format("not sent: our orders on the other side of {} changed while it "
                                    "waited for the budget; judged again",
                                    m.symbol),
                        {}, now);
  }
}

// Shares held at the broker beyond what our own open sells hold: someone else's orders.
void Submitter::note_foreign_hold(const Order& o, Timestamp now) {
  const BrokerPosition* read = s_.positions_read.find(o.symbol);
  if (read == nullptr) return;
  const Decimal held = read->qty - read->qty_available;
  Decimal ours;
  for (OrderId id : s_.ledger.of_symbol(o.symbol)) {
    const Order& x = s_.ledger.order_at(id);
    if (x.side == Side::sell && !x.parent_order_id &&
        is_open_at_broker(x.state) && x.state != OrderState::held) {
      ours += x.qty - x.filled_qty;
    }
  }
  if (held > ours) {
    s_.alerts.raise(
        AlertKind::external_hold, o.symbol,
        fmt::format("{}: {} shares held by orders that are not ours ({} held, ours {}); {} "
                    "waits for holdings to change",
                    o.symbol, (held - ours).str(), held.str(), ours.str(), o.client_order_id),
        now);
  }
}

Decimal Submitter::unseen_own_holds(const std::string& symbol, OrderId except) {
  Decimal held;
  for (OrderId oid : s_.ledger.of_symbol(symbol)) {
    const Order& x = s_.ledger.order_at(oid);
    if (oid == except || x.side != Side::sell || x.parent_order_id) continue;
    const bool in_flight = x.state == OrderState::submitting || x.state == OrderState::unknown;
    const OrderAux& ax = s_.aux[oid];
    const std::optional<Timestamp> read_at = s_.positions_read.read_at();
    const bool after_read = ax.sent_at && read_at && *ax.sent_at >= *read_at;
    if (in_flight || (after_read && is_open_at_broker(x.state))) {
      held += x.replaces_order_id ? tx_.added_qty(x) : x.qty - x.filled_qty;
    }
  }
  return held;
}

// The request leaves now (take_commands): "sent" in the audit, apart from the "queued" of the
// decision, and the clock of stuck_order starts (work waiting for the budget is not stuck).
// Written with the next commit.
void Submitter::note_sent(const Command& c, Timestamp now) {
  const Order* o = s_.ledger.order(c.order_id);
  if (o == nullptr) return;
  s_.aux[c.order_id].sent_at = now;
  OrderEvent e;
  e.order_id = o->id;
  e.at = now;
  e.source = EventSource::intent;
  e.from = o->state;
  e.to = o->state;
  e.filled_qty = o->filled_qty;
  e.note = fmt::format("sent: {} attempt {} with client_order_id {}", to_string(c.kind),
                       o->attempts, o->client_order_id);
  s_.sent_events.push_back(std::move(e));
}

void Submitter::send(OrderId id, Timestamp now) {
  Order& o = tx_.mut_order(id);
  o.attempts += 1;
  o.next_attempt_at.reset();
  if (o.attempts > 1) {
    s_.retries.note_attempt(now);  // retry_storm counts re-sends, never first attempts
    s_.metrics.retries_by_reason[o.last_error.empty() ? "resend" : retry_reason(o.last_error)]++;
  }
  tx_.set_local_state(
      id, OrderState::submitting, EventSource::intent,
      fmt::format("queued: attempt {} with client_order_id {}", o.attempts, o.client_order_id), {},
      now);
  s_.aux[id].command_outstanding = true;
  s_.aux[id].sent_at.reset();  // set again when the request leaves (note_sent)
  Command c;
  // An entry our exits were canceled for is protective work: while it waits for the entries'
  // share of the budget the symbol's positions have no exit (DST trades seed 23100000003282:
  // 40 s in the queue, 325 WMT naked).
  c.priority = o.role == OrderRole::entry && !s_.clearing.clears_its_way(o)
                   ? CommandPriority::entry
                   : CommandPriority::protective;
  c.order_id = id;
  if (o.replaces_order_id) {
    // run_submitter checked that the order to replace is held and has its broker id.
    const Order* old = s_.ledger.order(*o.replaces_order_id);
    c.kind = CommandKind::replace;
    c.broker_order_id = old ? old->broker_order_id.value_or("") : "";
    c.replace.qty = o.qty;
    c.replace.client_order_id = o.client_order_id;
    if (old) add_price_changes(c.replace, o, *old);  // a modify's new price (exit_modifier.cc)
  } else {
    c.kind = CommandKind::submit;
    c.submit = request_for(o);
    ++s_.metrics.submissions;
  }
  tx_.stage(std::move(c), Purpose::send);
}

std::string Submitter::retry_reason(const std::string& last_error) {
  auto colon = last_error.find(':');
  return colon == std::string::npos ? last_error : last_error.substr(0, colon);
}

OrderRequest Submitter::request_for(const Order& o) {
  OrderRequest r;
  r.symbol = o.symbol;
  r.side = o.side;
  r.type = o.type;
  r.tif = o.tif;
  r.qty = o.qty;
  r.notional = o.notional;
  r.limit_price = o.limit_price;
  r.stop_price = o.stop_price;
  r.trail_price = o.trail_price;
  r.trail_percent = o.trail_percent;
  r.extended_hours = o.extended_hours;
  r.client_order_id = o.client_order_id;
  r.order_class = o.order_class;
  for (OrderId cid : s_.ledger.of_trade(o.trade_id)) {
    const Order& c = s_.ledger.order_at(cid);
    if (c.parent_order_id != o.id) continue;
    if (c.role == OrderRole::take_profit) r.take_profit_limit_price = c.limit_price;
    if (c.role == OrderRole::stop_loss) r.stop_loss_stop_price = c.stop_price;
  }
  if (o.order_class == OrderClass::oco) r.take_profit_limit_price = o.limit_price;
  return r;
}

void Submitter::schedule_retry(OrderId id, const std::string& why, Timestamp now, EventSource src,
                               const std::string& payload, std::optional<std::int64_t> min_delay_ms,
                               bool at_once) {
  Order& o = tx_.mut_order(id);
  o.last_error = why;
  if (o.attempts >= s_.cfg.retry_max_attempts && is_exit_role(o.role)) {
    // An exit or a flatten guards a filled position: giving it up leaves the position naked
    // (DST seed 502267: a flatten parked after a storm of 503/429 left its trade closing for
    // good). It keeps trying at the backoff's cap, its stuck alert raised until it is placed.
    s_.alerts.raise(AlertKind::stuck_order, o.client_order_id,
                    fmt::format("{} {} not placed after {} attempts, still trying: {}", o.symbol,
                                to_string(o.role), o.attempts, why),
                    now);
  } else if (o.attempts >= s_.cfg.retry_max_attempts) {
    tx_.set_local_state(id, OrderState::parked, src,
                        fmt::format("parked after {} attempts; last: {}", o.attempts, why), payload,
                        now);
    s_.alerts.raise(AlertKind::order_parked, o.client_order_id,
                    fmt::format("{} {} parked after {} attempts: {}", o.symbol, to_string(o.role),
                                o.attempts, why),
                    now);
    s_.touched_trades.insert(o.trade_id);
    return;
  }
  std::int64_t delay = at_once ? 0 : backoff_ms(o.attempts);
  // An exit or a flatten waits at most as long as a failed poll between tries: under the
  // retry cap (5 minutes) a flatten refused by the wash-trade check against our own entries,
  // its eighth answer lost, waited 107 s more while the position stood naked (DST extended
  // seed 12000000002336: 146 s raised).
  if (is_exit_role(o.role)) delay = std::min(delay, kPollBackoffCapMs);
  if (min_delay_ms) delay = std::max(delay, *min_delay_ms);
  o.next_attempt_at = now.plus_ms(delay);
  tx_.set_local_state(id, OrderState::created, src,
                      fmt::format("retry in {} ms (attempt {} of {}): {}", delay, o.attempts,
                                  s_.cfg.retry_max_attempts, why),
                      payload, now);
}

void Submitter::to_unknown(OrderId id, const std::string& why, EventSource src,
                           const std::string& payload, Timestamp now) {
  s_.ledger.order_at(id);
  tx_.mut_order(id).last_error = why;
  tx_.set_local_state(id, OrderState::unknown, src, "outcome unknown, look up by client id: " + why,
                      payload, now);
  lookups_.stage_resolve(id);
}

// external_hold says an order of ours waits on someone else's order; once the broker took an
// order of the symbol and none of them waits for holdings any more, that is over.
void Submitter::clear_external_hold_if_gone(const std::string& symbol, Timestamp now) {
  if (!s_.alerts.active(AlertKind::external_hold, symbol)) return;
  for (OrderId id : s_.ledger.of_symbol(symbol)) {
    auto ax = s_.aux.find(id);
    if (ax != s_.aux.end() && ax->second.hold_wait) return;
  }
  s_.alerts.clear(AlertKind::external_hold, symbol, now);
}

void Submitter::on_send_result(const Pending& p, const CommandResult& r, Timestamp now) {
  const OrderId id = p.command.order_id;
  if (!s_.ledger.holds(id)) return;
  s_.aux[id].command_outstanding = false;
  const Order& o = s_.ledger.order_at(id);
  const bool is_replace = p.command.kind == CommandKind::replace;
  if (!r.error) {
    if (r.order) on_send_accepted(id, is_replace, *r.order, now);
    return;
  }
  const BrokerError& e = *r.error;
  const std::string why = e.describe();
  if (o.state != OrderState::submitting) {
    // Evidence (stream/lookup) already moved it on; the error reply is only recorded.
    Order& m = tx_.mut_order(id);
    tx_.audit(m, m.state, EventSource::error, "late error reply ignored: " + why, e.body, now);
    return;
  }
  switch (e.kind) {
    case BrokerError::Kind::not_sent:
      schedule_retry(id, "not_sent: " + e.message, now, EventSource::error, e.body,
                     e.retry_after_ms);
      return;
    case BrokerError::Kind::unknown_outcome:
    case BrokerError::Kind::unreadable:
      to_unknown(id, why, EventSource::error, e.body, now);
      return;
    case BrokerError::Kind::rejected:
      break;
  }
  on_send_refused(id, is_replace, e, now);
}

void Submitter::on_send_accepted(OrderId id, bool is_replace, const BrokerOrder& b, Timestamp now) {
  const Order& o = s_.ledger.order_at(id);
  tx_.adopt(id, b, EventSource::response, is_replace ? "replacement accepted" : "submit accepted",
            now);
  clear_external_hold_if_gone(o.symbol, now);
  if (is_replace && o.replaces_order_id) {
    // The answer is the replacement; the old order is pending_replace until the broker ends
    // it. It may end otherwise than replaced: an OCO whose stop triggered meanwhile is
    // canceled and the replacement rejected (DST seed 804991: marked replaced here, the
    // order stayed replaced locally and canceled at the broker).
    trades_.adopt_replacement(id, now);
    tx_.apply(*o.replaces_order_id,
              {OrderState::pending_replace, std::nullopt, std::nullopt, std::nullopt},
              EventSource::response, "replacement " + b.id + " accepted", b.raw, now);
  }
  s_.touched_trades.insert(o.trade_id);
}

// The broker refused the request (4xx/5xx with a body): what the refusal proves decides.
void Submitter::on_send_refused(OrderId id, bool is_replace, const BrokerError& e, Timestamp now) {
  const Order& o = s_.ledger.order_at(id);
  const std::string why = e.describe();
  if (!e.duplicate_client_order_id()) s_.retries.note_attempt(now);  // a refusal: retry_storm
  if (e.duplicate_client_order_id()) {
    // Proof that an earlier attempt of this very intent reached the broker: adopt it.
    ++s_.metrics.duplicate_client_id_adopted;
    to_unknown(id, "40010001 client_order_id already used: an earlier attempt exists",
               EventSource::error, e.body, now);
    return;
  }
  if (e.insufficient_qty_error()) {
    ++s_.metrics.insufficient_qty_errors;
    on_insufficient_qty(id, e, now);
    return;
  }
  if (e.http_status == 429 || e.http_status >= 500) {
    to_unknown(id, why, EventSource::error, e.body, now);
    return;
  }
  if (refusal_answered_by_rule(id, is_replace, e, now)) return;
  tx_.mut_order(id).last_error = why;
  tx_.set_local_state(id, OrderState::submit_failed, EventSource::error, "refused: " + why, e.body,
                      now);
  if (is_exit_role(o.role)) {
    s_.alerts.raise(AlertKind::order_parked, o.client_order_id,
                    fmt::format("{} exit refused by the broker: {}", o.symbol, why), now);
  }
  if (is_replace && o.replaces_order_id) lookups_.stage_refresh(*o.replaces_order_id, now, true);
  s_.touched_trades.insert(o.trade_id);
}

// Refusals with a known answer: a replace whose order is gone, a wash-trade refusal priced past
// or answered by canceling our own opposite orders, a fractional stop that gives way to the
// take-profit, an exit refused for the moment, a replace refused for its price. True when
// handled here.
bool Submitter::refusal_answered_by_rule(OrderId id, bool is_replace, const BrokerError& e,
                                         Timestamp now) {
  const Order& o = s_.ledger.order_at(id);
  const std::string why = e.describe();
  if (is_replace && e.http_status == 404) {
    tx_.set_local_state(id, OrderState::submit_failed, EventSource::error,
                        "replace refused, order gone: " + why, e.body, now);
    if (o.replaces_order_id) lookups_.stage_refresh(*o.replaces_order_id, now, true);
    s_.touched_trades.insert(o.trade_id);
    return true;
  }
  if (wash_adjustable(o) && !is_replace && e.http_status == 403 &&
      trades_.reprice_past_wash_check(id, e, now)) {
    // Priced to pass now: sent again at once, no backoff (attempts still count).
    schedule_retry(id, why, now, EventSource::error, e.body, std::nullopt, /*at_once=*/true);
    return true;
  }
  if (o.role == OrderRole::entry && !is_replace && (e.http_status == 403 || e.http_status == 422) &&
      trades_.on_entry_wash_refusal(id, e, now)) {
    return true;
  }
  // Without a take-profit the stop is the only exit: retried below (priced again at each
  // refusal), never canceled and placed again at once (DST seed 13000000000672: twelve stops
  // in a second against another trade's market entry, then none).
  const Trade* trade = s_.ledger.trade(o.trade_id);
  if (o.role == OrderRole::stop_loss && o.order_class == OrderClass::simple &&
      !o.qty.is_integer() && e.http_status == 403 && trades_.refused_against_ours(e) &&
      trade != nullptr && trade->spec.has_take_profit()) {
    // A fractional stop takes no OCO: its take-profit covers the position instead (a new
    // order, priced past our opposite orders).
    tx_.set_local_state(id, OrderState::canceled, EventSource::error,
                        "not placed: a fractional stop meets our own opposite orders in Alpaca's "
                        "wash-trade check; the take-profit covers the position instead: " +
                            why,
                        e.body, now);
    s_.fractional_stop_refused.insert(o.trade_id);
    s_.touched_trades.insert(o.trade_id);
    return true;
  }
  if (is_exit_role(o.role) && !is_replace && e.http_status == 403) {
    // A protective or flattening sell refused for the moment (wash-trade check against an
    // opposite order, shares not yet settled...): bounded retry with backoff, then parked.
    // Never a new order per refusal.
    schedule_retry(id, why, now, EventSource::error, e.body, std::nullopt);
    return true;
  }
  return is_replace && modifier_.on_replace_refused(id, e, now);
}

// 40310000: someone's open orders hold the shares. Never a blind retry: find out whose.
void Submitter::on_insufficient_qty(OrderId id, const BrokerError& e, Timestamp now) {
  const InsufficientQty& iq = *e.insufficient_qty;
  Order& o = tx_.mut_order(id);
  o.last_error = e.describe();
  tx_.set_local_state(
      id, OrderState::created, EventSource::error,
      fmt::format("40310000 insufficient qty: available {}, held_for_orders {}, "
                  "related {}; checking who holds the shares",
                  iq.available.str(), iq.held_for_orders.str(), iq.related_orders.size()),
      e.body, now);
  OrderAux& ax = s_.aux[id];
  sync_.set_hold_wait(id, true);
  ax.hold_available = iq.available;
  // Our own view of holdings is stale by definition now.
  s_.positions_read.forget_answer();
  for (const std::string& rid : iq.related_orders) {
    ++ax.related_waiting;
    Command c;
    c.kind = CommandKind::get_order;
    c.priority = CommandPriority::lookup;
    c.order_id = s_.ledger.by_broker_id(rid).value_or(0);
    c.broker_order_id = rid;
    tx_.stage(std::move(c), Purpose::related, id);
  }
  if (iq.related_orders.empty()) {
    s_.alerts.raise(
        AlertKind::external_hold, o.symbol,
        fmt::format("{}: only {} available for {} ({} held); waiting for holdings to change",
                    o.symbol, iq.available.str(), o.qty.str(), iq.held_for_orders.str()),
        now);
  }
}

void Submitter::on_related_result(const Pending& p, const CommandResult& r, Timestamp now) {
  const OrderId waiting_id = p.for_order;
  if (!s_.ledger.holds(waiting_id)) return;
  OrderAux& ax = s_.aux[waiting_id];
  if (ax.related_waiting > 0) --ax.related_waiting;
  if (r.error || !r.order) {
    if (ax.related_waiting == 0) sync_.ask_positions(now);
    return;
  }
  const BrokerOrder& b = *r.order;
  const Order& waiting = s_.ledger.order_at(waiting_id);
  std::optional<OrderId> local = sync_.find_local(b);
  if (!local && is_ours(b.client_order_id, s_.owner)) local = sync_.adopt_unrecorded(b, now);
  if (local) {
    tx_.adopt(*local, b, EventSource::lookup,
              "holds the shares of a refused sell (40310000 related order)", now);
    const Order& holder = s_.ledger.order_at(*local);
    const bool same_trade_exit = holder.trade_id == waiting.trade_id &&
                                 is_exit_role(holder.role) &&
                                 is_open_at_broker(holder.state) &&
                                 waiting.role != OrderRole::exit;
    if (same_trade_exit) {
      tx_.set_local_state(
          waiting_id, OrderState::canceled, EventSource::lookup,
          "not needed: our working exit " + holder.client_order_id + " already covers this trade",
          b.raw, now);
      s_.touched_trades.insert(waiting.trade_id);
      return;
    }
    Order& m = tx_.mut_order(waiting_id);
    tx_.audit(m, m.state, EventSource::lookup,
              "shares held by our own order " + holder.client_order_id +
                  "; no retry until holdings change",
              b.raw, now);
  } else {
    s_.alerts.raise(
        AlertKind::external_hold, waiting.symbol,
        fmt::format("{} shares held by external order {} ({}); {} waits for holdings to "
                    "change",
                    waiting.symbol, b.id, b.client_order_id, waiting.client_order_id),
        now);
    Order& m = tx_.mut_order(waiting_id);
    tx_.audit(m, m.state, EventSource::lookup, "shares held by external order " + b.id, b.raw, now);
  }
  if (ax.related_waiting == 0) sync_.ask_positions(now);
}

void Submitter::on_resolve_result(const Pending& p, const CommandResult& r, Timestamp now) {
  const OrderId id = p.command.order_id;
  if (!s_.ledger.holds(id)) return;
  OrderAux& ax = s_.aux[id];
  ax.command_outstanding = false;
  const Order& o = s_.ledger.order_at(id);
  if (!r.error && r.order) {
    adopt_found(id, *r.order, now);
    return;
  }
  if (!r.error) return;
  const BrokerError& e = *r.error;
  if (o.state != OrderState::submitting && o.state != OrderState::unknown) return;
  if (e.not_found()) {
    // Only a definite 404 counts: the broker does not hold this intent, a resend (same client
    // id) is safe.
    resend_not_found(id, "lookup: no order with this client_order_id (404)", e.body, now);
    return;
  }
  // A network error proves nothing: stay unknown and look again later.
  if (o.state == OrderState::submitting) {
    tx_.set_local_state(id, OrderState::unknown, EventSource::error,
                        "lookup failed: " + e.describe(), e.body, now);
  } else {
    Order& m = tx_.mut_order(id);
    tx_.audit(m, m.state, EventSource::error, "lookup failed, will look again: " + e.describe(),
              e.body, now);
  }
  // Backed off like a failed refresh: a broker that takes connections and drops them was asked
  // every ~1.1 s for as long as it did (issue 15, the signals helper: 29 calls in 11 s).
  s_.retries.lookup_at(id, now.plus_ms(sync_.backed_off_ms(e, s_.aux[id].lookup_failures)));
}

void Submitter::adopt_found(OrderId id, const BrokerOrder& b, Timestamp now) {
  s_.aux[id].not_found = 0;
  s_.aux[id].lookup_failures = 0;
  const Order& o = s_.ledger.order_at(id);
  tx_.adopt(id, b, EventSource::lookup, "found by client_order_id: adopted, not resent", now);
  if (o.replaces_order_id && is_known_to_broker(s_.ledger.order_at(id).state)) {
    trades_.adopt_replacement(id, now);
    tx_.apply(*o.replaces_order_id,
              {OrderState::pending_replace, std::nullopt, std::nullopt, std::nullopt},
              EventSource::lookup, "replacement " + b.id + " found", {}, now);
  }
  s_.touched_trades.insert(o.trade_id);
}

void Submitter::resend_not_found(OrderId id, const std::string& why, const std::string& body,
                                 Timestamp now) {
  ++s_.aux[id].not_found;
  s_.aux[id].lookup_failures = 0;
  schedule_retry(id, why, now, EventSource::lookup, body, std::nullopt);
}

// Crash-only recovery (recovery_listing.h): the orders a restart found in flight are resolved
// by one listing before anything is sent for them.
void Submitter::start_recovery() {
  const std::optional<RecoveryListing::Plan> plan = RecoveryListing::plan(s_.ledger);
  if (!plan) return;
  recovery_.begin(plan->ids);
  for (OrderId id : plan->ids) {
    s_.aux[id].command_outstanding = true;  // no lookup of its own while the listing runs
  }
  stage_recovery_page(plan->after);
}

void Submitter::stage_recovery_page(Timestamp after) {
  recovery_.page_staged();
  tx_.stage(lookups_.listing_since(after), Purpose::recovery_page);
}

// The listing did not finish (an error, more pages than orders left): each order left is looked
// up by client id, as before the listing. After a rolled-back commit (look_up false: nothing
// may be staged then) the in-flight check (inflight_check.h) looks them up.
void Submitter::abandon_recovery(bool look_up) {
  for (OrderId id : recovery_.left()) {
    const Order* o = s_.ledger.order(id);
    if (o == nullptr) continue;
    s_.aux[id].command_outstanding = false;
    if (look_up && (o->state == OrderState::submitting || o->state == OrderState::unknown) &&
        !o->broker_order_id) {
      lookups_.stage_resolve(id);
    }
  }
  recovery_.clear();
}

void Submitter::on_recovery_result(const Pending& p, const CommandResult& r, Timestamp now) {
  if (!recovery_.running()) return;
  if (r.error) {
    abandon_recovery(true);
    return;
  }
  auto resolve = [&](const BrokerOrder& b) {
    const std::optional<OrderId> ct = s_.ledger.by_client_id(b.client_order_id);
    if (!ct || !recovery_.resolves(*ct)) return;
    const OrderId id = *ct;
    recovery_.resolved(id);
    s_.aux[id].command_outstanding = false;
    if (s_.ledger.order(id) != nullptr) adopt_found(id, b, now);
  };
  for (const BrokerOrder& b : r.orders) {
    resolve(b);
    // A replaced OCO stop is listed nested under its group's take-profit (DST trades seed
    // 9800000000011: taken for absent, sent again and refused).
    for (const BrokerOrder& leg : b.legs) resolve(leg);
  }
  const RecoveryListing::Next next =
      recovery_.after_page(r.orders, p.command.list.limit, p.command.list.after);
  if (next.kind == RecoveryListing::Next::Kind::next_page) {
    stage_recovery_page(next.after);
    return;
  }
  if (next.kind == RecoveryListing::Next::Kind::abandon) {
    abandon_recovery(true);
    return;
  }
  for (OrderId id : recovery_.left()) {
    const Order* o = s_.ledger.order(id);
    if (o == nullptr) continue;
    s_.aux[id].command_outstanding = false;
    if ((o->state == OrderState::submitting || o->state == OrderState::unknown) &&
        !o->broker_order_id) {
      // A submitting order's attempt was cut short by the restart, whether or not its request
      // had left: it is not counted (an unknown one failed before it). Counted, an entry
      // waiting for the budget across restarts was parked without ever reaching the broker
      // (soak seed 892678: parked after 12 restarts, 12 "attempts").
      std::string why = "not at the broker after a restart (recovery listing)";
      if (o->state == OrderState::submitting && o->attempts > 0) {
        tx_.mut_order(id).attempts -= 1;
        why += fmt::format("; attempt {} not counted", o->attempts + 1);
      }
      resend_not_found(id, why, {}, now);
    }
  }
  recovery_.clear();
}

void Submitter::on_refresh_result(const Pending& p, const CommandResult& r, Timestamp now) {
  OrderId id = p.command.order_id;
  if (r.error) {
    // A network error or 5xx proves nothing (Hummingbot #8457): the order is fetched again
    // (refresh_failed), as by the next sweep that misses it, or it would stay "working" here.
    if (!r.error->not_found() && s_.ledger.holds(id)) {
      s_.aux[id].missing_checked = false;
      sync_.refresh_failed(id, *r.error, now);
    } else if (!r.error->not_found() && id == 0) {
      sync_.unknown_fill_fetch_failed(p.command.broker_order_id);
    }
    if (r.error->not_found() && s_.ledger.holds(id)) {
      Order& m = tx_.mut_order(id);
      tx_.audit(m, m.state, EventSource::lookup,
                "broker has no order " + p.command.broker_order_id + " (404)", r.error->body, now);
      s_.alerts.raise(AlertKind::reconciliation_mismatch, m.client_order_id,
                      "local order has a broker id the broker does not know", now);
    }
    return;
  }
  if (!r.order) return;
  if (id == 0) tx_.note_unknown_fetch(p.command.broker_order_id);
  std::optional<OrderId> local = sync_.find_local(*r.order);
  if (!local) return;
  const Decimal filled_before = s_.ledger.order_at(*local).filled_qty;
  tx_.adopt(*local, *r.order, EventSource::lookup, "refreshed by id", now);
  // A fill found by this fetch began its gap when it happened, as one a catch-up finds does
  // (a market entry's lost fill is fetched now, synchronizer.cc market_entry_unfilled).
  if (s_.ledger.order_at(*local).filled_qty > filled_before) {
    s_.protection_check.late_fill(s_.ledger.order_at(*local).symbol,
                                  r.order->filled_at.value_or(r.order->updated_at));
  }
  sync_.refresh_answered(*local, now);
  // Still working (e.g. pending_cancel): the next sweep that misses it fetches it again.
  if (is_open_at_broker(s_.ledger.order_at(*local).state)) s_.aux[*local].missing_checked = false;
}

void Submitter::on_cancel_result(const Pending& p, const CommandResult& r, Timestamp now) {
  OrderId id = p.command.order_id;
  if (!s_.ledger.holds(id)) return;
  s_.aux[id].cancel_sent = false;
  // 429, 5xx, no answer: the order may still be working, and nothing else would ask for the
  // cancel again (DST seed 43: a canceled trade's entry stayed open for good). Accepted (204)
  // or a 422 (already done or going): the refresh below or the stream tells which; until
  // then it is not asked again (DST seed 900532: each answer asked again at once, 64
  // DELETEs and their refreshes took the minute's budget from an entry and the exits).
  std::int64_t again_ms = s_.cfg.inflight_check_ms;
  if (r.error) {
    Order& m = tx_.mut_order(id);
    tx_.audit(m, m.state, EventSource::error, "cancel refused: " + r.error->describe(),
              r.error->body, now);
    if (r.error->http_status != 422) again_ms = lookups_.ask_again_after_ms(*r.error);
  }
  // (Not while our own replace is pending: that is why the broker refused.)
  const bool done_or_going = r.error && r.error->http_status == 422 &&
                             s_.ledger.order_at(id).state != OrderState::pending_replace;
  if (const OrderState s = s_.ledger.order_at(id).state;
      (!r.error || done_or_going) && is_open_at_broker(s) &&
      transition_allowed(s, OrderState::pending_cancel)) {
    // Accepted: the order is going, whether or not its events reach us. An exit counts as
    // cover no more from here (DST extended seed 9100000000025: a canceled trade's exit was
    // canceled with the stream down; its events lost, the engine counted it as cover and the
    // short stood naked for 8 s with no alert). A 422 says it is filled, canceled, expired or
    // being canceled already (alpaca-api.md §2.6): no cover either (on main, DST extended
    // seed 9400000004029: "already in \"canceled\" state", and the engine kept counting it).
    tx_.apply(id, {OrderState::pending_cancel, std::nullopt, std::nullopt, std::nullopt},
              EventSource::response,
              done_or_going ? "cancel refused (422): done or going at the broker"
                            : "cancel accepted (DELETE answered 204)",
              {}, now);
  }
  s_.retries.cancel_at(id, now.plus_ms(again_ms));
  // Cancel is asynchronous at Alpaca: learn the outcome by id.
  lookups_.stage_refresh(id, now, true);
}

}  // namespace orderly
