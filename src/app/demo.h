#pragma once
// `orderly demo`: the incident, replayed against orderly on the embedded default. An in-process
// Alpaca simulator (virtual time), a SQLite store in a temporary directory, the engine's
// deterministic SimulationRuntime. Entries fill, the emulated take-profits are accepted, the fault
// plan drops every take-profit fill event on the stream (what the incident's platform never
// saw), some take-profits fill, the others stay open holding the shares. Then the result is
// measured against the broker model: no 40310000, no duplicate, nothing out of sync.

#include <cstdint>
#include <functional>
#include <string>

#include "app/forensics.h"
#include "core/status.h"

namespace orderly::app {

struct DemoResult {
  int symbols = 0;
  std::int64_t submissions = 0;              // POST /v2/orders the broker received
  std::int64_t retries = 0;                  // resubmissions the engine decided
  std::int64_t insufficient_qty_errors = 0;  // 40310000 answers the broker gave
  std::int64_t duplicate_submissions = 0;    // extra broker orders for one intent
  std::int64_t orders_out_of_sync = 0;       // local state or filled qty != the broker's
  std::int64_t position_mismatches = 0;      // local ledger qty != the broker's position
  std::int64_t fills_stream = 0;
  std::int64_t fills_poll = 0;
  std::int64_t detection_ms_max = 0;  // broker fill time -> local state (virtual ms)
  std::string per_symbol;             // a table, one row per symbol
  ForensicsReport forensics;          // from orderly's own audit log
};

// `progress` receives one line at each phase. Runs in a fresh temporary directory (removed).
StatusOr<DemoResult> run_demo(const std::function<void(const std::string&)>& progress);

// Exactly DESIGN.md's demo JSON.
std::string demo_json(const DemoResult& result);

}  // namespace orderly::app
