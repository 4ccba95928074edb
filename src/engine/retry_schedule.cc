#include "engine/retry_schedule.h"

namespace orderly {

bool RetrySchedule::take_lookup(OrderId id, Timestamp now) {
  const auto it = lookups_.find(id);
  if (it != lookups_.end() && it->second > now) return false;
  if (it != lookups_.end()) lookups_.erase(it);
  return true;
}

int RetrySchedule::attempts_within(std::int64_t window_ms, Timestamp now) {
  while (!attempts_.empty() && now.ms_since(attempts_.front()) > window_ms) attempts_.pop_front();
  return static_cast<int>(attempts_.size());
}

void RetrySchedule::forget(OrderId id) {
  sends_.erase(id);
  lookups_.erase(id);
  cancels_.erase(id);
}

}  // namespace orderly
