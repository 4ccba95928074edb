#pragma once
// What the broker's asset says of a symbol's orders (Alpaca's GET /v2/assets/{symbol}). The
// specification's Assets schema gives `min_order_size`, `min_trade_increment` and
// `price_increment` for crypto only ("Field available for crypto only"): an equity's asset
// leaves them unset. `fractionable`, `shortable` and `borrow_status` are what Alpaca refuses an
// equity's fractional, notional and short orders by. The rules that follow: server/asset_check.h.

#include <optional>
#include <string>

#include "core/decimal.h"

namespace orderly {

struct AssetRules {
  std::string symbol;
  std::string asset_class;  // "us_equity", "crypto", ...
  std::string status;       // "active" or "inactive"
  bool tradable = true;
  bool fractionable = true;  // fractional qty and notional orders taken
  bool shortable = true;     // may be sold short at all
  // Fractional orders taken in extended hours: its attributes list "fractional_eh_enabled"
  // (true when the asset states no attributes).
  bool fractional_eh = true;
  // "easy_to_borrow" or "hard_to_borrow": the asset's borrow_status, else its deprecated
  // easy_to_borrow flag (sunset 2026-09-22 in the specification); empty when it says neither.
  std::string borrow_status;
  std::optional<Decimal> min_order_size;       // an order's qty at least this
  std::optional<Decimal> min_trade_increment;  // an order's qty a multiple of this
  std::optional<Decimal> price_increment;      // its limit and stop prices multiples of this
};

}  // namespace orderly
