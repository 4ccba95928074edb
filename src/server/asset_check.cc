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

}  // namespace

std::string check_asset_rules(const TradeSpec& spec, const AssetRules& asset) {
  if (!asset.tradable || (!asset.status.empty() && asset.status != "active")) {
    return fmt::format("{} is not tradable at the broker (its asset: tradable {}, status {})",
                       spec.symbol, asset.tradable ? "true" : "false",
                       asset.status.empty() ? "unknown" : asset.status);
  }
  if (std::string e = check_qty(spec, asset); !e.empty()) return e;
  return check_on_increment(spec, asset,
                            {{"entry limit_price", spec.entry_limit_price},
                             {"entry stop_price", spec.entry_stop_price},
                             take_profit_price(spec), stop_loss_price(spec)});
}

std::string check_exit_prices(const TradeSpec& spec, const AssetRules& asset) {
  return check_on_increment(spec, asset, {take_profit_price(spec), stop_loss_price(spec)});
}

}  // namespace orderly::server
