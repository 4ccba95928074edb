#pragma once
// Whether a trade may be opened, have its exits changed, or be closed beside our other trades
// (issue 21: out of Engine::Impl). What Alpaca would refuse only after the trade was accepted
// is refused before anything is recorded, with the rule named: a trade in the other direction
// on the symbol, a fractional short, and the pairs of trades Alpaca's wash-trade check keeps
// from both being protected (a lone stop beside our resting entries, a flatten past our stop
// entries). It reads the ledger and the broker's positions read and changes nothing.

#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "core/decimal.h"
#include "core/ids.h"
#include "core/order.h"
#include "core/status.h"
#include "core/trade.h"
#include "engine/exit_book.h"
#include "engine/ledger.h"
#include "engine/order_aux.h"
#include "engine/positions_read.h"
#include "engine/way_clearing.h"

namespace orderly {

class TradeAdmission {
 public:
  // The engine's state it reads: held by reference, read at each call.
  struct Sources {
    const Ledger& ledger;
    const PositionsRead& positions_read;
    // Symbols where a trade's exits sold beyond it (what a trade holds is charged there).
    const std::set<std::string>& oversold_symbols;
  };

  explicit TradeAdmission(Sources sources) : s_(sources) {}

  // Empty: allowed. Otherwise why not, for the trader.
  std::string refuse_reversal(const TradeSpec& spec) const;
  // invalid_argument: a fractional short; unavailable: not known until the next positions read.
  Status refuse_fractional_short(const TradeSpec& spec) const;
  // `self`: the trade whose exits change (0 for a new trade); `fill`: its entry's fill price
  // once it is done filling.
  std::string refuse_unprotectable_pair(const TradeSpec& spec, TradeId self,
                                        std::optional<Decimal> fill) const;
  // Closing trade `id` would send a market order the wash-trade check refuses.
  std::string refuse_blocked_flatten(TradeId id) const;
  // A stand-in limit of `entry` at `price` would rest beside a lone stop of ours no stop_limit
  // passes.
  bool stand_in_blocks_a_lone_stop(const Order& entry, Decimal price) const;

 private:
  Sources s_;
};

// An entry priced away from its trade's own market or limit to pass our opposite orders
// (a stand-in, stand_in_entries.cc).
bool is_stand_in(const Ledger& ledger, const Order& o);

// Why stand-in `o` is no longer priced as our opposite orders on its symbol (`book`) call for:
// none of them is left in its way, or the tightest moved and a better price passes now. Not
// while that side is changing at our request (a clearing, an order of ours going or coming):
// what it stepped inside comes back. Resting at the broker it is sent again
// (StandInEntries); still queued, it is judged again before it leaves (CommandRelease).
std::optional<std::string> stand_in_outdated(const Ledger& ledger,
                                             const std::unordered_map<OrderId, OrderAux>& aux,
                                             const WayClearing& clearing, const SymbolBook& book,
                                             const Order& o);

}  // namespace orderly
