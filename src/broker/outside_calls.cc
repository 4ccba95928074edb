#include "broker/outside_calls.h"

namespace orderly {

namespace {

void drop_older_than_a_minute(std::deque<Timestamp>& at, Timestamp now) {
  while (!at.empty() && now.ms_since(at.front()) >= 60'000) at.pop_front();
}

}  // namespace

void OutsideCalls::note(Timestamp at) {
  std::lock_guard lk(mu_);
  drop_older_than_a_minute(at_, at);
  at_.push_back(at);
}

std::int64_t OutsideCalls::last_minute(Timestamp now) {
  std::lock_guard lk(mu_);
  drop_older_than_a_minute(at_, now);
  return static_cast<std::int64_t>(at_.size());
}

}  // namespace orderly
