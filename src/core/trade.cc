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

// An exit on the wrong side of the entry's limit could only fill at once (a take-profit below
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
  if (!s.entry_limit_price) return {};
  const Decimal entry = *s.entry_limit_price;
  const std::string side = buy ? "a buy" : "a sell";
  if (s.take_profit.price &&
      (buy ? *s.take_profit.price <= entry : *s.take_profit.price >= entry)) {
    return fmt::format("take_profit {} must be {} the entry limit {} for {}",
                       s.take_profit.price->str(), buy ? "above" : "below", entry.str(), side);
  }
  if (s.stop_loss && s.stop_loss->price &&
      (buy ? *s.stop_loss->price >= entry : *s.stop_loss->price <= entry)) {
    return fmt::format("stop_loss {} must be {} the entry limit {} for {}",
                       s.stop_loss->price->str(), buy ? "below" : "above", entry.str(), side);
  }
  if (s.allow_wide) return {};
  const auto hi = entry.add_percent(wide);
  const auto lo = entry.add_percent(-wide);
  auto beyond = [&](Decimal p) { return hi && lo && (p > *hi || p < *lo); };
  if (s.take_profit.price && beyond(*s.take_profit.price)) {
    return fmt::format("take_profit {} is beyond {}% from the entry limit {}{}",
                       s.take_profit.price->str(), kWideExitPercent, entry.str(), allow);
  }
  if (s.stop_loss && s.stop_loss->price && beyond(*s.stop_loss->price)) {
    return fmt::format("stop_loss {} is beyond {}% from the entry limit {}{}",
                       s.stop_loss->price->str(), kWideExitPercent, entry.str(), allow);
  }
  return {};
}

}  // namespace

std::string validate(const TradeSpec& s) {
  if (s.symbol.empty() || s.symbol.size() > 16) return "symbol must be 1-16 characters";
  for (char c : s.symbol) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '/')) {
      return fmt::format("symbol '{}' must be upper-case letters, digits, '.' or '/'", s.symbol);
    }
  }
  if (!s.qty.is_positive()) return fmt::format("qty must be positive, got {}", s.qty.str());
  if (s.entry_type != OrderType::market && s.entry_type != OrderType::limit) {
    return "entry type must be market or limit";
  }
  if (s.entry_type == OrderType::limit) {
    if (!s.entry_limit_price) return "a limit entry needs limit_price";
    if (auto e = check_price("entry limit_price", *s.entry_limit_price); !e.empty()) return e;
  } else if (s.entry_limit_price) {
    return "a market entry takes no limit_price";
  }
  if (!s.qty.is_integer() && (s.entry_type != OrderType::market || s.tif != TimeInForce::day)) {
    return "fractional qty is only allowed for market orders with time_in_force day";
  }
  if (!s.take_profit.valid()) return "take_profit needs exactly one of limit_price or percent";
  if (s.take_profit.price) {
    if (auto e = check_price("take_profit limit_price", *s.take_profit.price); !e.empty()) return e;
  } else if (!s.take_profit.percent->is_positive()) {
    return "take_profit percent must be positive";
  }
  if (s.stop_loss) {
    if (!s.stop_loss->valid()) return "stop_loss needs exactly one of stop_price or percent";
    if (s.stop_loss->price) {
      if (auto e = check_price("stop_loss stop_price", *s.stop_loss->price); !e.empty()) return e;
    } else if (!s.stop_loss->percent->is_positive() ||
               *s.stop_loss->percent >= Decimal::from_int(100)) {
      return "stop_loss percent must be between 0 and 100";
    }
  }
  if (s.take_profit.price && s.stop_loss && s.stop_loss->price) {
    bool ordered = s.side == Side::buy ? *s.take_profit.price > *s.stop_loss->price
                                       : *s.take_profit.price < *s.stop_loss->price;
    if (!ordered) {
      return s.side == Side::buy ? "take_profit must be above stop_loss for a buy"
                                 : "take_profit must be below stop_loss for a sell";
    }
  }
  if (std::string e = check_exit_sides(s); !e.empty()) return e;
  if (s.exits == ExitMode::native && !s.stop_loss) {
    return "native exits (bracket) need both take_profit and stop_loss";
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

std::optional<ExitPrices> exit_prices(const TradeSpec& spec, Decimal fill_price) {
  // A spec that fails validate() has no exit prices (rather than dereferencing a missing target).
  if (!spec.take_profit.valid() || (spec.stop_loss && !spec.stop_loss->valid())) {
    return std::nullopt;
  }
  const bool long_entry = spec.side == Side::buy;
  ExitPrices out;
  if (spec.take_profit.price) {
    out.take_profit = *spec.take_profit.price;
  } else {
    Decimal pct = long_entry ? *spec.take_profit.percent : -*spec.take_profit.percent;
    auto p = fill_price.add_percent(pct);
    if (!p) return std::nullopt;
    out.take_profit = p->round_price(long_entry ? Rounding::up : Rounding::down);
  }
  if (spec.stop_loss) {
    if (spec.stop_loss->price) {
      out.stop_loss = *spec.stop_loss->price;
    } else {
      Decimal pct = long_entry ? -*spec.stop_loss->percent : *spec.stop_loss->percent;
      auto p = fill_price.add_percent(pct);
      if (!p) return std::nullopt;
      out.stop_loss = p->round_price(long_entry ? Rounding::down : Rounding::up);
    }
  }
  return out;
}

}  // namespace orderly
