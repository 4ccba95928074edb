#pragma once
// The account's current minute of REST calls as the broker's latest answer stated it
// (X-Ratelimit-Limit, -Remaining, -Reset: alpaca-api.md §6).

#include <cstdint>

namespace orderly {

struct RateRoom {
  std::int64_t limit = 0;         // X-Ratelimit-Limit
  std::int64_t remaining = 0;     // X-Ratelimit-Remaining
  std::int64_t reset_unix_s = 0;  // X-Ratelimit-Reset: when the minute renews
};

}  // namespace orderly
