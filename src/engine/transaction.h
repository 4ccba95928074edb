#pragma once
// Transaction: every input changes the engine's state through it, and finish() commits the
// input's changes as one batch with the commands they staged (the transactional outbox); a
// failed commit rolls them back. State changes go through the state machine here (apply,
// adopt, set_local_state), each audited. It also loads the state at a start and prunes ended
// trades from memory.

#include "engine/engine_state.h"

namespace orderly {

class Transaction {
 public:
  // What it asks of the parts above it: what a start begins there, and the bookkeeping a
  // rollback or a pruning must consult or undo there (Engine::Impl forwards each to its part).
  class Host {
   public:
    virtual ~Host() = default;
    // The Submitter's: a restart's orders in flight, resolved by one listing; a refresh.
    virtual void start_recovery() = 0;
    virtual void abandon_recovery(bool look_up) = 0;
    virtual void stage_refresh(OrderId id, Timestamp now, bool force) = 0;
    // The Synchronizer's: every open order refreshed from the broker; a fill's order whose
    // fetch was lost with the input.
    virtual void begin_full_resync(Timestamp now) = 0;
    virtual void unknown_fill_fetch_failed(const std::string& broker_order_id) = 0;
    // The TradeExecutor's: an ended trade kept for the charge it left; an exit priced past our
    // own orders.
    virtual bool oversold_still_charged(TradeId tid) = 0;
    virtual void track_wash_priced(OrderId id) = 0;
  };

  Transaction(EngineState& s, Host& host) : s_(s), host_(host) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Loads the state the store holds (a start or a restart), and resolves what it left in flight.
  Status start(Timestamp now);

  // An input's frame: begin() opens it, finish_input() commits it (or leaves it to the group).
  void begin();
  Order& mut_order(OrderId id);
  Trade& mut_trade(TradeId id);
  Order& insert_order(Order o);
  CommandId stage(Command c, Purpose p, OrderId for_order = 0);
  Status finish(Timestamp now);
  // Engine::begin_group and commit_group: the inputs between them commit as one batch.
  void begin_group() { group_ = true; }
  // True when the group left changes to commit (finish() commits them).
  bool end_group() {
    group_ = false;
    return txn_open_;
  }
  // An input's commit. finish() handles its failure itself (rolled back, the store marked
  // failing, a resync due to find the input's evidence again): nothing is left to the caller.
  // In a group (Engine::begin_group) the input's changes wait in the group's transaction.
  void finish_input(Timestamp now) {
    if (!group_) static_cast<void>(finish(now));
  }
  // `why`: what made the transaction fail (raised as an anomaly alert on that subject).
  void rollback(std::string_view subject = "store",
                std::string_view why = "store commit failed, changes rolled back");
  // The order `from` names by `link` (its parent, the order it replaces). Always held (start()
  // and restore_pruned() load them); nullptr with the anomaly reported, never a throw.
  const Order* linked_order(const Order& from, std::optional<OrderId> link, std::string_view what,
                            Timestamp now);
  // The shares `o` holds beyond the order it replaces (all of its qty for a new order).
  Decimal added_qty(const Order& o);
  // The store's answer to a read, or StoreUnreadable thrown.
  template <typename T>
  T read_or_end_input(StatusOr<T> r) {
    if (!r.ok()) throw StoreUnreadable(std::string(r.status().message()));
    return std::move(r.value());
  }
  // State changes, each through the state machine and audited.
  void audit(const Order& o, std::optional<OrderState> from, EventSource src, std::string note,
             std::string payload, Timestamp now);
  // `execution`: the fill as the broker reported it (stream execution, fill activity), when
  // the evidence is one; recorded as the order's fill row (ledger.h fill_rows).
  bool apply(OrderId id, const StateUpdate& u, EventSource src, std::string note,
             const std::string& payload, Timestamp now, const Fill* execution = nullptr);
  void learn_broker_id(OrderId id, const std::string& bid);
  // An unmatched fill's order whose fetch this input staged or applied (checked_unknown_): lost
  // with the input if it rolls back.
  void note_unknown_fetch(std::string broker_order_id) {
    txn_.unknown_fetches.push_back(std::move(broker_order_id));
  }
  StateUpdate update_from(const BrokerOrder& b);
  void adopt(OrderId id, const BrokerOrder& b, EventSource src, std::string note, Timestamp now);
  void adopt_legs(OrderId parent, const BrokerOrder& b, EventSource src, Timestamp now);
  void set_local_state(OrderId id, OrderState to, EventSource src, std::string note,
                       const std::string& payload, Timestamp now);
  // Asked by the protection monitor and the positions reconciler (through Engine::Impl).
  void set_sync(std::string_view key, std::string value);
  void audit_gap(const Order& o, const std::string& note, Timestamp now);
  // Memory stays bounded: the orders of a trade that ended are dropped once committed and quiet
  // (the store keeps them; a restart does not load them either). A late event for one of them
  // brings it back from the store (restore_pruned) and is judged like any other.
  void prune_ended_trades(Timestamp now);
  std::optional<OrderId> restore_pruned(const std::string& broker_id, const std::string& cid,
                                        Timestamp now);

 private:
  struct Txn {
    std::map<std::string, std::optional<std::string>> sync_before;
    std::vector<OrderEvent> events;
    std::vector<Fill> fills;
    // Orders of unmatched fills whose fetch this input staged or applied (checked_unknown_).
    std::vector<std::string> unknown_fetches;
    // What the input's sweep and catch-up told is lost with it: as the input found them.
    Blindness blindness_before;
    std::optional<Timestamp> catchup_completed_before;
  };

  Position& mut_position(const std::string& symbol);
  void note_store_back(Timestamp now);
  void drop_staged();
  void report_anomaly(const std::string& what, Timestamp now);
  Status load_linked(LoadedState& s);
  void leg_woke(const Order& leg, Timestamp now);
  // Adds the ended over-sold trades the store keeps (kOversoldTrades), with their orders.
  Status load_oversold_trades(LoadedState& s, std::set<OrderId>& have, std::set<TradeId>& trades);
  // Taken from each order the store holds at a start (CoverJudge: unfilled_before_this_life).
  void note_routed_before_start(const Order& o);
  // Drops a held order from the ledger and from every watch list of the engine.
  void forget_order(OrderId id);
  void forget_watch(OrderId id);  // ... from the watch lists only
  void note_committed_order(OrderId id);

  EngineState& s_;
  Host& host_;
  Txn txn_;
  bool txn_open_ = false;  // begin() ran and no finish() or rollback() has ended it yet
  bool group_ = false;     // between Engine::begin_group() and commit_group()
  std::unordered_set<OrderId> anomalous_;  // orders whose broken link was reported (once each)
};

}  // namespace orderly
