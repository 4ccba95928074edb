// Engine::Impl, changing a trade's exits after it opened (PATCH /api/trades/ID, issue 17 item 5).
// The trade takes the new targets (written with the trade row: both stores keep every target
// column, so a restart knows them), then each exit follows:
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

#include "engine/crypto.h"
#include "engine/engine_impl.h"

namespace orderly {

namespace engine_internal {

bool changes_prices(const Order& n, const Order& old) {
  const bool trailing = n.type == OrderType::trailing_stop;
  return n.limit_price != old.limit_price || (!trailing && n.stop_price != old.stop_price) ||
         n.trail_price != old.trail_price || n.trail_percent != old.trail_percent;
}

void add_price_changes(ReplaceRequest& r, const Order& n, const Order& old) {
  // A modify keeps the qty: left out of the PATCH, which takes whole shares only ("You can only
  // patch full shares for now", PatchOrderRequest): a crypto or fractional exit's qty in it was
  // refused (DST trades seed 9800000000167: BTC/USD 0.0179, 422 "qty must be a positive whole
  // number"), and the old stop kept working while the trade showed the new one.
  if (r.qty == old.qty && changes_prices(n, old)) r.qty.reset();
  if (n.limit_price && n.limit_price != old.limit_price) r.limit_price = n.limit_price;
  if (n.type != OrderType::trailing_stop && n.stop_price && n.stop_price != old.stop_price) {
    r.stop_price = n.stop_price;
  }
  if (n.trail_price && n.trail_price != old.trail_price) r.trail = n.trail_price;
  if (n.trail_percent && n.trail_percent != old.trail_percent) r.trail = n.trail_percent;
}

}  // namespace engine_internal

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

std::string refusal_for_state(const Trade& t) {
  if (is_terminal(t.state)) {
    return fmt::format("trade {} is {}: its exits can no longer change", t.id,
                       to_string(t.state));
  }
  if (t.state == TradeState::closing) {
    return fmt::format("trade {} is closing (a cancel or close was asked for): its exits can no "
                       "longer change",
                       t.id);
  }
  if (t.spec.exits == ExitMode::none) {
    return fmt::format("trade {} was opened with \"exits\": \"none\": it has no exits to change",
                       t.id);
  }
  return {};
}

// Before the fill a target in percent follows the fill price, which a limit or stop entry only
// bounds on one side: with the other target a price, the two can cross at the fill (DST trades
// seed 9800000000476: take-profit +1.94% of a fill below its 28.69 limit came out under the new
// stop 28.44; the OCO was refused and the position stood without an exit).
std::string refuse_mixed_targets(const TradeSpec& s) {
  if (!s.has_take_profit() || !s.stop_loss || s.stop_loss->trailing() ||
      s.take_profit.price.has_value() == s.stop_loss->price.has_value()) {
    return {};
  }
  return "before the entry fills, give take_profit and stop_loss both as prices or both as "
         "percents: a percent target follows the fill price and could cross a price target";
}

TradeSpec with_change(const TradeSpec& spec, const ExitChange& c) {
  TradeSpec next = spec;
  if (c.remove_take_profit) {
    next.take_profit = PriceTarget{};
  } else if (c.take_profit) {
    next.take_profit = *c.take_profit;
  }
  if (c.remove_stop_loss) {
    next.stop_loss.reset();
  } else if (c.stop_loss) {
    next.stop_loss = *c.stop_loss;
  }
  next.allow_wide = c.allow_wide;
  if (!next.price_increment) next.price_increment = c.price_increment;
  return next;
}

std::string describe_exits(const TradeSpec& s) {
  std::string out;
  if (s.take_profit.price) out = "take-profit " + s.take_profit.price->str();
  if (s.take_profit.percent) out = "take-profit +" + s.take_profit.percent->str() + "%";
  if (!s.stop_loss) return out.empty() ? "no exits" : out;
  const PriceTarget& sl = *s.stop_loss;
  if (!out.empty()) out += ", ";
  if (sl.price) out += "stop " + sl.price->str();
  if (sl.percent) out += "stop -" + sl.percent->str() + "%";
  if (sl.trail_price) out += "trailing stop " + sl.trail_price->str() + " behind";
  if (sl.trail_percent) out += "trailing stop " + sl.trail_percent->str() + "% behind";
  return out;
}

std::string describe_price(const Order& o) {
  if (o.trail_price) return "trail " + o.trail_price->str();
  if (o.trail_percent) return "trail " + o.trail_percent->str() + "%";
  const std::optional<Decimal> p = o.type == OrderType::limit ? o.limit_price : o.stop_price;
  return p ? p->str() : std::string("market");
}

// The prices `want` (an exit as it is) takes from the new targets; `reshape` says why no
// replace can get it there (a removed exit, a change of order type).
void want_prices(Order& want, const TradeSpec& next, const std::optional<ExitPrices>& prices,
                 std::string& reshape) {
  if (want.role == OrderRole::take_profit) {
    if (!prices || !prices->take_profit) reshape = "the take-profit is removed";
    if (prices) want.limit_price = prices->take_profit;
  } else if (!next.stop_loss) {
    reshape = "the stop-loss is removed";
  } else if (want.type == OrderType::trailing_stop) {
    const bool by_price = want.trail_price.has_value();
    want.trail_price = next.stop_loss->trail_price;
    want.trail_percent = next.stop_loss->trail_percent;
    if (!next.stop_loss->trailing() || by_price != want.trail_price.has_value()) {
      reshape = "the stop-loss changes type (Alpaca replaces no order's type or trail kind)";
    }
  } else if (next.stop_loss->trailing()) {
    reshape = "the stop-loss becomes a trailing stop (Alpaca replaces no order's type)";
  } else if (prices && prices->stop_loss) {
    want.stop_price = prices->stop_loss;
    // A crypto stop is a stop_limit whose limit follows its stop (engine/crypto.h).
    if (want.type == OrderType::stop_limit) {
      want.limit_price = crypto_stop_limit(*prices->stop_loss, want.side, next.price_increment);
    }
  }
}

}  // namespace

