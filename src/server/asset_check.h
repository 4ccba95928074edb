#pragma once
// A trade against its symbol's asset (core/asset_rules.h), before anything is recorded: what
// Alpaca would refuse for the asset's own reasons is refused first, the rule named.

#include <string>

#include "core/asset_rules.h"
#include "core/trade.h"

namespace orderly::server {

// Checks a trade that validate() took against its symbol's asset: tradable and active. An
// equity: a fractional qty or a notional only if the asset is fractionable (with
// extended_hours only if its attributes say fractional_eh_enabled), a notional of at least
// 1.00, a sell entry that opens a short (`opens_short`: no long of the account covers it) only
// if shortable and easy to borrow, and on a hard-to-borrow
// asset day orders only (entry tif day; exits none, native, or day because fractional). A
// crypto pair: a notional of at least Alpaca's least crypto order value (10 USD) in cents, a
// limit entry worth that at its limit, the entry's qty at least min_order_size and a multiple
// of min_trade_increment, and every price the trade states (entry limit and stop, take-profit
// and stop-loss prices) a multiple of price_increment. A crypto buy's exits sell what it
// received, its qty less Alpaca's highest fee (engine/crypto.h): that too must reach
// min_order_size, or no exit could be placed. A market entry's qty is known only at its fill,
// and a percent target's price only then: those the broker judges. Empty string: nothing to
// refuse.
std::string check_asset_rules(const TradeSpec& spec, const AssetRules& asset,
                              bool opens_short = true);

// A crypto market entry by qty has no price before its fill, and orderly reads no market data:
// judged at `price`, a price of the pair orderly knows (`priced_by` says which and how old), it
// must be worth Alpaca's least crypto order value (10 USD), or it is refused with the figures.
// Anything but a crypto market entry by qty: nothing to refuse (empty string).
std::string check_crypto_market_value(const TradeSpec& spec, Decimal price,
                                      const std::string& priced_by);

// A modify's part of the same: the take-profit and stop-loss prices on the price increment (the
// entry, judged when the trade opened, is not judged again).
std::string check_exit_prices(const TradeSpec& spec, const AssetRules& asset);

}  // namespace orderly::server
