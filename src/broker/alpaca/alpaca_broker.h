#pragma once
// Broker over Alpaca's REST API v2, on any HttpTransport (real TLS client, in-process simulator,
// test fake). This file is where an HTTP outcome becomes a BrokerError class, i.e. where "may this
// order be sent again?" is answered:
//
//   transport failed before sending            -> not_sent
//   transport failed after sending (timeout..) -> unknown_outcome
//   2xx with a body we cannot read             -> unreadable (for a write: an unknown outcome)
//   2xx list with some elements we cannot read -> the rest, and the skipped ones in unreadable()
//   429, 5xx, other unexpected statuses        -> unknown_outcome (429 with retry_after_ms)
//   4xx                                        -> rejected (code, message, body, 40310000 parsed)

#include <atomic>
#include <memory>
#include <mutex>

#include "broker/alpaca/config.h"
#include "broker/alpaca/transport.h"
#include "broker/broker.h"
#include "broker/rate_room.h"
#include "core/status.h"
#include "core/time.h"

namespace orderly::alpaca {

class AlpacaBroker final : public Broker {
 public:
  // `clock` turns X-Ratelimit-Reset into a wait; the system clock when null. Both must outlive
  // the broker.
  AlpacaBroker(std::shared_ptr<HttpTransport> transport, AlpacaConfig config,
               const Clock* clock = nullptr);

  BrokerResult<BrokerOrder> submit_order(const OrderRequest& request) override;
  BrokerResult<BrokerOrder> get_order(std::string_view broker_order_id) override;
  BrokerResult<BrokerOrder> get_order_by_client_id(std::string_view client_order_id) override;
  BrokerResult<std::vector<BrokerOrder>> list_orders(const ListOrdersQuery& query) override;
  BrokerResult<Unit> cancel_order(std::string_view broker_order_id) override;
  BrokerResult<std::vector<CancelResult>> cancel_all_orders() override;
  BrokerResult<BrokerOrder> replace_order(std::string_view broker_order_id,
                                          const ReplaceRequest& request) override;
  BrokerResult<std::vector<BrokerPosition>> list_positions() override;
  BrokerResult<Account> get_account() override;
  BrokerResult<ActivityPage> fill_activities(const ActivityQuery& query) override;
  BrokerResult<MarketClock> get_clock() override;
  BrokerResult<AssetRules> get_asset(std::string_view symbol) override;
  BrokerResult<std::vector<AssetRules>> list_assets(std::string_view asset_class) override;
  std::optional<int> stated_rate_limit() const override;
  // The account's current minute as the latest answer stated it; nullopt before one has.
  std::optional<RateRoom> rate_room() const;

 private:
  // One request; either a 2xx response or the classified error.
  std::variant<HttpResponse, BrokerError> call(std::string method, std::string target,
                                               std::string body = {});
  BrokerError classify_status(const HttpResponse& response) const;
  BrokerError scrub(BrokerError e) const;

  std::shared_ptr<HttpTransport> transport_;
  AlpacaConfig config_;
  const Clock* clock_;
  std::atomic<int> stated_rate_limit_{0};  // X-Ratelimit-Limit as last seen; 0: never said
  void note_rate_room(const HttpResponse& r);
  mutable std::mutex room_mu_;
  std::optional<RateRoom> room_;  // the latest minute's, its lowest remaining (under room_mu_)
};

// Query strings, exposed for tests.
std::string list_orders_target(const ListOrdersQuery& query);
std::string fill_activities_target(const ActivityQuery& query);

// Builds an AlpacaBroker over the real TLS transport (beast_transport.h), paced at
// `rate_limit_per_min` (0: Alpaca's default 200) until the server states the account's own limit
// (rate_limiter.h). Refuses a plain http:// URL unless it points at a loopback address.
StatusOr<std::unique_ptr<Broker>> make_alpaca_broker(const AlpacaConfig& config,
                                                     int rate_limit_per_min = 0);

}  // namespace orderly::alpaca
