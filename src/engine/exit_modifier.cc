// ExitModifier: changing a trade's exits after it opened (PATCH /api/trades/ID, issue 17 item 5),
// carried out as ExitChangePlanner (exit_change.h) planned it. The trade takes the new targets
// (written with the trade row: both stores keep every target column, so a restart knows them),
// then each exit follows:
//  - not sent yet (the legs of a bracket whose entry waits, an exit waiting for holdings):
//    changed in place;
//  - working at the broker (new, or a held leg): replaced, PATCH /v2/orders/{id} with the new
//    price, as a replacement row sent by the submitter like any other order. The old order
//    covers the position until the broker has replaced it: no moment without an exit;
//  - where Alpaca takes no replace: an order still `accepted` (not routed, §2.8), one filled in
//    part (a replace re-used the original qty, Alpaca-API #165), an exit priced past our own
//    orders (wash-trade check), a change of shape (an exit added or removed, a stop becoming a
//    trailing stop or trailing otherwise: no replace changes an order's type): its group is
//    canceled and the trade places its exits again from the new targets once the broker
//    confirms (step_trade -> ensure_exits). The cover lapses for that round trip.
// Every step is recorded before it is sent, so a restart resumes it: a replacement is a row the
// submitter sends (or resolves, if it may have left); a cancel is named in kModifyCancels and
// asked for until its group ends (resume_modify_cancels).
// Before the entry fills nothing else is needed: the exits are made from the targets at the fill.
#include <fmt/format.h>

#include <charconv>
#include <set>
#include <string_view>

#include "engine/exit_modifier.h"
#include "engine/lookups.h"
#include "engine/trade_executor.h"
#include "engine/transaction.h"

namespace orderly {

namespace {

std::set<OrderId> parse_ids(std::string_view text) {
  std::set<OrderId> out;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find(' '), text.size());
    OrderId id = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + end, id);
    if (ec == std::errc() && ptr == text.data() + end) out.insert(id);
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return out;
}

const std::string& value_of(const std::map<std::string, std::string>& sync, std::string_view key) {
  static const std::string kNone;
  const auto it = sync.find(std::string(key));
  return it == sync.end() ? kNone : it->second;
}

std::string join_ids(const std::set<OrderId>& ids) {
  std::string out;
  for (OrderId id : ids) out += (out.empty() ? "" : " ") + std::to_string(id);
  return out;
}

}  // namespace

StatusOr<ExitChangePlanner::Plan> ExitModifier::plan(TradeId id, const ExitChange& change) {
  StatusOr<ExitChangePlanner::Plan> planned = exit_changes_.plan(id, change);
  if (!planned.ok()) return planned;
  const ExitChangePlanner::Plan& plan = planned.value();
  // A stop left alone, moved or made alone before the fill: our other trades' resting entries
  // must leave it a price to pass them at (admission.h, refuse_unprotectable_pair).
  const Order& entry = s_.ledger.order_at(plan.view.entry);
  if (std::string why = s_.admission.refuse_unprotectable_pair(
          plan.next, id, working_or_pending(entry) ? std::nullopt : entry.filled_avg_price);
      !why.empty()) {
    return Status::error(Status::Code::conflict, why);
  }
  return planned;
}

void ExitModifier::modify_exits(TradeId id, const ExitChangePlanner::Plan& plan, Timestamp now) {
  const TradeSpec& next = plan.next;
  const TradeView& v = plan.view;
  Trade& m = tx_.mut_trade(id);
  const std::string was = describe_exits(m.spec);
  m.spec.take_profit = next.take_profit;
  m.spec.stop_loss = next.stop_loss;
  m.spec.price_increment = next.price_increment;
  m.note = fmt::format("exits modified: {} (was {})", describe_exits(next), was);
  const std::string why = m.note;
  if (!plan.reshape.empty()) {
    for (OrderId x : v.all_exits) cancel_exit_group(x, why + "; " + plan.reshape, now);
  } else {
    int generation = next_generation(s_.ledger, v, /*flatten=*/false);
    for (const ExitChangePlanner::Move& move : plan.moves) move_exit(m, move, generation, now);
  }
  if (plan.moves.empty() && plan.reshape.empty()) {
    tx_.audit(s_.ledger.order_at(v.entry), s_.ledger.order_at(v.entry).state, EventSource::intent,
              why + (v.entry_filled.is_positive() ? "" : "; the exits are made at the fill"), {},
              now);
  }
  s_.touched_trades.insert(id);
}

