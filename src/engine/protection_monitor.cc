#include "engine/protection_monitor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <utility>
#include <vector>

#include "engine/engine_constants.h"
#include "engine/trade_manager.h"

namespace orderly {

void ProtectionMonitor::insert_open_trade_symbols(std::set<std::string>& symbols) const {
  for (const auto& [id, t] : s_.ledger.trades()) {
    if (!is_terminal(t.state)) symbols.insert(t.spec.symbol);
  }
}

// Symbols touched by this input, and those with a gap open (time alone can push a gap past
// its grace). Neither walks more than the orders of those symbols.
// At most every kProtectionCheckEveryMs (or the grace, when shorter: a grace of 0 asks to
// hear of every gap): a symbol's walk costs as much as applying an event, and a burst of
// events within a few milliseconds changes nothing a grace of seconds could see.
void ProtectionMonitor::check(Timestamp now) {
  const std::int64_t every = std::min(kProtectionCheckEveryMs, grace_ms_);
  std::optional<ProtectionCheck::Round> round = s_.check.begin(now, every);
  if (!round) return;
  std::set<std::string>& symbols = round->symbols;
  if (round->first) {
    // After a start: positions loaded from the store are judged before anything touches them.
    insert_open_trade_symbols(symbols);
    restore_unconfirmed_exits(symbols);
  }
  for (std::string& s : s_.watch.open_gaps()) symbols.insert(std::move(s));
  const bool blind = s_.blindness.past(now, grace_ms_);
  const bool fills_unknown = s_.cover.fills_unknown_since(now).has_value();
  // The first look past either judges every open trade's symbol, once.
  const bool newly_unknown = s_.check.fills_newly_unknown(fills_unknown);
  if (s_.blindness.newly_past(blind) || newly_unknown) insert_open_trade_symbols(symbols);
  keep_blind_time(now);
  keep_unconfirmed_exits();
  host_.keep_oversold_trades();
  for (const std::string& symbol : symbols) {
    const CoverJudge::Cover cover = s_.cover.judge(symbol, blind);
    const SymbolBook& book = cover.book;
    const Decimal net = book.net();
    const Side exit_side = net.is_positive() ? Side::sell : Side::buy;
    const ProtectionWatch::Result r =
        s_.watch.observe(symbol, cover.ok, now, cover.began, book.covered(exit_side));
    const bool raised = s_.alerts.active(AlertKind::unprotected_position, symbol);
    if (cover.ok) {
      if (raised) {
        s_.alerts.clear(AlertKind::unprotected_position, symbol, now);
        note_gap(symbol,
                 fmt::format("{} protected again after {} ms without cover", symbol, r.gap_ms),
                 r.gap_ms, now);
      }
      continue;
    }
    // Its trades decide again at every check while the gap lasts: one that stopped placing
    // exits (five in a minute all canceled by another client) places the next once the minute
    // has passed, though nothing else touches it (DST seed 9100000000099, extended).
    host_.touch_trades_of(symbol);
    // The alert, not the watch, says whether it was raised: a rolled-back commit takes the
    // alert away while the watch still counts the gap as past its grace.
    if (!raised && r.gap_ms >= grace_ms_) {
      const std::string what = fmt::format(
          "{}: {} held, {} covered by working exits at the broker for {} ms (grace {} ms){}",
          symbol, net.str(), book.covered(exit_side).str(), r.gap_ms,
          grace_ms_, cover.why);
      s_.alerts.raise(AlertKind::unprotected_position, symbol, what, now);
      note_gap(symbol, "unprotected position: " + what, r.gap_ms, now);
    }
  }
  s_.check.end();
}

// The lives before this one that ended blind count too (keep_blind_time). Carried at the start
// itself, not by the first check: a first input rolled back took it away, the resync after it
// was blind from then only, and that smaller time was kept for the next life (DST extended seed
// 34300000004372: every answer 2.7 s late, lives of 2.4, 0.2 (its one commit failed), 2.6 and
// 2.1 s, an exit canceled elsewhere unraised for 8.2 s).
void ProtectionMonitor::carry_blind_time() {
  auto kept = s_.sync_state.find(std::string(kBlindMs));
  const std::int64_t ms = kept == s_.sync_state.end() ? 0 : std::atoll(kept->second.c_str());
  s_.blindness.at_least_since(s_.started_at.plus_ms(-std::clamp<std::int64_t>(ms, 0, 3'600'000)));
}

// How long the cover has gone unconfirmed is kept in the store, at most kKeepBlindEveryMs
// stale: a process that dies before its start's sweep is answered, again and again, still
// raises the gap once its lives add up to the grace (DST extended seed 9500000001400: four
// lives of 2-3 s, every answer delayed 2.5 s, an exit canceled meanwhile unraised for 8 s).
void ProtectionMonitor::keep_blind_time(Timestamp now) {
  constexpr std::int64_t kKeepBlindEveryMs = 500;
  const std::int64_t ms = s_.blindness.ms(now);
  auto it = s_.sync_state.find(std::string(kBlindMs));
  const std::int64_t kept = it == s_.sync_state.end() ? 0 : std::atoll(it->second.c_str());
  if (ms == kept || (ms > kept && ms - kept < kKeepBlindEveryMs)) return;
  host_.set_sync(kBlindMs, std::to_string(ms));
}

// The exits a sweep missed, unanswered for yet, kept in the store when the list changed: after a
// crash they cover nothing again until the broker answers for them (DST extended seed
// 20790000000381: an OCO canceled by another client while the engine was down was found
// missing by the next life's sweep; that life crashed 4.2 s into the gap, and the lives after
// it took the OCO as working: 8.2 s of naked AMD, unraised).
void ProtectionMonitor::keep_unconfirmed_exits() {
  if (!std::exchange(unconfirmed_dirty_, false)) return;
  std::vector<std::string> kept;
  for (const auto& [id, ax] : s_.aux) {
    if (ax.unconfirmed_since) kept.push_back(fmt::format("{}:{}", id, ax.unconfirmed_since->ns));
  }
  std::sort(kept.begin(), kept.end());
  const std::string value = fmt::format("{}", fmt::join(kept, " "));
  const auto it = s_.sync_state.find(std::string(kUnconfirmedExits));
  if ((it == s_.sync_state.end() ? std::string() : it->second) != value) {
    host_.set_sync(kUnconfirmedExits, value);
  }
}

void ProtectionMonitor::restore_unconfirmed_exits(std::set<std::string>& symbols) {
  const auto it = s_.sync_state.find(std::string(kUnconfirmedExits));
  if (it == s_.sync_state.end()) return;
  std::istringstream in(it->second);
  std::string item;
  while (in >> item) {
    const auto colon = item.find(':');
    if (colon == std::string::npos) continue;
    const Order* o = s_.ledger.order(std::strtoll(item.c_str(), nullptr, 10));
    if (o == nullptr || !o->broker_order_id || !is_open_at_broker(o->state)) continue;
    s_.aux[o->id].unconfirmed_since =
        Timestamp{std::strtoll(item.c_str() + colon + 1, nullptr, 10)};
    symbols.insert(o->symbol);
  }
}

// The audit of a gap: every order that holds the position or should cover it.
void ProtectionMonitor::note_gap(const std::string& symbol, const std::string& note,
                            std::int64_t gap_ms, Timestamp now) {
  const Timestamp since = now.plus_ms(-gap_ms);
  for (OrderId id : std::vector<OrderId>(s_.ledger.of_symbol(symbol))) {
    const Order& o = s_.ledger.order_at(id);
    const Trade* t = s_.ledger.trade(o.trade_id);
    if (t == nullptr || is_terminal(t->state)) continue;
    const bool holds = o.role == OrderRole::entry && o.filled_qty.is_positive();
    const bool covers = o.role != OrderRole::entry &&
                        (working_or_pending(o) || o.updated_at >= since);
    if (!holds && !covers) continue;
    host_.audit_gap(o, note, now);
  }
}

}  // namespace orderly
