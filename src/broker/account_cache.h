#pragma once
// The broker's account (GET /v2/account), read when a trade first needs it and kept for ten
// minutes: what it says of the account's permissions (shorting_enabled) changes rarely, and a
// read per trade would cost the rate budget one call a trade. A caller that would refuse a trade
// on it asks for a fresher answer (get's max_age_ms) and gets a new read when the kept one is
// older. One read at a time: callers arriving meanwhile wait for it and share its answer. A
// failed read is not kept. Thread-safe: the API's threads share one cache.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "broker/broker.h"
#include "core/time.h"

namespace orderly {

class AccountCache {
 public:
  static constexpr std::int64_t kKeepMs = 10 * 60 * 1000;

  struct Answer {
    std::optional<Account> account;  // nullopt: it could not be read (see error)
    Timestamp read_at;               // when `account` was read
    std::string error;
  };

  AccountCache(Broker& broker, const Clock& clock) : broker_(broker), clock_(clock) {}

  // The account as read at most `max_age_ms` ago (a new read when the kept one is older).
  Answer get(std::int64_t max_age_ms = kKeepMs);

 private:
  Broker& broker_;
  const Clock& clock_;
  std::mutex mu_;  // held across the read: one at a time
  std::optional<Account> kept_;
  Timestamp kept_at_;
};

}  // namespace orderly
