#pragma once
// The local API's JSON shapes, each written once (DESIGN.md "Local HTTP API", api/openapi.json):
// the single-account routes (api.cc) and the views over several accounts (accounts_view.cc)
// render through these. Private to src/server: it exposes Boost.JSON types.
//
// `account`: with several accounts, the account an object belongs to; "" renders none. It is
// added last, to the object itself only (a trade's own orders do not repeat it).

#include <boost/json.hpp>

#include <optional>
#include <string_view>

#include "core/decimal.h"
#include "core/time.h"
#include "server/account_queries.h"

namespace orderly::server::shapes {
namespace json = boost::json;

// Decimals travel as strings; an absent value, or a time never set, is null.
json::value dec(const std::optional<Decimal>& d);
json::value ts(const std::optional<Timestamp>& t);

json::object order_json(const Order& o, std::string_view account = {});
json::object trade_json(const TradeRecord& t, std::string_view account = {});
json::object event_json(const OrderEvent& e);
// An event of the dashboard's feed (GET /api/events): without its payload (fetched with the
// audit trail); with an account, also the event's seq in that account ("account_seq").
json::object feed_event_json(const OrderEvent& e, std::string_view account = {});
// {"order", "events", "fills"}: the account names the trail and its order.
json::object audit_json(const OrderAudit& a, std::string_view account = {});
json::object alert_json(const AlertRow& a, std::string_view account = {});
json::object position_json(const PositionView& p, std::string_view account = {});
json::object health_json(const HealthReport& r);

// Adds "account" to `o` unless `account` is empty.
void tag(json::object& o, std::string_view account);

}  // namespace orderly::server::shapes
