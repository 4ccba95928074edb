#include "engine/release.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "engine/admission.h"

namespace orderly {

// An entry released in the last minute whose trade has no exit sent yet: its fill will need
// a slot of the budget for the exit at once.
bool CommandRelease::awaits_first_exit(OrderId entry_id) const {
  const Order* e = s_.ledger.order(entry_id);
  if (e == nullptr) return false;
  const Trade* t = s_.ledger.trade(e->trade_id);
  if (t == nullptr || is_terminal(t->state) || t->spec.exits == ExitMode::native) return false;
  if (is_terminal(e->state) && e->filled_qty.is_zero()) return false;
  for (OrderId id : s_.ledger.of_trade(e->trade_id)) {
    const Order& o = s_.ledger.order_at(id);
    if (o.role == OrderRole::entry || o.parent_order_id) continue;
    const auto ax = s_.aux.find(id);
    if (ax != s_.aux.end() && ax->second.sent_at) return false;
  }
  return true;
}

// Slots new entries and reads leave free for the exits of entries released within the last
// minute (issue 14: with 300 trades opened at once, entries took the whole window and exits
// of filled positions reached the broker up to 120 s after the fill).
std::int64_t CommandRelease::exit_reserve(Timestamp now) {
  std::int64_t n = 0;
  for (const auto& [at, id] : budget_.entry_releases(now)) n += awaits_first_exit(id) ? 1 : 0;
  return n;
}

// A replace queued to grow an exit whose order filled in part (or ended) before the request
// left: the broker would count the whole new qty against what is left (DST seed 901335: a
// 40310000 to our own order).
bool CommandRelease::replace_overtaken(const Command& c) const {
  if (c.kind != CommandKind::replace) return false;
  const Order* o = s_.ledger.order(c.order_id);
  const Order* old = o && o->replaces_order_id ? s_.ledger.order(*o->replaces_order_id) : nullptr;
  return old != nullptr && (!old->filled_qty.is_zero() || !is_open_at_broker(old->state));
}

// An entry judged against our opposite orders when it was queued (entry_path_clear) and
// still waiting for the budget: exits placed meanwhile would meet it in Alpaca's wash-trade
// check, and the refusal costs a call and the cancel of every opposite order of ours (DST
// trades seed 23000000008498: two market buys queued 83 s, refused against the exits of nine
// trades placed meanwhile).
// A stand-in (priced one tick inside our opposite orders when it was queued) whose price they no
// longer call for is judged again too: sent, it rested off the market and was canceled at once
// for a new entry that waited for the budget again, three calls and a new order each time
// (DST trades seed 33100000005017: entries stood in at 69.17 sent a minute later with our
// sells at 72, each canceled on arrival, and a busy minute kept the last one queued 40 s).
bool CommandRelease::entry_overtaken(const Command& c) const {
  if (c.kind != CommandKind::submit) return false;
  const Order* o = s_.ledger.order(c.order_id);
  if (o == nullptr || o->role != OrderRole::entry || o->order_class != OrderClass::simple ||
      o->broker_order_id) {
    return false;
  }
  const SymbolBook book = s_.cover.book_of(o->symbol);
  if (!book.wash_blockers(o->side, o->type, o->limit_price).empty()) return true;
  return is_stand_in(s_.ledger, *o) &&
         stand_in_outdated(s_.ledger, s_.aux, s_.clearing, book, *o).has_value();
}

// The order queued commands are released in: their priority (CommandPriority), with two moves.
// While the stream is down or suspect the sweep is how exits canceled or expired at the broker
// are learned. Once none has answered for the protection grace it goes before new entries,
// under their ceiling (fits): behind them it never got a slot while entries waited for the
// budget (30-minute soak: 229 positions covered at the broker raised unprotected_position,
// "no sweep of the broker's open orders has answered since"). And a catch-up page within its
// share takes its turn among the lookups (the order they were staged in): ranked behind them,
// every slot a full window freed went to a lookup first.
void CommandRelease::sort_queue(const RateBudget::Limits& l, Timestamp now) {
  const bool sweep_first =
      s_.cadence.stream_suspect(now) &&
      (!s_.sweep.last_completed() ||
       now.ms_since(*s_.sweep.last_completed()) >= cfg_.unprotected_grace_ms);
  auto rank = [&](const Command& c) {
    if (sweep_first && c.priority == CommandPriority::sweep) {
      return 2 * static_cast<int>(CommandPriority::entry) - 1;
    }
    if (c.priority == CommandPriority::catch_up &&
        budget_.paced_catchup(c.id == s_.catchup_first_page, l, now)) {
      return 2 * static_cast<int>(CommandPriority::lookup);
    }
    return 2 * static_cast<int>(c.priority);
  };
  std::stable_sort(outbox_.queue().begin(), outbox_.queue().end(),
                   [&](const Command& a, const Command& b) { return rank(a) < rank(b); });
}

CommandRelease::Released CommandRelease::take(Timestamp now) {
  Released out;
  if (outbox_.queued() == 0) return out;
  const RateBudget::Limits l = budget_.limits();
  sort_queue(l, now);
  RateBudget::Round round;
  round.used = budget_.own_calls_last_minute(now);
  round.outside = budget_.outside_calls();
  round.stream_suspect = s_.cadence.stream_suspect(now);
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
      out.trading = true;
    }
    round.reserve = reserve.value_or(0);
    round.inflight = outbox_.inflight();
    const bool paced = budget_.paced_catchup(c.id == s_.catchup_first_page, l, now);
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
    if (c.kind == CommandKind::submit && s_.ledger.order(c.order_id) != nullptr &&
        s_.ledger.order_at(c.order_id).role == OrderRole::entry) {
      budget_.note_entry_release(c.order_id, now);
      // A protective entry (clears_its_way) may go before the reserve is first computed.
      if (reserve) *reserve += awaits_first_exit(c.order_id) ? 1 : 0;
    }
    if (c.kind == CommandKind::submit || c.kind == CommandKind::replace) host_.note_sent(c, now);
    out.commands.push_back(std::move(c));
  }
  outbox_.queue() = std::move(keep);
  return out;
}


}  // namespace orderly
