#pragma once
// The engine: a deterministic, IO-free state machine that owns the in-memory state of one broker
// account (trades, orders, positions ledger, alerts, sync watermarks). It is fed inputs (intents,
// broker answers, stream updates, the time) and emits Commands (broker requests) that a runtime
// executes. Principle 7 of DESIGN.md: this is what lets one seed replay a whole run with faults
// and crashes.
//
// Transactional outbox: every input's state changes and their audit events are written to the
// Store in ONE WriteBatch, and the commands that input produced are released by take_commands()
// only after that batch committed. A failed commit rolls the in-memory change back, marks the
// store unhealthy and raises an alert; no command for an uncommitted intent ever leaves.
//
// Where things are decided (Engine::Impl, in engine.cc, wires the parts that write the shared
// state of engine_state.h, each a class with its own header; the components they use beside):
//   Submitter    - retries, backoff, 40310000 / 40010001 handling, unknown -> lookup
//                  (submitter.{h,cc}; every lookup staged by Lookups, lookups.{h,cc}); what
//                  waits for the next session (submitter_session.cc); when a send, a lookup, a
//                  cancel or a fetch is asked again, and the retry_storm window
//                  (retry_schedule.{h,cc}); the orders a restart found in flight, resolved by
//                  one listing (recovery_listing.{h,cc})
//   TradeManager - what each trade needs next, decided from its orders (trade_manager.{h,cc}:
//                  its state, exits to place, resize or cancel, the per-minute cap, what a
//                  closing trade cancels and flattens) and carried out, with the entry's
//                  exits (native bracket or one emulated OCO) and exits priced past our own
//                  orders (TradeExecutor, trade_executor.{h,cc}); what each trade holds once
//                  shares our exits sold beyond their own trades are charged (holdings.{h,cc})
//   Synchronizer - stream updates, fill catch-up, open-order sweep (synchronizer.{h,cc}); how
//                  often it polls, what is sync lag (sync_cadence.{h,cc}); when the catch-up
//                  and the sweep run, their backoff (poll_schedule.{h,cc}); the fill
//                  activities taken in (seen_activities.{h,cc}); a leg's events held until its
//                  id is known (unmatched_events.{h,cc}); orders whose outcome is unconfirmed
//                  looked up, and stuck orders raised (inflight_check.{h,cc})
//   Reconciler   - our positions vs the broker's at each read, crypto dust, entries a read
//                  may show filled asked about (positions_reconciler.{h,cc}); adoption of
//                  our unrecorded orders (synchronizer.cc); a reconciliation's report and our
//                  positions' drift (reconciliation.{h,cc});
//                  the broker's positions as last read, and which symbols that read still
//                  speaks for after our own fills (positions_read.{h,cc})
//   Admission    - whether a trade may be opened, have its exits changed or be closed beside
//                  our other trades: the other direction, a fractional short, the pairs
//                  Alpaca's wash-trade check keeps from both being protected (admission.{h,cc})
//   Modify       - a trade's exits changed after it opened: what each exit becomes, or why
//                  the change is refused (exit_change.{h,cc}); replaced at the broker, or
//                  canceled and placed again where Alpaca takes no replace (ExitModifier,
//                  exit_modifier.{h,cc})
//   ExitBook     - per symbol and side, our working orders: what covers a position, what
//                  Alpaca's wash-trade check would meet (exit_book.{h,cc}); entries routed
//                  around it (StandInEntries, stand_in_entries.{h,cc}), clearing their way
//                  (way_clearing.{h,cc});
//                  whether a position is covered and since when a gap began, entries that
//                  may have filled unheard while blind, missing from a sweep or with no fill
//                  catch-up answered (cover_judge.{h,cc}); gaps raised as
//                  unprotected_position, audited, cleared (protection_monitor.{h,cc}); when the
//                  check runs and which symbols it judges (protection_check.{h,cc})
//   Ledger       - the orders, trades and our positions held in memory, the indexes that find
//                  an order by id, client id, broker id, trade and symbol, what a fill moves,
//                  and the changes of the input running (its commit's rows, undone if it
//                  fails) (ledger.{h,cc})
//   Transaction  - one WriteBatch per input, rollback on failure, every state change through
//                  the state machine and audited, the start's load (transaction.{h,cc}); the
//                  commands an input staged leave only after its commit, and what each was
//                  issued for is kept until its answer (outbox.{h,cc})
//   Release      - which queued commands leave now and in what order: the rate budget's
//                  shares (rate_budget.{h,cc}), slots kept for the exits of released entries,
//                  commands overtaken while they waited withheld (release.{h,cc})
//   Wash pricing - an exit sent alone priced past our own opposite orders, and back
//                  (wash_pricing.{h,cc})
//   Alerts       - raised once per kind and subject, undone with a failed commit
//                  (alerts.{h,cc}); sync lag, retry storms, the budget nearly spent, unreadable
//                  broker data, and when alerts about an order or an anomaly settle
//                  (alert_rules.{h,cc})
//   Views        - health as /healthz serves it, metrics as Prometheus text, each position
//                  beside the broker's (views.{h,cc}); how health is judged (control.cc)
//
// Thread-compatibility: not thread-safe; a runtime calls it from one thread.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"
#include "core/audit.h"
#include "core/order.h"
#include "core/status.h"
#include "core/time.h"
#include "core/trade.h"
#include "engine/command.h"
#include "engine/control.h"
#include "store/store.h"

