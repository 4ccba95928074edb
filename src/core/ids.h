#pragma once
// Deterministic client_order_id: the same intent always carries the same id, so a resend after an
// unknown outcome is recognised by the broker (422 40010001) instead of creating a duplicate, and
// a lookup by client_order_id finds an order whose creation we never recorded.
//
//   ol-<account:6><instance:4>-<trade:base36>-<role><generation:base36>
//   e.g. ol-k3f9qa7x2m-1z-t0   (at most 42 characters; Alpaca's older limit is 48)
//
// `account` is a hash of the broker account (key id), `instance` is random per store, so two
// orderly installations, or two accounts, never produce the same id.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/order.h"
#include "core/types.h"

namespace orderly {

inline constexpr std::string_view kClientOrderIdPrefix = "ol-";
inline constexpr std::size_t kClientOrderIdMax = 48;

// 6 base36 characters derived (FNV-1a) from the account identity (e.g. the API key id).
std::string account_tag(std::string_view account_identity);
// 4 random base36 characters, made once when a store is created.
std::string make_instance_tag(std::uint64_t random_bits);

struct ClientOrderIdParts {
  std::string owner;  // account tag + instance tag (10 characters)
  TradeId trade_id = 0;
  OrderRole role = OrderRole::entry;
  int generation = 0;  // 0 for the first order of this role; replacements/re-sized exits count up
};

std::string make_client_order_id(std::string_view owner, TradeId trade_id, OrderRole role,
                                 int generation);
std::optional<ClientOrderIdParts> parse_client_order_id(std::string_view cid);
// Placed by this orderly instance (same account and instance tags).
bool is_ours(std::string_view cid, std::string_view owner);

std::string to_base36(std::uint64_t v);

}  // namespace orderly