// A replacement row for an exit at the broker, or the unsent exit changed in place.
void ExitModifier::move_exit(const Trade& t, const ExitChangePlanner::Move& m, int& generation,
                             Timestamp now) {
  const Order& x = s_.ledger.order_at(m.id);
  const std::string from = describe_price(x), to = describe_price(m.want);
  if (x.state == OrderState::created) {
    Order& o = tx_.mut_order(m.id);
    o.limit_price = m.want.limit_price;
    o.stop_price = m.want.stop_price;
    o.trail_price = m.want.trail_price;
    o.trail_percent = m.want.trail_percent;
    tx_.audit(o, o.state, EventSource::intent,
              fmt::format("exits modified before this order was sent: {} -> {}", from, to), {},
              now);
    return;
  }
  Order r = trades_.make_order(t, x.role, generation++, x.side, x.type, x.qty, now);
  r.tif = x.tif;
  r.order_class = x.order_class;
  r.limit_price = m.want.limit_price;
  r.stop_price = x.type == OrderType::trailing_stop ? x.stop_price : m.want.stop_price;
  r.trail_price = m.want.trail_price;
  r.trail_percent = m.want.trail_percent;
  r.replaces_order_id = m.id;
  const std::string old_cid = x.client_order_id;
  tx_.audit(x, x.state, EventSource::intent,
            fmt::format("exits modified: replace {} -> {} (it covers the position until the broker "
                        "has replaced it)",
                        from, to),
            {}, now);
  trades_.record_new(std::move(r),
                     fmt::format("exits modified: replaces {} ({} -> {})", old_cid, from, to), now);
}

// Cancels the group an exit belongs to (an OCO goes by its parent, a bracket's legs by
// themselves once the entry is done); an unsent one ends here. False when nothing is to go.
bool ExitModifier::cancel_exit_group(OrderId id, const std::string& why, Timestamp now) {
  const Order& x = s_.ledger.order_at(id);
  if (x.role == OrderRole::exit || !working_or_pending(x)) return false;
  if (x.state == OrderState::created && !x.broker_order_id) {
    if (!x.parent_order_id || never_sent(s_.ledger.order_at(*x.parent_order_id))) {
      tx_.set_local_state(id, OrderState::canceled, EventSource::intent, "not sent: " + why, {},
                          now);
      return true;
    }
  }
  OrderId target = id;
  if (x.parent_order_id && s_.ledger.order_at(*x.parent_order_id).role != OrderRole::entry) {
    target = *x.parent_order_id;
  }
  const Order& g = s_.ledger.order_at(target);
  if (!g.broker_order_id || !is_open_at_broker(g.state)) return false;
  // A cancel of it already under way (asked again after a 429, DST trades seed
  // 23500000071380) may be given up by what asked for it (a wash-priced exit found right):
  // the modify's own need is recorded all the same, else its new prices were never placed.
  if (s_.aux[target].cancel_sent || s_.retries.cancel_waits(target) ||
      g.state == OrderState::pending_cancel) {
    tx_.audit(g, g.state, EventSource::intent,
              why + "; a cancel of it is under way already: placed again once the broker confirms",
              {}, now);
  } else {
    trades_.request_cancel(target, why + "; canceled, placed again once the broker confirms", now);
  }
  std::set<OrderId> ids = parse_ids(value_of(s_.sync_state, kModifyCancels));
  if (ids.insert(target).second) tx_.set_sync(kModifyCancels, join_ids(ids));
  return true;
}

