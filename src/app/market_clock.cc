#include "app/market_clock.h"

#include <algorithm>
#include <chrono>

namespace orderly::app {
namespace {

// A boundary is read a moment after it passes, so the answer already says the new session.
constexpr std::int64_t kAfterBoundaryMs = 2000;
// After a failed read (the broker's own outage is reported elsewhere).
constexpr std::int64_t kRetryMs = 15'000;

}  // namespace

Timestamp next_clock_read(const MarketClock& clock, Timestamp read_at, std::int64_t refresh_ms) {
  Timestamp next = read_at.plus_ms(refresh_ms);
  // The broker's times are its own; translated to our clock by the answer's own timestamp.
  const Timestamp boundary = clock.is_open ? clock.next_close : clock.next_open;
  const std::int64_t until = boundary.ms_since(clock.timestamp) + kAfterBoundaryMs;
  if (until > 0) next = std::min(next, read_at.plus_ms(until));
  return std::max(next, read_at.plus_ms(kAfterBoundaryMs));
}

MarketClockWatch::MarketClockWatch(Broker& broker, const Clock& clock, std::int64_t refresh_ms)
    : broker_(broker), clock_(clock), refresh_ms_(refresh_ms) {}

MarketClockWatch::~MarketClockWatch() { stop(); }

void MarketClockWatch::start() {
  thread_ = std::thread([this] { run(); });
}

void MarketClockWatch::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<MarketSession> MarketClockWatch::current() const {
  std::lock_guard lk(mu_);
  return current_;
}

void MarketClockWatch::run() {
  for (;;) {
    auto answer = broker_.get_clock();
    const Timestamp now = clock_.now();
    std::int64_t wait_ms = kRetryMs;
    std::unique_lock lk(mu_);
    if (answer.ok()) {
      current_ = MarketSession{answer.value(), now};
      wait_ms = std::max<std::int64_t>(
          0, next_clock_read(answer.value(), now, refresh_ms_).ms_since(now));
    }
    if (cv_.wait_for(lk, std::chrono::milliseconds(wait_ms), [this] { return stopping_; })) return;
  }
}

}  // namespace orderly::app
