#pragma once
// The broker's side of an end-to-end test: every order an `orderly sim` holds, read with an
// account's keys through the real Alpaca client (what a duplicate or a lost order would show).

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "broker/alpaca/alpaca_broker.h"

namespace orderly::testing {

inline std::vector<BrokerOrder> sim_orders(std::uint16_t port, const std::string& key,
                                           const std::string& secret) {
  alpaca::AlpacaConfig c{"http://127.0.0.1:" + std::to_string(port), key, secret};
  auto broker = alpaca::make_alpaca_broker(c);
  EXPECT_TRUE(broker.ok());
  if (!broker.ok()) return {};
  ListOrdersQuery q;
  q.status = OrderListStatus::all;
  auto orders = (*broker)->list_orders(q);
  EXPECT_TRUE(orders.ok()) << orders.error().message;
  return orders.ok() ? orders.value() : std::vector<BrokerOrder>{};
}

}  // namespace orderly::testing
