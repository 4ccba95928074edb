#include "broker/asset_cache.h"

namespace orderly {

std::optional<AssetRules> AssetCache::fresh(std::string_view symbol, Timestamp now) {
  std::lock_guard lk(mu_);
  auto it = kept_.find(symbol);
  if (it != kept_.end() && now.ms_since(it->second.read_at) < kKeepMs) return it->second.asset;
  return std::nullopt;
}

void AssetCache::read_equity_list(Timestamp now) {
  std::lock_guard list_lk(list_mu_);
  if (list_read_at_ && now.ms_since(*list_read_at_) < (list_ok_ ? kKeepMs : kListRetryMs)) {
    return;
  }
  auto listed = broker_.list_assets("us_equity");
  list_read_at_ = now;
  list_ok_ = listed.ok();
  if (!listed.ok()) return;
  std::lock_guard lk(mu_);
  for (AssetRules& a : listed.value()) {
    if (a.symbol.find('/') != std::string::npos) continue;  // a pair is read alone
    std::string symbol = a.symbol;
    kept_.insert_or_assign(std::move(symbol), Kept{std::move(a), now});
  }
}

BrokerResult<AssetRules> AssetCache::get(std::string_view symbol) {
  const Timestamp now = clock_.now();
  if (auto kept = fresh(symbol, now)) return *kept;
  if (symbol.find('/') == std::string_view::npos) {
    read_equity_list(now);
    if (auto kept = fresh(symbol, now)) return *kept;
  }
  std::promise<BrokerResult<AssetRules>> promise;
  {
    std::unique_lock lk(mu_);
    auto it = kept_.find(symbol);
    if (it != kept_.end() && now.ms_since(it->second.read_at) < kKeepMs) {
      return it->second.asset;  // read meanwhile
    }
    if (auto r = reading_.find(symbol); r != reading_.end()) {
      std::shared_future<BrokerResult<AssetRules>> theirs = r->second;
      lk.unlock();
      return theirs.get();  // the read in flight answers this caller too
    }
    reading_.emplace(std::string(symbol), promise.get_future().share());
  }
  BrokerResult<AssetRules> answer = broker_.get_asset(symbol);
  {
    std::lock_guard lk(mu_);
    if (answer.ok()) kept_.insert_or_assign(std::string(symbol), Kept{answer.value(), now});
    reading_.erase(reading_.find(symbol));
  }
  promise.set_value(answer);
  return answer;
}

}  // namespace orderly
