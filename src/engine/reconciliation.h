#pragma once
// The Reconciler's state (issue 21: out of five Impl fields over two files). A reconciliation a
// person asked for (POST /api/reconcile, `orderly reconcile`) runs as a full resync: its report
// gathers what the sweep, the catch-up and the positions read found, and is kept once they are
// done until it is taken. Between reconciliations the counts go on (a later request starts a
// new report). And the positions read's verdicts: how many reads in a row a symbol's position
// has differed from the broker's (a mismatch is raised on the second: one read may cross a fill
// in flight).

#include <map>
#include <optional>
#include <string>
#include <unordered_set>

#include "engine/control.h"

namespace orderly {

class Reconciliation {
 public:
  // ---- The report ---------------------------------------------------------------------------
  // Asked for: a new report, and every order the sweep meets is a finding again.
  void request();
  bool requested() const { return requested_; }
  ReconcileReport& report() { return report_; }
  // The first time since the last request that the broker's order `broker_id` is reported
  // (as another client's, or ours with no trade in the store).
  bool first_finding_about(const std::string& broker_id) {
    return reported_.insert(broker_id).second;
  }
  // The resync it asked for is done: the report is final, kept until taken.
  void finish();
  std::optional<ReconcileReport> take_finished();
  // The findings so far of the one running (complete = false); none when none runs.
  std::optional<ReconcileReport> progress() const;

  // ---- Drift of our positions from the broker's ------------------------------------------------
  // Symbols whose last read differed (judged again, so that a drift gone is cleared).
  const std::map<std::string, int>& drifting() const { return drift_; }
  void agreed(const std::string& symbol) { drift_.erase(symbol); }
  // Differed again: the reads in a row it has.
  int differed(const std::string& symbol) { return ++drift_[symbol]; }

 private:
  bool requested_ = false;
  ReconcileReport report_;
  std::optional<ReconcileReport> finished_;
  std::unordered_set<std::string> reported_;
  std::map<std::string, int> drift_;
};

}  // namespace orderly
