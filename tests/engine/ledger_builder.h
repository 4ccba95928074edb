#pragma once
// A ledger's contents built by hand, for the tests of the engine's functional parts (the trade
// manager, wash-trade pricing): no engine, no store.

#include <string>

#include "core/trade.h"

namespace orderly::test {

inline Decimal dec(const char* s) { return Decimal::must(s); }

// A buy of `qty` on `symbol`, pending, with no exits set.
inline Trade buy_trade(TradeId id, std::string symbol, const char* qty) {
  Trade t;
  t.id = id;
  t.spec.symbol = std::move(symbol);
  t.spec.side = Side::buy;
  t.spec.qty = dec(qty);
  return t;
}

}  // namespace orderly::test
