#include "broker/broker.h"

#include <fmt/format.h>

namespace orderly {

bool BrokerError::duplicate_client_order_id() const {
  return (code == 40010001 || http_status == 422) &&
         message.find("client_order_id must be unique") != std::string::npos;
}

std::string_view to_string(BrokerError::Kind k) {
  switch (k) {
    case BrokerError::Kind::rejected: return "rejected";
    case BrokerError::Kind::not_sent: return "not_sent";
    case BrokerError::Kind::unknown_outcome: return "unknown_outcome";
    case BrokerError::Kind::unreadable: return "unreadable";
  }
  return "?";
}

BrokerResult<AssetRules> Broker::get_asset(std::string_view symbol) {
  BrokerError e;
  e.kind = BrokerError::Kind::not_sent;
  e.message = fmt::format("this broker does not read assets (asked for {})", symbol);
  return e;
}

BrokerResult<std::vector<AssetRules>> Broker::list_assets(std::string_view asset_class) {
  BrokerError e;
  e.kind = BrokerError::Kind::not_sent;
  e.message = fmt::format("this broker does not list assets (asked for {})", asset_class);
  return e;
}

std::string BrokerError::describe() const {
  std::string s = std::string(to_string(kind));
  if (http_status != 0) s += fmt::format(" (HTTP {}", http_status);
  if (code != 0) s += fmt::format(", code {}", code);
  if (http_status != 0) s += ")";
  if (!message.empty()) s += ": " + message;
  return s;
}

}  // namespace orderly
