#include "engine/inflight_check.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/cover_judge.h"
#include "engine/crypto.h"

namespace orderly {

namespace {

// A market entry the broker took fills at once in a session: still unfilled after
// inflight_check_ms, its fill event was most likely lost. Fetched then, and again at doubling
// intervals while it lasts, rather than at the next catch-up, which a healthy stream runs
// every idle_poll_interval_ms and a 429 can put off further (DST trades seed 23000000000138:
// 60 EPD filled unheard, found 22.8 s later, unraised; 23200000001702: `new` and the fill
// both lost, 59 OKE unraised for 18 s).
// At most one fetch in 5 minutes each: an entry held past the open costs ~12 calls an hour.
std::int64_t unfilled_check_interval(std::int64_t first_ms, int checks) {
  return std::min<std::int64_t>(first_ms << std::min(checks, 6), 300'000);
}

}  // namespace

bool InflightCheck::needs_check(const Order& o) const {
  if (o.parent_order_id && !o.broker_order_id) {
    return is_local(o.state) && o.state != OrderState::parked;
  }
  // A leg the broker knows is asked for only while a change of ours to it is unconfirmed.
  if (o.parent_order_id) {
    return o.state == OrderState::pending_cancel || o.state == OrderState::pending_replace;
  }
  switch (o.state) {
    case OrderState::submitting:
    case OrderState::unknown:
    case OrderState::pending_new:
    case OrderState::pending_cancel:
    case OrderState::pending_replace:
      return true;
    case OrderState::submit_failed:
      return false;
    case OrderState::accepted:
    case OrderState::new_:
      if (CoverJudge::market_entry_unfilled(o)) return true;
      [[fallthrough]];
    default:
      return t_.alerts.any_active(AlertKind::stuck_order) &&
             t_.alerts.active(AlertKind::stuck_order, o.client_order_id);
  }
}

// Walks only the orders that may need a lookup or an alert change (walking every order on every
// tick made a tick O(orders held)).
void InflightCheck::run(Timestamp now) {
  for (auto wit = watch_.begin(); wit != watch_.end();) {
    const OrderId id = *wit;
    const Order* op = s_.ledger.order(id);
    if (op == nullptr || !needs_check(*op)) {
      wit = watch_.erase(wit);
      continue;
    }
    ++wit;
    const Order& o = *op;
    // A leg without its id is looked up with its group. One the broker knows goes on to the
    // refreshes below: replaced at our request, its `replaced` event lost, it stayed
    // pending_replace for good, and so did the entries waiting for it to go (DST trades seed
    // 23200000002327).
    if (o.parent_order_id && !o.broker_order_id) {
      host_.check_unresolved_leg(id, now);
      continue;
    }
    OrderAux& ax = t_.aux[id];
    const std::int64_t age = now.ms_since(o.updated_at);
    if (o.state == OrderState::unknown && !ax.command_outstanding) {
      if (t_.retries.take_lookup(id, now)) host_.stage_resolve(id);
    } else if (o.state == OrderState::submitting && !ax.command_outstanding &&
               age >= cfg_.inflight_check_ms) {
      host_.stage_resolve(id);
    } else if ((o.state == OrderState::pending_new || o.state == OrderState::pending_cancel ||
                o.state == OrderState::pending_replace) &&
               age >= cfg_.inflight_check_ms &&
               (!ax.last_refresh_at ||
                now.ms_since(*ax.last_refresh_at) >= cfg_.inflight_check_ms)) {
      host_.stage_refresh(id, now, true);
    } else if (CoverJudge::market_entry_unfilled(o) && age >= cfg_.inflight_check_ms &&
               // `accepted` (not routed yet) is how Alpaca holds a stock's market order outside
               // hours: fetched once a stock order of ours was routed or filled since.
               (o.state == OrderState::new_ || is_crypto_symbol(o.symbol) ||
                (s_.last_stock_routed_at && *s_.last_stock_routed_at > o.updated_at)) &&
               (!ax.last_refresh_at ||
                now.ms_since(*ax.last_refresh_at) >=
                    unfilled_check_interval(cfg_.inflight_check_ms, ax.unfilled_checks))) {
      ++ax.unfilled_checks;
      host_.stage_refresh(id, now, true);
    }
    // Stuck: sent and unanswered. A request still queued behind the rate budget has not left.
    const bool sent_unanswered = o.state == OrderState::unknown ||
                                 (o.state == OrderState::submitting && ax.sent_at.has_value());
    const std::int64_t waited = ax.sent_at ? now.ms_since(*ax.sent_at) : age;
    const bool stuck = sent_unanswered && waited >= cfg_.stuck_order_ms;
    if (stuck) {
      t_.alerts.raise(AlertKind::stuck_order, o.client_order_id,
                    fmt::format("{} {} sent {} ms ago and not answered ({})", o.symbol,
                                to_string(o.role), waited, to_string(o.state)),
                    now);
    } else if (t_.alerts.active(AlertKind::stuck_order, o.client_order_id) &&
               // An exit past its attempts keeps trying: raised until it is placed.
               !(o.state == OrderState::created && o.attempts >= cfg_.retry_max_attempts)) {
      t_.alerts.clear(AlertKind::stuck_order, o.client_order_id, now);
    }
  }
}

}  // namespace orderly
