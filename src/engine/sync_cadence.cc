#include "engine/sync_cadence.h"

#include <algorithm>

namespace orderly {

bool SyncCadence::stream_suspect(Timestamp now) const {
  return stream_.suspect(now, cfg_.idle_poll_interval_ms);
}

// While it trades, a completed poll at least every two poll intervals through a burst (issue 20
// item 1).
std::int64_t SyncCadence::catchup_interval(Timestamp now) const {
  const bool trading =
      last_trading_at_ && now.ms_since(*last_trading_at_) < cfg_.idle_poll_interval_ms;
  return stream_suspect(now) || trading ? cfg_.poll_interval_ms : cfg_.idle_poll_interval_ms;
}

std::int64_t SyncCadence::sync_lag_limit(Timestamp now) const {
  return cfg_.sync_lag_ms + std::max(synced_interval_ms_, catchup_interval(now));
}

}  // namespace orderly