// One exit and what it becomes.
struct Engine::Impl::ExitMove {
  OrderId id = 0;
  Order want;  // the exit with its new prices
};

Status Engine::Impl::modify_exits(TradeId id, const ExitChange& change, Timestamp now) {
  const Trade* t = ledger_.trade(id);
  if (t == nullptr) {
    return Status::error(Status::Code::not_found, fmt::format("no open trade {}", id));
  }
  if (std::string why = refusal_for_state(*t); !why.empty()) {
    return Status::error(Status::Code::conflict, why);
  }
  const TradeSpec next = with_change(t->spec, change);
  const TradeView v = view_of(ledger_, id);
  if (v.entry == 0) {
    return Status::error(Status::Code::conflict, fmt::format("trade {} has no entry", id));
  }
  // Validated as a new trade would be; once something is held the exits are judged against
  // the market rather than the entry's price (a stop moved to break-even or beyond is fine).
  TradeSpec judged = next;
  if (v.entry_filled.is_positive()) {
    judged.entry_type = OrderType::market;
    judged.entry_limit_price.reset();
    judged.entry_stop_price.reset();
    judged.extended_hours = false;
  }
  std::string err = validate(judged);
  if (err.empty() && v.entry_filled.is_positive()) err = check_against_market(next, v);
  if (err.empty() && !v.entry_filled.is_positive()) err = refuse_mixed_targets(next);
  if (!err.empty()) return Status::error(Status::Code::invalid_argument, err);
  std::vector<ExitMove> moves;
  std::string reshape;
  if (std::string busy = plan_exit_moves(next, v, moves, reshape); !busy.empty()) {
    return Status::error(Status::Code::conflict, busy);
  }
  if (std::string why = lone_stop_blocked(*t, next, reshape); !why.empty()) {
    return Status::error(Status::Code::conflict, why);
  }
  // A stop left alone, moved or made alone before the fill: our other trades' resting entries
  // must leave it a price to pass them at (engine_trades.cc, refuse_unprotectable_pair).
  const Order& entry = ledger_.order_at(v.entry);
  if (std::string why = refuse_unprotectable_pair(
          next, id, working_or_pending(entry) ? std::nullopt : entry.filled_avg_price);
      !why.empty()) {
    return Status::error(Status::Code::conflict, why);
  }
  begin();
  Trade& m = mut_trade(id);
  const std::string was = describe_exits(m.spec);
  m.spec.take_profit = next.take_profit;
  m.spec.stop_loss = next.stop_loss;
  m.spec.price_increment = next.price_increment;
  m.note = fmt::format("exits modified: {} (was {})", describe_exits(next), was);
  const std::string why = m.note;
  if (!reshape.empty()) {
    for (OrderId x : v.all_exits) cancel_exit_group(x, why + "; " + reshape, now);
  } else {
    int generation = next_generation(ledger_, v, /*flatten=*/false);
    for (const ExitMove& move : moves) move_exit(m, move, generation, now);
  }
  if (moves.empty() && reshape.empty()) {
    audit(ledger_.order_at(v.entry), ledger_.order_at(v.entry).state, EventSource::intent,
          why + (v.entry_filled.is_positive() ? "" : "; the exits are made at the fill"), {},
          now);
  }
  touched_trades_.insert(id);
  run_submitter(now);
  return finish(now);
}

