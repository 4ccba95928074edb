#pragma once
// StandInEntries: an entry Alpaca's wash-trade check would refuse against our own resting
// orders is sent as a limit just inside them (a stand-in, TradeExecutor::entry_path_clear).
// It is marketable only while they rest: kept so here, canceled and sent again for what it left
// once our orders no longer call for its price, and an entry waits while an earlier one of the
// symbol clears its way. Writes through the Transaction of the input that called it.

#include "engine/engine_state.h"

namespace orderly {

class Transaction;
class TradeExecutor;

class StandInEntries {
 public:
  StandInEntries(EngineState& s, Transaction& tx, TradeExecutor& trades)
      : s_(s), tx_(tx), trades_(trades) {}
  StandInEntries(const StandInEntries&) = delete;
  StandInEntries& operator=(const StandInEntries&) = delete;

  // At each run of the submitter: stand-ins whose price is outdated are sent again.
  void recheck_stand_in_entries(Timestamp now);
  bool waits_for_earlier_entry(OrderId id, Timestamp now);

 private:
  void send_entry_again(OrderId id, const std::string& why, Timestamp now);

  EngineState& s_;
  Transaction& tx_;
  TradeExecutor& trades_;
};

}  // namespace orderly
