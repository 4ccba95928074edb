#pragma once
// What the engine shows of itself (issue 21: out of Engine::Impl): its health as /healthz
// serves it, its metrics as Prometheus text, each symbol's position as we hold it beside the
// broker's. It reads the engine's state and changes none of it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"
#include "engine/alerts.h"
#include "engine/control.h"
#include "engine/cover_judge.h"
#include "engine/ledger.h"
#include "engine/positions_read.h"
#include "engine/rate_budget.h"
#include "engine/store_health.h"
#include "engine/stream_watch.h"
#include "engine/sync_cadence.h"

namespace orderly {

class EngineViews {
 public:
  // The engine's state they read: held by reference, read at each call.
  struct Sources {
    const Ledger& ledger;
    const PositionsRead& positions_read;
    const CoverJudge& cover;  // what each symbol's trades hold and their exits cover
    const Alerts& alerts;
    const StreamWatch& stream;
    const SyncCadence& cadence;  // how long without a completed poll is sync lag now
    const StoreHealth& store_health;
    RateBudget& budget;  // counting the last minute lets the calls older than it go
    const EngineMetrics& metrics;
    const std::optional<Timestamp>& last_sync_at;  // the last completed poll
    const bool& broker_ok;                         // the broker's last answer was one
  };

  explicit EngineViews(Sources sources) : s_(sources) {}

  Health health(Timestamp now) const;
  std::string metrics_text(Timestamp now) const;
  std::vector<PositionView> positions() const;

 private:
  // The trader's price columns (average entry, last price, unrealized P&L).
  void add_prices(PositionView& v) const;

  Sources s_;
};

}  // namespace orderly