// A held position's exits against the last price the broker gave (the positions read, at most
// a sweep old): a take-profit already passed or a stop already crossed would fill at once or be
// refused. Unknown price: the broker judges.
std::string Engine::Impl::check_against_market(const TradeSpec& next, const TradeView& v) const {
  const Order& entry = ledger_.order_at(v.entry);
  std::optional<Decimal> basis = entry.filled_avg_price ? entry.filled_avg_price
                                                        : entry.limit_price;
  if (!basis) basis = Decimal::from_int(1);  // absolute targets need none
  const std::optional<ExitPrices> prices = exit_prices(next, *basis);
  if (!prices) return {};
  const bool held_long = next.side == Side::buy;
  const std::string position = held_long ? "a long position" : "a short position";
  // A percent target is resolved at the fill price: the pair is judged as the OCO would be
  // (DST trades seed 9800000001345: a short's new stop 1.03 under its take-profit 2.63% below
  // the fill; the OCO was refused after its take-profit alone had been canceled).
  if (prices->take_profit && prices->stop_loss &&
      (held_long ? *prices->take_profit <= *prices->stop_loss
                 : *prices->take_profit >= *prices->stop_loss)) {
    return fmt::format("take_profit {} must be {} stop_loss {} for {} (as filled at {})",
                       prices->take_profit->str(), held_long ? "above" : "below",
                       prices->stop_loss->str(), position, basis->str());
  }
  const BrokerPosition* read = positions_read_.find(next.symbol);
  if (read == nullptr || !read->current_price) return {};
  const Decimal market = *read->current_price;
  if (prices->take_profit &&
      (held_long ? *prices->take_profit <= market : *prices->take_profit >= market)) {
    return fmt::format("take_profit {} must be {} the market {} for {} (it would fill at once)",
                       prices->take_profit->str(), held_long ? "above" : "below", market.str(),
                       position);
  }
  if (prices->stop_loss &&
      (held_long ? *prices->stop_loss >= market : *prices->stop_loss <= market)) {
    return fmt::format("stop_loss {} must be {} the market {} for {} (a stop already crossed "
                       "would sell at once)",
                       prices->stop_loss->str(), held_long ? "below" : "above", market.str(),
                       position);
  }
  return {};
}

