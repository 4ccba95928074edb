#pragma once
// What orderly needs from a broker, in domain types. Every call returns the broker's answer or a
// classified BrokerError; the classification decides whether a submission may be retried:
//
//   rejected         the broker answered and created/changed nothing (4xx with a code)
//   not_sent         the request never left (connect/TLS failure): safe to send again
//   unknown_outcome  it may have been applied (timeout or reset after sending, 5xx, 429):
//                    resolve by lookup before anything is re-sent
//   unreadable       an answer arrived (2xx) but could not be read: the broker is reachable,
//                    the payload is the problem. For a write it is an unknown outcome too.
//
// A list answer is read element by element: an element that cannot be read is skipped and
// reported in BrokerResult::unreadable(), so one odd order never hides the others.
//
// Calls block; the engine never calls them itself (it emits commands, a runtime executes them).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/asset_rules.h"
#include "core/decimal.h"
#include "core/order_state.h"
#include "core/result.h"
#include "core/time.h"
#include "core/types.h"

namespace orderly {

// ---- Requests --------------------------------------------------------------------------------

struct OrderRequest {
  std::string symbol;
  Side side = Side::buy;
  OrderType type = OrderType::market;
  TimeInForce tif = TimeInForce::day;
  Decimal qty;
  std::optional<Decimal> notional;  // sent instead of qty when set (dollars, market day only)
  std::optional<Decimal> limit_price;
  std::optional<Decimal> stop_price;
  std::optional<Decimal> trail_price;    // trailing_stop: exactly one of these two
  std::optional<Decimal> trail_percent;
  std::string client_order_id;
  OrderClass order_class = OrderClass::simple;
  std::optional<Decimal> take_profit_limit_price;  // bracket / oco / oto
  std::optional<Decimal> stop_loss_stop_price;     // bracket / oco / oto
  std::optional<Decimal> stop_loss_limit_price;    // makes the stop leg a stop-limit
  bool extended_hours = false;
};

struct ReplaceRequest {
  std::optional<Decimal> qty;
  std::optional<Decimal> limit_price;
  std::optional<Decimal> stop_price;
  std::optional<Decimal> trail;  // a trailing stop's new trail_price or trail_percent
  std::optional<TimeInForce> tif;
  std::optional<std::string> client_order_id;  // for the replacement order
};

enum class OrderListStatus { open, closed, all };

struct ListOrdersQuery {
  OrderListStatus status = OrderListStatus::open;
  int limit = 500;  // Alpaca's maximum page
  std::optional<Timestamp> after;  // exclusive, on submission time
  std::optional<Timestamp> until;  // exclusive
  bool ascending = false;          // Alpaca's default is desc
  bool nested = false;
  std::vector<std::string> symbols;
};

struct ActivityQuery {
  std::optional<Timestamp> after;          // on transaction_time
  std::optional<std::string> page_token;   // id of the last activity of the previous page
  int page_size = 100;                     // Alpaca's maximum
  bool ascending = true;
};

// ---- Answers ---------------------------------------------------------------------------------

struct BrokerOrder {
  std::string id;
  std::string client_order_id;
  std::string symbol;
  Side side = Side::buy;
  OrderType type = OrderType::market;
  TimeInForce tif = TimeInForce::day;
  OrderClass order_class = OrderClass::simple;
  std::optional<Decimal> qty;  // null for notional orders
  Decimal filled_qty;
  std::optional<Decimal> filled_avg_price;
  std::optional<Decimal> limit_price;
  std::optional<Decimal> stop_price;
  std::optional<OrderState> status;  // nullopt: a status we do not know (see status_text)
  std::string status_text;
  Timestamp created_at;
  Timestamp updated_at;
  std::optional<Timestamp> submitted_at;
  std::optional<Timestamp> filled_at;
  std::optional<std::string> replaced_by;
  std::optional<std::string> replaces;
  std::vector<BrokerOrder> legs;
  std::string raw;  // the JSON object as received (audit payload)
  // The remaining fields of Alpaca's Order object (additive; absent/null -> empty).
  std::optional<Decimal> notional;
  std::optional<Decimal> trail_price;
  std::optional<Decimal> trail_percent;
  std::optional<Decimal> hwm;
  bool extended_hours = false;
  std::optional<Timestamp> expired_at;
  std::optional<Timestamp> canceled_at;
  std::optional<Timestamp> failed_at;
  std::optional<Timestamp> replaced_at;
  std::string asset_id;
  std::string asset_class;
  std::string position_intent;
  // Values we could not map (an unknown order type, tif or class); the order is still usable.
  std::vector<std::string> parse_notes;
};

struct BrokerPosition {
  std::string symbol;
  Decimal qty;            // negative for short
  Decimal qty_available;  // qty minus shares held by open orders
  Decimal avg_entry_price;
  std::optional<Decimal> current_price;
  std::string raw;
};

struct Account {
  std::string id;
  std::string status;
  Decimal cash;
  Decimal buying_power;
  Decimal equity;
  bool trading_blocked = false;
  // May the account sell short ("Flag to denote whether or not the account is permitted to
  // short", the specification's Account schema)? nullopt when the answer did not say.
  std::optional<bool> shorting_enabled;
  std::string raw;
  // Removed by Alpaca on 2026-07-06 (FINRA change): optional, never required.
  std::optional<bool> pattern_day_trader;
  std::optional<std::int64_t> daytrade_count;
};

struct FillActivity {
  std::string id;  // sorts by time: the watermark / page_token
  std::string order_id;
  std::string symbol;
  Side side = Side::buy;
  Decimal qty;    // this execution
  Decimal price;  // this execution
  Decimal cum_qty;
  Decimal leaves_qty;
  std::optional<OrderState> order_status;
  bool partial = false;  // type "partial_fill"
  Timestamp transaction_time;
  std::string raw;
};

struct MarketClock {
  Timestamp timestamp;
  bool is_open = false;
  Timestamp next_open;
  Timestamp next_close;
};

struct CancelResult {
  std::string order_id;
  int http_status = 0;
  std::string body;
};

// One trade_updates message.
struct TradeUpdate {
  std::string event;  // "new", "fill", "partial_fill", ... (unknown names are kept, not dropped)
  std::optional<std::string> execution_id;
  BrokerOrder order;
  std::optional<Decimal> price;         // this execution
  std::optional<Decimal> qty;           // this execution
  std::optional<Decimal> position_qty;  // position after the event
  Timestamp timestamp;
  std::string raw;
};

// ---- Errors ----------------------------------------------------------------------------------

// Parsed body of 403/40310000 "insufficient qty available": who holds the shares.
struct InsufficientQty {
  std::string symbol;
  Decimal available;
  Decimal existing_qty;
  Decimal held_for_orders;
  std::vector<std::string> related_orders;  // open orders holding the shares
};

struct BrokerError {
  enum class Kind { rejected, not_sent, unknown_outcome, unreadable };
  Kind kind = Kind::unknown_outcome;
  int http_status = 0;      // 0 when there was no HTTP answer
  std::int64_t code = 0;    // Alpaca's 8-digit code, 0 when absent
  std::string message;      // the broker's message or the transport's reason (never secrets)
  std::string body;         // raw response body, if any
  std::optional<InsufficientQty> insufficient_qty;
  std::optional<std::int64_t> retry_after_ms;  // from 429 / X-Ratelimit-Reset

