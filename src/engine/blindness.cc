#include "engine/blindness.h"

#include <algorithm>

namespace orderly {

void Blindness::at_least_since(Timestamp since) {
  since_ = std::min(since_.value_or(since), since);
}

void Blindness::sweep_answered(Timestamp sweep_started, bool stream_heard_since) {
  if (!since_ || sweep_started < *since_) return;
  if (stream_heard_since) {
    since_.reset();
  } else {
    since_ = sweep_started;
  }
}

Timestamp Blindness::missing_since(Timestamp sweep_started) const {
  return since_ && *since_ < sweep_started ? *since_ : sweep_started;
}

std::int64_t Blindness::ms(Timestamp now) const {
  return since_ ? std::max<std::int64_t>(0, now.ms_since(*since_)) : 0;
}

bool Blindness::newly_past(bool blind) {
  const bool first = blind && !judged_;
  judged_ = blind;
  return first;
}

}  // namespace orderly