// What each working exit becomes; `reshape` says why the exits must be placed again instead.
// A non-empty answer: the exits are changing at the broker right now, ask again.
std::string Engine::Impl::plan_exit_moves(const TradeSpec& next, const TradeView& v,
                                          std::vector<ExitMove>& moves, std::string& reshape) {
  const Order& entry = ledger_.order_at(v.entry);
  const bool holds = v.entry_filled.is_positive();
  std::optional<Decimal> basis = holds ? entry.filled_avg_price : entry.limit_price;
  if (!basis) basis = entry.limit_price ? entry.limit_price : Decimal::from_int(1);
  const std::optional<ExitPrices> prices = exit_prices(next, *basis);
  bool has_tp = false, has_sl = false, bracket_waits = false;
  for (OrderId id : v.all_exits) {
    const Order& x = ledger_.order_at(id);
    if (x.role == OrderRole::exit || !working_or_pending(x)) continue;
    const Order* parent = x.parent_order_id ? ledger_.order(*x.parent_order_id) : nullptr;
    const bool unsent =
        x.state == OrderState::created &&
        (parent == nullptr ? !x.broker_order_id : parent->state == OrderState::created);
    const bool moving = aux_[id].command_outstanding || aux_[id].cancel_sent ||
                        has_pending_replacement(ledger_, id) ||
                        (x.state != OrderState::created && is_local(x.state)) ||
                        x.state == OrderState::pending_new ||
                        x.state == OrderState::pending_replace ||
                        x.state == OrderState::pending_cancel ||
                        (x.state == OrderState::created && !unsent);
    if (moving) {
      return fmt::format("trade {}'s exit {} is {} (on its way to or changing at the broker): "
                         "ask again in a moment",
                         x.trade_id, x.client_order_id, to_string(x.state));
    }
    // Canceling a leg of a bracket whose entry is still working cancels the entry with it.
    bracket_waits = bracket_waits || (parent != nullptr && parent->role == OrderRole::entry &&
                                      !is_terminal(parent->state));
    has_tp = has_tp || x.role == OrderRole::take_profit;
    has_sl = has_sl || x.role == OrderRole::stop_loss;
    ExitMove m{id, x};
    want_prices(m.want, next, prices, reshape);
    if (!changes_prices(m.want, x)) continue;
    if (!unsent && x.state == OrderState::accepted) {
      reshape = "Alpaca replaces no order it has not routed yet (accepted)";
    } else if (!unsent && x.filled_qty.is_positive()) {
      reshape = "a replace of an order filled in part re-used its original qty (Alpaca-API #165)";
    } else if (wash_priced_exits_.count(id)) {
      reshape = "the exit is priced past our own orders (wash-trade check) and is placed again";
    }
    moves.push_back(std::move(m));
  }
  // A held whole-share position takes every exit its targets name (a fractional one takes one).
  const bool found_any = has_tp || has_sl;
  if (found_any && v.entry_filled.is_integer() &&
      ((prices && prices->take_profit && !has_tp) || (next.stop_loss && !has_sl))) {
    reshape = "an exit is added";
  }
  if (!reshape.empty() && bracket_waits) {
    return fmt::format("trade {}'s bracket holds its exits with the entry until it fills: {}, "
                       "which cannot be done before the fill; cancel the trade and open it again",
                       entry.trade_id, reshape);
  }
  return {};
}

// Alpaca's wash-trade check refuses a simple stop while any opposite-side order of the account
// works on the symbol; only bracket, OCO and trailing-stop orders are exempt (alpaca-api.md §5).
// A change that cancels the exits to place the stop-loss alone would leave the position with no
// exit the broker takes (DST extended seed 9800000000015: an OCO's take-profit removed while
// another trade's buy limit rested; its lone stop was refused for minutes). Refused instead.
std::string Engine::Impl::lone_stop_blocked(const Trade& t, const TradeSpec& next,
                                            const std::string& reshape) const {
  if (reshape.empty() || next.has_take_profit() || !next.stop_loss ||
      next.stop_loss->trailing() || is_crypto_symbol(next.symbol)) {
    return {};
  }
  const Side exit_side = next.side == Side::buy ? Side::sell : Side::buy;
  for (OrderId id : ledger_.of_symbol(next.symbol)) {
    const Order& o = ledger_.order_at(id);
    if (o.side == exit_side || !working_or_pending(o) || never_sent(o) ||
        (o.parent_order_id && o.state == OrderState::held)) {
      continue;  // not at the broker, or not at its check (an inactive leg is not)
    }
    return fmt::format("trade {}'s stop-loss alone would be a simple stop order, which Alpaca's "
                       "wash-trade check refuses while our {} order {} (trade {}) works on {} "
                       "(only bracket, OCO and trailing-stop orders are exempt): keep a "
                       "take-profit, make the stop a trailing stop, or change it once that "
                       "order is gone",
                       t.id, to_string(o.side), o.client_order_id, o.trade_id, next.symbol);
  }
  return {};
}

