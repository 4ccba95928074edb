#pragma once
// The broker's assets, read once per symbol when a trade first needs one and kept for an hour
// (Alpaca may change a pair's sizes; an hour-old answer is what a trader would have read too).
// A failed read is not kept: the next trade of that symbol asks again, and a trade of any other
// symbol never waits on it. Thread-safe: the API's threads share one cache.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "broker/broker.h"
#include "core/time.h"

namespace orderly {

class AssetCache {
 public:
  static constexpr std::int64_t kKeepMs = 60 * 60 * 1000;

  AssetCache(Broker& broker, const Clock& clock) : broker_(broker), clock_(clock) {}

  // The symbol's asset, from the cache while fresh, else from the broker (not under the lock:
  // a slow read holds up no other symbol).
  BrokerResult<AssetRules> get(std::string_view symbol);

 private:
  struct Kept {
    AssetRules asset;
    Timestamp read_at;
  };
  Broker& broker_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Kept, std::less<>> kept_;
};

}  // namespace orderly
