#include "engine/cover_judge.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/crypto.h"
#include "engine/holdings.h"
#include "engine/trade_manager.h"

namespace orderly {

SymbolBook CoverJudge::book_of(const std::string& symbol) const {
  SymbolBook book;
  for (OrderId id : s_.ledger.of_symbol(symbol)) {
    const Order& o = s_.ledger.order_at(id);
    const Trade* t = s_.ledger.trade(o.trade_id);
    // An ended trade holds nothing: its fills are no position, though its orders still meet
    // the wash-trade check while they work. Counted, one exit of a pruned trade brought back
    // by a late event (restore_pruned) stood for a position of its own without its entry (DST
    // trades seed 12700000000166: a flatten's +18 hid another trade's naked -18 KO for 8.5 s).
    const bool guarded =
        t == nullptr || (t->spec.exits != ExitMode::none && !is_terminal(t->state));
    const Order* parent = o.parent_order_id ? s_.ledger.order(*o.parent_order_id) : nullptr;
    // A leg stands or falls with its group: its parent missing from the broker's open orders
    // leaves the leg unconfirmed too, whatever its local state (DST extended seed
    // 15000000001138: the leg's own 'new' rolled back with a failed commit, it read
    // 'submitting', and covered a position whose group another client had canceled).
    // A bracket leg whose id no answer has told yet, its entry filled: the broker may have
    // ended it (another client canceled the legs while a restart waited to learn their ids,
    // DST trades seed 22100000000465), and no sweep can say, as legs are listed by id. It
    // covers once its id is known; the submit's answer or the legs' listing brings it.
    const bool unidentified = parent && parent->role == OrderRole::entry &&
                              !o.broker_order_id && parent->filled_qty.is_positive();
    const bool confirmed =
        !unconfirmed(id) && !(parent && unconfirmed(parent->id)) && !unidentified;
    book.add(o, parent, guarded, confirmed);
  }
  // Without it a position that our own exits shrank stood uncovered by the exits sized to it.
  if (!book.net().is_zero() && s_.oversold_symbols.count(symbol)) {
    Decimal charged;
    const Side side = book.net().is_positive() ? Side::buy : Side::sell;
    for (const TradeHolding& h : holdings_of(s_.ledger, symbol, side)) {
      const Trade* t = s_.ledger.trade(h.trade);
      if (t != nullptr && t->spec.exits != ExitMode::none) charged += h.own - h.held;
    }
    book.take_shortfall(charged);
  }
  return book;
}

bool CoverJudge::unconfirmed(OrderId id) const {
  const auto ax = s_.aux.find(id);
  return ax != s_.aux.end() && ax->second.unconfirmed_since.has_value();
}

// `blind`: events may have been lost for longer than the grace (Blindness) and no sweep has
// said what the broker holds since: an exit canceled or expired meanwhile is unknown, so no
// position counts as covered (on main, DST extended seed 9400000000918: the stream down, the
// sweeps timed out for 8 s, an exit canceled meanwhile went unraised). An exit a sweep missed
// covers nothing until the broker answers for it. A gap counts from the broker's last event on
// the symbol: the engine may learn of it only after a restart and answers delayed by seconds
// (seed 9400000002816). An exit the broker's listing leaves out while it works (a held leg,
// alpaca-api.md §2.4, UNCONFIRMED today) is confirmed by its fetch within a call, and its
// group's other order covers meanwhile.
CoverJudge::Cover CoverJudge::judge(const std::string& symbol, bool blind) const {
  Cover c{book_of(symbol)};
  // Blind, an entry of ours at the broker may have filled unheard: a position nothing covers
  // that the engine cannot see (DST extended seed 12000000009107: a market entry filled while
  // the stream was down, its catch-up's answer lost in a crash, then timeouts, a 429 and a late
  // answer after the restart: 8 s of naked KO before the fill was known, unraised). A limit
  // entry the market reached fills as unheard (DST trades seed 11300000000472: two limit buys
  // filled, their events delayed past a stream disconnect, the budget spent for 12 s: 56 TSLA
  // naked 8 s, unraised).
  // So with no fill catch-up answered for longer than the stream's losses are allowed to go
  // unfound: the budget spent for 24 s, a limit sell filled, its message lost while the stream
  // was healthy (DST trades seed 27300000000734: 43 INTC naked 17 s, unraised).
  const std::optional<Timestamp> fills_unknown = fills_unknown_since(s_.now);
  const bool unheard_entry =
      (blind || fills_unknown) && c.book.net().is_zero() && entry_may_fill_unheard(symbol);
  if (const Order* e = entry_that_may_have_filled(symbol, c.book.net())) {
    c.ok = false;
    // Sent no earlier; its fill, if any, came after (a working one's after the broker last
    // told its state: DST trades seed 23600000001170, a stale answer's audit moved updated_at
    // and the gap was raised too late, in a life that ended before it).
    c.began = in_reach_of(*e) ? last_heard(*e) : e->created_at;
    date_by_own_records(c, symbol);
    c.why = fmt::format("; entry {}, whose outcome is not known yet, may have filled (our "
                        "known fills make {})",
                        e->client_order_id, c.book.net().str());
    return c;
  }
  if (c.book.net().is_zero() && !unheard_entry) return c;
  if (blind) {
    c.ok = false;
    c.began = s_.blindness.since();
    date_by_own_records(c, symbol);
    c.why = fmt::format("; events may have been missed since {} ms ago and no sweep of the "
                        "broker's open orders has answered since{}",
                        s_.blindness.ms(s_.now),
                        unheard_entry ? "; an entry of ours may have filled unheard" : "");
    return c;
  }
  if (unheard_entry) {
    c.ok = false;
    c.began = fills_unknown;
    date_by_own_records(c, symbol);
    c.why = fmt::format("; no fill catch-up has answered for {} ms: an entry of ours at the "
                        "broker may have filled unheard",
                        s_.now.ms_since(*fills_unknown));
    return c;
  }
  c.ok = c.book.is_protected();
  if (c.ok) return c;
  // An exit a sweep found missing ended no later than it went unconfirmed (on_sweep_result:
  // as early as the blindness the sweep ended).
  std::optional<Timestamp> missing_since;
  for (OrderId id : s_.ledger.of_symbol(symbol)) {
    const auto ax = s_.aux.find(id);
    if (ax != s_.aux.end() && ax->second.unconfirmed_since) {
      c.why = "; an exit missing from the broker's open orders is not confirmed";
      if (!missing_since || *ax->second.unconfirmed_since < *missing_since) {
        missing_since = ax->second.unconfirmed_since;
      }
    }
  }
  const std::optional<Timestamp> last =
      s_.protection.gap_since(symbol) ? std::nullopt : last_broker_event(symbol);
  c.began = s_.protection_check.with_late_fill(symbol, last);
  if (missing_since && (!c.began || *missing_since < *c.began)) c.began = missing_since;
  return c;
}

// What our own records show uncovered (a fill, no exit placed yet) is a gap since the symbol's
// last event, whatever else the engine suspects (DST trades seed 23600000007897: an exit unsent
// at a crash; the next life dated the gap from an entry of unknown outcome, 2 s later, and
// died 0.4 s short of its grace; 8 s naked over three lives, raised too late).
void CoverJudge::date_by_own_records(Cover& c, const std::string& symbol) const {
  if (c.book.is_protected()) return;
  const std::optional<Timestamp> known =
      s_.protection_check.with_late_fill(symbol, last_broker_event(symbol));
  if (known && (!c.began || *known < *c.began)) c.began = known;
}

std::optional<Timestamp> CoverJudge::fills_unknown_since(Timestamp now) const {
  const Timestamp last = s_.catchup.last_completed().value_or(s_.started_at);
  if (now.ms_since(last) < cfg_.idle_poll_interval_ms + cfg_.unprotected_grace_ms) {
    return std::nullopt;
  }
  return last;
}

// An entry of an open trade that keeps exits, at the broker and not known to be done (asked
// blind only). A bracket's too: its legs, which would cover its fill, may have been canceled
// unheard like any exit (DST trades seed 24800000014325: a bracket buy filled and another
// client canceled its legs while the stream was down and the budget spent; 14 MSFT naked 8 s,
// unraised, the engine taking the symbol for flat).
bool CoverJudge::entry_may_fill_unheard(const std::string& symbol) const {
  for (OrderId id : s_.ledger.of_symbol(symbol)) {
    const Order& o = s_.ledger.order_at(id);
    const Trade* t = s_.ledger.trade(o.trade_id);
    if (o.role == OrderRole::entry && o.broker_order_id && is_open_at_broker(o.state) &&
        t != nullptr && !is_terminal(t->state) && t->spec.exits != ExitMode::none) {
      return true;
    }
  }
  return false;
}

// An entry of an open trade with exits that may have filled unheard, not blind: its outcome
// unknown (an ambiguous failure, or in flight when the last process died) or its end not
// fetched yet (missing from the open orders). Unless a positions read asked for since (and
// since our last fill of the symbol) shows nothing beyond our known fills on its side, nothing
// is known to cover what it may have bought. DST seeds: extended 22000000016901 (60 KO filled
// unheard before a kill; four short lives, each with its recovery listing or lookup failing,
// took the symbol for flat: 8 s naked, unraised); trades 22200000002328 (a limit sell filled
// while no process ran, its fetch answered after a kill), 22400000000732 and 21500000000875
// (a market entry's answer lost, its lookups slow or unanswered through restarts),
// 29900000000392 (a market buy filled unheard before a kill; the next life's sweep found it
// missing, its catch-up failed and its read timed out: a missing entry counted only once a read
// showed the fill, and 9 IWM went 8.7 s naked, unraised).
const Order* CoverJudge::entry_that_may_have_filled(const std::string& symbol,
                                                      Decimal net) const {
  const Decimal beyond = s_.positions_read.qty(symbol) - net;
  for (OrderId id : s_.ledger.of_symbol(symbol)) {
    const Order& o = s_.ledger.order_at(id);
    const Trade* t = s_.ledger.trade(o.trade_id);
    if (o.role != OrderRole::entry || o.parent_order_id || t == nullptr ||
        is_terminal(t->state) || t->spec.exits == ExitMode::none) {
      continue;
    }
    const bool unknown = o.state == OrderState::unknown ||
                         (o.state == OrderState::submitting && o.updated_at < s_.started_at) ||
                         unfilled_before_this_life(o);
    const bool its_side = o.side == Side::buy ? beyond.is_positive() : beyond.is_negative();
    // Working, it is judged by the read alone: the broker holding more on its side than our
    // known fills is its fill, until the broker says otherwise (PositionsReconciler asks).
    if (its_side && in_reach_of(o)) return &o;
    if (!unknown && !unconfirmed(id)) continue;
    const bool read_since = s_.positions_read.asked_after(o.updated_at) &&
                            !s_.positions_read.changed_since_asked(symbol);
    if (its_side || (!read_since && (unknown || unconfirmed(id)))) return &o;
  }
  return nullptr;
}

// A market entry routed and unfilled as the broker last told it, inflight_check_ms before this
// life began, and not heard of since: its fill was most likely lost (InflightCheck's reading),
// and what the last life knew of its gap died with it. Until the broker answers for it in this
// life, or a positions read says what it holds, it may have filled (DST trades seed
// 23600000032050: 46 INTC filled, the event lost, every answer 2.6 s late; the first life died
// 5.3 s into the gap, and three short lives after it each ended before its lookup's answer:
// 8.6 s naked, unraised).
//
// A stock market entry the broker last called `accepted` (not routed: how Alpaca holds one
// outside hours) counts too once a stock order of ours was routed or filled after it, as the
// broker dated them: the market was taking orders (DST trades seed 26700000022017: a market
// buy of 26 PFE answered `accepted`, its `new` and `fill` lost with the life that sent it; the
// next three lives took it for resting, 8 s naked over four lives, unraised).
bool CoverJudge::unfilled_before_this_life(const Order& o) const {
  if (!market_entry_unfilled(o)) return false;
  const bool routed = o.state == OrderState::new_ || is_crypto_symbol(o.symbol) ||
                      (s_.stock_routed_before_start && o.broker_updated_at &&
                       *s_.stock_routed_before_start > *o.broker_updated_at);
  if (!routed) return false;
  const auto ax = s_.aux.find(o.id);
  if (ax != s_.aux.end() && ax->second.heard_at) return false;
  const Timestamp heard = last_heard(o);
  return heard < s_.started_at.plus_ms(-cfg_.inflight_check_ms) &&
         !s_.positions_read.asked_after(heard);
}

// The broker's time of the last event on the symbol's orders of open trades: a gap the engine
// learns of now (its event lost, found by a poll) began no later than that. The grace counts
// from there, so the alert says what the broker saw (DST seed 31048: answers delayed 3 s, the
// alert came 8 s into the gap).
std::optional<Timestamp> CoverJudge::last_broker_event(const std::string& symbol) const {
  std::optional<Timestamp> last;
  for (OrderId id : s_.ledger.of_symbol(symbol)) {
    const Order& o = s_.ledger.order_at(id);
    const Trade* t = s_.ledger.trade(o.trade_id);
    if (t == nullptr || is_terminal(t->state) || !o.broker_updated_at) continue;
    // An entry that filled nothing moved no share: its news says nothing of the gap (DST
    // trades seed 26200000025582: a life after a crash dated a flatten's gap from a new
    // entry's `new`, 6 s after the exits were canceled, and raised it 400 ms too late).
    if (o.role == OrderRole::entry && o.filled_qty.is_zero()) continue;
    if (!last || *o.broker_updated_at > *last) last = o.broker_updated_at;
  }
  return last;
}

// At the broker and working, and the positions read was asked after the broker last told its
// state.
bool CoverJudge::resting_unheard_since_read(const Order& o) const {
  const bool working = o.state == OrderState::accepted || o.state == OrderState::new_ ||
                       o.state == OrderState::partially_filled;
  return working && o.broker_order_id && read_since_heard(o);
}

// An entry whose fill the positions read would show, asked for after the broker last told its
// state: sent in this life and unanswered, or a market entry at the broker.
bool CoverJudge::in_reach_of(const Order& o) const {
  if (o.type == OrderType::market && resting_unheard_since_read(o)) return true;
  return o.state == OrderState::submitting && o.updated_at >= s_.started_at &&
         read_since_heard(o);
}

// The positions read was asked after the broker last told the order's state, and nothing of
// ours changed the symbol since it was asked.
bool CoverJudge::read_since_heard(const Order& o) const {
  return s_.positions_read.asked_after(last_heard(o)) &&
         !s_.positions_read.changed_since_asked(o.symbol);
}

// Before this life heard of it: the broker's own time of the last state it told. updated_at
// moves with our own audits too: in DST trades seed 23600000032050 a modify's note on the entry
// put it after the restart's positions read (that seed still fails, for the reasons in issue 14).
Timestamp CoverJudge::last_heard(const Order& o) const {
  const auto ax = s_.aux.find(o.id);
  if (ax != s_.aux.end() && ax->second.heard_at) return *ax->second.heard_at;
  return o.broker_updated_at ? std::min(*o.broker_updated_at, o.updated_at) : o.updated_at;
}

bool CoverJudge::market_entry_unfilled(const Order& o) {
  return o.role == OrderRole::entry && o.type == OrderType::market &&
         (o.state == OrderState::new_ || o.state == OrderState::accepted) &&
         o.filled_qty.is_zero() && o.broker_order_id;
}

}  // namespace orderly
