#include "engine/stream_watch.h"

namespace orderly {

bool StreamWatch::connected(Timestamp now) {
  if (connected_) return false;
  connected_ = true;
  connected_at_ = now;
  return true;
}

bool StreamWatch::disconnected(Timestamp now) {
  if (!connected_ && disconnected_at_) return false;
  connected_ = false;
  disconnected_at_ = now;
  return true;
}

bool StreamWatch::suspect(Timestamp now, std::int64_t poll_interval_ms) const {
  if (!connected_) return true;
  if (now.ms_since(connected_at_) < poll_interval_ms) return true;
  return last_missed_fill_at_ && now.ms_since(*last_missed_fill_at_) < 10 * poll_interval_ms;
}

}  // namespace orderly
