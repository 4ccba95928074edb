#pragma once
// What each open trade of a symbol holds once shares our exits sold beyond their own trade are
// taken into account.
//
// A replace that grows an exit can race a fill of the order it replaces: Alpaca counts the
// replacement's whole qty against what is left (alpaca-api.md §2.8, Alpaca-API #165), so the
// trade sells the part that filled twice. Those shares came out of the other trades on the
// symbol: the broker's position and our ledger (the sum of our fills) both hold less than the
// open trades' own fills say. Left there, the trade that last asks for its exit waits for
// holdings that never come (DST trades seed 26600000033735: 55 TSLA asked, 53 held, unprotected
// for good). So the shortfall is charged to the open trades, oldest first: each holds, and its
// exits sell, what is really there. A trade the charge empties settles flat; once the shares it
// was charged are gone with it, the charge is gone too (the sum is taken again at every step of
// a trade on a symbol where an over-sell was seen).

#include <vector>

#include "core/decimal.h"
#include "core/order.h"

namespace orderly {

struct TradeHolding {
  TradeId trade = 0;
  Decimal own;   // what the trade's own fills leave it, in its direction (> 0: it holds shares)
  Decimal held;  // what it holds once the shortfall is charged (charge_shortfall)
};

// `open`: the open trades of one symbol and direction whose own fills leave them shares, in any
// order; `net`: what all our fills of the symbol leave in that direction, less what open trades
// of the other direction hold. Sets each trade's `held`: its own qty less its charge, oldest
// trade first, until the trades claim no more than `net`.
void charge_shortfall(std::vector<TradeHolding>& open, Decimal net);

}  // namespace orderly
