#pragma once
// The order state machine. Local states describe our side of a submission; the rest are Alpaca's
// statuses verbatim. The table of legal transitions is data (order_state.cc) and every (from, to)
// pair is tested. Evidence that would move an order backwards, shrink its filled quantity or
// leave a terminal state is refused and reported, never applied: the incident's platform kept
// "pending" orders that the broker had long filled.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/decimal.h"
#include "core/time.h"

namespace orderly {

enum class OrderState : std::uint8_t {
  // Local: the broker has not (yet) told us anything about this order.
  created,        // intent recorded; not sent (or waiting for its next attempt)
  submitting,     // request in flight
  unknown,        // outcome unknown (timeout, reset, 5xx): resolve by lookup before any resend
  submit_failed,  // the broker definitively refused; nothing was created
  parked,         // gave up after bounded attempts; an alert is raised
  // Alpaca statuses.
  pending_new,
  accepted,
  accepted_for_bidding,
  pending_review,
  held,
  new_,  // "new"
  partially_filled,
  filled,
  done_for_day,
  canceled,
  expired,
  replaced,
  pending_cancel,
  pending_replace,
  stopped,
  rejected,
  suspended,
  calculated,
};

inline constexpr std::size_t kOrderStateCount = static_cast<std::size_t>(OrderState::calculated) + 1;
extern const std::array<OrderState, kOrderStateCount> kAllOrderStates;

std::string_view to_string(OrderState s);
// Accepts every Alpaca status and the local names; nullopt for anything else (the caller keeps
// the raw payload and reports it).
std::optional<OrderState> parse_order_state(std::string_view s);

bool is_local(OrderState s);     // no broker evidence behind it
bool is_terminal(OrderState s);  // filled, canceled, expired, rejected, replaced, submit_failed
// Live at the broker: may still fill and holds shares or buying power.
bool is_open_at_broker(OrderState s);
// The order exists at the broker (any broker status). Such an order is never submitted again.
bool is_known_to_broker(OrderState s);

bool transition_allowed(OrderState from, OrderState to);

// Evidence about an order, from our own intent or from the broker.
struct StateUpdate {
  OrderState to;
  std::optional<Decimal> filled_qty;        // cumulative, as the broker reports it
  std::optional<Decimal> filled_avg_price;  // cumulative average
  std::optional<Timestamp> broker_time;     // the broker's updated_at for this evidence
};

enum class Verdict : std::uint8_t {
  applied,         // legal move (or same state with more filled): apply it
  duplicate,       // nothing new: ignore silently
  stale,           // older evidence than what we hold: refuse, audit as anomaly
  illegal,         // not in the table: refuse, audit as anomaly, alert
  fill_regressed,  // filled quantity would decrease: refuse, audit as anomaly
};
std::string_view to_string(Verdict v);

struct OrderSnapshot {  // what the state machine needs to judge an update
  OrderState state = OrderState::created;
  Decimal filled_qty;
  std::optional<Timestamp> broker_time;
};

struct Decision {
  Verdict verdict;
  std::string reason;  // empty when applied/duplicate
  bool ok() const { return verdict == Verdict::applied; }
};

Decision evaluate(const OrderSnapshot& current, const StateUpdate& update);

}  // namespace orderly
