#pragma once
// ExitModifier: a trade's exits changed after it opened (Engine::modify_exits), carried out as
// ExitChangePlanner (exit_change.h) planned it: changed in place, replaced at the broker, or the
// exit group canceled and placed again. Writes through the Transaction of the input that called it.

#include "engine/engine_state.h"

namespace orderly {

class Lookups;
class Transaction;
class TradeExecutor;

class ExitModifier {
 public:
  ExitModifier(EngineState& s, Transaction& tx, Lookups& lookups, TradeExecutor& trades)
      : s_(s), tx_(tx), lookups_(lookups), trades_(trades) {}
  ExitModifier(const ExitModifier&) = delete;
  ExitModifier& operator=(const ExitModifier&) = delete;

  // What a change becomes, or why it is refused (before anything changes).
  StatusOr<ExitChangePlanner::Plan> plan(TradeId id, const ExitChange& change);
  // Carried out inside the transaction Engine::Impl opens for it.
  void modify_exits(TradeId id, const ExitChangePlanner::Plan& plan, Timestamp now);
  // Asks again for each cancel of kModifyCancels still to reach the broker (run_submitter).
  void resume_modify_cancels(Timestamp now);
  // A modify's replace that the broker refused because of the order's state: canceled and
  // placed again instead. False: not such a refusal (the caller's usual handling).
  bool on_replace_refused(OrderId id, const BrokerError& e, Timestamp now);

 private:
  void move_exit(const Trade& t, const ExitChangePlanner::Move& m, int& generation, Timestamp now);
  bool cancel_exit_group(OrderId id, const std::string& why, Timestamp now);
  void keep_working_exit(const Order& replacement, const Order& old, const BrokerError& e,
                         Timestamp now);

  EngineState& s_;
  Transaction& tx_;
  Lookups& lookups_;
  TradeExecutor& trades_;
  // What a change of a trade's exits becomes (modify_exits carries it out).
  ExitChangePlanner exit_changes_{{s_.ledger, s_.aux, s_.positions_read, s_.wash_priced_exits}};
};

}  // namespace orderly
