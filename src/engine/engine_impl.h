#pragma once
// Internal to orderly_engine: the definition of Engine::Impl, shared by the engine's .cc files
// (one per concern, see engine.h). Not part of the public API: include engine/engine.h.
//   The Impl's methods, one file per concern:
//   engine.cc         the public wrappers, result dispatch
//   engine_txn.cc     transaction (begin, finish, rollback), audit, state changes, start
//   engine_trades.cc  intents; the trade manager's decisions carried out; exits repriced
//   engine_entries.cc an entry sent as a limit inside our own opposite orders, sent again once
//                     they moved
//   engine_modify.cc  a trade's exits changed after it opened
//   engine_submit.cc  Submitter: sends, retries, broker answers to our orders, recovery
//   engine_sync.cc    Synchronizer (stream, catch-up, sweeps, positions reads), timers, in-flight
//   engine_session.cc market sessions
//   The components it holds (each with its own tests under tests/engine):
//   admission.cc      TradeAdmission: whether a trade may be opened, changed, closed beside ours
//   alert_rules.cc    AlertRules: sync lag, retry storms, the budget, unreadable data; settling
//   alerts.cc         Alerts: raised once per kind and subject, undone with a failed commit
//   blindness.cc      Blindness: since when events may have been missed, unswept
//   cover_judge.cc    CoverJudge: whether a position is covered, since when a gap began
//   engine_constants.h the sync state keys and fixed intervals
//   exit_book.cc      SymbolBook, ProtectionWatch: what covers a position, its gaps' clocks
//   exit_change.cc    ExitChangePlanner: what a change of a trade's exits becomes
//   holdings.cc       charge_shortfall: what each trade holds after an over-sell
//   inflight_check.cc InflightCheck: unconfirmed orders looked up at each tick; stuck orders
//   ledger.cc         Ledger: orders, trades, our positions and the indexes that find them
//   order_aux.h       OrderAux: what the engine keeps per order in memory
//   outbox.cc         Outbox: commands staged, queued, in flight, and what each is for
//   poll_schedule.cc  Poll, PollBackoff: when the catch-up and the sweep run
//   positions_read.cc PositionsRead: the broker's positions as last read, and their age
//   positions_reconciler.cc PositionsReconciler: our positions against the broker's; crypto dust
//   protection_check.cc ProtectionCheck: when the protection check runs, which symbols
//   protection_monitor.cc ProtectionMonitor: gaps in a position's cover raised, audited, cleared
//   rate_budget.cc    RateBudget: the calls of the last minute, which class of command may go
//   recent_keys.cc    RecentKeys: the keys of the last stream events, for idempotent apply
//   reconciliation.cc Reconciliation: a reconciliation's report, our positions' drift
//   release.cc        CommandRelease: which queued commands leave now, in what order
//   recovery_listing.cc RecoveryListing: a restart's orders in flight, resolved by a listing
//   retry_schedule.cc RetrySchedule: when a send, lookup, cancel or fetch is asked again
//   seen_activities.cc SeenActivities: the fill activities the catch-up took in
//   store_health.h    StoreHealth: whether the store takes our writes, since when not, why
//   stream_watch.cc   StreamWatch: the trade_updates stream, and how far it is trusted
//   sync_cadence.cc   SyncCadence: how often the broker is polled; when no poll is sync lag
//   trade_manager.cc  what each trade needs next, decided from its orders (intents)
//   unmatched_events.cc UnmatchedEvents: stream events held until their order's id is known
//   views.cc          EngineViews: health, metrics text, positions beside the broker's
//   wash_pricing.cc   an exit's price past our own opposite orders (wash-trade check)
//   way_clearing.cc   WayClearing: entries clearing their way through the wash-trade check

