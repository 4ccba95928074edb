#pragma once
// Internal to orderly_engine: what the engine keeps of each order beside the order itself, in
// memory only (a restart's resync rebuilds it from the broker).

#include <optional>

#include "core/decimal.h"
#include "core/time.h"

namespace orderly {
namespace engine_internal {

// Per-order engine bookkeeping that is not persisted (rebuilt after a restart by the resync).
struct OrderAux {
  bool command_outstanding = false;  // a send/resolve is queued or in flight
  int not_found = 0;                 // definite 404s on lookup by client id
  int related_waiting = 0;           // 40310000 related-order fetches not answered yet
  bool hold_wait = false;            // waiting for holdings to change before a resend
  Decimal hold_available;            // qty_available when the hold was seen
  std::optional<Timestamp> last_refresh_at;
  bool missing_checked = false;      // fetched once after missing from a sweep
  Timestamp missing_checked_at;      // ... at this time
  bool cancel_sent = false;
  std::optional<Timestamp> sent_at;  // last submit/replace released for it
  // Missing from the sweep that began then, and no answer about it since: no cover until the
  // broker says where it stands (cover_judge.cc).
  std::optional<Timestamp> unconfirmed_since;
  int refresh_failures = 0;  // refreshes in a row that got no answer (refresh_failed)
  int lookup_failures = 0;   // lookups by client id in a row that got no answer
  // A leg's listing (check_unresolved_leg) that got no answer is asked again from here.
  std::optional<Timestamp> legs_retry_at;
  bool waits_told = false;   // an entry's wait for our orders in its way is audited once
  bool we_canceled = false;  // a cancel of ours was sent for it (request_cancel)
  int unfilled_checks = 0;  // fetches of a market entry still unfilled (market_entry_unfilled)
  // When the broker last told its state in this life (applied or confirmed): a fill it has
  // not told came after. A refused (stale) answer moves updated_at, never this.
  std::optional<Timestamp> heard_at;
};

}  // namespace engine_internal

using engine_internal::OrderAux;

}  // namespace orderly
