#pragma once
// The invariants of DESIGN.md "Deterministic simulation testing", checked against the two sides
// of the truth: the exchange model (asked directly, outside the engine's rate budget and after
// the faults stopped) and the store (what survived every crash).
//
//   I1  at most one broker order per intent; an order whose broker id is committed is never sent
//       again (checked at each POST /v2/orders)
//   I2  no 40310000 caused by our own orders (the scenario has no external holds)
//   I3  every local order equals the broker's status and filled qty; every broker order of ours
//       is recorded locally; nothing left submitting/unknown; memory equals the store
//   I4  local positions equal the broker's
//   I5  every stored order's state is the `to` of its last audit event; events chain (from = the
//       previous to); seq gap-free
//   I6  no filled entry without a working exit after the quiet period; no trade stuck closing;
//       continuously (check_protection): no position at the broker without a working exit of ours
//       for longer than the bound
//   I7  REST calls per virtual minute never exceed the configured limit
//   I8  every order's fill rows sum to its filled qty, whichever source told of the fill
//   I9  after the quiet period, a modified trade's exits at the broker are at its targets
//       (world.cc)
//   I10 no input is rolled back for a state the engine did not expect (an exception inside an
//       input: the engine survives it by a full resync, so no other invariant need notice;
//       world.cc)

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/order_state.h"
#include "core/time.h"
#include "engine/engine.h"
#include "sim/exchange.h"
#include "store/store.h"

namespace orderly::dst {

class Checker {
 public:
  using Report = std::function<void(const std::string& invariant, const std::string& details)>;

  Checker(sim::Exchange& exchange, Store& store, ManualClock& clock, std::string owner,
          Report report, int rate_limit_per_min = 190)
      : exchange_(exchange), store_(store), clock_(clock), owner_(std::move(owner)),
        report_(std::move(report)), rate_limit_(rate_limit_per_min) {}

  void on_submit(const std::string& cid);
  // `positions_read_at`: when the engine last received the broker's positions.
  void on_insufficient_qty(const std::string& request, const std::string& body,
                           std::optional<Timestamp> positions_read_at);
  void check_audit_log();
  void check_rate(std::int64_t max_calls_per_minute);
  void check_final(const Engine& engine);
  // I6 continuously, from the exchange's side (read beside the engine, outside its rate budget
  // and the fault plan): a symbol whose position has no open order of ours on the other side
  // that is not an entry is unprotected from the first look that saw it so. Principle 9: a gap
  // is bounded, audited and raised. Past `p.bound_ms` it is a violation unless the engine has
  // raised `unprotected_position` for the symbol (`raised`: the symbols whose alert is active
  // now) within `p.raise_within_ms` more; a raised gap is a violation past `p.raised_bound_ms`.
  // Returns the longest window seen so far (for --protection-stats). Time the engine is down
  // (killed, not yet restarted) is not counted: no process can act then.
  // Two exceptions widen the silent window, and only they: what the stream lost while it looked
  // healthy, which only the engine's polls can find (issue 20 item 4 sets their cadence). A fill
  // of the symbol whose stream message never reached the connection (dropped or still delayed by
  // the fault plan) is found by the next fill catch-up, every `lost_fill_ms` (the engine's
  // idle_poll_interval_ms); an exit canceled or expired whose message never reached it (and no
  // other exit of its group was heard ending) by the next open-order sweep, every `lost_end_ms`
  // (idle_sweep_interval_ms). Within that long (plus the bound and raise_within_ms) of such a
  // loss a gap not yet raised passes.
  struct ProtectionBounds {
    std::int64_t bound_ms = 0;
    std::int64_t raise_within_ms = 0;
    std::int64_t raised_bound_ms = 0;
    std::int64_t lost_fill_ms = 0;
    std::int64_t lost_end_ms = 0;
  };
  std::int64_t check_protection(const ProtectionBounds& p, bool engine_up,
                                const std::set<std::string>& raised);
  // A trade_updates message that reached the connection, heard by the engine or not (the stream
  // or the engine down: both end in a resync).
  void on_stream_message(const TradeUpdate& u);
  // The exchange's answer to a harness request (X-Sim-Control: no rate limit, no faults).
  sim::HttpReply control(const std::string& method, const std::string& target);

 private:
  // Reports a violation once per (invariant, key), so one bug does not flood the output.
  void report(const std::string& inv, const std::string& key, const std::string& details);
  std::optional<std::string> get(const std::string& target);
  bool ours(const std::string& cid) const;
  std::string last_note(OrderId id);  // the order's last audit event, for a report
  void check_fill_rows(const std::vector<Order>& local);  // I8
  bool lost_fill_within(const std::string& symbol, std::int64_t window_ms);
  bool lost_end_within(const std::string& symbol, std::int64_t window_ms);
  bool replace_raced_a_fill(const std::string& request);
  bool holder_filled_since_read(const std::string& body, std::optional<Timestamp> read_at);

  sim::Exchange& exchange_;
  Store& store_;
  ManualClock& clock_;
  std::string owner_;
  Report report_;
  int rate_limit_;
  std::set<std::string> reported_;
  std::int64_t last_seq_ = 0;
  std::map<OrderId, OrderState> last_to_;  // per order: `to` of its last audit event
  std::map<OrderId, Decimal> last_filled_;
  struct Unprotected {
    Timestamp since, last_look;
    std::int64_t counted_ms = 0;  // while the engine was up
    bool raised = false;          // the engine raised unprotected_position during the gap
  };
  std::map<std::string, Unprotected> unprotected_;  // by symbol
  std::map<std::string, Decimal> streamed_filled_;  // broker order id -> filled qty the stream told
  std::set<std::string> streamed_ended_;  // broker order ids whose end the stream told
  // By symbol and exit side: the latest broker time the stream told of an exit working there.
  // The checks look every 500 ms; cover between two looks (placed, then filled) ends a gap.
  std::map<std::pair<std::string, Side>, Timestamp> cover_told_;
  std::int64_t longest_unprotected_ms_ = 0;
};

}  // namespace orderly::dst
