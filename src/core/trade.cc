#include "core/trade.h"

#include <fmt/format.h>

namespace orderly {
namespace {

std::string check_price(std::string_view what, Decimal p) {
  if (!p.is_positive()) return fmt::format("{} must be positive, got {}", what, p.str());
  if (p.round_price(Rounding::down) != p) {
    return fmt::format("{} {} has a sub-penny increment (at or above $1.00 the tick is 0.01, "
                       "below it 0.0001)",
                       what, p.str());
  }
  return {};
}

// An exit on the wrong side of the entry's price could only fill at once (a take-profit below
// a buy) or never protect (a stop above a buy); one far beyond kWideExitPercent is most likely
// a typo. A market entry has no price here to judge absolute exits against: the broker does.
std::string check_exit_sides(const TradeSpec& s) {
  const bool buy = s.side == Side::buy;
  const Decimal wide = Decimal::from_int(kWideExitPercent);
  const std::string allow = "; send \"allow_wide\": true if that is meant";
  if (!s.allow_wide && s.take_profit.percent && *s.take_profit.percent > wide) {
    return fmt::format("take_profit percent {} is beyond {}% from the entry{}",
                       s.take_profit.percent->str(), kWideExitPercent, allow);
  }
  if (!s.allow_wide && s.stop_loss && s.stop_loss->percent && *s.stop_loss->percent > wide) {
    return fmt::format("stop_loss percent {} is beyond {}% from the entry{}",
                       s.stop_loss->percent->str(), kWideExitPercent, allow);
  }
  const std::optional<Decimal> ref = s.entry_reference();
  if (!ref) return {};
  const Decimal entry = *ref;
  const std::string side = buy ? "a buy" : "a sell";
  const std::string what = s.entry_limit_price ? "limit" : "stop";
  if (s.take_profit.price &&
      (buy ? *s.take_profit.price <= entry : *s.take_profit.price >= entry)) {
    return fmt::format("take_profit {} must be {} the entry {} {} for {}",
                       s.take_profit.price->str(), buy ? "above" : "below", what, entry.str(),
                       side);
  }
  if (s.stop_loss && s.stop_loss->price &&
      (buy ? *s.stop_loss->price >= entry : *s.stop_loss->price <= entry)) {
    return fmt::format("stop_loss {} must be {} the entry {} {} for {}",
                       s.stop_loss->price->str(), buy ? "below" : "above", what, entry.str(),
                       side);
  }
  if (s.allow_wide) return {};
  const auto hi = entry.add_percent(wide);
  const auto lo = entry.add_percent(-wide);
  auto beyond = [&](Decimal p) { return hi && lo && (p > *hi || p < *lo); };
  if (s.take_profit.price && beyond(*s.take_profit.price)) {
    return fmt::format("take_profit {} is beyond {}% from the entry {} {}{}",
                       s.take_profit.price->str(), kWideExitPercent, what, entry.str(), allow);
  }
  if (s.stop_loss && s.stop_loss->price && beyond(*s.stop_loss->price)) {
    return fmt::format("stop_loss {} is beyond {}% from the entry {} {}{}",
                       s.stop_loss->price->str(), kWideExitPercent, what, entry.str(), allow);
  }
  return {};
}

// A stop_limit entry whose limit lies beyond its stop fills from its stop to its limit: at its
// stop as well. check_exit_sides judges the exits at the limit, where the take-profit is nearest;
// the stop-loss is nearest at the stop: between the two it is already crossed by a fill at the
// stop (a buy's stop-loss above its stop price), and a percent take-profit resolved there may
// cross it, so the OCO sent at the fill is refused ("stop_loss.stop_price must be <= base_price
// - 0.01") and the position waits unprotected. Plain limit and stop entries have one price. A
// market entry has none: its targets meet the fill price first at the engine (README "Trade
// rules").
std::string check_stop_loss_at_the_stop(const TradeSpec& s) {
  if (s.entry_type != OrderType::stop_limit || !s.entry_stop_price || !s.entry_limit_price ||
      !s.stop_loss || !s.stop_loss->price) {
    return {};
  }
  const bool buy = s.side == Side::buy;
  const Decimal stop = *s.entry_stop_price;
  const Decimal sl = *s.stop_loss->price;
  const bool fills_at_stop = buy ? stop <= *s.entry_limit_price : stop >= *s.entry_limit_price;
  if (!fills_at_stop || (buy ? sl < stop : sl > stop)) return {};
  std::string crossing;
  const std::optional<ExitPrices> at_stop = exit_prices(s, stop);
  if (s.take_profit.percent && at_stop && at_stop->take_profit &&
      (buy ? *at_stop->take_profit <= sl : *at_stop->take_profit >= sl)) {
    crossing = fmt::format("; its take_profit {}% resolves to {} there, across the stop-loss",
                           s.take_profit.percent->str(), at_stop->take_profit->str());
  }
  return fmt::format("stop_loss {} must be {} the entry stop {} for {}: the stop_limit entry can "
                     "fill at its stop, where the stop-loss is already crossed{}",
                     sl.str(), buy ? "below" : "above", stop.str(), buy ? "a buy" : "a sell",
                     crossing);
}

std::string check_symbol(const TradeSpec& s) {
  if (s.symbol.empty() || s.symbol.size() > 16) return "symbol must be 1-16 characters";
  for (char c : s.symbol) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '/')) {
      return fmt::format("symbol '{}' must be upper-case letters, digits, '.' or '/'", s.symbol);
    }
  }
  return {};
}

bool is_crypto(const TradeSpec& s) { return s.symbol.find('/') != std::string::npos; }

// Alpaca's rules for crypto orders (alpaca-api.md §2.1 and §13; its crypto orders page: "Market,
// Limit and Stop Limit orders are supported while the supported time_in_force values are gtc,
// and ioc"; the specification's Assets schema: crypto pairs are never shortable or marginable).
// Exits are always emulated: Alpaca takes only simple crypto orders (no bracket, OCO or OTO).
std::string check_crypto(const TradeSpec& s) {
  if (!is_crypto(s)) return {};
  const std::size_t slash = s.symbol.find('/');
  if (slash == 0 || s.symbol.substr(slash) != "/USD") {
    return fmt::format("crypto symbol {} must be a pair against USD such as BTC/USD (orderly "
                       "trades crypto for dollars only)",
                       s.symbol);
  }
  if (s.side != Side::buy) {
    return "a crypto entry must be a buy: Alpaca does not lend crypto, so it cannot be sold short";
  }
  if (s.entry_type == OrderType::stop) {
    return "a crypto entry must be market, limit or stop_limit: Alpaca takes no plain stop order "
           "for crypto";
  }
  if (s.tif != TimeInForce::gtc && s.tif != TimeInForce::ioc) {
    return fmt::format("crypto takes tif gtc or ioc, not {} (Alpaca's rule for crypto orders)",
                       to_string(s.tif));
  }
  if (s.extended_hours) return "crypto trades 24/7: extended_hours does not apply to it";
  if (s.exits == ExitMode::native) {
    return "native exits (bracket) are not taken for crypto at Alpaca (simple orders only): use "
           "emulated exits";
  }
  if (s.trailing_stop()) {
    return "a crypto stop_loss takes stop_price or percent: Alpaca takes no trailing stop for "
           "crypto";
  }
  return {};
}

// The entry's own fields: its size and the prices its type needs (and only those).
std::string check_entry(const TradeSpec& s) {
  if (s.notional) {
    if (!s.qty.is_zero()) return "give qty or notional, not both";
    if (!s.notional->is_positive()) {
      return fmt::format("notional must be positive, got {}", s.notional->str());
    }
  } else if (!s.qty.is_positive()) {
    return fmt::format("qty must be positive, got {}", s.qty.str());
  }
  const OrderType t = s.entry_type;
  if (t != OrderType::market && t != OrderType::limit && t != OrderType::stop &&
      t != OrderType::stop_limit) {
    return "entry type must be market, limit, stop or stop_limit";
  }
  const bool needs_limit = t == OrderType::limit || t == OrderType::stop_limit;
  const bool needs_stop = t == OrderType::stop || t == OrderType::stop_limit;
  const std::string type(to_string(t));
  if (needs_limit && !s.entry_limit_price) return "a " + type + " entry needs entry.limit_price";
  if (needs_stop && !s.entry_stop_price) return "a " + type + " entry needs entry.stop_price";
  if (!needs_limit && s.entry_limit_price) return "a " + type + " entry takes no limit_price";
  if (!needs_stop && s.entry_stop_price) return "a " + type + " entry takes no stop_price";
  if (s.entry_limit_price) {
    if (auto e = check_price("entry limit_price", *s.entry_limit_price); !e.empty()) return e;
  }
  if (s.entry_stop_price) {
    if (auto e = check_price("entry stop_price", *s.entry_stop_price); !e.empty()) return e;
  }
  return {};
}