// A replacement row for an exit at the broker, or the unsent exit changed in place.
void Engine::Impl::move_exit(const Trade& t, const ExitMove& m, int& generation, Timestamp now) {
  const Order& x = ledger_.order_at(m.id);
  const std::string from = describe_price(x), to = describe_price(m.want);
  if (x.state == OrderState::created) {
    Order& o = mut_order(m.id);
    o.limit_price = m.want.limit_price;
    o.stop_price = m.want.stop_price;
    o.trail_price = m.want.trail_price;
    o.trail_percent = m.want.trail_percent;
    audit(o, o.state, EventSource::intent,
          fmt::format("exits modified before this order was sent: {} -> {}", from, to), {}, now);
    return;
  }
  Order r = make_order(t, x.role, generation++, x.side, x.type, x.qty, now);
  r.tif = x.tif;
  r.order_class = x.order_class;
  r.limit_price = m.want.limit_price;
  r.stop_price = x.type == OrderType::trailing_stop ? x.stop_price : m.want.stop_price;
  r.trail_price = m.want.trail_price;
  r.trail_percent = m.want.trail_percent;
  r.replaces_order_id = m.id;
  const std::string old_cid = x.client_order_id;
  audit(x, x.state, EventSource::intent,
        fmt::format("exits modified: replace {} -> {} (it covers the position until the broker "
                    "has replaced it)",
                    from, to),
        {}, now);
  record_new(std::move(r), fmt::format("exits modified: replaces {} ({} -> {})", old_cid, from, to),
             now);
}

// One replace of a trade at a time: an OCO's take-profit and its stop leg replaced at once left
// the group naming orders already replaced (the simulator's replacement of the take-profit took
// the legs it had when asked, and its stop's replacement the parent it had). A replacement waits
// while another of its trade is sent and the order that one replaces has not ended.
bool Engine::Impl::replace_waits(const Order& r) {
  for (OrderId id : ledger_.of_trade(r.trade_id)) {
    const Order& x = ledger_.order_at(id);
    if (id == r.id || !x.replaces_order_id || x.state == OrderState::created ||
        is_terminal(x.state) || x.state == OrderState::parked) {
      continue;
    }
    const Order* old = ledger_.order(*x.replaces_order_id);
    if (old != nullptr && !is_terminal(old->state)) return true;
  }
  return false;
}

// Cancels the group an exit belongs to (an OCO goes by its parent, a bracket's legs by
// themselves once the entry is done); an unsent one ends here. False when nothing is to go.
bool Engine::Impl::cancel_exit_group(OrderId id, const std::string& why, Timestamp now) {
  const Order& x = ledger_.order_at(id);
  if (x.role == OrderRole::exit || !working_or_pending(x)) return false;
  if (x.state == OrderState::created && !x.broker_order_id) {
    if (!x.parent_order_id || never_sent(ledger_.order_at(*x.parent_order_id))) {
      set_local_state(id, OrderState::canceled, EventSource::intent, "not sent: " + why, {}, now);
      return true;
    }
  }
  OrderId target = id;
  if (x.parent_order_id && ledger_.order_at(*x.parent_order_id).role != OrderRole::entry) {
    target = *x.parent_order_id;
  }
  const Order& g = ledger_.order_at(target);
  if (!g.broker_order_id || !is_open_at_broker(g.state)) return false;
  // A cancel of it already under way (asked again after a 429, DST trades seed
  // 23500000071380) may be given up by what asked for it (a wash-priced exit found right):
  // the modify's own need is recorded all the same, else its new prices were never placed.
  if (aux_[target].cancel_sent || retries_.cancel_waits(target) ||
      g.state == OrderState::pending_cancel) {
    audit(g, g.state, EventSource::intent,
          why + "; a cancel of it is under way already: placed again once the broker confirms",
          {}, now);
  } else {
    request_cancel(target, why + "; canceled, placed again once the broker confirms", now);
  }
  std::set<OrderId> ids = parse_ids(value_of(sync_state_, kModifyCancels));
  if (ids.insert(target).second) set_sync(kModifyCancels, join_ids(ids));
  return true;
}

