#include "broker/account_cache.h"

namespace orderly {

AccountCache::Answer AccountCache::get(std::int64_t max_age_ms) {
  std::lock_guard lk(mu_);
  if (kept_ && clock_.now().ms_since(kept_at_) <= max_age_ms) return {kept_, kept_at_, {}};
  const Timestamp asked_at = clock_.now();
  BrokerResult<Account> answer = broker_.get_account();
  if (!answer.ok()) return {std::nullopt, asked_at, answer.error().describe()};
  kept_ = std::move(answer.value());
  kept_at_ = asked_at;
  return {kept_, kept_at_, {}};
}

}  // namespace orderly
