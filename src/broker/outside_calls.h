#pragma once
// REST calls made beside the engine: the asset, account and clock reads the local API and the
// daemon make on the account's keys (broker/asset_cache.h, broker/account_cache.h,
// app/market_clock.h). They do not wait for the engine's rate budget, but they share the
// account's per-minute limit with it, so the engine is told how many were made in the last
// minute (Engine::set_outside_calls; engine/rate_budget.cc says how they count): it never
// releases a call that would take the minute to the broker's limit, where the client's rate
// window would hold it unseen (no 429, no alert), and no entry waits for them.

#include <cstdint>
#include <deque>
#include <mutex>

#include "broker/broker.h"
#include "core/time.h"

namespace orderly {

// The calls of the last minute. Thread-safe; at most one entry a call, dropped after a minute.
class OutsideCalls {
 public:
  void note(Timestamp at);
  std::int64_t last_minute(Timestamp now);

 private:
  std::mutex mu_;
  std::deque<Timestamp> at_;
};

// A Broker whose every call is noted in `calls` before it is made by `inner`.
class CountedBroker final : public Broker {
 public:
  CountedBroker(Broker& inner, OutsideCalls& calls, const Clock& clock)
      : inner_(inner), calls_(calls), clock_(clock) {}

  BrokerResult<BrokerOrder> submit_order(const OrderRequest& r) override {
    note();
    return inner_.submit_order(r);
  }
  BrokerResult<BrokerOrder> get_order(std::string_view id) override {
    note();
    return inner_.get_order(id);
  }
  BrokerResult<BrokerOrder> get_order_by_client_id(std::string_view id) override {
    note();
    return inner_.get_order_by_client_id(id);
  }
  BrokerResult<std::vector<BrokerOrder>> list_orders(const ListOrdersQuery& q) override {
    note();
    return inner_.list_orders(q);
  }
  BrokerResult<Unit> cancel_order(std::string_view id) override {
    note();
    return inner_.cancel_order(id);
  }
  BrokerResult<std::vector<CancelResult>> cancel_all_orders() override {
    note();
    return inner_.cancel_all_orders();
  }
  BrokerResult<BrokerOrder> replace_order(std::string_view id, const ReplaceRequest& r) override {
    note();
    return inner_.replace_order(id, r);
  }
  BrokerResult<std::vector<BrokerPosition>> list_positions() override {
    note();
    return inner_.list_positions();
  }
  BrokerResult<Account> get_account() override {
    note();
    return inner_.get_account();
  }
  BrokerResult<ActivityPage> fill_activities(const ActivityQuery& q) override {
    note();
    return inner_.fill_activities(q);
  }
  BrokerResult<MarketClock> get_clock() override {
    note();
    return inner_.get_clock();
  }
  BrokerResult<AssetRules> get_asset(std::string_view symbol) override {
    note();
    return inner_.get_asset(symbol);
  }
  BrokerResult<std::vector<AssetRules>> list_assets(std::string_view asset_class) override {
    note();
    return inner_.list_assets(asset_class);
  }
  std::optional<int> stated_rate_limit() const override { return inner_.stated_rate_limit(); }

 private:
  void note() { calls_.note(clock_.now()); }

  Broker& inner_;
  OutsideCalls& calls_;
  const Clock& clock_;
};

}  // namespace orderly
