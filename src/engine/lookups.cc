// Lookups: the broker asked what became of an order of ours (lookups.h).
#include "engine/lookups.h"

#include <algorithm>

#include "engine/transaction.h"

namespace orderly {

void Lookups::stage_resolve(OrderId id) {
  const Order& o = s_.ledger.order_at(id);
  s_.aux[id].command_outstanding = true;
  s_.aux[id].sent_at.reset();  // set again when the request leaves (note_sent)
  Command c;
  c.kind = CommandKind::get_by_client_id;
  c.priority = CommandPriority::lookup;
  c.order_id = id;
  c.client_order_id = o.client_order_id;
  tx_.stage(std::move(c), Purpose::resolve);
}

void Lookups::stage_refresh(OrderId id, Timestamp now, bool force) {
  const Order& o = s_.ledger.order_at(id);
  if (!o.broker_order_id) return;
  OrderAux& ax = s_.aux[id];
  if (!force && ax.last_refresh_at && now.ms_since(*ax.last_refresh_at) < s_.cfg.poll_interval_ms) {
    return;
  }
  ax.last_refresh_at = now;
  Command c;
  c.kind = CommandKind::get_order;
  c.priority = CommandPriority::lookup;
  c.order_id = id;
  c.broker_order_id = *o.broker_order_id;
  tx_.stage(std::move(c), Purpose::refresh);
}

Command Lookups::listing_since(Timestamp after) const {
  Command c;
  c.kind = CommandKind::list_orders;
  c.priority = CommandPriority::lookup;
  c.list.status = OrderListStatus::all;
  c.list.nested = true;
  c.list.ascending = true;
  c.list.limit = s_.cfg.list_page_size;
  c.list.after = after;
  return c;
}

// A 429's X-Ratelimit-Reset can be a minute away. The transport already holds every request
// until then when the account really is over its limit, so waiting the whole minute here only
// keeps an order's status unknown for longer (DST seed 322: an injected 429 left an entry
// unknown past the quiet period while every other call went through).
std::int64_t Lookups::ask_again_after_ms(const BrokerError& e) const {
  return std::max<std::int64_t>(
      s_.cfg.poll_interval_ms,
      std::min<std::int64_t>(e.retry_after_ms.value_or(0), s_.cfg.inflight_check_ms));
}

}  // namespace orderly
