#include "engine/wash_pricing.h"

#include <algorithm>

#include "core/trade.h"
#include "engine/crypto.h"
#include "engine/trade_manager.h"

namespace orderly {

// A stop alone (a trade with no take-profit, a fractional or crypto position: no OCO, which the
// check exempts) meets every opposite order as a plain stop: it goes as a stop_limit whose limit
// is one tick past our opposite limits, which the check judges by that limit (DST seed
// 11300000000030: another trade's buy limit rested under a stop-only trade's stop, the stop was
// refused for minutes and the position stood without an exit). Triggered, it sells at any price
// down to our own buy, which would fill before the market passes it; when our opposite orders
// go, it is placed again as the plain stop.
bool wash_adjustable(const Order& o) {
  if (o.parent_order_id || o.order_class != OrderClass::simple) return false;
  if (o.role == OrderRole::stop_loss) {
    return (o.type == OrderType::stop || o.type == OrderType::stop_limit) && o.stop_price;
  }
  return o.role == OrderRole::exit || o.role == OrderRole::take_profit;
}

// A priced-past exit: a stop becomes a stop_limit, a take-profit or a flatten a limit for this
// moment of the book; back at its own price (nullopt) a stop is a stop again (a crypto stop
// keeps its own limit), a flatten a market order, a take-profit its own limit and tif.
void set_exit_price(Order& m, std::optional<Decimal> price, std::optional<Decimal> own) {
  const bool crypto = is_crypto_symbol(m.symbol);
  m.limit_price = price ? price : own;
  if (m.role == OrderRole::stop_loss) {
    m.type = m.limit_price || crypto ? OrderType::stop_limit : OrderType::stop;
    return;
  }
  m.type = m.limit_price || m.role != OrderRole::exit ? OrderType::limit : OrderType::market;
  if (price) {
    m.tif = session_tif(m.symbol);  // a price made for this moment of the book
  } else if (m.role != OrderRole::exit) {
    // Alpaca takes fractional shares in day orders only.
    m.tif = !m.qty.is_integer() && !crypto ? TimeInForce::day : TimeInForce::gtc;
  }
}

// The exit's own price before any stepping around: none for a flatten (market), the trade's
// take-profit for a take-profit alone.
std::optional<Decimal> own_exit_price(const Ledger& ledger, const Order& o) {
  if (o.role == OrderRole::stop_loss && o.stop_price && is_crypto_symbol(o.symbol)) {
    return crypto_stop_limit(*o.stop_price, o.side, price_increment_of(ledger, o));
  }
  if (o.role != OrderRole::take_profit) return std::nullopt;
  const Trade* trade = ledger.trade(o.trade_id);
  if (trade == nullptr) return o.limit_price;
  const Trade& t = *trade;
  for (OrderId id : ledger.of_trade(o.trade_id)) {
    const Order& entry = ledger.order_at(id);
    if (entry.role != OrderRole::entry || entry.replaces_order_id) continue;
    std::optional<Decimal> basis = entry.filled_avg_price;
    if (!basis) basis = entry.limit_price;
    if (!basis) basis = t.spec.take_profit.price;
    if (!basis) break;
    if (auto prices = exit_prices(t.spec, *basis); prices && prices->take_profit) {
      return prices->take_profit;
    }
    break;
  }
  return o.limit_price;  // not derivable: the price it has is its own
}

std::optional<Decimal> price_increment_of(const Ledger& ledger, const Order& o) {
  const Trade* trade = ledger.trade(o.trade_id);
  return trade == nullptr ? std::nullopt : trade->spec.price_increment;
}

// The price `o` may take given our own open orders on the other side; nullopt = market.
// Walks the orders of its symbol: only for exits, and only while one steps around our own orders.
std::optional<Decimal> wash_safe_price(const Ledger& ledger, const Order& o,
                                       std::optional<Decimal> own) {
  std::optional<Decimal> extreme;  // highest buy limit against a sell, lowest sell limit
  for (OrderId oid : ledger.of_symbol(o.symbol)) {
    const Order& other = ledger.order_at(oid);
    if (!wash_checked_opposite(o, other)) continue;
    if (no_price_passes(other)) return own;  // wait for it to go
    const Decimal lp = *other.limit_price;
    if (!extreme || (o.side == Side::sell ? lp > *extreme : lp < *extreme)) extreme = lp;
  }
  if (!extreme) return own;
  // One tick past it, on the pair's price increment when its trade knows one.
  const Decimal tick = Decimal::price_increment_for(*extreme);
  const bool sell = o.side == Side::sell;
  const Decimal beyond =
      round_to_tick(sell ? *extreme + tick : *extreme - tick, sell ? Rounding::up : Rounding::down,
                    price_increment_of(ledger, o));
  if (!beyond.is_positive()) return own;
  // A stop's limit past its stop would not sell when it triggers: no price passes.
  if (o.role == OrderRole::stop_loss &&
      (!o.stop_price || (o.side == Side::sell ? beyond > *o.stop_price
                                              : beyond < *o.stop_price))) {
    return own;
  }
  if (!own) return beyond;
  return o.side == Side::sell ? std::max(*own, beyond) : std::min(*own, beyond);
}

bool market_order_opposite(const Ledger& ledger, const Order& o) {
  for (OrderId oid : ledger.of_symbol(o.symbol)) {
    const Order& other = ledger.order_at(oid);
    if (wash_checked_opposite(o, other) && no_price_passes(other)) return true;
  }
  return false;
}

// An order of ours on the other side of `o` that Alpaca's wash-trade check looks at: working or
// on its way, sent, and not an inactive leg (held legs are not checked, alpaca-api.md §5).
bool wash_checked_opposite(const Order& o, const Order& other) {
  return other.side != o.side && working_or_pending(other) && !never_sent(other) &&
         !(other.parent_order_id && other.state == OrderState::held);
}

// A market or stop order: no price of ours passes the check against it.
bool no_price_passes(const Order& other) {
  return (other.type != OrderType::limit && other.type != OrderType::stop_limit) ||
         !other.limit_price;
}


}  // namespace orderly
