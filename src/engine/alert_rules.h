#pragma once
// The rules that raise and clear the engine's alerts about itself (issue 21: out of
// Engine::Impl), beside those raised where their event happens: sync lag, a retry storm, the
// REST budget nearly spent, elements of broker answers skipped as unreadable; and when alerts
// about an order, a symbol or an anomaly have settled and clear. Gaps in a position's cover are
// the protection monitor's (protection_monitor.h).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "core/time.h"
#include "engine/alerts.h"
#include "engine/control.h"
#include "engine/cover_judge.h"
#include "engine/ledger.h"
#include "engine/rate_budget.h"
#include "engine/retry_schedule.h"
#include "engine/sync_cadence.h"

namespace orderly {

class AlertRules {
 public:
  struct Config {
    std::int64_t retry_storm_window_ms = 0;
    int retry_storm_attempts = 0;  // re-sends and refusals within the window that make a storm
  };
  // The engine's state it judges by: held by reference, read at each call. Counting the last
  // minute or window lets what aged out of it go, hence the two not const.
  struct Sources {
    const Ledger& ledger;
    const CoverJudge& cover;  // whether a symbol is covered or flat
    const SyncCadence& cadence;  // how long without a completed poll is sync lag now
    const std::optional<Timestamp>& last_sync_at;  // the last completed poll
    RetrySchedule& retries;
    RateBudget& budget;
  };

  AlertRules(Config config, Sources sources, Alerts& alerts, EngineMetrics& metrics)
      : cfg_(config), s_(sources), alerts_(alerts), metrics_(metrics) {}

  // Elements of a broker answer skipped as unreadable: counted, each kept in an alert (once
  // per kind and id) that clears a stated period after the broker last sent it.
  void note_unreadable(const std::vector<UnreadableItem>& items, Timestamp now);
  // At each tick.
  void check(Timestamp now);

 private:
  void clear_settled(Timestamp now);

  Config cfg_;
  Sources s_;
  Alerts& alerts_;
  EngineMetrics& metrics_;
  // When each unreadable element was last seen. Not undone with a failed commit: it only moves
  // a clearing.
  std::map<std::string, Timestamp> unreadable_seen_;
};

}  // namespace orderly
