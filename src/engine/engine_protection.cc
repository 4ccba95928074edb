// Engine::Impl, protection (principle 9): each symbol's filled position is watched against the
// exit book; a gap in its cover longer than unprotected_grace_ms is raised as an
// unprotected_position alert, audited on every order involved, and cleared once the position
// is covered again or flat.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <utility>

#include "engine/crypto.h"
#include "engine/engine_impl.h"

namespace orderly {

SymbolBook Engine::Impl::book_of(const std::string& symbol) const {
  SymbolBook book;
  for (OrderId id : ledger_.of_symbol(symbol)) {
    const Order& o = ledger_.order_at(id);
    const Trade* t = ledger_.trade(o.trade_id);
    // An ended trade holds nothing: its fills are no position, though its orders still meet
    // the wash-trade check while they work. Counted, one exit of a pruned trade brought back
    // by a late event (restore_pruned) stood for a position of its own without its entry (DST
    // trades seed 12700000000166: a flatten's +18 hid another trade's naked -18 KO for 8.5 s).
    const bool guarded =
        t == nullptr || (t->spec.exits != ExitMode::none && !is_terminal(t->state));
    const Order* parent = o.parent_order_id ? ledger_.order(*o.parent_order_id) : nullptr;
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
  if (!book.net().is_zero() && oversold_symbols_.count(symbol)) {
    Decimal charged;
    const Side side = book.net().is_positive() ? Side::buy : Side::sell;
    for (const TradeHolding& h : holdings_of(ledger_, symbol, side)) {
      const Trade* t = ledger_.trade(h.trade);
      if (t != nullptr && t->spec.exits != ExitMode::none) charged += h.own - h.held;
    }
    book.take_shortfall(charged);
  }
  return book;
}

bool Engine::Impl::unconfirmed(OrderId id) const {
  const auto ax = aux_.find(id);
  return ax != aux_.end() && ax->second.unconfirmed_since.has_value();
}

// Whether a symbol's position is covered, and if not since when the gap is known to exist.
struct Engine::Impl::Cover {
  SymbolBook book;
  bool ok = true;
  std::optional<Timestamp> began;  // a gap opening now began no later than this
  std::string why;                 // beyond "held, covered": what the engine cannot confirm
};

// `blind`: events may have been lost for longer than the grace (blindness_) and no sweep has
// said what the broker holds since: an exit canceled or expired meanwhile is unknown, so no
// position counts as covered (on main, DST extended seed 9400000000918: the stream down, the
// sweeps timed out for 8 s, an exit canceled meanwhile went unraised). An exit a sweep missed
// covers nothing until the broker answers for it. A gap counts from the broker's last event on
// the symbol: the engine may learn of it only after a restart and answers delayed by seconds
// (seed 9400000002816). An exit the broker's listing leaves out while it works (a held leg,
// alpaca-api.md §2.4, UNCONFIRMED today) is confirmed by its fetch within a call, and its
// group's other order covers meanwhile.
Engine::Impl::Cover Engine::Impl::judge_cover(const std::string& symbol, bool blind) const {
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
  const std::optional<Timestamp> fills_unknown = fills_unknown_since(last_now_);
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
    c.began = blindness_.since();
    date_by_own_records(c, symbol);
    c.why = fmt::format("; events may have been missed since {} ms ago and no sweep of the "
                        "broker's open orders has answered since{}",
                        blindness_.ms(last_now_),
                        unheard_entry ? "; an entry of ours may have filled unheard" : "");
    return c;
  }
  if (unheard_entry) {
    c.ok = false;
    c.began = fills_unknown;
    date_by_own_records(c, symbol);
    c.why = fmt::format("; no fill catch-up has answered for {} ms: an entry of ours at the "
                        "broker may have filled unheard",
                        last_now_.ms_since(*fills_unknown));
    return c;
  }
  c.ok = c.book.is_protected();
  if (c.ok) return c;
  // An exit a sweep found missing ended no later than it went unconfirmed (on_sweep_result:
  // as early as the blindness the sweep ended).
  std::optional<Timestamp> missing_since;
  for (OrderId id : ledger_.of_symbol(symbol)) {
    const auto ax = aux_.find(id);
    if (ax != aux_.end() && ax->second.unconfirmed_since) {
      c.why = "; an exit missing from the broker's open orders is not confirmed";
      if (!missing_since || *ax->second.unconfirmed_since < *missing_since) {
        missing_since = ax->second.unconfirmed_since;
      }
    }
  }
  const std::optional<Timestamp> last =
      protection_.gap_since(symbol) ? std::nullopt : last_broker_event(symbol);
  c.began = protection_check_.with_late_fill(symbol, last);
  if (missing_since && (!c.began || *missing_since < *c.began)) c.began = missing_since;
  return c;
}

// What our own records show uncovered (a fill, no exit placed yet) is a gap since the symbol's
// last event, whatever else the engine suspects (DST trades seed 23600000007897: an exit unsent
// at a crash; the next life dated the gap from an entry of unknown outcome, 2 s later, and
// died 0.4 s short of its grace; 8 s naked over three lives, raised too late).
void Engine::Impl::date_by_own_records(Cover& c, const std::string& symbol) const {
  if (c.book.is_protected()) return;
  const std::optional<Timestamp> known =
      protection_check_.with_late_fill(symbol, last_broker_event(symbol));
  if (known && (!c.began || *known < *c.began)) c.began = known;
}

std::optional<Timestamp> Engine::Impl::fills_unknown_since(Timestamp now) const {
  const Timestamp last = catchup_.last_completed().value_or(started_at_);
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
bool Engine::Impl::entry_may_fill_unheard(const std::string& symbol) const {
  for (OrderId id : ledger_.of_symbol(symbol)) {
    const Order& o = ledger_.order_at(id);
    const Trade* t = ledger_.trade(o.trade_id);
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
const Order* Engine::Impl::entry_that_may_have_filled(const std::string& symbol,
                                                      Decimal net) const {
  const Decimal beyond = positions_read_.qty(symbol) - net;
  for (OrderId id : ledger_.of_symbol(symbol)) {
    const Order& o = ledger_.order_at(id);
    const Trade* t = ledger_.trade(o.trade_id);
    if (o.role != OrderRole::entry || o.parent_order_id || t == nullptr ||
        is_terminal(t->state) || t->spec.exits == ExitMode::none) {
      continue;
    }
    const bool unknown = o.state == OrderState::unknown ||
                         (o.state == OrderState::submitting && o.updated_at < started_at_) ||
                         unfilled_before_this_life(o);
    const bool its_side = o.side == Side::buy ? beyond.is_positive() : beyond.is_negative();
    // Working, it is judged by the read alone: the broker holding more on its side than our
    // known fills is its fill, until the broker says otherwise (ask_entries_beyond asks).
    if (its_side && in_reach_of(o)) return &o;
    if (!unknown && !unconfirmed(id)) continue;
    const bool read_since = positions_read_.asked_after(o.updated_at) &&
                            !positions_read_.changed_since_asked(symbol);
    if (its_side || (!read_since && (unknown || unconfirmed(id)))) return &o;
  }
  return nullptr;
}

// A market entry routed and unfilled as the broker last told it, inflight_check_ms before this
// life began, and not heard of since: its fill was most likely lost (check_inflight's reading),
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
bool Engine::Impl::unfilled_before_this_life(const Order& o) const {
  if (!market_entry_unfilled(o)) return false;
  const bool routed = o.state == OrderState::new_ || is_crypto_symbol(o.symbol) ||
                      (stock_routed_before_start_ && o.broker_updated_at &&
                       *stock_routed_before_start_ > *o.broker_updated_at);
  if (!routed) return false;
  const auto ax = aux_.find(o.id);
  if (ax != aux_.end() && ax->second.heard_at) return false;
  const Timestamp heard = last_heard(o);
  return heard < started_at_.plus_ms(-cfg_.inflight_check_ms) &&
         !positions_read_.asked_after(heard);
}

// Taken from each order the store holds at a start (unfilled_before_this_life).
void Engine::Impl::note_routed_before_start(const Order& o) {
  const bool routed = !o.filled_qty.is_zero() || o.state == OrderState::new_ ||
                      o.state == OrderState::partially_filled;
  if (!routed || is_crypto_symbol(o.symbol) || !o.broker_updated_at) return;
  if (!stock_routed_before_start_ || *o.broker_updated_at > *stock_routed_before_start_) {
    stock_routed_before_start_ = o.broker_updated_at;
  }
}

void Engine::Impl::insert_open_trade_symbols(std::set<std::string>& symbols) const {
  for (const auto& [id, t] : ledger_.trades()) {
    if (!is_terminal(t.state)) symbols.insert(t.spec.symbol);
  }
}

// Symbols touched by this input, and those with a gap open (time alone can push a gap past
// its grace). Neither walks more than the orders of those symbols.
// At most every kProtectionCheckEveryMs (or the grace, when shorter: a grace of 0 asks to
// hear of every gap): a symbol's walk costs as much as applying an event, and a burst of
// events within a few milliseconds changes nothing a grace of seconds could see.
void Engine::Impl::check_protection(Timestamp now) {
  const std::int64_t every = std::min(kProtectionCheckEveryMs, cfg_.unprotected_grace_ms);
  std::optional<ProtectionCheck::Round> round = protection_check_.begin(now, every);
  if (!round) return;
  std::set<std::string>& symbols = round->symbols;
  if (round->first) {
    // After a start: positions loaded from the store are judged before anything touches them.
    // What ended while no process ran is unknown until the start's sweep completes; the
    // lives before this one that ended blind count too (keep_blind_time).
    auto kept = sync_state_.find(std::string(kBlindMs));
    const std::int64_t ms = kept == sync_state_.end() ? 0 : std::atoll(kept->second.c_str());
    const Timestamp since = started_at_.plus_ms(-std::clamp<std::int64_t>(ms, 0, 3'600'000));
    blindness_.at_least_since(since);
    insert_open_trade_symbols(symbols);
    restore_unconfirmed_exits(symbols);
  }
  for (std::string& s : protection_.open_gaps()) symbols.insert(std::move(s));
  const bool blind = blindness_.past(now, cfg_.unprotected_grace_ms);
  const bool fills_unknown = fills_unknown_since(now).has_value();
  // The first look past either judges every open trade's symbol, once.
  const bool newly_unknown = protection_check_.fills_newly_unknown(fills_unknown);
  if (blindness_.newly_past(blind) || newly_unknown) insert_open_trade_symbols(symbols);
  keep_blind_time(now);
  keep_unconfirmed_exits();
  keep_oversold_trades();
  for (const std::string& symbol : symbols) {
    const Cover cover = judge_cover(symbol, blind);
    const SymbolBook& book = cover.book;
    const ProtectionWatch::Result r = protection_.observe(symbol, cover.ok, now, cover.began);
    const bool raised = alerts_.active(AlertKind::unprotected_position, symbol);
    if (cover.ok) {
      if (raised) {
        alerts_.clear(AlertKind::unprotected_position, symbol, now);
        note_gap(symbol,
                 fmt::format("{} protected again after {} ms without cover", symbol, r.gap_ms),
                 r.gap_ms, now);
      }
      continue;
    }
    // Its trades decide again at every check while the gap lasts: one that stopped placing
    // exits (five in a minute all canceled by another client) places the next once the minute
    // has passed, though nothing else touches it (DST seed 9100000000099, extended).
    touch_trades_of(symbol);
    // The alert, not the watch, says whether it was raised: a rolled-back commit takes the
    // alert away while the watch still counts the gap as past its grace.
    if (!raised && r.gap_ms >= cfg_.unprotected_grace_ms) {
      const Decimal net = book.net();
      const Side exit_side = net.is_positive() ? Side::sell : Side::buy;
      const std::string what = fmt::format(
          "{}: {} held, {} covered by working exits at the broker for {} ms (grace {} ms){}",
          symbol, net.str(), book.covered(exit_side).str(), r.gap_ms,
          cfg_.unprotected_grace_ms, cover.why);
      alerts_.raise(AlertKind::unprotected_position, symbol, what, now);
      note_gap(symbol, "unprotected position: " + what, r.gap_ms, now);
    }
  }
  protection_check_.end();
}

// How long the cover has gone unconfirmed is kept in the store, at most kKeepBlindEveryMs
// stale: a process that dies before its start's sweep is answered, again and again, still
// raises the gap once its lives add up to the grace (DST extended seed 9500000001400: four
// lives of 2-3 s, every answer delayed 2.5 s, an exit canceled meanwhile unraised for 8 s).
void Engine::Impl::keep_blind_time(Timestamp now) {
  constexpr std::int64_t kKeepBlindEveryMs = 500;
  const std::int64_t ms = blindness_.ms(now);
  auto it = sync_state_.find(std::string(kBlindMs));
  const std::int64_t kept = it == sync_state_.end() ? 0 : std::atoll(it->second.c_str());
  if (ms == kept || (ms > kept && ms - kept < kKeepBlindEveryMs)) return;
  set_sync(kBlindMs, std::to_string(ms));
}

// The exits a sweep missed, unanswered for yet, kept in the store when the list changed: after a
// crash they cover nothing again until the broker answers for them (DST extended seed
// 20790000000381: an OCO canceled by another client while the engine was down was found
// missing by the next life's sweep; that life crashed 4.2 s into the gap, and the lives after
// it took the OCO as working: 8.2 s of naked AMD, unraised).
void Engine::Impl::keep_unconfirmed_exits() {
  if (!std::exchange(unconfirmed_dirty_, false)) return;
  std::vector<std::string> kept;
  for (const auto& [id, ax] : aux_) {
    if (ax.unconfirmed_since) kept.push_back(fmt::format("{}:{}", id, ax.unconfirmed_since->ns));
  }
  std::sort(kept.begin(), kept.end());
  const std::string value = fmt::format("{}", fmt::join(kept, " "));
  const auto it = sync_state_.find(std::string(kUnconfirmedExits));
  if ((it == sync_state_.end() ? std::string() : it->second) != value) {
    set_sync(kUnconfirmedExits, value);
  }
}

void Engine::Impl::restore_unconfirmed_exits(std::set<std::string>& symbols) {
  const auto it = sync_state_.find(std::string(kUnconfirmedExits));
  if (it == sync_state_.end()) return;
  std::istringstream in(it->second);
  std::string item;
  while (in >> item) {
    const auto colon = item.find(':');
    if (colon == std::string::npos) continue;
    const Order* o = ledger_.order(std::strtoll(item.c_str(), nullptr, 10));
    if (o == nullptr || !o->broker_order_id || !is_open_at_broker(o->state)) continue;
    aux_[o->id].unconfirmed_since = Timestamp{std::strtoll(item.c_str() + colon + 1, nullptr, 10)};
    symbols.insert(o->symbol);
  }
}

// The broker's time of the last event on the symbol's orders of open trades: a gap the engine
// learns of now (its event lost, found by a poll) began no later than that. The grace counts
// from there, so the alert says what the broker saw (DST seed 31048: answers delayed 3 s, the
// alert came 8 s into the gap).
std::optional<Timestamp> Engine::Impl::last_broker_event(const std::string& symbol) const {
  std::optional<Timestamp> last;
  for (OrderId id : ledger_.of_symbol(symbol)) {
    const Order& o = ledger_.order_at(id);
    const Trade* t = ledger_.trade(o.trade_id);
    if (t == nullptr || is_terminal(t->state) || !o.broker_updated_at) continue;
    // An entry that filled nothing moved no share: its news says nothing of the gap (DST
    // trades seed 26200000025582: a life after a crash dated a flatten's gap from a new
    // entry's `new`, 6 s after the exits were canceled, and raised it 400 ms too late).
    if (o.role == OrderRole::entry && o.filled_qty.is_zero()) continue;
    if (!last || *o.broker_updated_at > *last) last = o.broker_updated_at;
  }
  return last;
}

// The audit of a gap: every order that holds the position or should cover it.
void Engine::Impl::note_gap(const std::string& symbol, const std::string& note,
                            std::int64_t gap_ms, Timestamp now) {
  const Timestamp since = now.plus_ms(-gap_ms);
  for (OrderId id : std::vector<OrderId>(ledger_.of_symbol(symbol))) {
    const Order& o = ledger_.order_at(id);
    const Trade* t = ledger_.trade(o.trade_id);
    if (t == nullptr || is_terminal(t->state)) continue;
    const bool holds = o.role == OrderRole::entry && o.filled_qty.is_positive();
    const bool covers = is_exit_role(o.role) &&
                        (working_or_pending(o) || o.updated_at >= since);
    if (!holds && !covers) continue;
    audit(o, o.state, EventSource::intent, note, {}, now);
  }
}

}  // namespace orderly
