#include "server/asset_check.h"

#include <fmt/format.h>

#include <initializer_list>
#include <utility>

#include "engine/crypto.h"

namespace orderly::server {
namespace {

bool off_increment(Decimal value, const std::optional<Decimal>& increment) {
  return increment && increment->is_positive() &&
         value.round_to(*increment, Rounding::down) != value;
}

// The least qty whose coins after the fee reach `min`, on the asset's quantity increment.
Decimal min_buy_for(const TradeSpec& s, const AssetRules& a) {
  const Decimal min = *a.min_order_size;
  const Decimal step = a.min_trade_increment && a.min_trade_increment->is_positive()
                           ? *a.min_trade_increment
                           : kCryptoQtyIncrement;
  Decimal q = min.checked_div(Decimal::from_int(1) - kCryptoFeeAllowance, Rounding::up)
                  .value_or(min)
                  .round_to(step, Rounding::up);
  while (received_qty(s.symbol, s.side, q) < min) q += step;
  return q;
}

std::string check_qty(const TradeSpec& s, const AssetRules& a) {
  if (s.notional) return {};
  if (a.min_order_size && s.qty < *a.min_order_size) {
    return fmt::format("qty {} is below {}'s minimum order size {} (the broker's asset: "
                       "min_order_size)",
                       s.qty.str(), s.symbol, a.min_order_size->str());
  }
  if (off_increment(s.qty, a.min_trade_increment)) {
    return fmt::format("qty {} is not a multiple of {}'s quantity increment {} (the broker's "
                       "asset: min_trade_increment)",
                       s.qty.str(), s.symbol, a.min_trade_increment->str());
  }
  const Decimal received = received_qty(s.symbol, s.side, s.qty);
  if (s.exits != ExitMode::none && a.min_order_size && received < *a.min_order_size) {
    // 0.25%: kCryptoFeeAllowance, Alpaca's highest crypto fee.
    return fmt::format("qty {} of {} leaves {} after the fee of up to 0.25% taken in coins, "
                       "below the minimum order size {}: its exits could not be placed (buy at "
                       "least {}, or send \"exits\": \"none\")",
                       s.qty.str(), s.symbol, received.str(), a.min_order_size->str(),
                       min_buy_for(s, a).str());
  }
  return {};
}

using NamedPrice = std::pair<const char*, std::optional<Decimal>>;

std::string check_on_increment(const TradeSpec& s, const AssetRules& a,
                               std::initializer_list<NamedPrice> prices) {
  for (const auto& [what, price] : prices) {
    if (price && off_increment(*price, a.price_increment)) {
      return fmt::format("{} {} is not a multiple of {}'s price increment {} (the broker's "
                         "asset: price_increment)",
                         what, price->str(), s.symbol, a.price_increment->str());
    }
  }
  return {};
}

NamedPrice take_profit_price(const TradeSpec& s) {
  return {"take_profit limit_price", s.take_profit.price};
}
NamedPrice stop_loss_price(const TradeSpec& s) {
  return {"stop_loss stop_price", s.stop_loss ? s.stop_loss->price : std::nullopt};
}

// Alpaca's minimums of an order's value, which no asset states. An equity's notional: 422
// 42210000 "notional amount must be >= 1.00" (probed on paper by several users, 2026). A crypto
// order: 403 40310000 "cost basis must be >= minimal amount of order 10" (paper accounts, logged
// by several users in 2026; live accounts were once documented at 1). A crypto notional is
// taken to the cent (42210000 beyond it, one user's log).
const Decimal kEquityMinNotional = Decimal::must("1.00");
const Decimal kCryptoMinOrderValue = Decimal::must("10");

std::string check_crypto_notional(const TradeSpec& s) {
  if (!s.notional) return {};
  if (*s.notional < kCryptoMinOrderValue) {
    return fmt::format("notional {} of {} is below Alpaca's least crypto order value, {} USD "
                       "(the broker answers \"cost basis must be >= minimal amount of order "
                       "{}\"; it is not in the asset)",
                       s.notional->str(), s.symbol, kCryptoMinOrderValue.str(),
                       kCryptoMinOrderValue.str());
  }
  if (s.notional->round_to(Decimal::must("0.01"), Rounding::down) != *s.notional) {
    return fmt::format("notional {} of {} is not in whole cents (Alpaca takes a crypto notional "
                       "to the cent)",
                       s.notional->str(), s.symbol);
  }
  return {};
}

std::string below_least_value(const TradeSpec& s, const std::string& at, Decimal value) {
  return fmt::format("qty {} of {} {} is worth {} USD, below Alpaca's least crypto order value, "
                     "{} USD (the broker answers \"cost basis must be >= minimal amount of order "
                     "{}\"; it is not in the asset)",
                     s.qty.str(), s.symbol, at,
                     value.round_to(Decimal::must("0.01"), Rounding::down).str(),
                     kCryptoMinOrderValue.str(), kCryptoMinOrderValue.str());
}

// A limit (or stop_limit) entry's value is known before it is sent: its qty at its limit.
std::string check_crypto_limit_value(const TradeSpec& s) {
  if (s.notional || !s.entry_limit_price) return {};
  const auto value = s.qty.checked_mul(*s.entry_limit_price);
  if (!value || *value >= kCryptoMinOrderValue) return {};
  return below_least_value(s, "at its limit " + s.entry_limit_price->str(), *value);
}

std::string what_is_fractional(const TradeSpec& s) {
  return s.notional ? "notional " + s.notional->str() + " USD" : "fractional qty " + s.qty.str();
}

// A short entry (a sell no long covers): the asset must be shortable, and easy to borrow: Alpaca
// opens a short on a hard-to-borrow asset only against a locate (its locates API), which
// orderly does not take. A sell within a held long closes it: no asset rule of shorts applies.
std::string check_short(const TradeSpec& s, const AssetRules& a, bool opens_short) {
  if (s.side != Side::sell || !opens_short) return {};
  if (!a.shortable) {
    return fmt::format("{} cannot be sold short at the broker (its asset: shortable false), and "
                       "a sell entry opens a short (Alpaca: asset \"{}\" cannot be sold short)",
                       s.symbol, s.symbol);
  }
  if (a.borrow_status == "hard_to_borrow") {
    return fmt::format("{} is hard to borrow at the broker (its asset: borrow_status "
                       "hard_to_borrow): Alpaca opens a short on it only against a locate, which "
                       "orderly does not take (Alpaca: asset \"{}\" cannot be sold short)",
                       s.symbol, s.symbol);
  }
  return {};
}

// On a hard-to-borrow asset Alpaca takes day orders only ("only day orders are allowed for
// hard-to-borrow asset", 422 42210000, users' logs of 2026: gtc stops and take-profits of a long
// refused). A trade's whole-share exits are gtc, so they could never be placed.
std::string check_hard_to_borrow(const TradeSpec& s, const AssetRules& a) {
  if (a.borrow_status != "hard_to_borrow") return {};
  const std::string rule = fmt::format(
      "{} is hard to borrow at the broker (its asset: borrow_status hard_to_borrow), and Alpaca "
      "takes only day orders on it (Alpaca: only day orders are allowed for hard-to-borrow "
      "asset \"{}\")",
      s.symbol, s.symbol);
  if (s.tif != TimeInForce::day) {
    return fmt::format("{}: this entry is tif {}", rule, to_string(s.tif));
  }
  if (s.exits == ExitMode::emulated && !s.fractional()) {
    return rule + ": this trade's exits would be gtc (whole-share exits are); send \"exits\": "
                  "\"none\", native exits (a day bracket) or a fractional qty (day exits)";
  }
  return {};
}

std::string check_equity(const TradeSpec& s, const AssetRules& a, bool opens_short) {
  if (s.fractional() && !a.fractionable) {
    return fmt::format("{} is not fractionable at the broker (its asset: fractionable false), "
                       "so a {} entry is refused there (Alpaca: asset \"{}\" is not "
                       "fractionable); trade whole shares",
                       s.symbol, what_is_fractional(s), s.symbol);
  }
  if (s.extended_hours && s.fractional() && !a.fractional_eh) {
    return fmt::format("{} takes no fractional orders in extended hours at the broker (its "
                       "asset's attributes lack fractional_eh_enabled), so a {} entry with "
                       "extended_hours is refused there; trade whole shares, or without "
                       "extended_hours",
                       s.symbol, what_is_fractional(s));
  }
  if (s.notional && *s.notional < kEquityMinNotional) {
    return fmt::format("notional {} of {} is below Alpaca's least notional, {} USD (Alpaca: "
                       "notional amount must be >= 1.00)",
                       s.notional->str(), s.symbol, kEquityMinNotional.str());
  }
  if (std::string e = check_short(s, a, opens_short); !e.empty()) return e;
  return check_hard_to_borrow(s, a);
}

bool is_crypto(const TradeSpec& s, const AssetRules& a) {
  return a.asset_class == "crypto" || is_crypto_symbol(s.symbol);
}

}  // namespace

std::string check_asset_rules(const TradeSpec& spec, const AssetRules& asset, bool opens_short) {
  if (!asset.tradable || (!asset.status.empty() && asset.status != "active")) {
    return fmt::format("{} is not tradable at the broker (its asset: tradable {}, status {}; "
                       "Alpaca: asset \"{}\" is not tradable)",
                       spec.symbol, asset.tradable ? "true" : "false",
                       asset.status.empty() ? "unknown" : asset.status, spec.symbol);
  }
  if (!is_crypto(spec, asset)) return check_equity(spec, asset, opens_short);
  if (std::string e = check_crypto_notional(spec); !e.empty()) return e;
  if (std::string e = check_qty(spec, asset); !e.empty()) return e;
  if (std::string e = check_crypto_limit_value(spec); !e.empty()) return e;
  return check_on_increment(spec, asset,
                            {{"entry limit_price", spec.entry_limit_price},
                             {"entry stop_price", spec.entry_stop_price},
                             take_profit_price(spec), stop_loss_price(spec)});
}

std::string check_crypto_market_value(const TradeSpec& spec, Decimal price,
                                      const std::string& priced_by) {
  if (!is_crypto_symbol(spec.symbol) || spec.notional || spec.entry_type != OrderType::market) {
    return {};
  }
  const auto value = spec.qty.checked_mul(price);
  if (!value || *value >= kCryptoMinOrderValue) return {};
  return below_least_value(spec, "at about " + price.str() + " (" + priced_by + ")", *value);
}

std::string check_exit_prices(const TradeSpec& spec, const AssetRules& asset) {
  return check_on_increment(spec, asset, {take_profit_price(spec), stop_loss_price(spec)});
}

}  // namespace orderly::server
