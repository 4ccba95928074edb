#include "engine/exit_book.h"

#include <algorithm>

#include "core/order_state.h"
#include "engine/crypto.h"

namespace orderly {
namespace {

Decimal signed_qty(Side s, Decimal q) { return s == Side::buy ? q : -q; }

// Existing orders the check refuses anything against (§5 "opposite side market/stop order
// exists"); a trailing stop is a stop to it.
bool is_market_or_stop(OrderType t) {
  return t == OrderType::market || t == OrderType::stop || t == OrderType::trailing_stop;
}

}  // namespace

void SymbolBook::add(const Order& o, const Order* parent, bool guarded, bool confirmed) {
  // A crypto buy holds what it received, its fill less the fee (engine/crypto.h).
  if (guarded) net_ += signed_qty(o.side, received_qty(o.symbol, o.side, o.filled_qty));
  if (is_terminal(o.state) || o.state == OrderState::parked) return;
  // Never sent: only our intent. A leg is at the broker once its parent got there.
  const bool sent = o.parent_order_id ? parent != nullptr && !is_local(parent->state)
                                      : o.state != OrderState::created;
  if (!sent) return;
  BookOrder b;
  b.id = o.id;
  b.family = o.parent_order_id.value_or(o.id);
  b.trade = o.trade_id;
  b.side = o.side;
  b.role = o.role;
  b.type = o.type;
  b.limit_price = o.limit_price;
  b.remaining = o.qty - o.filled_qty;
  const bool going = o.state == OrderState::pending_cancel;
  b.covers = o.role != OrderRole::entry && !going && confirmed &&
             (is_open_at_broker(o.state) || (o.parent_order_id && is_local(o.state)));
  // An OCO's leg goes with its parent; a bracket's legs stand alone once the entry is done.
  if (o.parent_order_id && parent->role != OrderRole::entry) {
    b.covers = b.covers && is_open_at_broker(parent->state) &&
               parent->state != OrderState::pending_cancel;
  }
  // A bracket's legs sell only what their own entry bought: before it fills they cover no
  // other trade's shares (DST seed 9100000000092: the held legs of a resting bracket counted
  // as cover for a position whose exits were gone, and no alert was raised).
  if (o.parent_order_id && parent->role == OrderRole::entry) {
    b.remaining = Decimal::min(b.remaining, parent->filled_qty - o.filled_qty);
    b.covers = b.covers && b.remaining.is_positive();
  }
  // A held leg (or one we have not heard of yet: held with its group) is not checked (§5).
  b.checked = !(o.parent_order_id && (o.state == OrderState::held || is_local(o.state)));
  orders_.push_back(std::move(b));
}

void SymbolBook::take_shortfall(Decimal qty) {
  const Decimal held = net_.is_positive() ? net_ : -net_;
  const Decimal taken = Decimal::min(qty, held);
  if (!taken.is_positive()) return;
  net_ = net_.is_positive() ? net_ - taken : net_ + taken;
}

Decimal SymbolBook::covered(Side exit_side) const {
  std::map<OrderId, Decimal> by_family;
  for (const BookOrder& b : orders_) {
    if (!b.covers || b.side != exit_side) continue;
    Decimal& slot = by_family[b.family];
    slot = Decimal::max(slot, b.remaining);
  }
  Decimal total;
  for (const auto& [family, qty] : by_family) total += qty;
  return total;
}

bool SymbolBook::is_protected() const {
  if (net_.is_zero()) return true;
  const Decimal held = net_.is_positive() ? net_ : -net_;
  return covered(net_.is_positive() ? Side::sell : Side::buy) >= held;
}

std::vector<const BookOrder*> SymbolBook::wash_blockers(Side side, OrderType type,
                                                        std::optional<Decimal> limit) const {
  std::vector<const BookOrder*> out;
  const bool new_market_or_stop = is_market_or_stop(type) || !limit;
  for (const BookOrder& b : orders_) {
    if (!b.checked || b.side == side) continue;
    bool refused = is_market_or_stop(b.type) || new_market_or_stop || !b.limit_price;
    if (!refused) {
      const Decimal buy = side == Side::buy ? *limit : *b.limit_price;
      const Decimal sell = side == Side::buy ? *b.limit_price : *limit;
      refused = buy >= sell;
    }
    if (refused) out.push_back(&b);
  }
  return out;
}

std::optional<Decimal> SymbolBook::tightest_opposite_limit(Side side) const {
  std::optional<Decimal> best;
  for (const BookOrder& b : orders_) {
    if (!b.checked || b.side == side || !b.limit_price || is_market_or_stop(b.type)) continue;
    if (!best || (side == Side::buy ? *b.limit_price < *best : *b.limit_price > *best)) {
      best = b.limit_price;
    }
  }
  return best;
}

std::optional<Decimal> SymbolBook::passing_limit(
    Side side, std::optional<Decimal> own, const std::optional<Decimal>& price_increment) const {
  for (const BookOrder& b : orders_) {
    if (b.checked && b.side != side && is_market_or_stop(b.type)) return std::nullopt;
  }
  const std::optional<Decimal> tightest = tightest_opposite_limit(side);
  if (!tightest) return std::nullopt;
  const Decimal tick = Decimal::price_increment_for(*tightest);
  const bool buy = side == Side::buy;
  const Decimal inside = round_to_tick(buy ? *tightest - tick : *tightest + tick,
                                       buy ? Rounding::down : Rounding::up, price_increment);
  if (!inside.is_positive()) return std::nullopt;
  if (!own) return inside;
  return side == Side::buy ? std::min(*own, inside) : std::max(*own, inside);
}

ProtectionWatch::Result ProtectionWatch::observe(const std::string& symbol, bool is_protected,
                                                 Timestamp now, std::optional<Timestamp> began,
                                                 Decimal covered) {
  auto it = gaps_.find(symbol);
  if (is_protected) {
    if (it == gaps_.end()) return {};
    Result r{Change::closed, now.ms_since(it->second.since), it->second.past_grace};
    if (it->second.past_grace) --past_grace_count_;
    std::erase_if(just_closed_,
                  [&](const auto& kv) { return now.ms_since(kv.second.at) >= kBriefCoverMs; });
    just_closed_[symbol] = Closed{it->second.since, now, covered};
    gaps_.erase(it);
    return r;
  }
  const bool opened = it == gaps_.end();
  if (opened) {
    // Learned late (a lost stream event found by a poll): the gap is as old as the broker says,
    // never older than a minute (clocks differ) nor in the future.
    Timestamp since = now;
    if (began && *began < now) since = std::max(*began, now.plus_ms(-60'000));
    if (auto closed = just_closed_.find(symbol); closed != just_closed_.end()) {
      const Closed& c = closed->second;
      if (now.ms_since(c.at) < kBriefCoverMs && covered < c.covered) {
        since = std::min(since, c.since);
      }
      just_closed_.erase(closed);
    }
    it = gaps_.emplace(symbol, Gap{since, false}).first;
  } else if (began && *began < it->second.since) {
    // A fill found late shows the gap older than first thought.
    it->second.since = std::max(*began, now.plus_ms(-60'000));
  }
  Gap& g = it->second;
  const std::int64_t gap_ms = now.ms_since(g.since);
  if (!g.past_grace && gap_ms >= grace_ms_) {
    g.past_grace = true;
    ++past_grace_count_;
    return {Change::past_grace, gap_ms, false};
  }
  return {opened ? Change::gap_opened : Change::none, gap_ms, g.past_grace};
}

std::vector<std::string> ProtectionWatch::open_gaps() const {
  std::vector<std::string> out;
  out.reserve(gaps_.size());
  for (const auto& [symbol, gap] : gaps_) out.push_back(symbol);
  return out;
}

std::optional<Timestamp> ProtectionWatch::gap_since(const std::string& symbol) const {
  auto it = gaps_.find(symbol);
  if (it == gaps_.end()) return std::nullopt;
  return it->second.since;
}

}  // namespace orderly