namespace orderly {

// Every default written once; mirrors the TOML keys of DESIGN.md ([broker], [sync], [retry],
// [alerts]) plus the engine's own bounds.
struct EngineConfig {
  std::string account_identity = "default";  // hashed into the client_order_id owner tag
  int rate_limit_per_min = 190;              // all REST calls together (Alpaca allows 200)
  std::int64_t poll_interval_ms = 1000;      // sweep/catch-up while the stream is down or suspect
  // While the stream is healthy: the fill catch-up (a fill the stream lost is found within
  // it) and the open-order sweep (a lost cancel or expiry is found within it).
  std::int64_t idle_poll_interval_ms = 10000;
  std::int64_t idle_sweep_interval_ms = 60000;
  std::int64_t retry_base_ms = 1000;
  std::int64_t retry_cap_ms = 300000;
  int retry_max_attempts = 8;
  std::int64_t sync_lag_ms = 5000;        // alert when a poll is this late (sync_lag_limit)
  std::int64_t stuck_order_ms = 30000;    // alert when an order stays submitting/unknown this long
  std::int64_t inflight_check_ms = 5000;  // look up submitting/unknown/pending_new older than this
  std::int64_t positions_max_age_ms = 2000;  // refresh positions before a sell older than this
  std::int64_t reconcile_interval_ms = 60000;  // positions vs the broker
  int lookup_not_found_max = 3;  // definite 404s by client id before an intent counts as absent
  int retry_storm_attempts = 20;  // submission attempts in the window that raise retry_storm
  std::int64_t retry_storm_window_ms = 60000;
  int list_page_size = 500;       // Alpaca's maximum for GET /v2/orders
  int activity_page_size = 100;   // Alpaca's maximum for account activities
  int max_inflight_commands = 8;  // commands released but not answered
  // A filled position may lack a working exit at the broker this long (the exit on its way, an
  // exit being re-placed) before it is reported as an unprotected_position alert.
  std::int64_t unprotected_grace_ms = 5000;
  std::uint64_t seed = 1;         // jitter RNG: a seed replays exactly
};

class Engine {
 public:
  Engine(Store& store, EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Loads the store (crash-only: the same path for a clean start and for recovery), then schedules
  // a lookup by client id for every submitting/unknown order and a full resync.
  Status start(Timestamp now);

  // ---- Inputs ----
  // Validates, records the trade and its entry durably; the submission follows as a command.
  StatusOr<Trade> open_trade(const TradeSpec& spec, Timestamp now);
  // Cancels the entry if working and the exits, then flattens what is held with a market order.
  Status cancel_trade(TradeId id, Timestamp now);
  // Cancels a trade that holds nothing yet: its entry (and exits not sent). A fill that races
  // the cancel keeps exits for what filled (the trade then opens). Conflict while the trade
  // holds a position (cancel_trade flattens it) or while its entry is on its way to the broker.
  Status cancel_entry(TradeId id, Timestamp now);
  // cancel_trade for every trade not yet ended; the ids of those now closing.
  StatusOr<std::vector<TradeId>> close_all(Timestamp now);
  // New exit targets for a trade that has not ended (exit_modifier.cc): validated like a new
  // trade's, recorded with the trade, and the exits at the broker follow.
  Status modify_exits(TradeId id, const ExitChange& change, Timestamp now);
  void on_result(CommandId id, CommandResult result, Timestamp now);
  void on_trade_update(const TradeUpdate& update, Timestamp now);
  void on_stream_connected(Timestamp now);
  void on_stream_disconnected(std::string_view reason, Timestamp now);
  // The runtime found the broker unreachable (connection failures; calls wait) or back (a full
  // resync follows at once: what happened meanwhile was not seen).
  void on_broker_reachability(bool reachable, std::string_view detail, Timestamp now);
  // A trade_updates message that could not be read: counted, alerted, and a fill catch-up runs.
  void on_stream_unreadable(std::string raw, std::string reason, Timestamp now);
  void on_tick(Timestamp now);
  // Asks for a full resync (fill catch-up + sweep + positions) and a reconciliation report;
  // `fix` adopts what can be adopted (always done for our own orders) and records drift.
  void request_reconcile(bool fix, Timestamp now);

  // ---- Group commit (DESIGN "Storage") ----
  // The inputs given between begin_group() and commit_group() (on_result, on_trade_update,
  // on_stream_*, on_broker_reachability, on_tick, request_reconcile) are applied as one
  // transaction: one store commit at commit_group(), their commands released by take_commands()
  // only after it. A failed commit rolls back every one of them, as it rolls back one input. An
  // intent (open_trade, cancel_*, close_all, modify_exits) answers with its commit: inside a
  // group it commits what the group holds so far with its own changes.
  void begin_group();
  Status commit_group(Timestamp now);

  // REST calls made beside the engine in the last minute (asset, account and clock reads:
  // broker/outside_calls.h), as the runtime counts them before each take_commands: the budget
  // keeps the minute's calls under the broker's limit with them (RateBudget::fits).
  void set_outside_calls(std::int64_t calls_last_minute);

  // ---- Outputs ----
  // Committed commands within the rate budget, highest priority first. The rest wait.
  std::vector<Command> take_commands(Timestamp now);
  // When on_tick should run next (earliest timer), or nullopt if nothing is scheduled.
  std::optional<Timestamp> next_wakeup() const;
  // The report of the last finished request_reconcile, once (nullopt while it is running).
  std::optional<ReconcileReport> take_reconcile_report();
  // The findings so far of the reconciliation still running (complete = false), if any.
  std::optional<ReconcileReport> reconcile_progress() const;

  // ---- Views ----
  Health health(Timestamp now) const;
  const EngineMetrics& metrics() const;
  std::string metrics_text(Timestamp now) const;
  std::vector<PositionView> positions() const;
  std::vector<Trade> trades() const;
  std::vector<Order> orders() const;  // every order held in memory
  std::optional<Order> order(OrderId id) const;
  std::optional<Order> order_by_client_id(std::string_view cid) const;
  std::vector<Alert> active_alerts() const;
  // The owner tag in our client_order_ids (account tag + store instance tag).
  const std::string& owner() const;
  // Commands released and not yet answered, and commands waiting for budget.
  std::size_t inflight_commands() const;
  std::size_t queued_commands() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly
