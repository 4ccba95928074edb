#pragma once
// Internal to orderly_engine: the state the engine's parts share. Not part of the public API:
// include engine/engine.h.
//   The parts that write it, one class each (Engine::Impl in engine.cc wires them):
//   engine.cc         Engine::Impl: the public wrappers, each input framed, results dispatched
//   transaction.cc    Transaction: begin, finish, rollback; audit, state changes, start, pruning
//   trade_executor.cc TradeExecutor: intents; the trade manager's decisions carried out
//   stand_in_entries.cc StandInEntries: an entry sent as a limit inside our own opposite
//                     orders, sent again once they moved
//   exit_modifier.cc  ExitModifier: a trade's exits changed after it opened
//   submitter.cc      Submitter: sends, retries, broker answers to our orders, recovery
//                     (submitter_session.cc: what waits for the next market session)
//   synchronizer.cc   Synchronizer: stream, catch-up, sweeps, positions reads, timers
//   lookups.cc        Lookups: the GETs asking the broker what became of an order of ours
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
//   views.cc          EngineViews (held by Engine::Impl): health, metrics, positions
//   wash_pricing.cc   an exit's price past our own opposite orders (wash-trade check)
//   way_clearing.cc   WayClearing: entries clearing their way through the wash-trade check

#include <algorithm>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
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

// The ledger and the components every part of the engine reads (one per engine, held by
// Engine::Impl). What one part alone uses is that part's own: the Transaction's open batch, the
// Submitter's recovery listing, the Synchronizer's sweep bookkeeping.
struct EngineState {
  // The engine's answers to its components' questions (Engine::Impl forwards each to the part
  // that decides it).
  struct Hosts {
    ProtectionMonitor::Host& monitor;
    CommandRelease::Host& release;
    PositionsReconciler::Host& reconciler;
    InflightCheck::Host& inflight;
  };

  EngineState(Store& store_in, EngineConfig config, Hosts hosts_in)
      : hosts(hosts_in), store(store_in), cfg(std::move(config)) {}
  // Its components hold references to its fields (cover, protection_monitor, release...).
  EngineState(const EngineState&) = delete;
  EngineState& operator=(const EngineState&) = delete;

