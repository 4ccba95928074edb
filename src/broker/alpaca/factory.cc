#include "broker/alpaca/alpaca_broker.h"
#include "broker/alpaca/rate_limiter.h"
#include "broker/alpaca/beast_transport.h"

namespace orderly::alpaca {

StatusOr<std::unique_ptr<Broker>> make_alpaca_broker(const AlpacaConfig& config,
                                                     int rate_limit_per_min) {
  BeastTransportOptions options;
  options.base_url = config.base_url;
  auto transport = BeastTransport::create(std::move(options));
  if (!transport.ok()) return transport.status();
  // Until Alpaca states the account's limit, pace at the configured one (its default: 200).
  std::shared_ptr<HttpTransport> shared = std::make_shared<RateLimitedTransport>(
      std::shared_ptr<HttpTransport>(std::move(transport.value())),
      rate_limit_per_min > 0 ? rate_limit_per_min : kAlpacaRequestsPerMinute);
  return std::unique_ptr<Broker>(std::make_unique<AlpacaBroker>(std::move(shared), config));
}

}  // namespace orderly::alpaca
