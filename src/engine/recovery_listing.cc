#include "engine/recovery_listing.h"

#include <algorithm>

namespace orderly {

Timestamp listed_created_at(const Ledger& ledger, const Order& o) {
  const Order* at = &o;
  for (int hops = 0; hops < 100 && at->replaces_order_id && !at->parent_order_id; ++hops) {
    const Order* replaced = ledger.order(*at->replaces_order_id);
    if (replaced == nullptr) break;
    at = replaced;
  }
  const Order* parent = at->parent_order_id ? ledger.order(*at->parent_order_id) : nullptr;
  return parent != nullptr ? std::min(o.created_at, parent->created_at) : o.created_at;
}

std::optional<RecoveryListing::Plan> RecoveryListing::plan(const Ledger& ledger) {
  Plan p;
  std::optional<Timestamp> oldest;
  for (const auto& [id, o] : ledger.orders()) {
    if ((o.state != OrderState::submitting && o.state != OrderState::unknown) ||
        o.parent_order_id) {
      continue;
    }
    p.ids.push_back(id);
    const Timestamp listed_from = listed_created_at(ledger, o);
    if (!oldest || listed_from < *oldest) oldest = listed_from;
  }
  if (p.ids.empty()) return std::nullopt;
  // Submitted no earlier than created; a minute for the broker's clock against ours (as the
  // legs' listing, check_unresolved_leg).
  p.after = oldest->plus_ms(-60'000);
  return p;
}

void RecoveryListing::begin(const std::vector<OrderId>& ids) {
  left_.insert(ids.begin(), ids.end());
  pages_ = 0;
}

RecoveryListing::Next RecoveryListing::after_page(const std::vector<BrokerOrder>& page,
                                                  int limit,
                                                  std::optional<Timestamp> asked_after) const {
  Next next;
  const bool more = !page.empty() && static_cast<int>(page.size()) >= limit;
  if (more && pages_ < left_.size()) {
    // Paged as the sweep is (on_sweep_result): `after` is exclusive, so from just before the
    // last created_at, unless the whole page shares it.
    const Timestamp last = page.back().created_at;
    const bool progressed = last.ns - 1 > asked_after.value_or(Timestamp{}).ns;
    next.kind = Next::Kind::next_page;
    next.after = progressed ? Timestamp{last.ns - 1} : last;
  } else if (more) {
    next.kind = Next::Kind::abandon;
  }
  return next;
}

}  // namespace orderly
