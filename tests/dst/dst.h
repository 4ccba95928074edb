#pragma once
// orderly-dst: deterministic simulation testing (DESIGN.md "Deterministic simulation testing").
// One seed fully determines a run: the trades, the prices, the virtual clock, the fault plan
// (stream, HTTP, storage), crashes and restarts. Invariants I1-I7 are checked during the run and
// after the faults stop and a quiet period.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace orderly::dst {

// Fault kinds a seed may draw from (`--faults` narrows the set).
//   stream:  drop duplicate reorder delay disconnect
//   http:    http503 http429 slow lose_response
//   engine:  crash (kill -9 at a random moment or right before/after a command), result_delay
//   storage: store (failed commits, failed loads at restart)
const std::vector<std::string>& all_fault_kinds();

struct Options {
  std::uint64_t seed = 1;
  std::set<std::string> faults;  // allowed kinds; every kind when empty
  bool verbose = false;
  bool echo_trace = false;  // print every trace line as it happens (debugging one seed)
  std::string mutation;     // "", "resubmit" (EngineConfig) or "no_exit_book" (transport)
  int steps = 40;
  // I6 continuously (after every slice of virtual time, from the exchange's side). Off by
  // default until the engine keeps every position protected within the bound (issue 14).
  bool check_protection = false;
  bool protection_stats = false;  // measure the windows without judging them
  // Issue 14's situations on top of the base workload (7 seeds in 10, drawn apart so the base
  // workload's seeds replay as before): short entries, reversing, fractional quantities, day
  // orders across session closes, bursts, exits canceled by another client.
  bool extended_workload = false;
  // Issue 17's trades on top of the extended workload (`--workload trades`): modifies of open
  // trades' exits, stop and stop-limit entries, trailing-stop exits, a stop-loss or a
  // take-profit alone, crypto pairs. Its own name, so extended seeds replay as before.
  bool trades_workload = false;
};

struct Violation {
  std::string invariant;  // "I1".."I7" (or "setup")
  std::string details;
};

struct RunResult {
  std::vector<Violation> violations;
  std::vector<std::string> trace_tail;  // the last lines of the trace
  std::uint64_t trace_hash = 0;
  std::int64_t trace_lines = 0;
  // What this run exercised: fault kinds the exchange/store actually injected, crash points hit.
  std::map<std::string, std::int64_t> coverage;
  std::string summary;  // one line of figures (trades, orders, fills, REST calls)
  std::int64_t longest_unprotected_ms = 0;  // with check_protection or protection_stats
};

RunResult run_seed(const Options& options);

}  // namespace orderly::dst
