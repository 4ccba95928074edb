#pragma once
// Entries clearing their way through Alpaca's wash-trade check (issue 21: out of two Impl fields
// over four files). An entry our own opposite orders would meet in the check (alpaca-api.md §5)
// may have those exits canceled first; the trades of its symbol place exits again once every
// entry clearing the way is at the broker. All entries clearing a symbol's way are of one side,
// and one refused while it is being cleared joins, so that exits are canceled once for all of
// them and not again for each (DST trades seed 23100000003282: four market entries on WMT
// canceled the exits of nine trades in three rounds, and the per-trade cap left them naked).
// This keeps who clears which way; the book, the cancels and the waiting are the engine's
// (trade_executor.cc entry_path_clear).

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/order.h"

namespace orderly {

class WayClearing {
 public:
  // An entry the broker refused as a wash trade against an order of ours: every opposite order
  // of ours is in its way, not only those the book says the check meets.
  void refused_against_ours(OrderId entry) { clear_all_.insert(entry); }
  bool clears_all(OrderId entry) const { return clear_all_.count(entry) > 0; }

  enum class Join {
    other_side,  // the way is being cleared for the other side: its turn comes after
    joined,      // it clears the way from now
    already,     // it was clearing it
  };
  Join join(const std::string& symbol, Side side, OrderId entry);
  // A way is being cleared on `symbol`: its exits wait.
  bool clearing(const std::string& symbol) const { return ways_.count(symbol) > 0; }
  bool clears_its_way(const Order& entry) const;
  std::vector<std::string> symbols() const;
  // Lets go of the symbol's entries `still_waits` no longer holds; true when none is left and
  // the way is clear (its trades place their exits again).
  bool end_if_done(const std::string& symbol, const std::function<bool(OrderId)>& still_waits);

 private:
  struct Way {
    Side side = Side::buy;
    std::set<OrderId> entries;
  };
  std::map<std::string, Way> ways_;
  std::set<OrderId> clear_all_;
};

}  // namespace orderly