  Hosts hosts;
  Store& store;
  EngineConfig cfg;
  std::string owner;
  Ledger ledger;  // orders, trades, our positions and their indexes (ledger.h)
  // Superset of the orders that may be waiting to be sent (state created, no parent): every
  // order that was inserted or changed since run_submitter last looked at it.
  std::set<OrderId> submit_candidates;
  // Sells taken out of submit_candidates_ until the next positions read: they wait for nothing
  // else, and walking them on every event made each event O(waiting exits).
  std::set<OrderId> await_positions;
  std::set<OrderId> hold_waiting;            // aux.hold_wait set
  std::map<TradeId, Timestamp> ended_trades;  // terminal trades held in memory, ended at
  // Where a trade whose entries are done has sold more than they bought (noted by
  // TradeExecutor::note_if_oversold). Never emptied: an over-sell is rare, and a symbol kept
  // costs only a walk of its orders.
  std::set<std::string> oversold_symbols;
  std::set<TradeId> oversold_trades;  // noted by note_if_oversold until pruned
  std::unordered_map<OrderId, OrderAux> aux;
  Alerts alerts;
  std::map<std::string, std::string> sync_state;
  std::set<TradeId> touched_trades;
  ProtectionWatch protection{cfg.unprotected_grace_ms};
  ProtectionCheck protection_check;  // when the check runs, the symbols it judges
  // Commands staged by the input running, queued once it commits, in flight until answered.
  Outbox outbox;
  RateBudget budget{{cfg.rate_limit_per_min, cfg.poll_interval_ms, cfg.max_inflight_commands}};
  // Trades ensure_exits left without an exit at the per-minute cap: stepped again at this time.
  std::map<TradeId, Timestamp> exit_cap_wake_at;
  // When a stock order of ours was last routed (`new`) or filled: the market is trading (what
  // an `accepted` market entry, which Alpaca holds outside hours, is judged by).
  std::optional<Timestamp> last_stock_routed_at;
  // The broker's latest time a stock order of ours, as the store holds it, was routed or filled
  // (note_routed_before_start).
  std::optional<Timestamp> stock_routed_before_start;
  CommandId catchup_first_page = 0;  // the first page of the catch-up running (paced)
  bool rate_dirty = false;
  std::vector<OrderEvent> sent_events;  // "sent" audit events, written with the next commit
  // Entries clearing their way through the wash-trade check, per symbol (way_clearing.h).
  WayClearing clearing;
  // Crypto trades holding coins with both exits: the broker's price picks their one exit, so
  // positions are read every idle poll interval while there are any (Synchronizer::on_tick).
  std::set<TradeId> crypto_watch;
  std::set<TradeId> fractional_stop_refused;  // its stop refused as a wash trade: take-profit
  std::set<OrderId> wash_priced_exits;  // exits priced past our own orders (wash-trade check)
  std::set<OrderId> stand_in_entries;   // entries priced inside them (stand_in_entries.cc)
  // Sends, lookups, cancels and fetches asked again, and the retry_storm window.
  RetrySchedule retries;
  // Since when events may have been missed (a start, the stream down, a rolled-back commit)
  // with no sweep begun after it completed: the exits' cover is not confirmed.
  Blindness blindness;
  RecentKeys seen_events{200'000};
  SeenActivities seen_activities{200'000};  // fill activities the catch-up took in
  UnmatchedEvents unmatched;  // stream events of orders not matched yet (a leg's, held)
  StreamWatch stream;  // the trade_updates stream: connected, last event, a fill it dropped
  // How often the broker is polled, and how long without a completed poll is sync lag.
  SyncCadence cadence{{cfg.poll_interval_ms, cfg.idle_poll_interval_ms, cfg.sync_lag_ms},
                       stream};
  // The fill catch-up and the open-order sweep: running, last completed, backoff (poll_schedule.h).
  Poll catchup, sweep;
  PositionsRead positions_read;  // the broker's positions as last read, and their age
  std::optional<Timestamp> last_sync_at;
  bool resync_due = false;
  StoreHealth store_health;  // failing since the first failed commit after the last good
  bool broker_ok = true;
  Timestamp started_at;
  Timestamp last_now;
  // Judges each symbol's cover from the state above (declared after all it reads).
  CoverJudge cover{
      {cfg.idle_poll_interval_ms, cfg.unprotected_grace_ms, cfg.inflight_check_ms},
      {ledger, aux, positions_read, blindness, catchup, protection, protection_check,
       oversold_symbols, stock_routed_before_start, started_at, last_now}};
  // Raises, audits and clears gaps in each position's cover (principle 9), as cover_ judges.
  ProtectionMonitor protection_monitor{
      cfg.unprotected_grace_ms,
      {ledger, aux, sync_state, blindness, protection, protection_check, alerts, cover,
       started_at},
      hosts.monitor};
  // Which queued commands leave now, and in what order (after cover_, which it reads).
  CommandRelease release{{cfg.unprotected_grace_ms},
                         {ledger, aux, cover, cadence, sweep, catchup_first_page, clearing},
                         outbox,
                         budget,
                         hosts.release};
  // The orders whose outcome is not confirmed, looked up at each tick (inflight_check.h).
  InflightCheck inflight{{cfg.inflight_check_ms, cfg.stuck_order_ms, cfg.retry_max_attempts},
                          {ledger, last_stock_routed_at},
                          {aux, retries, alerts},
                          hosts.inflight};
  // Whether a trade may be opened, changed or closed beside our others (admission.h).
  TradeAdmission admission{{ledger, positions_read, oversold_symbols}};
  Reconciliation reconcile;  // the report of a reconciliation asked for, positions' drift
  EngineMetrics metrics;
  // The alerts about the engine itself: raised, and cleared once settled (alert_rules.h).
  AlertRules alert_rules{{cfg.retry_storm_window_ms, cfg.retry_storm_attempts},
                          {ledger, cover, cadence, last_sync_at, retries, budget},
                          alerts,
                          metrics};
  // Our positions judged against the broker's at each read (after all it reads and changes).
  PositionsReconciler reconciler{
      {ledger, positions_read, cover, sync_state, sweep, catchup},
      {reconcile, alerts, protection_check, metrics},
      hosts.reconciler};
};

}  // namespace orderly