#include <algorithm>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/ids.h"
#include "engine/admission.h"
#include "engine/alert_rules.h"
#include "engine/alerts.h"
#include "engine/blindness.h"
#include "engine/cover_judge.h"
#include "engine/engine.h"
#include "engine/engine_constants.h"
#include "engine/exit_book.h"
#include "engine/exit_change.h"
#include "engine/holdings.h"
#include "engine/inflight_check.h"
#include "engine/ledger.h"
#include "engine/order_aux.h"
#include "engine/outbox.h"
#include "engine/poll_schedule.h"
#include "engine/positions_read.h"
#include "engine/positions_reconciler.h"
#include "engine/protection_check.h"
#include "engine/protection_monitor.h"
#include "engine/rate_budget.h"
#include "engine/recent_keys.h"
#include "engine/reconciliation.h"
#include "engine/release.h"
#include "engine/recovery_listing.h"
#include "engine/retry_schedule.h"
#include "engine/seen_activities.h"
#include "engine/store_health.h"
#include "engine/stream_watch.h"
#include "engine/sync_cadence.h"
#include "engine/trade_manager.h"
#include "engine/unmatched_events.h"
#include "engine/views.h"
#include "engine/wash_pricing.h"
#include "engine/way_clearing.h"

namespace orderly {
namespace engine_internal {

// A store read an input cannot do without failed (a dead connection): the input ends, rolled
// back, rather than taking the failure for "not found" (Engine::Impl::guarded).
class StoreUnreadable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline bool is_exit_role(OrderRole r) { return r != OrderRole::entry; }

inline Decimal signed_qty(Side s, Decimal q) { return s == Side::buy ? q : -q; }

}  // namespace engine_internal

using engine_internal::is_exit_role;
using engine_internal::signed_qty;
using engine_internal::StoreUnreadable;

class Engine::Impl : private ProtectionMonitor::Host,
                     private CommandRelease::Host,
                     private PositionsReconciler::Host,
                     private InflightCheck::Host {
 public:
  Impl(Store& store, EngineConfig config)
      : store_(store), cfg_(std::move(config)), rng_(cfg_.seed) {}
  // Its components hold references to its fields (cover_, protection_monitor_, release_...).
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // ---------------------------------------------------------------------------------------
  // Transaction: every input mutates through these helpers, then finish() commits one batch.
  // ---------------------------------------------------------------------------------------
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

  void begin();
  Order& mut_order(OrderId id);
  Trade& mut_trade(TradeId id);
  Position& mut_position(const std::string& symbol);
  Order& insert_order(Order o);
  CommandId stage(Command c, Purpose p, OrderId for_order = 0);
  Status finish(Timestamp now);
  void note_store_back(Timestamp now);
  // An input's commit. finish() handles its failure itself (rolled back, the store marked
  // failing, a resync due to find the input's evidence again): nothing is left to the caller.
  // In a group (Engine::begin_group) the input's changes wait in the group's transaction.
  void finish_input(Timestamp now) {
    if (!group_) static_cast<void>(finish(now));
  }
  void drop_staged();
  // `why`: what made the transaction fail (raised as an anomaly alert on that subject).
  void rollback(std::string_view subject = "store",
                std::string_view why = "store commit failed, changes rolled back");
  // Runs one input as a transaction. A state the engine did not expect (a lookup that finds
  // nothing where the engine's own links say something is) never terminates the process: the
  // input's changes are rolled back, an `anomaly` alert says what happened and a full resync
  // refreshes every open order from the broker (issue 18).
  template <typename F>
  void guarded(std::string_view input, Timestamp now, F&& body);
  // The order `from` names by `link` (its parent, the order it replaces). Always held (start()
  // and restore_pruned() load them); nullptr with the anomaly reported, never a throw.
  const Order* linked_order(const Order& from, std::optional<OrderId> link, std::string_view what,
                            Timestamp now);
  void report_anomaly(const std::string& what, Timestamp now);
  // The store's answer to a read, or StoreUnreadable thrown.
  template <typename T>
  T read_or_end_input(StatusOr<T> r) {
    if (!r.ok()) throw StoreUnreadable(std::string(r.status().message()));
    return std::move(r.value());
  }
  void abandon_input(std::string_view subject, const std::string& why, Timestamp now);
  Status load_linked(LoadedState& s);

  // ---------------------------------------------------------------------------------------
  // Audit + state changes through the state machine.
  // ---------------------------------------------------------------------------------------
  void audit(const Order& o, std::optional<OrderState> from, EventSource src, std::string note,
             std::string payload, Timestamp now);
  // `execution`: the fill as the broker reported it (stream execution, fill activity), when
  // the evidence is one; recorded as the order's fill row (ledger.h fill_rows).
  bool apply(OrderId id, const StateUpdate& u, EventSource src, std::string note,
             const std::string& payload, Timestamp now, const Fill* execution = nullptr);
  void learn_broker_id(OrderId id, const std::string& bid);
  void leg_woke(const Order& leg, Timestamp now);
  StateUpdate update_from(const BrokerOrder& b);
  void adopt(OrderId id, const BrokerOrder& b, EventSource src, std::string note, Timestamp now);
  void adopt_legs(OrderId parent, const BrokerOrder& b, EventSource src, Timestamp now);
  void set_local_state(OrderId id, OrderState to, EventSource src, std::string note,
                       const std::string& payload, Timestamp now);

  // ---------------------------------------------------------------------------------------
  // Start / recovery.
  // ---------------------------------------------------------------------------------------
  Status start(Timestamp now);

  // ---------------------------------------------------------------------------------------
  // Intents.
  // ---------------------------------------------------------------------------------------
  Order make_order(const Trade& t, OrderRole role, int generation, Side side, OrderType type,
                   Decimal qty, Timestamp now);
  void record_new(Order o, std::string note, Timestamp now);
  StatusOr<Trade> open_trade(const TradeSpec& spec, Timestamp now);
  bool fractional_sell_covered(OrderId id, const Order& o, Timestamp now);
  Status cancel_trade(TradeId id, Timestamp now);
  Status cancel_entry(TradeId id, Timestamp now);
  StatusOr<std::vector<TradeId>> close_all(Timestamp now);

  // ---------------------------------------------------------------------------------------
  // TradeManager: what each touched trade needs next, decided by trade_manager.h, carried out
  // here.
  // ---------------------------------------------------------------------------------------
  // An ended trade whose exits sold beyond it is kept in memory while the charge it left on
  // open trades lasts: pruned, the charge would go with it.
  bool oversold_still_charged(TradeId tid);
  // Where a trade whose entries are done has sold more than they bought: the only symbols
  // holdings_of can find a shortfall on, so the only ones it is asked about (walking a
  // symbol's orders at every step of its trades cost half the apply path with 1,000 open).
  // Never emptied: an over-sell is rare, and a symbol kept costs only that walk.
  void note_if_oversold(const Trade& t, const TradeView& v);
  std::set<std::string> oversold_symbols_;
  std::set<TradeId> oversold_trades_;  // noted by note_if_oversold until pruned
  // Adds the ended over-sold trades the store keeps (kOversoldTrades), with their orders.
  Status load_oversold_trades(LoadedState& s, std::set<OrderId>& have, std::set<TradeId>& trades);
  void request_cancel(OrderId id, std::string why, Timestamp now);
  void step_trade(TradeId tid, Timestamp now);
  void drop_unfitting_exits(const TradeView& v, Decimal held, Timestamp now);
  bool settle_trade_state(TradeId tid, const TradeView& v, Decimal held, Timestamp now);
  void keep_exits_working(TradeId tid, const TradeView& v, Decimal held, bool watch,
                          Timestamp now);
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
  void adopt_replacement(OrderId new_id, Timestamp now);
  void cancel_local_exits(TradeId tid, Timestamp now);
  void step_closing(TradeId tid, const TradeView& v, Decimal held, Timestamp now);

  // ---------------------------------------------------------------------------------------
  // Modify (engine_modify.cc): a trade's exits changed after it opened.
  // ---------------------------------------------------------------------------------------
  // Carries out what exit_changes_ (exit_change.h) planned.
  Status modify_exits(TradeId id, const ExitChange& change, Timestamp now);
  void move_exit(const Trade& t, const ExitChangePlanner::Move& m, int& generation,
                 Timestamp now);
  bool cancel_exit_group(OrderId id, const std::string& why, Timestamp now);
  // Asks again for each cancel of kModifyCancels still to reach the broker (run_submitter).
  void resume_modify_cancels(Timestamp now);
  // A modify's replace that the broker refused because of the order's state: canceled and
  // placed again instead. False: not such a refusal (the caller's usual handling).
  bool on_replace_refused(OrderId id, const BrokerError& e, Timestamp now);
  void keep_working_exit(const Order& replacement, const Order& old, const BrokerError& e,
                         Timestamp now);

  // ---------------------------------------------------------------------------------------
  // Protection: gaps raised, audited, cleared by protection_monitor_ (protection_monitor.h),
  // judged by cover_ (cover_judge.h).
  // ---------------------------------------------------------------------------------------
  // What the monitor asks of the engine (ProtectionMonitor::Host; set_sync also
  // PositionsReconciler::Host's):
  void set_sync(std::string_view key, std::string value) override;
  void audit_gap(const Order& o, const std::string& note, Timestamp now) override;
  void touch_trades_of(const std::string& symbol) override;  // each trade with an order on it
  void keep_oversold_trades() override;
  // Taken from each order the store holds at a start (CoverJudge: unfilled_before_this_life).
  void note_routed_before_start(const Order& o);

  // ---------------------------------------------------------------------------------------
  // Submitter.
  // ---------------------------------------------------------------------------------------
  std::int64_t backoff_ms(int attempts);
  bool positions_fresh_for(const Order& o) const;
  void run_submitter(Timestamp now);
  void reprice_wash_priced_exits(Timestamp now);
  void consider_sending(OrderId id, Order& o, Timestamp now);
  bool shares_available(OrderId id, const Order& o, OrderAux& ax, Timestamp now);
  void note_foreign_hold(const Order& o, Timestamp now);
  // The shares `o` holds beyond the order it replaces (all of its qty for a new order).
  Decimal added_qty(const Order& o);
  Decimal unseen_own_holds(const std::string& symbol, OrderId except);
  Decimal broker_available(const std::string& symbol) const;
  void send(OrderId id, Timestamp now);
  void note_sent(const Command& c, Timestamp now) override;  // CommandRelease::Host
  static std::string retry_reason(const std::string& last_error);
  OrderRequest request_for(const Order& o);
  void schedule_retry(OrderId id, const std::string& why, Timestamp now, EventSource src,
                      const std::string& payload, std::optional<std::int64_t> min_delay_ms,
                      bool at_once = false);
  void to_unknown(OrderId id, const std::string& why, EventSource src, const std::string& payload,
                  Timestamp now);
  void stage_resolve(OrderId id) override;  // InflightCheck::Host, as the next two
  void start_recovery();
  Command listing_since(Timestamp after) const;
  void stage_recovery_page(Timestamp after);
  void on_recovery_result(const Pending& p, const CommandResult& r, Timestamp now);
  void abandon_recovery(bool look_up);
  void adopt_found(OrderId id, const BrokerOrder& b, Timestamp now);
  void resend_not_found(OrderId id, const std::string& why, const std::string& body,
                        Timestamp now);
  void stage_refresh(OrderId id, Timestamp now, bool force) override;
  void clear_external_hold_if_gone(const std::string& symbol, Timestamp now);
  void on_send_result(const Pending& p, const CommandResult& r, Timestamp now);
  void on_send_accepted(OrderId id, bool is_replace, const BrokerOrder& b, Timestamp now);
  void on_send_refused(OrderId id, bool is_replace, const BrokerError& e, Timestamp now);
  bool refusal_answered_by_rule(OrderId id, bool is_replace, const BrokerError& e, Timestamp now);
  // Puts a loaded or restored exit back among wash_priced_exits_ when it stands off its own price.
  void track_wash_priced(OrderId id);
  void price_past_own_orders(Order& x, std::string& why);
  bool reprice_past_wash_check(OrderId id, const BrokerError& e, Timestamp now);
  bool reprice_wash_priced_exit(OrderId id, Timestamp now);
  bool entry_path_clear(OrderId id, Timestamp now);
  void restore_entry_price(OrderId id, Timestamp now);
  // engine_session.cc: an entry Alpaca would refuse in this session waits for the next.
  bool held_for_session(OrderId id, Timestamp now);
  // engine_entries.cc: stand-in entries (priced inside our opposite orders) kept marketable.
  void recheck_stand_in_entries(Timestamp now);
  std::optional<std::string> stand_in_outdated(const Order& o) const;
  void send_entry_again(OrderId id, const std::string& why, Timestamp now);
  bool waits_for_earlier_entry(OrderId id, Timestamp now);
  bool waits_for_our_orders(OrderId entry_id, const std::vector<const BookOrder*>& blockers,
                            Timestamp now);
  void cancel_blocking_exits(OrderId entry_id, const std::vector<const BookOrder*>& blockers,
                             Timestamp now);
  void end_clearing_if_done(const std::string& symbol);
  bool on_entry_wash_refusal(OrderId id, const BrokerError& e, Timestamp now);
  // A wash-trade refusal naming an order of ours.
  bool refused_against_ours(const BrokerError& e) const;
  void on_insufficient_qty(OrderId id, const BrokerError& e, Timestamp now);
  void on_related_result(const Pending& p, const CommandResult& r, Timestamp now);
  void on_resolve_result(const Pending& p, const CommandResult& r, Timestamp now);
  void on_refresh_result(const Pending& p, const CommandResult& r, Timestamp now);
  void on_cancel_result(const Pending& p, const CommandResult& r, Timestamp now);
  // How long before a lookup or cancel that got no answer is asked again.
  std::int64_t ask_again_after_ms(const BrokerError& e) const;

  // ---------------------------------------------------------------------------------------
  // Synchronizer.
  // ---------------------------------------------------------------------------------------
  std::optional<OrderId> find_local(const BrokerOrder& b);
  std::optional<OrderId> match_leg(const BrokerOrder& b);
  std::optional<OrderId> adopt_unrecorded(const BrokerOrder& b, Timestamp now);
  static RecentKeys::Fp event_key(const TradeUpdate& u);
  void on_trade_update(const TradeUpdate& u, const RecentKeys::Fp& key, Timestamp now);
  void apply_update(OrderId id, const TradeUpdate& u, Timestamp now);
  void record_latency(std::int64_t ms);
  void on_exit_ended(OrderId id, Timestamp now, bool at_once);
  bool ended_unfilled_elsewhere(const Order& o, OrderId group) const;
  void refresh_failed(OrderId id, const BrokerError& e, Timestamp now);
  std::int64_t backed_off_ms(const BrokerError& e, int& failures) const;
  void refresh_answered(OrderId id, Timestamp now);
  void stage_due_refreshes(Timestamp now);
  void unknown_fill_fetch_failed(const std::string& broker_order_id);
  bool heard_since(const Order& o, Timestamp t) const;
  void check_missing_orders(Timestamp missing_since, Timestamp now);
  void on_stream_connected(Timestamp now);
  void on_stream_disconnected(std::string_view reason, Timestamp now);
  void on_broker_reachability(bool reachable, std::string_view detail, Timestamp now);
  void on_stream_unreadable(std::string raw, std::string reason, Timestamp now);
  void stage_positions_when_due(Timestamp now);
  void begin_full_resync(Timestamp now);
  void start_catchup(Timestamp now);
  void stage_catchup_page(std::optional<std::string> page_token);
  void on_catchup_result(const CommandResult& r, Timestamp now);
  void adopt_caught_up_fill(const FillActivity& a, Timestamp now);
  void start_sweep(Timestamp now);
  void stage_sweep_page(std::optional<Timestamp> after);
  void sweep_order(const BrokerOrder& b, Timestamp now);
  void on_sweep_result(const Pending& p, const CommandResult& r, Timestamp now);
  void mark_synced(Timestamp now);
  void stage_positions(Timestamp);
  void ask_positions(Timestamp now);
  void on_positions_result(const Pending& p, const CommandResult& r, Timestamp now);
  void ask_about_entry(OrderId id, Timestamp now) override;  // PositionsReconciler::Host
  void request_reconcile(bool, Timestamp now);

  // ---------------------------------------------------------------------------------------
  // Timers.
  // ---------------------------------------------------------------------------------------
  void on_tick(Timestamp now);
  void check_unresolved_leg(OrderId id, Timestamp now) override;
  void on_legs_result(const Pending& p, const CommandResult& r, Timestamp now);
  bool any_hold_wait() const;
  void set_hold_wait(OrderId id, bool wait);
  // Memory stays bounded: the orders of a trade that ended are dropped once committed and quiet
  // (the store keeps them; a restart does not load them either). A late event for one of them
  // brings it back from the store (restore_pruned) and is judged like any other.
  void prune_ended_trades(Timestamp now);
  std::optional<OrderId> restore_pruned(const std::string& broker_id, const std::string& cid,
                                        Timestamp now);
  // Drops a held order from the ledger and from every watch list of the engine.
  void forget_order(OrderId id);
  void forget_watch(OrderId id);  // ... from the watch lists only
  void note_committed_order(OrderId id);

  // ---------------------------------------------------------------------------------------
  // Outputs.
  // ---------------------------------------------------------------------------------------
  void end_withheld_replaces(Timestamp now);
  void judge_withheld_entries_again(Timestamp now);
  // Released by release_ (release.h), counted and remembered here.
  std::vector<Command> take_commands(Timestamp now);
  void on_result(CommandId id, CommandResult r, Timestamp now);
  void drain_held_back(Timestamp now);
  std::optional<Timestamp> next_wakeup() const;

  // ---- state ----
  Store& store_;
  EngineConfig cfg_;
  std::mt19937_64 rng_;
  std::string owner_;
  Txn txn_;
  bool txn_open_ = false;  // begin() ran and no finish() or rollback() has ended it yet
  bool group_ = false;     // between Engine::begin_group() and commit_group()
  Ledger ledger_;  // orders, trades, our positions and their indexes (ledger.h)
  // Superset of the orders that may be waiting to be sent (state created, no parent): every
  // order that was inserted or changed since run_submitter last looked at it.
  std::set<OrderId> submit_candidates_;
  // Sells taken out of submit_candidates_ until the next positions read: they wait for nothing
  // else, and walking them on every event made each event O(waiting exits).
  std::set<OrderId> await_positions_;
  // Orders a restart found submitting/unknown, resolved by one listing (start_recovery).
  RecoveryListing recovery_;
  std::set<OrderId> hold_waiting_;            // aux.hold_wait set
  std::map<TradeId, Timestamp> ended_trades_;  // terminal trades held in memory, ended at
  std::unordered_map<OrderId, OrderAux> aux_;
  Alerts alerts_;
  std::map<std::string, std::string> sync_state_;
  std::set<TradeId> touched_trades_;
  ProtectionWatch protection_{cfg_.unprotected_grace_ms};
  ProtectionCheck protection_check_;  // when the check runs, the symbols it judges
  // Commands staged by the input running, queued once it commits, in flight until answered.
  Outbox outbox_;
  RateBudget budget_{{cfg_.rate_limit_per_min, cfg_.poll_interval_ms, cfg_.max_inflight_commands}};
  // Trades ensure_exits left without an exit at the per-minute cap: stepped again at this time.
  std::map<TradeId, Timestamp> exit_cap_wake_at_;
  // When a stock order of ours was last routed (`new`) or filled: the market is trading (what
  // an `accepted` market entry, which Alpaca holds outside hours, is judged by).
  std::optional<Timestamp> last_stock_routed_at_;
  // The broker's latest time a stock order of ours, as the store holds it, was routed or filled
  // (note_routed_before_start).
  std::optional<Timestamp> stock_routed_before_start_;
  CommandId catchup_first_page_ = 0;  // the first page of the catch-up running (paced)
  bool rate_dirty_ = false;
  std::vector<OrderEvent> sent_events_;  // "sent" audit events, written with the next commit
  // Entries clearing their way through the wash-trade check, per symbol (way_clearing.h).
  WayClearing clearing_;
  // Crypto trades holding coins with both exits: the broker's price picks their one exit, so
  // positions are read every idle poll interval while there are any (engine_sync on_tick).
  std::set<TradeId> crypto_watch_;
  std::set<TradeId> fractional_stop_refused_;  // its stop refused as a wash trade: take-profit
  std::set<OrderId> wash_priced_exits_;  // exits priced past our own orders (wash-trade check)
  std::set<OrderId> stand_in_entries_;   // entries priced inside them (engine_entries.cc)
  // Sends, lookups, cancels and fetches asked again, and the retry_storm window.
  RetrySchedule retries_;
  // Since when events may have been missed (a start, the stream down, a rolled-back commit)
  // with no sweep begun after it completed: the exits' cover is not confirmed.
  Blindness blindness_;
  std::unordered_set<OrderId> anomalous_;  // orders whose broken link was reported (once each)

  RecentKeys seen_events_{200'000};
  SeenActivities seen_activities_{200'000};  // fill activities the catch-up took in
  UnmatchedEvents unmatched_;  // stream events of orders not matched yet (a leg's, held)
  std::set<std::string> unknown_fill_orders_;
  std::unordered_set<std::string> checked_unknown_;
  std::unordered_set<std::string> sweep_seen_;
  StreamWatch stream_;  // the trade_updates stream: connected, last event, a fill it dropped
  // How often the broker is polled, and how long without a completed poll is sync lag.
  SyncCadence cadence_{{cfg_.poll_interval_ms, cfg_.idle_poll_interval_ms, cfg_.sync_lag_ms},
                       stream_};
  // The fill catch-up and the open-order sweep: running, last completed, backoff (poll_schedule.h).
  Poll catchup_, sweep_;
  PollBackoff positions_backoff_;
  std::optional<Timestamp> watermark_seen_at_;  // when the fill watermark last moved
  bool watermark_settled_ = false;  // the overlap before it was read once everything was visible
  PositionsRead positions_read_;  // the broker's positions as last read, and their age
  std::optional<Timestamp> last_sync_at_;
  bool resync_due_ = false;
  StoreHealth store_health_;  // failing since the first failed commit after the last good
  bool broker_ok_ = true;
  Timestamp started_at_;
  Timestamp last_now_;
  // Judges each symbol's cover from the state above (declared after all it reads).
  CoverJudge cover_{
      {cfg_.idle_poll_interval_ms, cfg_.unprotected_grace_ms, cfg_.inflight_check_ms},
      {ledger_, aux_, positions_read_, blindness_, catchup_, protection_, protection_check_,
       oversold_symbols_, stock_routed_before_start_, started_at_, last_now_}};
  // Raises, audits and clears gaps in each position's cover (principle 9), as cover_ judges.
  ProtectionMonitor protection_monitor_{
      cfg_.unprotected_grace_ms,
      {ledger_, aux_, sync_state_, blindness_, protection_, protection_check_, alerts_, cover_,
       started_at_},
      *this};
  // Which queued commands leave now, and in what order (after cover_, which it reads).
  CommandRelease release_{{cfg_.unprotected_grace_ms},
                          {ledger_, aux_, cover_, cadence_, sweep_, catchup_first_page_},
                          outbox_,
                          budget_,
                          *this};
  // What a change of a trade's exits becomes (modify_exits carries it out).
  ExitChangePlanner exit_changes_{{ledger_, aux_, positions_read_, wash_priced_exits_}};
  // The orders whose outcome is not confirmed, looked up at each tick (inflight_check.h).
  InflightCheck inflight_{{cfg_.inflight_check_ms, cfg_.stuck_order_ms, cfg_.retry_max_attempts},
                          {ledger_, last_stock_routed_at_},
                          {aux_, retries_, alerts_},
                          *this};
  // Whether a trade may be opened, changed or closed beside our others (admission.h).
  TradeAdmission admission_{{ledger_, positions_read_, oversold_symbols_}};
  Reconciliation reconcile_;  // the report of a reconciliation asked for, positions' drift
  EngineMetrics metrics_;
  // The alerts about the engine itself: raised, and cleared once settled (alert_rules.h).
  AlertRules alert_rules_{{cfg_.retry_storm_window_ms, cfg_.retry_storm_attempts},
                          {ledger_, cover_, cadence_, last_sync_at_, retries_, budget_},
                          alerts_,
                          metrics_};
  // Our positions judged against the broker's at each read (after all it reads and changes).
  PositionsReconciler reconciler_{
      {ledger_, positions_read_, cover_, sync_state_, sweep_, catchup_},
      {reconcile_, alerts_, protection_check_, metrics_},
      *this};
  // Health, metrics and positions as the engine shows them (declared after all they read).
  EngineViews views_{{ledger_, positions_read_, cover_, alerts_, stream_, cadence_, store_health_,
                      budget_, metrics_, last_sync_at_, broker_ok_}};
};

}  // namespace orderly
