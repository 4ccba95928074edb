#pragma once
// TradeExecutor: carries out the trades. It opens, cancels and closes them (intents, admitted
// by TradeAdmission), and at each step of a touched trade does what trade_manager.h decided:
// exits placed, resized, switched or canceled, the trade's state settled. Exits it prices past
// our own opposite orders (the wash-trade check) and entries clearing their way through it are
// tracked here too. It writes through the Transaction of the input that called it.

#include "engine/engine_state.h"

namespace orderly {

class Lookups;
class Transaction;
class Submitter;
class Synchronizer;

class TradeExecutor {
 public:
  TradeExecutor(EngineState& s, Transaction& tx, Lookups& lookups, Submitter& submitter,
                Synchronizer& sync)
      : s_(s), tx_(tx), lookups_(lookups), submitter_(submitter), sync_(sync) {}
  TradeExecutor(const TradeExecutor&) = delete;
  TradeExecutor& operator=(const TradeExecutor&) = delete;

  // Intents: each refused before anything changes, or carried out inside the transaction
  // Engine::Impl opens for it (committed before its caller hears).
  Status refuse_open(const TradeSpec& spec) const;
  TradeId open_trade(const TradeSpec& spec, Timestamp now);
  Status refuse_cancel(TradeId id) const;
  void cancel_trade(TradeId id);
  Status refuse_cancel_entry(TradeId id) const;
  void cancel_entry(TradeId id, Timestamp now);
  std::vector<TradeId> close_all();  // the trades now closing

  // What each touched trade needs next (trade_manager.h), carried out.
  void step_trade(TradeId tid, Timestamp now);
  // Orders of a trade made and recorded (the stand-in entries and the exit modifier's too).
  Order make_order(const Trade& t, OrderRole role, int generation, Side side, OrderType type,
                   Decimal qty, Timestamp now);
  void record_new(Order o, std::string note, Timestamp now);
  void request_cancel(OrderId id, std::string why, Timestamp now);
  void adopt_replacement(OrderId new_id, Timestamp now);
  // An ended trade whose exits sold beyond it is kept in memory while the charge it left on
  // open trades lasts: pruned, the charge would go with it.
  bool oversold_still_charged(TradeId tid);
  // Asked by the protection monitor (through Engine::Impl).
  void touch_trades_of(const std::string& symbol);  // each trade with an order on it
  void keep_oversold_trades();
  // The wash-trade check: exits priced past our own orders, entries clearing their way.
  // Puts a loaded or restored exit back among wash_priced_exits_ when it stands off its own price.
  void track_wash_priced(OrderId id);
  bool reprice_past_wash_check(OrderId id, const BrokerError& e, Timestamp now);
  bool reprice_wash_priced_exit(OrderId id, Timestamp now);
  bool entry_path_clear(OrderId id, Timestamp now);
  void end_clearing_if_done(const std::string& symbol);
  bool on_entry_wash_refusal(OrderId id, const BrokerError& e, Timestamp now);
  // A wash-trade refusal naming an order of ours.
  bool refused_against_ours(const BrokerError& e) const;

 private:
  // Notes where a trade whose entries are done has sold more than they bought: the only
  // symbols holdings_of can find a shortfall on, so the only ones it is asked about (walking a
  // symbol's orders at every step of its trades cost half the apply path with 1,000 open).
  void note_if_oversold(const Trade& t, const TradeView& v);
  void drop_unfitting_exits(const TradeView& v, Decimal held, Timestamp now);
  bool settle_trade_state(TradeId tid, const TradeView& v, Decimal held, Timestamp now);
  void keep_exits_working(TradeId tid, const TradeView& v, Decimal held, bool watch, Timestamp now);
  void ensure_exits(TradeId tid, const TradeView& v, Decimal held, Timestamp now);
  void create_emulated_exit(TradeId tid, const TradeView& v, Decimal held, Timestamp now);
  void record_bracket(const Trade& t, Order entry, const ExitPrices& prices, Timestamp now);
  void create_simple_exit(const Trade& t, const ExitPrices& prices, Decimal held, int generation,
                          Timestamp now);
  // Crypto with both exits: the take-profit once the broker's price reached it, else the stop.
  bool crypto_take_profit_due(const Trade& t, const ExitPrices& prices) const;
  bool switch_crypto_exit(const Trade& t, OrderId active, Timestamp now);
  bool lone_stop_blocked_now(const Trade& t, const ExitPrices& prices, Decimal held) const;
  void create_fractional_exit(const Trade& t, const ExitPrices& prices, Decimal held,
                              int generation, Timestamp now);
  void resize_exit(TradeId tid, OrderId old_id, Decimal held, const TradeView& v, Timestamp now);
  void cancel_local_exits(TradeId tid, Timestamp now);
  void step_closing(TradeId tid, const TradeView& v, Decimal held, Timestamp now);
  void price_past_own_orders(Order& x, std::string& why);
  void restore_entry_price(OrderId id, Timestamp now);
  bool waits_for_our_orders(OrderId entry_id, const std::vector<const BookOrder*>& blockers,
                            Timestamp now);
  void cancel_blocking_exits(OrderId entry_id, const std::vector<const BookOrder*>& blockers,
                             Timestamp now);

  EngineState& s_;
  Transaction& tx_;
  Lookups& lookups_;
  Submitter& submitter_;
  Synchronizer& sync_;
};

}  // namespace orderly