// The cancel is recorded with the modify (kModifyCancels) and asked for until the group ends:
// a crash before the DELETE left, or a cancel the broker did not answer, would otherwise leave
// the old exits working and the new ones never placed (nothing else knows they must go).
void ExitModifier::resume_modify_cancels(Timestamp now) {
  const std::string& text = value_of(s_.sync_state, kModifyCancels);
  if (text.empty()) return;
  const std::set<OrderId> ids = parse_ids(text);
  std::set<OrderId> keep;
  for (OrderId id : ids) {
    const Order* o = s_.ledger.order(id);
    if (o == nullptr || !working_or_pending(*o)) continue;  // the group ended: done
    keep.insert(id);
    if (o->broker_order_id && is_open_at_broker(o->state) &&
        o->state != OrderState::pending_cancel && !s_.aux[id].cancel_sent &&
        !s_.retries.cancel_waits(id)) {
      trades_.request_cancel(id, "exits modified: the cancel of this exit group is asked again",
                             now);
    }
  }
  if (keep != ids) tx_.set_sync(kModifyCancels, join_ids(keep));
}

// A refusal that names the order's state ("order is in \"accepted\" state and cannot be
// replaced", "already in \"filled\" state"): the exit is canceled and placed again from the
// trade's targets (a filled one is found filled by the cancel's answer, and nothing is placed
// for a position that is gone). Any other refusal of a modify's replace (its price, a rule the
// engine could not know): the old exit keeps working, and the trade says so (keep_working_exit).
bool ExitModifier::on_replace_refused(OrderId id, const BrokerError& e, Timestamp now) {
  const Order& r = s_.ledger.order_at(id);
  if (!r.replaces_order_id) return false;
  const Order* old = s_.ledger.order(*r.replaces_order_id);
  if (old == nullptr || !changes_prices(r, *old)) return false;  // a grow: the usual handling
  const Order* parent = old->parent_order_id ? s_.ledger.order(*old->parent_order_id) : nullptr;
  // A leg of a bracket whose entry works is never canceled: the cancel would take the entry too.
  const bool bracket_waits =
      parent != nullptr && parent->role == OrderRole::entry && !is_terminal(parent->state);
  if (e.http_status != 422 || e.message.find("state") == std::string::npos || bracket_waits) {
    keep_working_exit(r, *old, e, now);
    return true;
  }
  const OrderId old_id = old->id;
  tx_.set_local_state(id, OrderState::submit_failed, EventSource::error,
                      "replace refused: " + e.describe() +
                          "; the exit is canceled and placed again at the new prices",
                      e.body, now);
  if (!cancel_exit_group(old_id, "exits modified, its replace refused", now)) {
    lookups_.stage_refresh(old_id, now, /*force=*/true);
  }
  s_.touched_trades.insert(r.trade_id);
  return true;
}

// The broker refused a modify's replace and the old exit works on: the trade's target for that
// exit goes back to what works, so its view never shows the refused price as if working; its
// note, the replacement's state (submit_failed, last_error) and the audit say what was refused.
void ExitModifier::keep_working_exit(const Order& r, const Order& old, const BrokerError& e,
                                     Timestamp now) {
  const std::string kept = describe_price(old);
  const std::string old_cid = old.client_order_id;
  const OrderId id = r.id, old_id = old.id;
  const TradeId tid = r.trade_id;
  tx_.mut_order(id).last_error = e.describe();
  tx_.set_local_state(
      id, OrderState::submit_failed, EventSource::error,
      fmt::format("replace refused: {}; {} keeps working at {}", e.describe(), old_cid, kept),
      e.body, now);
  const Order& o = s_.ledger.order_at(old_id);
  tx_.audit(o, o.state, EventSource::error,
            fmt::format("exits modified, its replace refused by the broker: it keeps working at {}",
                        kept),
            e.body, now);
  Trade& t = tx_.mut_trade(tid);
  const std::string asked = describe_exits(t.spec);
  if (o.role == OrderRole::take_profit) {
    t.spec.take_profit = PriceTarget{.price = o.limit_price};
  } else if (o.type == OrderType::trailing_stop) {
    t.spec.stop_loss = PriceTarget{.trail_percent = o.trail_percent, .trail_price = o.trail_price};
  } else {
    t.spec.stop_loss = PriceTarget{.price = o.stop_price};
  }
  t.note = fmt::format("exits modify refused by the broker ({}): working {} (asked {})",
                       e.describe(), describe_exits(t.spec), asked);
  lookups_.stage_refresh(old_id, now, /*force=*/true);
  s_.touched_trades.insert(tid);
}

}  // namespace orderly