// The cancel is recorded with the modify (kModifyCancels) and asked for until the group ends:
// a crash before the DELETE left, or a cancel the broker did not answer, would otherwise leave
// the old exits working and the new ones never placed (nothing else knows they must go).
void Engine::Impl::resume_modify_cancels(Timestamp now) {
  const std::string& text = value_of(sync_state_, kModifyCancels);
  if (text.empty()) return;
  const std::set<OrderId> ids = parse_ids(text);
  std::set<OrderId> keep;
  for (OrderId id : ids) {
    const Order* o = ledger_.order(id);
    if (o == nullptr || !working_or_pending(*o)) continue;  // the group ended: done
    keep.insert(id);
    if (o->broker_order_id && is_open_at_broker(o->state) &&
        o->state != OrderState::pending_cancel && !aux_[id].cancel_sent &&
        !retries_.cancel_waits(id)) {
      request_cancel(id, "exits modified: the cancel of this exit group is asked again", now);
    }
  }
  if (keep != ids) set_sync(kModifyCancels, join_ids(keep));
}

// A refusal that names the order's state ("order is in \"accepted\" state and cannot be
// replaced", "already in \"filled\" state"): the exit is canceled and placed again from the
// trade's targets (a filled one is found filled by the cancel's answer, and nothing is placed
// for a position that is gone). Any other refusal of a modify's replace (its price, a rule the
// engine could not know): the old exit keeps working, and the trade says so (keep_working_exit).
bool Engine::Impl::on_replace_refused(OrderId id, const BrokerError& e, Timestamp now) {
  const Order& r = ledger_.order_at(id);
  if (!r.replaces_order_id) return false;
  const Order* old = ledger_.order(*r.replaces_order_id);
  if (old == nullptr || !changes_prices(r, *old)) return false;  // a grow: the usual handling
  const Order* parent = old->parent_order_id ? ledger_.order(*old->parent_order_id) : nullptr;
  // A leg of a bracket whose entry works is never canceled: the cancel would take the entry too.
  const bool bracket_waits =
      parent != nullptr && parent->role == OrderRole::entry && !is_terminal(parent->state);
  if (e.http_status != 422 || e.message.find("state") == std::string::npos || bracket_waits) {
    keep_working_exit(r, *old, e, now);
    return true;
  }
  const OrderId old_id = old->id;
  set_local_state(id, OrderState::submit_failed, EventSource::error,
                  "replace refused: " + e.describe() +
                      "; the exit is canceled and placed again at the new prices",
                  e.body, now);
  if (!cancel_exit_group(old_id, "exits modified, its replace refused", now)) {
    stage_refresh(old_id, now, /*force=*/true);
  }
  touched_trades_.insert(r.trade_id);
  return true;
}

// The broker refused a modify's replace and the old exit works on: the trade's target for that
// exit goes back to what works, so its view never shows the refused price as if working; its
// note, the replacement's state (submit_failed, last_error) and the audit say what was refused.
void Engine::Impl::keep_working_exit(const Order& r, const Order& old, const BrokerError& e,
                                     Timestamp now) {
  const std::string kept = describe_price(old);
  const std::string old_cid = old.client_order_id;
  const OrderId id = r.id, old_id = old.id;
  const TradeId tid = r.trade_id;
  mut_order(id).last_error = e.describe();
  set_local_state(id, OrderState::submit_failed, EventSource::error,
                  fmt::format("replace refused: {}; {} keeps working at {}", e.describe(),
                              old_cid, kept),
                  e.body, now);
  const Order& o = ledger_.order_at(old_id);
  audit(o, o.state, EventSource::error,
        fmt::format("exits modified, its replace refused by the broker: it keeps working at {}",
                    kept),
        e.body, now);
  Trade& t = mut_trade(tid);
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
  stage_refresh(old_id, now, /*force=*/true);
  touched_trades_.insert(tid);
}

}  // namespace orderly
