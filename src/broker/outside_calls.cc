#include "broker/outside_calls.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>

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

void OutsideCalls::forget(Timestamp at) {
  std::lock_guard lk(mu_);
  // The newest such entry: calls noted since sit behind it, and each is noted once.
  for (auto it = at_.rbegin(); it != at_.rend(); ++it) {
    if (*it == at) {
      at_.erase(std::next(it).base());
      return;
    }
  }
}

std::int64_t OutsideCalls::last_minute(Timestamp now) {
  std::lock_guard lk(mu_);
  drop_older_than_a_minute(at_, now);
  return static_cast<std::int64_t>(at_.size());
}

std::optional<BrokerError> CountedBroker::admit() {
  std::int64_t waited_ms = 0;
  for (;;) {
    std::int64_t renews_in_ms = 0;
    RateRoom room;
    std::int64_t reserve = 0;
    {
      std::lock_guard lk(mu_);
      const std::optional<RateRoom> now_room = room_ ? room_() : std::nullopt;
      if (!now_room) return std::nullopt;  // the broker states no minute: nothing to keep
      room = *now_room;
      if (room.reset_unix_s != seen_.reset_unix_s || room.remaining != seen_.remaining) {
        seen_ = room;  // a newer answer: it counts what was granted before it
        granted_ = 0;
      }
      reserve = std::max<std::int64_t>(1, room.limit / kReserveShare);
      // The reset is stated in whole seconds: the minute is taken to renew a second after it.
      renews_in_ms = (room.reset_unix_s + 1) * 1000 - clock_.now().ms();
      if (renews_in_ms <= 0 || room.remaining - granted_ > reserve) {
        ++granted_;
        return std::nullopt;
      }
      if (waited_ms + renews_in_ms > kMaxWaitMs) {
        ++refused_;
        if (said_for_reset_ != room.reset_unix_s) {
          said_for_reset_ = room.reset_unix_s;
          spdlog::warn("rate window: the broker's minute has {} of {} calls left, kept for "
                       "protective work: reads beside the engine (assets, account, clock, "
                       "positions) are refused until it renews in {} s",
                       room.remaining, room.limit, (renews_in_ms + 999) / 1000);
        }
        BrokerError e;
        e.kind = BrokerError::Kind::not_sent;
        e.retry_after_ms = renews_in_ms;
        e.message = fmt::format(
            "the account's REST calls for this minute are spent (the broker's last "
            "answer: {} of {} left, the last {} kept for protective work: exits, stops, cancels, "
            "lookups); the minute renews in {} s",
            room.remaining, room.limit, reserve, (renews_in_ms + 999) / 1000);
        return e;
      }
    }
    // The minute renews within the bound: wait for it (the lock is not held meanwhile).
    const std::int64_t step = std::min<std::int64_t>(renews_in_ms, 250);
    sleep_(std::chrono::milliseconds(step));
    waited_ms += step;
  }
}

void CountedBroker::withdraw(Timestamp at) {
  calls_.forget(at);
  std::lock_guard lk(mu_);
  if (granted_ > 0) --granted_;
}

std::int64_t CountedBroker::refused() const {
  std::lock_guard lk(mu_);
  return refused_;
}

}  // namespace orderly
