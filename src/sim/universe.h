#pragma once
// The simulator's built-in universe: common US symbols with starting prices, so `orderly sim`
// is usable without any set-up. Includes the incident's symbols (OKE, STWD, EPD, ET).

#include <span>
#include <string_view>

namespace orderly::sim {

struct ListedSymbol {
  std::string_view symbol;
  std::string_view price;     // starting last price, a valid Alpaca price
  std::string_view exchange;  // as Alpaca's asset and position objects name it
  std::string_view name;
};

std::span<const ListedSymbol> builtin_universe();
// Crypto pairs, traded 24/7 with Alpaca's crypto rules (exchange "CRYPTO").
std::span<const ListedSymbol> builtin_crypto();

// A crypto pair's sizes as its asset states them (GET /v2/assets/{symbol}: `min_order_size`,
// `min_trade_increment`, `price_increment`, "Field available for crypto only" in the
// specification's Assets schema). Decimal strings.
struct CryptoSizes {
  std::string_view symbol;
  std::string_view min_order_size;
  std::string_view min_trade_increment;
  std::string_view price_increment;
};
// One per builtin_crypto() pair, in the same order.
std::span<const CryptoSizes> builtin_crypto_sizes();

}  // namespace orderly::sim