  bool not_found() const { return http_status == 404; }
  // 422 40010001 "client_order_id must be unique": an earlier attempt of this intent exists.
  bool duplicate_client_order_id() const;
  bool insufficient_qty_error() const { return insufficient_qty.has_value(); }
  std::string describe() const;
};
std::string_view to_string(BrokerError::Kind k);

struct Unit {};

// One element of an answer that could not be read (an order of a list, a leg, a position, an
// activity): skipped, so the rest is used, and handed to the caller to count, keep and raise.
struct UnreadableItem {
  static constexpr std::size_t kMaxRaw = 4096;  // raw is cut to this many bytes
  std::string kind;    // "order", "leg", "position", "activity"
  std::string id;      // the element's id when it had a readable one, else empty
  std::string raw;     // the element as received (at most kMaxRaw bytes)
  std::string reason;  // what could not be read
};

template <typename T>
class [[nodiscard]] BrokerResult : public Result<T, BrokerError> {
 public:
  using Result<T, BrokerError>::Result;
  // Elements skipped as unreadable (see UnreadableItem); empty for a clean answer.
  std::vector<UnreadableItem>& unreadable() { return unreadable_; }
  const std::vector<UnreadableItem>& unreadable() const { return unreadable_; }

 private:
  std::vector<UnreadableItem> unreadable_;
};

struct ActivityPage {
  std::vector<FillActivity> activities;
  bool more = false;  // a full page came back: ask again with page_token = last id
  // The id of the page's last element, read or skipped as unreadable (empty when unknown):
  // the next page_token, so a page ending in unreadable elements is still paged past.
  std::string last_id;
};

// ---- Interfaces ------------------------------------------------------------------------------

class Broker {
 public:
  virtual ~Broker() = default;
  virtual BrokerResult<BrokerOrder> submit_order(const OrderRequest& request) = 0;
  virtual BrokerResult<BrokerOrder> get_order(std::string_view broker_order_id) = 0;
  virtual BrokerResult<BrokerOrder> get_order_by_client_id(std::string_view client_order_id) = 0;
  virtual BrokerResult<std::vector<BrokerOrder>> list_orders(const ListOrdersQuery& query) = 0;
  virtual BrokerResult<Unit> cancel_order(std::string_view broker_order_id) = 0;
  virtual BrokerResult<std::vector<CancelResult>> cancel_all_orders() = 0;
  virtual BrokerResult<BrokerOrder> replace_order(std::string_view broker_order_id,
                                                  const ReplaceRequest& request) = 0;
  virtual BrokerResult<std::vector<BrokerPosition>> list_positions() = 0;
  virtual BrokerResult<Account> get_account() = 0;
  virtual BrokerResult<ActivityPage> fill_activities(const ActivityQuery& query) = 0;
  virtual BrokerResult<MarketClock> get_clock() = 0;
  // The symbol's asset (GET /v2/assets/{symbol}); a crypto pair as "BTC/USD". A broker that
  // cannot read assets answers not_sent, so a caller that needs one refuses rather than guesses.
  virtual BrokerResult<AssetRules> get_asset(std::string_view symbol);
  // The active assets of a class (GET /v2/assets?status=active&asset_class=us_equity): one call
  // for every symbol's asset. A broker that cannot list them answers not_sent.
  virtual BrokerResult<std::vector<AssetRules>> list_assets(std::string_view asset_class);
  // Requests per minute the broker says this account may make (X-Ratelimit-Limit), once it has
  // said so; nullopt before or when it never does.
  virtual std::optional<int> stated_rate_limit() const { return std::nullopt; }
};

// trade_updates. Callbacks run on the stream's own thread (or inline in simulation); they must
// not block. After every (re)connect on_connected fires: missed events are not replayed, so the
// engine runs a full resync.
class TradeUpdateHandler {
 public:
  virtual ~TradeUpdateHandler() = default;
  virtual void on_trade_update(TradeUpdate update) = 0;
  virtual void on_connected() = 0;
  virtual void on_disconnected(std::string reason) = 0;
  // A message that could not be parsed; kept for the audit, never fatal.
  virtual void on_malformed(std::string raw, std::string reason) = 0;
};

class TradeUpdateStream {
 public:
  virtual ~TradeUpdateStream() = default;
  virtual void start(TradeUpdateHandler& handler) = 0;
  virtual void stop() = 0;
};

}  // namespace orderly
