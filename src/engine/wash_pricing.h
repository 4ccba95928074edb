#pragma once
// Exits priced past our own opposite orders (issue 21: out of Engine::Impl). Alpaca refuses an
// order that could cross an opposite-side open order of the same account ("potential wash
// trade", 40310000; alpaca-api.md §5): a market order or a plain stop against any, a limit
// against a crossing limit; complex orders (our OCO exits, brackets) are exempt. An exit that
// goes alone (a flatten, a take-profit or a stop alone, a fractional or crypto position's) takes
// a price one tick past the most aggressive of our opposite limits, and back its own price once
// they go. These read the ledger and decide the price; the engine keeps which exits stand off
// their own price and steps them back (trade_executor.cc).

#include <optional>

#include "core/decimal.h"
#include "core/order.h"
#include "engine/ledger.h"

namespace orderly {

// An exit whose price may step around our own orders: sent alone (no group), a take-profit, a
// flatten or a priced stop.
bool wash_adjustable(const Order& o);
// Sets `m`'s price (`price`: past our orders; nullopt: back at `own`), and the type and tif
// that go with it.
void set_exit_price(Order& m, std::optional<Decimal> price, std::optional<Decimal> own);
// The exit's own price before any stepping around: none for a flatten (market), the trade's
// take-profit for a take-profit alone, a crypto stop's own limit.
std::optional<Decimal> own_exit_price(const Ledger& ledger, const Order& o);
// The crypto pair's price_increment that `o`'s trade keeps; none for an equity, or unknown.
std::optional<Decimal> price_increment_of(const Ledger& ledger, const Order& o);
// The price `o` may take given our own open orders on the other side (nullopt: market); `own`
// when none passes them or none is in the way.
std::optional<Decimal> wash_safe_price(const Ledger& ledger, const Order& o,
                                       std::optional<Decimal> own);
// A market or stop order of ours (sent, or on its way) on the other side of `o`: no price
// passes Alpaca's wash-trade check against it.
bool market_order_opposite(const Ledger& ledger, const Order& o);
bool wash_checked_opposite(const Order& o, const Order& other);
bool no_price_passes(const Order& other);

}  // namespace orderly
