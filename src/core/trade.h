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
// (above for a long take-profit, below for a long stop-loss). A stop-loss may instead trail the
// market (Alpaca's trailing_stop) by a price or a percent. A take-profit with nothing set is
// none (a trade may have only a stop-loss).
struct PriceTarget {
  std::optional<Decimal> price;
  std::optional<Decimal> percent;
  std::optional<Decimal> trail_percent;  // stop-loss only
  std::optional<Decimal> trail_price;    // stop-loss only
  int given() const {
    return int(price.has_value()) + int(percent.has_value()) + int(trail_percent.has_value()) +
           int(trail_price.has_value());
  }
  bool valid() const { return given() == 1; }
  bool is_set() const { return given() > 0; }
  bool trailing() const { return trail_percent.has_value() || trail_price.has_value(); }
};

struct TradeSpec {
  std::string symbol;
  Side side = Side::buy;  // side of the entry: sell opens a short, its exits buy
  Decimal qty;            // 0 when the entry names dollars (notional)
  std::optional<Decimal> notional;  // USD of a market day buy; exits sized to what it bought
  OrderType entry_type = OrderType::market;  // market, limit, stop or stop_limit
  std::optional<Decimal> entry_limit_price;  // limit, stop_limit
  std::optional<Decimal> entry_stop_price;   // stop, stop_limit
  TimeInForce tif = TimeInForce::gtc;        // of the entry; exits are gtc (day if fractional)
  bool extended_hours = false;               // a limit day entry that may fill outside 9:30-16
  PriceTarget take_profit;                   // none when !is_set()
  std::optional<PriceTarget> stop_loss;
  ExitMode exits = ExitMode::emulated;
  // The caller's key for this trade (POST /api/trades client_trade_id / Idempotency-Key): the
  // same key always names the same trade, so a retried request never opens a second one.
  // Empty: none. Not part of what the trade is (a repeat is compared without it).
  std::string client_trade_id;
  // Exits further than kWideExitPercent from the entry are refused as a likely typo unless the
  // request says it means it (`"allow_wide": true`). Checked at open only; not stored.
  bool allow_wide = false;
  // A crypto pair's price_increment (GET /v2/assets), filled in by the API layer from its asset
  // read when the trade opens, so that prices resolved later (a percent exit at the fill) are
  // ones the broker takes. None: not known (an equity, a trade stored before it was kept); such
  // prices follow the cent / sub-penny rule alone. Not part of what the trade is asked to be.
  std::optional<Decimal> price_increment;

  bool fractional() const { return notional.has_value() || !qty.is_integer(); }
  bool has_take_profit() const { return take_profit.is_set(); }
  bool trailing_stop() const { return stop_loss && stop_loss->trailing(); }
  // The price the entry is judged at before it fills: its limit, else its stop.
  std::optional<Decimal> entry_reference() const {
    return entry_limit_price ? entry_limit_price : entry_stop_price;
  }
};

inline constexpr int kWideExitPercent = 50;

// Checks a spec the way the broker would, before anything is recorded: every combination Alpaca
// refuses (alpaca-api.md §2.1: fractional and notional rules, extended hours, auction tifs,
// brackets) is refused here first with the rule named, and so is what could never protect the
// position (a stop or take-profit on the wrong side of the entry's price, an exit absurdly far
// from it). Empty string: valid.
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

// A price as the broker takes it: on the cent / sub-penny grid (Decimal::round_price) and, when a
// crypto pair's `increment` is known, a multiple of it, both rounded in direction `r`.
Decimal round_to_tick(Decimal price, Rounding r, const std::optional<Decimal>& increment);

// The exit prices for an entry filled at `fill_price`, rounded to the broker's tick (the pair's
// price_increment too, when the spec has one) in the conservative direction, away from the
// market (a long take-profit rounds up, a long stop rounds down). A trailing stop-loss has no
// price of its own here: the broker trails it.
struct ExitPrices {
  std::optional<Decimal> take_profit;
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
