#include "engine/poll_schedule.h"

#include <algorithm>

namespace orderly {

void PollBackoff::failed(Timestamp started_at, std::int64_t base_ms) {
  ++failures_;
  std::int64_t delay = std::max<std::int64_t>(1, base_ms);
  for (int i = 1; i < failures_ && delay < kPollBackoffCapMs; ++i) delay *= 2;
  retry_at_ = started_at.plus_ms(std::min(delay, std::max(kPollBackoffCapMs, base_ms)));
}

bool Poll::due(std::int64_t every, Timestamp now) const {
  if (backoff_.failing()) return !backoff_.waiting(now);
  return !last_completed_ || now.ms_since(*last_completed_) >= every;
}

bool Poll::begin(Timestamp now) {
  if (running_) return false;
  running_ = true;
  ++number_;
  started_at_ = now;
  return true;
}

void Poll::starts_no_earlier_than(Timestamp t) { started_at_ = std::max(started_at_, t); }

void Poll::failed(std::int64_t base_ms) {
  running_ = false;
  backoff_.failed(started_at_, base_ms);
}

void Poll::completed(Timestamp now) {
  running_ = false;
  for_resync_ = false;
  last_completed_ = now;
}

}  // namespace orderly
