#pragma once
// Submitter: the only place orders are sent. It decides which waiting orders go now (shares
// available, positions fresh, the session open, our opposite orders out of the way), stages the
// sends, takes the broker's answers to our sends, lookups, refreshes and cancels, schedules the
// retries and their backoff, and resolves a restart's orders in flight by one listing.
// Writes through the Transaction of the input that called it.

#include <random>

#include "engine/engine_state.h"

namespace orderly {

class Lookups;
class Transaction;
class Synchronizer;
class TradeExecutor;
class StandInEntries;
class ExitModifier;

class Submitter {
 public:
  Submitter(EngineState& s, Transaction& tx, Lookups& lookups, Synchronizer& sync,
            TradeExecutor& trades, StandInEntries& entries, ExitModifier& modifier)
      : s_(s),
        tx_(tx),
        lookups_(lookups),
        sync_(sync),
        trades_(trades),
        entries_(entries),
        modifier_(modifier) {}
  Submitter(const Submitter&) = delete;
  Submitter& operator=(const Submitter&) = delete;

  // Run at the end of every input: what waits to be sent is considered.
  void run_submitter(Timestamp now);

  // The broker's answers to what it sent.
  void on_send_result(const Pending& p, const CommandResult& r, Timestamp now);
  void on_resolve_result(const Pending& p, const CommandResult& r, Timestamp now);
  void on_refresh_result(const Pending& p, const CommandResult& r, Timestamp now);
  void on_related_result(const Pending& p, const CommandResult& r, Timestamp now);
  void on_cancel_result(const Pending& p, const CommandResult& r, Timestamp now);
  void on_recovery_result(const Pending& p, const CommandResult& r, Timestamp now);

  // A restart's orders in flight, resolved by one listing (Lookups::listing_since; started and
  // abandoned by the Transaction).
  void start_recovery();
  void abandon_recovery(bool look_up);

  // Asked by the command release (through Engine::Impl).
  void note_sent(const Command& c, Timestamp now);

  // What the other parts ask of it.
  void schedule_retry(OrderId id, const std::string& why, Timestamp now, EventSource src,
                      const std::string& payload, std::optional<std::int64_t> min_delay_ms,
                      bool at_once = false);

 private:
  bool fractional_sell_covered(OrderId id, const Order& o, Timestamp now);
  std::int64_t backoff_ms(int attempts);
  bool positions_fresh_for(const Order& o) const;
  void reprice_wash_priced_exits(Timestamp now);
  void consider_sending(OrderId id, Order& o, Timestamp now);
  bool shares_available(OrderId id, const Order& o, OrderAux& ax, Timestamp now);
  void note_foreign_hold(const Order& o, Timestamp now);
  Decimal unseen_own_holds(const std::string& symbol, OrderId except);
  void send(OrderId id, Timestamp now);
  static std::string retry_reason(const std::string& last_error);
  OrderRequest request_for(const Order& o);
  void to_unknown(OrderId id, const std::string& why, EventSource src, const std::string& payload,
                  Timestamp now);
  void stage_recovery_page(Timestamp after);
  void adopt_found(OrderId id, const BrokerOrder& b, Timestamp now);
  void resend_not_found(OrderId id, const std::string& why, const std::string& body, Timestamp now);
  void clear_external_hold_if_gone(const std::string& symbol, Timestamp now);
  void on_send_accepted(OrderId id, bool is_replace, const BrokerOrder& b, Timestamp now);
  void on_send_refused(OrderId id, bool is_replace, const BrokerError& e, Timestamp now);
  bool refusal_answered_by_rule(OrderId id, bool is_replace, const BrokerError& e, Timestamp now);
  // submitter_session.cc: an entry Alpaca would refuse in this session waits for the next.
  bool held_for_session(OrderId id, Timestamp now);
  void on_insufficient_qty(OrderId id, const BrokerError& e, Timestamp now);
  void end_withheld_replaces(Timestamp now);
  void judge_withheld_entries_again(Timestamp now);

  EngineState& s_;
  Transaction& tx_;
  Lookups& lookups_;
  Synchronizer& sync_;
  TradeExecutor& trades_;
  StandInEntries& entries_;
  ExitModifier& modifier_;
  std::mt19937_64 rng_{s_.cfg.seed};
  // Orders a restart found submitting/unknown, resolved by one listing (start_recovery).
  RecoveryListing recovery_;
};

}  // namespace orderly
