#pragma once
// The market's session as the broker states it (GET /v2/clock), kept fresh for /healthz,
// `orderly status` and the dashboard: read at start, every refresh period, and just after each
// open and close the last answer announced. It is shown, not acted on: the engine's sessions
// (day legs expiring at a close) come from the broker's own order events.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "broker/broker.h"
#include "core/time.h"

namespace orderly::app {

struct MarketSession {
  MarketClock clock;  // the broker's answer
  Timestamp read_at;  // when we had it
};

// When to read the clock next after an answer at `read_at`: at the refresh period, or just
// after the next open or close it announced, whichever comes first; never sooner than 2 s.
Timestamp next_clock_read(const MarketClock& clock, Timestamp read_at, std::int64_t refresh_ms);

class MarketClockWatch {
 public:
  MarketClockWatch(Broker& broker, const Clock& clock, std::int64_t refresh_ms);
  ~MarketClockWatch();
  MarketClockWatch(const MarketClockWatch&) = delete;
  MarketClockWatch& operator=(const MarketClockWatch&) = delete;

  void start();
  void stop();
  // nullopt until the broker answered once.
  std::optional<MarketSession> current() const;

 private:
  void run();

  Broker& broker_;
  const Clock& clock_;
  const std::int64_t refresh_ms_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::optional<MarketSession> current_;
  std::thread thread_;
};

}  // namespace orderly::app
