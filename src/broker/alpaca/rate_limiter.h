#pragma once
// Client-side guard for Alpaca's per-account request limit (200/minute by default; Alpaca raises
// it on request, e.g. to 1,000). The limit is the one the server states (X-Ratelimit-Limit) once
// it has stated one, and the configured rate_limit_per_min until then. The engine budgets its
// REST calls to min(configured, stated) (Broker::stated_rate_limit), never more than this
// window lets through, so a call the engine counts as sent does not wait here; this decorator is
// the backstop for every caller of one transport (worker threads, the CLI) and for what the
// server says: after a 429 or an "X-Ratelimit-Remaining: 0", nothing is sent until
// X-Ratelimit-Reset. A request waits for a slot instead of being sent into a certain 429 — a 429
// on a write is an unknown outcome that costs a lookup to resolve.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "broker/alpaca/transport.h"

namespace orderly::alpaca {

inline constexpr int kAlpacaRequestsPerMinute = 200;

class RateLimitedTransport final : public HttpTransport {
 public:
  using SteadyNow = std::function<std::chrono::steady_clock::time_point()>;
  using UnixNowSeconds = std::function<std::int64_t()>;
  using Sleep = std::function<void(std::chrono::milliseconds)>;

  // `limit_per_min`: the window until the server states its limit; <= 0 disables the window
  // until then (the server's headers are honoured either way).
  RateLimitedTransport(std::shared_ptr<HttpTransport> inner, int limit_per_min,
                       SteadyNow steady_now = {}, UnixNowSeconds unix_now = {}, Sleep sleep = {});

  TransportResult send(const HttpRequest& request) override;

  // A call that waited this long for its slot is logged (a warning naming the call).
  static constexpr std::chrono::milliseconds kWaitWorthSaying{1000};
  // Total time callers spent waiting for a slot (for metrics and tests).
  std::chrono::milliseconds waited() const;
  // The window now: the server's stated limit, else the configured one (<= 0: none).
  int limit_per_min() const;

 private:
  // How long the next request must wait now; reserves the slot when it returns zero.
  std::chrono::milliseconds reserve_or_wait();
  void observe(const HttpResponse& response);

  std::shared_ptr<HttpTransport> inner_;
  const int configured_per_min_;
  int stated_per_min_ = 0;  // X-Ratelimit-Limit as last seen (under mu_); 0: not stated
  SteadyNow steady_now_;
  UnixNowSeconds unix_now_;
  Sleep sleep_;

  mutable std::mutex mu_;
  std::deque<std::chrono::steady_clock::time_point> sent_;  // within the last minute
  std::chrono::steady_clock::time_point blocked_until_{};   // from the server's headers
  std::chrono::milliseconds waited_{0};
};

}  // namespace orderly::alpaca
