#pragma once
// How often the engine polls the broker, and how long without a completed poll is sync lag
// (issue 21: out of Engine::Impl, read by the release, the views and the alert rules). While the
// trade_updates stream is healthy and the account idle, the stream tells of each fill and the
// catch-up only finds what it lost (issue 20 item 4: an idle account spent 60 calls a minute at
// 1 s); while the stream is down or suspect, or the account trades, every poll interval.

#include <cstdint>
#include <optional>

#include "core/time.h"
#include "engine/stream_watch.h"

namespace orderly {

class SyncCadence {
 public:
  struct Config {
    std::int64_t poll_interval_ms = 0;
    std::int64_t idle_poll_interval_ms = 0;
    std::int64_t sync_lag_ms = 0;  // beyond the interval polls run at
  };

  SyncCadence(Config config, const StreamWatch& stream) : cfg_(config), stream_(stream) {}

  // An order was sent or waits for the budget, or a fill was heard: the account trades.
  void trading(Timestamp now) { last_trading_at_ = now; }
  // A poll completed: the interval polls ran at then bounds the lag until the next one.
  void synced(Timestamp now) { synced_interval_ms_ = catchup_interval(now); }

  // The stream is down, or quiet for longer than it should be: the sweep is how cancels and
  // expiries are learned.
  bool stream_suspect(Timestamp now) const;
  // How often fills are looked for now.
  std::int64_t catchup_interval(Timestamp now) const;
  // No completed poll for this long is sync lag: sync_lag_ms past the interval polls run at,
  // now or when the last one completed (the slower of the two while the stream changes state).
  std::int64_t sync_lag_limit(Timestamp now) const;

 private:
  Config cfg_;
  const StreamWatch& stream_;
  std::optional<Timestamp> last_trading_at_;  // an order sent or canceled, a fill heard
  std::int64_t synced_interval_ms_ = 0;       // catchup_interval() when the last poll completed
};

}  // namespace orderly
