#pragma once
// REST calls made beside the engine: the asset, account and clock reads the local API and the
// daemon make on the account's keys (broker/asset_cache.h, broker/account_cache.h,
// app/market_clock.h). They do not wait for the engine's rate budget, but they share the
// account's per-minute limit with it, so the engine is told how many were made in the last
// minute (Engine::set_outside_calls; engine/rate_budget.cc says how they count): it never
// releases a call that would take the minute to the broker's limit, where the client's rate
// window would hold it unseen (no 429, no alert), and no entry waits for them.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "broker/broker.h"
#include "broker/rate_room.h"
#include "core/time.h"

namespace orderly {

// The calls of the last minute. Thread-safe; at most one entry a call, dropped after a minute.
class OutsideCalls {
 public:
  void note(Timestamp at);
  // Takes back the call noted at `at`: it never left this process (the broker did not count it).
  void forget(Timestamp at);
  std::int64_t last_minute(Timestamp now);

 private:
  std::mutex mu_;
  std::deque<Timestamp> at_;
};

// A Broker whose every call is noted in `calls` before it is made by `inner`, and is made only
// while the broker's minute has room beyond what is kept for the engine's protective work
// (exits, stops, cancels, lookups): a read beside the engine never takes the account to the
// broker's limit, where the client's rate window would hold every call, the engine's too, until
// the minute renews. When the broker's latest answer (`room`) leaves kReserveShare of
// its limit or less, a read waits for the minute to renew if it renews within kMaxWaitMs, else
// it is not sent and answers not_sent saying so (the local API turns it into a 503).
class CountedBroker final : public Broker {
 public:
  using Sleep = std::function<void(std::chrono::milliseconds)>;
  // The account's minute as the broker last stated it (alpaca::AlpacaBroker::rate_room); an
  // empty source, or nullopt, keeps nothing back.
  using RoomSource = std::function<std::optional<RateRoom>()>;
  static constexpr std::int64_t kMaxWaitMs = 2000;
  static constexpr std::int64_t kReserveShare = 10;  // a tenth of the limit: protective work's

  CountedBroker(Broker& inner, OutsideCalls& calls, const Clock& clock, RoomSource room = {},
                Sleep sleep = {})
      : inner_(inner), calls_(calls), clock_(clock), room_(std::move(room)),
        sleep_(std::move(sleep)) {
    if (!sleep_) sleep_ = [](std::chrono::milliseconds ms) { std::this_thread::sleep_for(ms); };
  }

  BrokerResult<BrokerOrder> submit_order(const OrderRequest& r) override {
    return gated([&] { return inner_.submit_order(r); });
  }
  BrokerResult<BrokerOrder> get_order(std::string_view id) override {
    return gated([&] { return inner_.get_order(id); });
  }
  BrokerResult<BrokerOrder> get_order_by_client_id(std::string_view id) override {
    return gated([&] { return inner_.get_order_by_client_id(id); });
  }
  BrokerResult<std::vector<BrokerOrder>> list_orders(const ListOrdersQuery& q) override {
    return gated([&] { return inner_.list_orders(q); });
  }
  BrokerResult<Unit> cancel_order(std::string_view id) override {
    return gated([&] { return inner_.cancel_order(id); });
  }
  BrokerResult<std::vector<CancelResult>> cancel_all_orders() override {
    return gated([&] { return inner_.cancel_all_orders(); });
  }
  BrokerResult<BrokerOrder> replace_order(std::string_view id, const ReplaceRequest& r) override {
    return gated([&] { return inner_.replace_order(id, r); });
  }
  BrokerResult<std::vector<BrokerPosition>> list_positions() override {
    return gated([&] { return inner_.list_positions(); });
  }
  BrokerResult<Account> get_account() override {
    return gated([&] { return inner_.get_account(); });
  }
  BrokerResult<ActivityPage> fill_activities(const ActivityQuery& q) override {
    return gated([&] { return inner_.fill_activities(q); });
  }
  BrokerResult<MarketClock> get_clock() override {
    return gated([&] { return inner_.get_clock(); });
  }
  BrokerResult<AssetRules> get_asset(std::string_view symbol) override {
    return gated([&] { return inner_.get_asset(symbol); });
  }
  BrokerResult<std::vector<AssetRules>> list_assets(std::string_view asset_class) override {
    return gated([&] { return inner_.list_assets(asset_class); });
  }
  std::optional<int> stated_rate_limit() const override { return inner_.stated_rate_limit(); }

  // Reads refused for the minute's sake (for tests and metrics).
  std::int64_t refused() const;

 private:
  template <typename F>
  auto gated(F&& call) -> decltype(call()) {
    if (std::optional<BrokerError> spent = admit()) return std::move(*spent);
    const Timestamp at = clock_.now();
    calls_.note(at);
    auto result = call();
    // Refused at connect (the broker down, or not up yet): the broker's minute does not hold it,
    // and the engine's count of the minute (/healthz) must stay the broker's.
    if (!result.ok() && result.error().kind == BrokerError::Kind::not_sent) withdraw(at);
    return result;
  }
  void withdraw(Timestamp at);
  // nullopt: the call may go (counted among the minute's as granted); else why it may not.
  std::optional<BrokerError> admit();

  Broker& inner_;
  OutsideCalls& calls_;
  const Clock& clock_;
  RoomSource room_;
  Sleep sleep_;
  mutable std::mutex mu_;
  RateRoom seen_{};            // the broker's answer the grants below are counted against
  std::int64_t granted_ = 0;   // reads let go since that answer
  std::int64_t refused_ = 0;
  std::int64_t said_for_reset_ = 0;  // the minute whose refusals were logged
};

}  // namespace orderly
