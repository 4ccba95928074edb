#pragma once
// Alpaca's JSON <-> domain types. Boost.JSON stays inside json.cc.
//
// Input is taken as Alpaca really sends it (alpaca-api.md): decimals as strings OR numbers,
// explicit nulls, empty strings for absent values, RFC3339 with 0-9 fractional digits and
// offsets, unknown fields ignored, unknown statuses kept as text (status nullopt), orders of every
// asset class (a multi-leg option order has side "" and symbol ""). A list is read element by
// element: an element that cannot be read is skipped and reported in `unreadable`, never a
// failure of the whole list. Malformed input is an error value; nothing here throws.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "broker/broker.h"
#include "core/status.h"

namespace orderly::alpaca {

// The elements of a JSON array that could be read, and those that could not.
template <typename T>
struct Listing {
  std::vector<T> items;
  std::vector<UnreadableItem> unreadable;  // includes unreadable legs of readable orders
  std::size_t elements = 0;                // array length: items plus skipped elements
  std::string last_id;                     // id of the array's last element, read or not

  std::size_t size() const { return items.size(); }
  const T& operator[](std::size_t i) const { return items[i]; }
  auto begin() const { return items.begin(); }
  auto end() const { return items.end(); }
};

// Legs that cannot be read are skipped (noted in parse_notes) and, given `unreadable`, reported.
StatusOr<BrokerOrder> parse_order(std::string_view json,
                                  std::vector<UnreadableItem>* unreadable = nullptr);
StatusOr<Listing<BrokerOrder>> parse_orders(std::string_view json);
StatusOr<BrokerPosition> parse_position(std::string_view json);
StatusOr<Listing<BrokerPosition>> parse_positions(std::string_view json);
StatusOr<Account> parse_account(std::string_view json);
StatusOr<Listing<FillActivity>> parse_fill_activities(std::string_view json);
StatusOr<MarketClock> parse_clock(std::string_view json);
// GET /v2/assets/{symbol}: its flags, and the sizes where present (crypto only).
StatusOr<AssetRules> parse_asset(std::string_view json);
// GET /v2/assets: the readable ones (an unreadable element is left out, not the list).
StatusOr<std::vector<AssetRules>> parse_assets(std::string_view json);
// DELETE /v2/orders answers 207 with [{"id","status","body"?}, ...].
StatusOr<std::vector<CancelResult>> parse_cancel_all(std::string_view json);

// {"code":40310000,"message":...} and the gateway's {"message":"forbidden."}.
struct ErrorBody {
  std::int64_t code = 0;  // 0 when absent
  std::string message;
  std::optional<InsufficientQty> insufficient_qty;  // 40310000 "insufficient qty available"
  std::optional<std::string> existing_order_id;     // wash-trade refusal
  std::optional<std::string> reject_reason;         // wash-trade refusal
};
StatusOr<ErrorBody> parse_error_body(std::string_view json);

// ---- trade_updates stream ------------------------------------------------------------------

// The control messages of the stream protocol (authorization, listening).
struct StreamControl {
  enum class Kind { authorized, unauthorized, listening, other };
  Kind kind = Kind::other;
  std::string stream;                // "authorization", "listening", or any other stream name
  std::string message;               // the server's reason on failure
  std::vector<std::string> streams;  // listening ack
};
using StreamMessage = std::variant<TradeUpdate, StreamControl>;
StatusOr<StreamMessage> parse_stream_message(std::string_view json);

std::string authenticate_message(std::string_view key_id, std::string_view secret_key);
std::string listen_message();  // trade_updates

// ---- Requests ------------------------------------------------------------------------------

// Decimals as strings (like the SDKs); absent fields omitted; "order_class" plus the
// take_profit / stop_loss objects for bracket, oco and oto.
std::string serialize_order_request(const OrderRequest& request);
std::string serialize_replace_request(const ReplaceRequest& request);

}  // namespace orderly::alpaca
