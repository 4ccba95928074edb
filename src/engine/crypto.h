#pragma once
// Crypto pairs (BTC/USD): the two things the engine does differently for them.
//
// Alpaca takes its crypto fee from the asset received (alpaca-api.md §13; alpaca-py #374,
// alpaca-java #148): a buy that filled 1.0 BTC leaves a position of 0.9975. An exit sized to the
// entry's filled qty asks for more than the position holds and is refused with 40310000
// `insufficient qty available` (the project's founding incident). So the coins a crypto buy
// delivered are its fill less the fee at Alpaca's highest rate, 0.25% (its taker fee at the
// first volume tier; the maker fee there is 0.15%, higher tiers pay less), rounded up to the nine
// decimals of a quantity: what the trade holds, what its exit sells and the local ledger all use
// it, so an exit never asks for more than was received. Where the real fee was lower, the
// difference (at most 0.25% of the fill) stays in the account as dust that no trade of orderly
// claims: the ledger does not count it; the fill events' position_qty tell it, and reconciliation
// counts it beside the ledger (positions_reconciler.cc).
//
// Crypto has no market session: it trades 24/7, so no order of it waits for an open and its
// exits are gtc (Alpaca takes gtc or ioc only).

#include <optional>
#include <string_view>

#include "core/decimal.h"
#include "core/trade.h"
#include "core/types.h"

namespace orderly {

inline bool is_crypto_symbol(std::string_view symbol) {
  return symbol.find('/') != std::string_view::npos;
}

inline const Decimal kCryptoFeeAllowance = Decimal::must("0.0025");
inline const Decimal kCryptoQtyIncrement = Decimal::must("0.000000001");

// What a fill of `filled` delivered into the position: the fill itself, except for a crypto buy.
inline Decimal received_qty(std::string_view symbol, Side side, Decimal filled) {
  if (side != Side::buy || !is_crypto_symbol(symbol) || !filled.is_positive()) return filled;
  const Decimal fee = filled.checked_mul(kCryptoFeeAllowance, Rounding::up)
                          .value_or(filled)
                          .round_to(kCryptoQtyIncrement, Rounding::up);
  return filled - fee;
}

// The tif of an order meant for this session only (a flatten, a price made for this moment of
// the book): day, but gtc for crypto, which has no session and takes no day orders.
inline TimeInForce session_tif(std::string_view symbol) {
  return is_crypto_symbol(symbol) ? TimeInForce::gtc : TimeInForce::day;
}

// A crypto stop-loss is a stop_limit (Alpaca takes no plain stop for crypto): once the stop
// triggers, its limit lets it fill up to this far past the stop, rounded to the cent and the
// pair's price_increment (the trade's, when known) away from the market (a sell's limit down, a
// cover's up).
inline constexpr int kCryptoStopLimitPercent = 1;
inline Decimal crypto_stop_limit(Decimal stop, Side exit_side,
                                 const std::optional<Decimal>& price_increment) {
  const bool sell = exit_side == Side::sell;
  const int percent = sell ? -kCryptoStopLimitPercent : kCryptoStopLimitPercent;
  const auto p = stop.add_percent(Decimal::from_int(percent));
  return p ? round_to_tick(*p, sell ? Rounding::down : Rounding::up, price_increment) : stop;
}

}  // namespace orderly
