#include "broker/alpaca/alpaca_broker.h"
#include "broker/alpaca/beast_transport.h"

namespace orderly::alpaca {

StatusOr<std::unique_ptr<Broker>> make_alpaca_broker(const AlpacaConfig& config) {
  BeastTransportOptions options;
  options.base_url = config.base_url;
  auto transport = BeastTransport::create(std::move(options));
  if (!transport.ok()) return transport.status();
  std::shared_ptr<HttpTransport> shared = std::move(transport.value());
  return std::unique_ptr<Broker>(std::make_unique<AlpacaBroker>(std::move(shared), config));
}

}  // namespace orderly::alpaca
