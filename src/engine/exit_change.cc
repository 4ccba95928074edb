#include "engine/exit_change.h"

#include <fmt/format.h>

#include <optional>
#include <utility>

#include "engine/crypto.h"

namespace orderly {

namespace {

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

StatusOr<ExitChangePlanner::Plan> ExitChangePlanner::plan(TradeId id,
                                                          const ExitChange& change) const {
  const Trade* t = s_.ledger.trade(id);
  if (t == nullptr) {
    return Status::error(Status::Code::not_found, fmt::format("no open trade {}", id));
  }
  if (std::string why = refusal_for_state(*t); !why.empty()) {
    return Status::error(Status::Code::conflict, why);
  }
  Plan p;
  p.next = with_change(t->spec, change);
  p.view = view_of(s_.ledger, id);
  const TradeSpec& next = p.next;
  const TradeView& v = p.view;
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
  if (std::string busy = plan_moves(p); !busy.empty()) {
    return Status::error(Status::Code::conflict, busy);
  }
  if (std::string why = lone_stop_blocked(*t, p); !why.empty()) {
    return Status::error(Status::Code::conflict, why);
  }
  return p;
}

// A held position's exits against the last price the broker gave (the positions read, at most
// a sweep old): a take-profit already passed or a stop already crossed would fill at once or be
// refused. Unknown price: the broker judges.
std::string ExitChangePlanner::check_against_market(const TradeSpec& next,
                                                    const TradeView& v) const {
  const Order& entry = s_.ledger.order_at(v.entry);
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
  const BrokerPosition* read = s_.positions_read.find(next.symbol);
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
std::string ExitChangePlanner::plan_moves(Plan& p) const {
  const TradeSpec& next = p.next;
  const TradeView& v = p.view;
  std::string& reshape = p.reshape;
  const Order& entry = s_.ledger.order_at(v.entry);
  const bool holds = v.entry_filled.is_positive();
  std::optional<Decimal> basis = holds ? entry.filled_avg_price : entry.limit_price;
  if (!basis) basis = entry.limit_price ? entry.limit_price : Decimal::from_int(1);
  const std::optional<ExitPrices> prices = exit_prices(next, *basis);
  bool has_tp = false, has_sl = false, bracket_waits = false;
  for (OrderId id : v.all_exits) {
    const Order& x = s_.ledger.order_at(id);
    if (x.role == OrderRole::exit || !working_or_pending(x)) continue;
    const Order* parent = x.parent_order_id ? s_.ledger.order(*x.parent_order_id) : nullptr;
    const bool unsent =
        x.state == OrderState::created &&
        (parent == nullptr ? !x.broker_order_id : parent->state == OrderState::created);
    const auto ax = s_.aux.find(id);
    const bool on_its_way =
        ax != s_.aux.end() && (ax->second.command_outstanding || ax->second.cancel_sent);
    const bool moving = on_its_way || has_pending_replacement(s_.ledger, id) ||
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
    Move m{id, x};
    want_prices(m.want, next, prices, reshape);
    if (!changes_prices(m.want, x)) continue;
    if (!unsent && x.state == OrderState::accepted) {
      reshape = "Alpaca replaces no order it has not routed yet (accepted)";
    } else if (!unsent && x.filled_qty.is_positive()) {
      reshape = "a replace of an order filled in part re-used its original qty (Alpaca-API #165)";
    } else if (s_.wash_priced_exits.count(id)) {
      reshape = "the exit is priced past our own orders (wash-trade check) and is placed again";
    }
    p.moves.push_back(std::move(m));
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
std::string ExitChangePlanner::lone_stop_blocked(const Trade& t, const Plan& p) const {
  const TradeSpec& next = p.next;
  if (p.reshape.empty() || next.has_take_profit() || !next.stop_loss ||
      next.stop_loss->trailing() || is_crypto_symbol(next.symbol)) {
    return {};
  }
  const Side exit_side = next.side == Side::buy ? Side::sell : Side::buy;
  for (OrderId id : s_.ledger.of_symbol(next.symbol)) {
    const Order& o = s_.ledger.order_at(id);
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

// One replace of a trade at a time: an OCO's take-profit and its stop leg replaced at once left
// the group naming orders already replaced (the simulator's replacement of the take-profit took
// the legs it had when asked, and its stop's replacement the parent it had). A replacement waits
// while another of its trade is sent and the order that one replaces has not ended.
bool replace_waits(const Ledger& ledger, const Order& r) {
  for (OrderId id : ledger.of_trade(r.trade_id)) {
    const Order& x = ledger.order_at(id);
    if (id == r.id || !x.replaces_order_id || x.state == OrderState::created ||
        is_terminal(x.state) || x.state == OrderState::parked) {
      continue;
    }
    const Order* old = ledger.order(*x.replaces_order_id);
    if (old != nullptr && !is_terminal(old->state)) return true;
  }
  return false;
}

}  // namespace orderly
