// StandInEntries: a market (or crossing limit) entry that Alpaca's wash-trade
// check would refuse against our own resting sells is sent as a limit one tick inside them
// (entry_path_clear). That limit is marketable only while those sells rest: once the market
// reaches them they fill, and the entry is left resting under the market, for good (DST trades
// seeds 11300000000868, 20700000000037: a market buy sent as a limit under our take-profit
// while the take-profit was filling unheard; it rested, and another trade's stop alone, which
// no price let past it, was refused for the rest of the run). An entry resting at the broker
// whose stand-in price our orders no longer call for is canceled, and a new entry of the trade
// is sent for what it left, judged again from the trade's own price.
#include <fmt/format.h>

#include <algorithm>

#include "engine/stand_in_entries.h"
#include "engine/trade_executor.h"
#include "engine/transaction.h"

namespace orderly {

// Run with every submitter pass: the stand-ins resting at the broker, judged against the book.
void StandInEntries::recheck_stand_in_entries(Timestamp now) {
  for (auto it = s_.stand_in_entries.begin(); it != s_.stand_in_entries.end();) {
    const OrderId id = *it;
    const Order* o = s_.ledger.order(id);
    if (o == nullptr || !working_or_pending(*o) || !is_stand_in(s_.ledger, *o)) {
      it = s_.stand_in_entries.erase(it);
      continue;
    }
    ++it;
    // Unsent, it is judged again from its own price before it goes (restore_entry_price).
    if (!o->broker_order_id || !is_open_at_broker(o->state) ||
        o->state == OrderState::pending_cancel || s_.aux[id].cancel_sent ||
        s_.retries.cancel_waits(id)) {
      continue;
    }
    const TradeView v = view_of(s_.ledger, o->trade_id);
    if (v.entries.back() != id) continue;  // a later entry already follows it
    if (std::optional<std::string> why =
            stand_in_outdated(s_.ledger, s_.aux, s_.clearing, s_.cover.book_of(o->symbol), *o)) {
      send_entry_again(id, *why, now);
    }
  }
}

// The stand-in is canceled and a new entry of the trade, at the trade's own price, waits for
// its end (waits_for_earlier_entry) in the same commit: a crash between the two leaves the
// follower, which asks for the cancel again, never a trade whose entry simply vanished.
void StandInEntries::send_entry_again(OrderId id, const std::string& why, Timestamp now) {
  const Order& o = s_.ledger.order_at(id);
  const Trade& t = *s_.ledger.trade(o.trade_id);
  const TradeView v = view_of(s_.ledger, t.id);
  Order next = trades_.make_order(t, OrderRole::entry, static_cast<int>(v.entries.size()), o.side,
                                  t.spec.entry_type, o.qty - o.filled_qty, now);
  next.tif = o.tif;
  next.limit_price = t.spec.entry_limit_price;
  next.extended_hours = o.extended_hours;
  const std::string next_cid = next.client_order_id;
  trades_.record_new(std::move(next),
                     fmt::format("entry sent again for what {} leaves, once it is canceled: {}",
                                 o.client_order_id, why),
                     now);
  trades_.request_cancel(
      id,
      fmt::format("stand-in limit {} canceled: {}; entry {} follows for what it "
                  "leaves",
                  o.limit_price ? o.limit_price->str() : std::string("-"), why, next_cid),
      now);
}

// An entry that follows a canceled stand-in goes once the stand-in ended, for what its fills
// left. True while it waits (or once nothing is left to buy: it ends unsent).
bool StandInEntries::waits_for_earlier_entry(OrderId id, Timestamp now) {
  const Order& o = s_.ledger.order_at(id);
  const TradeView v = view_of(s_.ledger, o.trade_id);
  if (v.entries.size() < 2 || v.entries.front() == id) return false;
  Decimal filled_before;
  for (OrderId e : v.entries) {
    if (e == id) break;
    const Order& earlier = s_.ledger.order_at(e);
    filled_before += earlier.filled_qty;
    if (!working_or_pending(earlier)) continue;
    // After a restart the cancel may never have left: asked again.
    if (earlier.broker_order_id && is_open_at_broker(earlier.state) &&
        earlier.state != OrderState::pending_cancel && !s_.aux[e].cancel_sent &&
        !s_.retries.cancel_waits(e)) {
      trades_.request_cancel(e, fmt::format("canceled: entry {} follows it", o.client_order_id),
                             now);
    }
    return true;
  }
  const Decimal left = s_.ledger.order_at(v.entries.front()).qty - filled_before;
  if (!left.is_positive()) {
    tx_.set_local_state(id, OrderState::canceled, EventSource::intent,
                        "not sent: the entries before it filled everything", {}, now);
    return true;
  }
  if (left != o.qty) {
    Order& m = tx_.mut_order(id);
    m.qty = left;
    tx_.audit(m, m.state, EventSource::intent,
              fmt::format("qty {}: what the entries before it left", left.str()), {}, now);
  }
  return false;
}

}  // namespace orderly