// What Alpaca refuses of the entry's time in force and size (alpaca-api.md §2.1; fractional
// and notional rules as probed on paper, src/sim/README.md).
std::string check_alpaca_entry_rules(const TradeSpec& s) {
  const OrderType t = s.entry_type;
  const std::string tif(to_string(s.tif));
  if (s.notional && t != OrderType::market) {
    return "a notional entry must be a market order (Alpaca takes notional for market orders "
           "only)";
  }
  if (s.fractional() && s.tif != TimeInForce::day && !is_crypto(s)) {
    return fmt::format("a {} entry needs tif day, not {} (Alpaca: fractional orders must be DAY "
                       "orders)",
                       s.notional ? "notional" : "fractional qty", tif);
  }
  // A fractional qty sell is refused by Engine::open_trade (its own 400): it depends on the
  // position (a sell of what is held would not be a short). A notional sell is never taken.
  if (s.notional && s.side == Side::sell) {
    return "a notional entry cannot be a sell: Alpaca takes notional sells of what is held only, "
           "and orderly's sell entries open shorts";
  }
  if (s.extended_hours && (t != OrderType::limit || s.tif != TimeInForce::day)) {
    return fmt::format("extended_hours needs a limit entry with tif day (Alpaca takes only "
                       "limit day orders outside regular hours), not {} {}",
                       to_string(t), tif);
  }
  if ((s.tif == TimeInForce::opg || s.tif == TimeInForce::cls) &&
      t != OrderType::market && t != OrderType::limit) {
    return fmt::format("tif {} (an auction order) takes a market or limit entry, not {}", tif,
                       to_string(t));
  }
  return {};
}

std::string check_targets(const TradeSpec& s) {
  const PriceTarget& tp = s.take_profit;
  if (tp.trailing()) return "take_profit takes limit_price or percent; trailing is for stop_loss";
  if (tp.is_set() && !tp.valid()) return "take_profit needs exactly one of limit_price or percent";
  if (tp.price) {
    if (auto e = check_price("take_profit limit_price", *tp.price); !e.empty()) return e;
  } else if (tp.percent && !tp.percent->is_positive()) {
    return "take_profit percent must be positive";
  }
  if (!s.stop_loss) return {};
  const PriceTarget& sl = *s.stop_loss;
  if (!sl.valid()) {
    return "stop_loss needs exactly one of stop_price, percent, trail_percent or trail_price";
  }
  const Decimal hundred = Decimal::from_int(100);
  if (sl.price) {
    if (auto e = check_price("stop_loss stop_price", *sl.price); !e.empty()) return e;
  } else if (sl.percent && (!sl.percent->is_positive() || *sl.percent >= hundred)) {
    return "stop_loss percent must be between 0 and 100";
  } else if (sl.trail_percent &&
             (!sl.trail_percent->is_positive() || *sl.trail_percent >= hundred)) {
    return "stop_loss trail_percent must be between 0 and 100";
  } else if (sl.trail_price) {
    if (auto e = check_price("stop_loss trail_price", *sl.trail_price); !e.empty()) return e;
  }
  return {};
}

