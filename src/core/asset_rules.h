#pragma once
// What the broker's asset says of a symbol's orders (Alpaca's GET /v2/assets/{symbol}). The
// specification's Assets schema gives `min_order_size`, `min_trade_increment` and
// `price_increment` for crypto only ("Field available for crypto only"): an equity's asset
// leaves them unset. The rules that follow from it: server/asset_check.h.

#include <optional>
#include <string>

#include "core/decimal.h"

namespace orderly {

struct AssetRules {
  std::string symbol;
  std::string asset_class;  // "us_equity", "crypto", ...
  std::string status;       // "active" or "inactive"
  bool tradable = true;
  std::optional<Decimal> min_order_size;       // an order's qty at least this
  std::optional<Decimal> min_trade_increment;  // an order's qty a multiple of this
  std::optional<Decimal> price_increment;      // its limit and stop prices multiples of this
};

}  // namespace orderly
