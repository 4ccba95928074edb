#include "broker/asset_cache.h"

namespace orderly {

BrokerResult<AssetRules> AssetCache::get(std::string_view symbol) {
  const Timestamp now = clock_.now();
  {
    std::lock_guard lk(mu_);
    auto it = kept_.find(symbol);
    if (it != kept_.end() && now.ms_since(it->second.read_at) < kKeepMs) return it->second.asset;
  }
  BrokerResult<AssetRules> answer = broker_.get_asset(symbol);
  if (answer.ok()) {
    std::lock_guard lk(mu_);
    kept_.insert_or_assign(std::string(symbol), Kept{answer.value(), now});
  }
  return answer;
}

}  // namespace orderly
