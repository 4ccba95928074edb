#include "broker/alpaca/rate_limiter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

namespace orderly::alpaca {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

RateLimitedTransport::RateLimitedTransport(std::shared_ptr<HttpTransport> inner,
                                           int limit_per_min, SteadyNow steady_now,
                                           UnixNowSeconds unix_now, Sleep sleep)
    : inner_(std::move(inner)),
      configured_per_min_(limit_per_min),
      steady_now_(steady_now ? std::move(steady_now) : [] { return steady_clock::now(); }),
      unix_now_(unix_now ? std::move(unix_now)
                         : [] {
                             return std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                 .count();
                           }),
      sleep_(sleep ? std::move(sleep) : [](milliseconds d) { std::this_thread::sleep_for(d); }) {}

milliseconds RateLimitedTransport::reserve_or_wait() {
  std::lock_guard lock(mu_);
  const auto now = steady_now_();
  if (now < blocked_until_) {
    return std::chrono::ceil<milliseconds>(blocked_until_ - now);
  }
  const int limit = stated_per_min_ > 0 ? stated_per_min_ : configured_per_min_;
  if (limit > 0) {
    while (!sent_.empty() && now - sent_.front() >= std::chrono::minutes(1)) sent_.pop_front();
    if (static_cast<int>(sent_.size()) >= limit) {
      return std::max(milliseconds(1), std::chrono::ceil<milliseconds>(
                                           sent_.front() + std::chrono::minutes(1) - now));
    }
    sent_.push_back(now);
  }
  return milliseconds(0);
}

void RateLimitedTransport::observe(const HttpResponse& r) {
  if (r.ratelimit_limit && *r.ratelimit_limit > 0) {
    std::lock_guard lock(mu_);
    stated_per_min_ = static_cast<int>(std::min<std::int64_t>(*r.ratelimit_limit, INT32_MAX));
  }
  const bool exhausted = r.status == 429 || (r.ratelimit_remaining && *r.ratelimit_remaining <= 0);
  if (!exhausted) return;
  // Reset is Unix seconds; without it, a 429 still earns a one-second pause (the Go SDK's).
  std::int64_t wait_s = 1;
  if (r.ratelimit_reset_s) wait_s = std::clamp<std::int64_t>(*r.ratelimit_reset_s - unix_now_(), 0, 60);
  std::lock_guard lock(mu_);
  const auto until = steady_now_() + std::chrono::seconds(wait_s);
  if (until > blocked_until_ + std::chrono::seconds(1)) {
    spdlog::warn("rate window: the broker says this minute's requests are spent ({}, limit {}, "
                 "remaining {}): nothing is sent for {} s",
                 r.status == 429 ? "429" : "X-Ratelimit-Remaining 0", r.ratelimit_limit.value_or(0),
                 r.ratelimit_remaining.value_or(-1), wait_s);
  }
  blocked_until_ = std::max(blocked_until_, until);
}

TransportResult RateLimitedTransport::send(const HttpRequest& request) {
  milliseconds total{0};
  for (milliseconds wait = reserve_or_wait(); wait.count() > 0; wait = reserve_or_wait()) {
    {
      std::lock_guard lock(mu_);
      waited_ += wait;
    }
    // Said when the hold starts, not only once it is over: a call held here answers nothing
    // (no 429) while it waits, and an order the engine released then stays `submitting` with
    // no alert of its own.
    if (total.count() == 0 && wait >= kWaitWorthSaying) {
      spdlog::warn("rate window: {} {} is held {} ms for the account's per-minute limit "
                   "({}/min), with every call after it",
                   request.method, request.target.substr(0, request.target.find('?')),
                   wait.count(), limit_per_min());
    }
    total += wait;
    sleep_(wait);
  }
  if (total >= kWaitWorthSaying) {
    spdlog::warn("rate window: {} {} sent after waiting {} ms for the account's per-minute "
                 "limit ({}/min)",
                 request.method, request.target.substr(0, request.target.find('?')),
                 total.count(), limit_per_min());
  }
  TransportResult result = inner_->send(request);
  if (result.ok()) observe(result.value());
  return result;
}

milliseconds RateLimitedTransport::waited() const {
  std::lock_guard lock(mu_);
  return waited_;
}

int RateLimitedTransport::limit_per_min() const {
  std::lock_guard lock(mu_);
  return stated_per_min_ > 0 ? stated_per_min_ : configured_per_min_;
}

}  // namespace orderly::alpaca