// Which exits a trade may have, and how they can be placed at Alpaca.
std::string check_exit_shape(const TradeSpec& s) {
  if (s.exits == ExitMode::none) {
    if (s.has_take_profit() || s.stop_loss) {
      return "\"exits\": \"none\" takes no take_profit or stop_loss";
    }
    return {};
  }
  if (!s.has_take_profit() && !s.stop_loss) {
    return "a trade needs a take_profit, a stop_loss or both (or \"exits\": \"none\")";
  }
  if (s.trailing_stop() && s.has_take_profit()) {
    return "a trailing stop_loss cannot be combined with a take_profit: Alpaca takes no "
           "trailing stop in a bracket or OCO, and two exits would hold the same shares";
  }
  if (s.trailing_stop() && s.fractional()) {
    return "a trailing stop_loss needs whole shares: Alpaca takes no fractional trailing stops";
  }
  if (s.exits == ExitMode::native) {
    if (!s.has_take_profit() || !s.stop_loss) {
      return "native exits (bracket) need both take_profit and stop_loss";
    }
    if (s.tif != TimeInForce::day && s.tif != TimeInForce::gtc) {
      return fmt::format("native exits (bracket) need tif day or gtc, not {} (Alpaca's rule)",
                         to_string(s.tif));
    }
    if (s.extended_hours) return "native exits (bracket) cannot be extended_hours at Alpaca";
  }
  if (s.take_profit.price && s.stop_loss && s.stop_loss->price) {
    bool ordered = s.side == Side::buy ? *s.take_profit.price > *s.stop_loss->price
                                       : *s.take_profit.price < *s.stop_loss->price;
    if (!ordered) {
      return s.side == Side::buy ? "take_profit must be above stop_loss for a buy"
                                 : "take_profit must be below stop_loss for a sell";
    }
  }
  return {};
}

}  // namespace

std::string validate(const TradeSpec& s) {
  for (auto check : {check_symbol, check_entry, check_crypto, check_alpaca_entry_rules,
                     check_targets, check_exit_shape, check_exit_sides,
                     check_stop_loss_at_the_stop}) {
    if (std::string e = check(s); !e.empty()) return e;
  }
  return {};
}

std::string_view to_string(TradeState s) {
  switch (s) {
    case TradeState::pending: return "pending";
    case TradeState::open: return "open";
    case TradeState::closing: return "closing";
    case TradeState::closed: return "closed";
    case TradeState::canceled: return "canceled";
    case TradeState::failed: return "failed";
  }
  return "?";
}

std::optional<TradeState> parse_trade_state(std::string_view s) {
  for (auto t : {TradeState::pending, TradeState::open, TradeState::closing, TradeState::closed,
                 TradeState::canceled, TradeState::failed}) {
    if (to_string(t) == s) return t;
  }
  return std::nullopt;
}

Decimal round_to_tick(Decimal price, Rounding r, const std::optional<Decimal>& increment) {
  const Decimal p = price.round_price(r);
  if (!increment || !increment->is_positive()) return p;
  return p.round_to(*increment, r);
}

std::optional<ExitPrices> exit_prices(const TradeSpec& spec, Decimal fill_price) {
  // A spec that fails validate() has no exit prices (rather than dereferencing a missing target).
  if ((spec.take_profit.is_set() && !spec.take_profit.valid()) ||
      (spec.stop_loss && !spec.stop_loss->valid())) {
    return std::nullopt;
  }
  const bool long_entry = spec.side == Side::buy;
  ExitPrices out;
  if (spec.take_profit.price) {
    out.take_profit = *spec.take_profit.price;
  } else if (spec.take_profit.percent) {
    Decimal pct = long_entry ? *spec.take_profit.percent : -*spec.take_profit.percent;
    auto p = fill_price.add_percent(pct);
    if (!p) return std::nullopt;
    out.take_profit =
        round_to_tick(*p, long_entry ? Rounding::up : Rounding::down, spec.price_increment);
  }
  if (spec.stop_loss && spec.stop_loss->price) {
    out.stop_loss = *spec.stop_loss->price;
  } else if (spec.stop_loss && spec.stop_loss->percent) {
    Decimal pct = long_entry ? -*spec.stop_loss->percent : *spec.stop_loss->percent;
    auto p = fill_price.add_percent(pct);
    if (!p) return std::nullopt;
    out.stop_loss =
        round_to_tick(*p, long_entry ? Rounding::down : Rounding::up, spec.price_increment);
  }
  return out;
}

}  // namespace orderly
