#pragma once
// Synchronizer: keeps every order in step with what the broker did. It takes in the
// trade_updates stream (events matched to our orders, held while a leg's id is unknown), and
// polls where the stream may have missed something: the fill catch-up (account activities), the
// open-order sweep, the positions read (judged by PositionsReconciler), lookups of orders in
// flight (InflightCheck); on_tick runs what is due. Each input runs inside the Transaction of
// the input that called it.

#include "engine/engine_state.h"

namespace orderly {

class Lookups;
class Transaction;
class TradeExecutor;

class Synchronizer {
 public:
  Synchronizer(EngineState& s, Transaction& tx, Lookups& lookups, TradeExecutor& trades)
      : s_(s), tx_(tx), lookups_(lookups), trades_(trades) {}
  Synchronizer(const Synchronizer&) = delete;
  Synchronizer& operator=(const Synchronizer&) = delete;

  // What makes a stream event the same event seen again (idempotent apply).
  static RecentKeys::Fp event_key(const TradeUpdate& u);

  // The stream and the broker's reachability.
  void on_trade_update(const TradeUpdate& u, const RecentKeys::Fp& key, Timestamp now);
  void on_stream_connected(Timestamp now);
  void on_stream_disconnected(std::string_view reason, Timestamp now);
  void on_broker_reachability(bool reachable, std::string_view detail, Timestamp now);
  void on_stream_unreadable(std::string raw, std::string reason, Timestamp now);
  void apply_update(OrderId id, const TradeUpdate& u, Timestamp now);
  // Stream events held for an order not matched yet, applied once it is.
  void drain_held_back(Timestamp now);

  // The broker's answers to the polls.
  void on_catchup_result(const CommandResult& r, Timestamp now);
  void on_sweep_result(const Pending& p, const CommandResult& r, Timestamp now);
  void on_positions_result(const Pending& p, const CommandResult& r, Timestamp now);
  void on_legs_result(const Pending& p, const CommandResult& r, Timestamp now);

  void on_tick(Timestamp now);
  void begin_full_resync(Timestamp now);
  void request_reconcile(bool, Timestamp now);
  void ask_positions(Timestamp now);
  // Asked by the positions reconciler and the in-flight check (through Engine::Impl).
  void ask_about_entry(OrderId id, Timestamp now);
  void check_unresolved_leg(OrderId id, Timestamp now);

  // What the other parts ask of it.
  std::optional<OrderId> find_local(const BrokerOrder& b);
  std::optional<OrderId> adopt_unrecorded(const BrokerOrder& b, Timestamp now);
  void refresh_failed(OrderId id, const BrokerError& e, Timestamp now);
  std::int64_t backed_off_ms(const BrokerError& e, int& failures) const;
  void refresh_answered(OrderId id, Timestamp now);
  void unknown_fill_fetch_failed(const std::string& broker_order_id);
  void set_hold_wait(OrderId id, bool wait);

 private:
  std::optional<OrderId> match_leg(const BrokerOrder& b);
  void record_latency(std::int64_t ms);
  void on_exit_ended(OrderId id, Timestamp now, bool at_once);
  bool ended_unfilled_elsewhere(const Order& o, OrderId group) const;
  void stage_due_refreshes(Timestamp now);
  bool heard_since(const Order& o, Timestamp t) const;
  void check_missing_orders(Timestamp missing_since, Timestamp now);
  void stage_positions_when_due(Timestamp now);
  void start_catchup(Timestamp now);
  void stage_catchup_page(std::optional<std::string> page_token);
  void adopt_caught_up_fill(const FillActivity& a, Timestamp now);
  void start_sweep(Timestamp now);
  void stage_sweep_page(std::optional<Timestamp> after);
  void sweep_order(const BrokerOrder& b, Timestamp now);
  void mark_synced(Timestamp now);
  void stage_positions(Timestamp);
  bool any_hold_wait() const;

  EngineState& s_;
  Transaction& tx_;
  Lookups& lookups_;
  TradeExecutor& trades_;
  // Orders of fills the catch-up found and no order of ours matched: fetched once each.
  std::set<std::string> unknown_fill_orders_;
  std::unordered_set<std::string> checked_unknown_;
  std::unordered_set<std::string> sweep_seen_;
  PollBackoff positions_backoff_;
  std::optional<Timestamp> watermark_seen_at_;  // when the fill watermark last moved
  bool watermark_settled_ = false;  // the overlap before it was read once everything was visible
};

}  // namespace orderly
