#pragma once
// The broker's assets, read when a trade first needs one and kept for an hour (Alpaca may
// change them; an hour-old answer is what a trader would have read too). An equity's first
// miss reads every active equity at once (one call, so a burst of new symbols costs the rate
// budget one call, not one each); a symbol not in that list (inactive, unlisted, a crypto pair)
// is read alone. One read per symbol: callers asking for a symbol while it is being read wait
// for that read and share its answer. A failed read is not kept: the next trade of that symbol
// asks again, and a trade of any other symbol never waits on it. Thread-safe: the API's threads
// share one cache.

#include <cstdint>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "broker/broker.h"
#include "core/time.h"

namespace orderly {

class AssetCache {
 public:
  static constexpr std::int64_t kKeepMs = 60 * 60 * 1000;
  // After a failed list, equities are read one by one for this long before the list is asked
  // for again.
  static constexpr std::int64_t kListRetryMs = 60 * 1000;

  AssetCache(Broker& broker, const Clock& clock) : broker_(broker), clock_(clock) {}

  // The symbol's asset, from the cache while fresh, else from the broker (not under the lock:
  // a slow read holds up no other symbol).
  BrokerResult<AssetRules> get(std::string_view symbol);

 private:
  struct Kept {
    AssetRules asset;
    Timestamp read_at;
  };
  std::optional<AssetRules> fresh(std::string_view symbol, Timestamp now);
  // Reads the active equities unless they were read within the hour (or failed within
  // kListRetryMs). Equity misses meanwhile wait for it: their answer is in it.
  void read_equity_list(Timestamp now);

  Broker& broker_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Kept, std::less<>> kept_;
  // The reads in flight, by symbol (under mu_): later callers wait on the same answer.
  std::map<std::string, std::shared_future<BrokerResult<AssetRules>>, std::less<>> reading_;
  std::mutex list_mu_;  // one list read at a time
  std::optional<Timestamp> list_read_at_;
  bool list_ok_ = false;
};

}  // namespace orderly
