// Submitter, sessions: what Alpaca refuses in some sessions is kept here until it is taken.
// The only such orders orderly sends are auction entries (tif opg / cls): Alpaca refuses them
// from shortly before their auction until 19:00 ET and queues them for the next session after
// that. Sent inside the window they would come back rejected and the trade would fail; held,
// the trader's order reaches the next auction. Day orders sent after a close, gtc exits and
// extended-hours limits are queued by Alpaca itself, so nothing else waits here.
#include <fmt/format.h>

#include "core/market_hours.h"
#include "engine/submitter.h"
#include "engine/transaction.h"

namespace orderly {

bool Submitter::held_for_session(OrderId id, Timestamp now) {
  const Order& o = s_.ledger.order_at(id);
  const std::optional<Timestamp> until = auction_refused_until(o.tif, now);
  if (!until) return false;
  // Due again at `until`: the submitter passes it over until then, across restarts too (the
  // time is the order's, committed with it).
  Order& m = tx_.mut_order(id);
  m.next_attempt_at = *until;
  tx_.audit(
      m, m.state, EventSource::intent,
      fmt::format("queued for session: Alpaca refuses {} orders from {} to 7:00pm ET; sent at "
                  "{}, queued by Alpaca for the next {}",
                  to_string(o.tif), o.tif == TimeInForce::opg ? "9:28am" : "3:50pm",
                  format_et(*until),
                  o.tif == TimeInForce::opg ? "opening auction" : "closing auction"),
      {}, now);
  return true;
}

}  // namespace orderly
