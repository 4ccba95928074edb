#pragma once
// A trade: an entry plus its protective exits (take-profit, optional stop-loss).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/decimal.h"
#include "core/order.h"
#include "core/time.h"
#include "core/types.h"

namespace orderly {

// An exit price given either absolutely or as a percent away from the entry's fill price
// (above for a long take-profit, below for a long stop-loss).
struct PriceTarget {
  std::optional<Decimal> price;
  std::optional<Decimal> percent;
  bool valid() const { return price.has_value() != percent.has_value(); }
};

struct TradeSpec {
  std::string symbol;
  Side side = Side::buy;  // side of the entry
  Decimal qty;
  OrderType entry_type = OrderType::market;  // market or limit
  std::optional<Decimal> entry_limit_price;
  TimeInForce tif = TimeInForce::gtc;
  PriceTarget take_profit;
  std::optional<PriceTarget> stop_loss;
  ExitMode exits = ExitMode::emulated;
  // The caller's key for this trade (POST /api/trades client_trade_id / Idempotency-Key): the
  // same key always names the same trade, so a retried request never opens a second one.
  // Empty: none. Not part of what the trade is (a repeat is compared without it).
  std::string client_trade_id;
  // Exits further than kWideExitPercent from the entry are refused as a likely typo unless the
  // request says it means it (`"allow_wide": true`). Checked at open only; not stored.
  bool allow_wide = false;
};

inline constexpr int kWideExitPercent = 50;

// Checks a spec the way the broker would, before anything is recorded, and refuses what could
// never protect the position (a stop or take-profit on the wrong side of the entry's limit, an
// exit absurdly far from it). Empty string: valid.
std::string validate(const TradeSpec& spec);

enum class TradeState : std::uint8_t {
  pending,    // entry not yet filled
  open,       // holding a position, exits working
  closing,    // cancel requested: exits being canceled, position being flattened
  closed,     // flat again (an exit filled, or flattened)
  canceled,   // entry never filled and was canceled
  failed,     // entry refused by the broker
};
std::string_view to_string(TradeState s);
std::optional<TradeState> parse_trade_state(std::string_view s);
inline bool is_terminal(TradeState s) {
  return s == TradeState::closed || s == TradeState::canceled || s == TradeState::failed;
}

struct Trade {
  TradeId id = 0;
  TradeSpec spec;
  TradeState state = TradeState::pending;
  std::string note;
  Timestamp created_at;
  Timestamp updated_at;
};

// The exit prices for an entry filled at `fill_price`, rounded to the broker's tick in the
// conservative direction (a long take-profit rounds up, a long stop rounds down).
struct ExitPrices {
  Decimal take_profit;
  std::optional<Decimal> stop_loss;
};
std::optional<ExitPrices> exit_prices(const TradeSpec& spec, Decimal fill_price);

// The local ledger's view of a symbol.
struct Position {
  std::string symbol;
  Decimal qty;  // negative for short
  Decimal avg_entry_price;
};

}  // namespace orderly
