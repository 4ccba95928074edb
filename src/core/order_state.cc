#include "core/order_state.h"

#include <fmt/format.h>

#include <initializer_list>
#include <utility>

namespace orderly {
namespace {

using S = OrderState;

constexpr std::array<std::pair<S, std::string_view>, kOrderStateCount> kNames{{
    {S::created, "created"},
    {S::submitting, "submitting"},
    {S::unknown, "unknown"},
    {S::submit_failed, "submit_failed"},
    {S::parked, "parked"},
    {S::pending_new, "pending_new"},
    {S::accepted, "accepted"},
    {S::accepted_for_bidding, "accepted_for_bidding"},
    {S::pending_review, "pending_review"},
    {S::held, "held"},
    {S::new_, "new"},
    {S::partially_filled, "partially_filled"},
    {S::filled, "filled"},
    {S::done_for_day, "done_for_day"},
    {S::canceled, "canceled"},
    {S::expired, "expired"},
    {S::replaced, "replaced"},
    {S::pending_cancel, "pending_cancel"},
    {S::pending_replace, "pending_replace"},
    {S::stopped, "stopped"},
    {S::rejected, "rejected"},
    {S::suspended, "suspended"},
    {S::calculated, "calculated"},
}};

constexpr std::size_t idx(S s) { return static_cast<std::size_t>(s); }

// Every broker status an order can be seen in once the broker holds it.
constexpr std::initializer_list<S> kAnyBrokerState = {
    S::pending_new, S::accepted,  S::accepted_for_bidding, S::pending_review, S::held,
    S::new_,        S::partially_filled, S::filled,        S::done_for_day,   S::canceled,
    S::expired,     S::replaced,  S::pending_cancel,       S::pending_replace, S::stopped,
    S::rejected,    S::suspended, S::calculated};

// Where a working order may go next (any working status may be followed by any later one, and
// by the terminal ones).
constexpr std::initializer_list<S> kFromWorking = {
    S::new_,           S::partially_filled, S::filled,    S::done_for_day, S::canceled,
    S::expired,        S::replaced,         S::pending_cancel, S::pending_replace,
    S::stopped,        S::rejected,         S::suspended, S::calculated, S::held};

struct Rule {
  S from;
  std::initializer_list<S> to;
};

// The table. Anything not listed is refused.
const Rule kRules[] = {
    // A resend after a definite "not created" goes through `created` again (attempts counted).
    {S::created, {S::submitting, S::canceled}},
    // The reply (or a stream event that beats it) may already show any broker status.
    {S::submitting, {S::created, S::unknown, S::submit_failed, S::parked}},
    {S::submitting, kAnyBrokerState},
    // Resolved by lookup: found (any broker status) or definitely absent (resend / give up).
    {S::unknown, {S::created, S::submitting, S::submit_failed, S::parked}},
    {S::unknown, kAnyBrokerState},
    // The broker is the source of truth: evidence of a parked order at the broker is adopted.
    {S::parked, {S::created}},
    {S::parked, kAnyBrokerState},
    {S::pending_new, {S::accepted}},
    {S::pending_new, kFromWorking},
    {S::accepted, {S::pending_new}},
    {S::accepted, kFromWorking},
    {S::accepted_for_bidding, {S::pending_new, S::accepted}},
    {S::accepted_for_bidding, kFromWorking},
    {S::pending_review, {S::pending_new, S::accepted}},
    {S::pending_review, kFromWorking},
    // A held bracket/OCO leg activates (new) or dies with its group.
    {S::held, {S::pending_new, S::accepted}},
    {S::held, kFromWorking},
    {S::new_, {S::partially_filled, S::filled, S::done_for_day, S::canceled, S::expired,
               S::replaced, S::pending_cancel, S::pending_replace, S::stopped, S::rejected,
               S::suspended, S::calculated, S::held}},
    {S::partially_filled, {S::filled, S::done_for_day, S::canceled, S::expired, S::replaced,
                           S::pending_cancel, S::pending_replace, S::stopped, S::suspended,
                           S::calculated}},
    // A refused cancel or replace restores the working status.
    {S::pending_cancel, {S::canceled, S::filled, S::partially_filled, S::new_, S::accepted,
                         S::expired, S::replaced, S::done_for_day, S::held}},
    {S::pending_replace, {S::replaced, S::filled, S::partially_filled, S::new_, S::accepted,
                          S::canceled, S::pending_cancel, S::expired, S::rejected, S::held}},
    {S::done_for_day, {S::new_, S::partially_filled, S::filled, S::canceled, S::expired,
                       S::pending_cancel, S::pending_replace, S::replaced}},
    {S::stopped, {S::partially_filled, S::filled, S::canceled, S::expired}},
    {S::suspended, {S::new_, S::partially_filled, S::filled, S::canceled, S::expired,
                    S::pending_cancel}},
    {S::calculated, {S::filled, S::partially_filled, S::canceled, S::expired}},
    // A fill that raced the cancel (NautilusTrader allows the same edge).
    {S::canceled, {S::filled}},
    {S::expired, {S::filled}},
};

struct Table {
  std::array<std::array<bool, kOrderStateCount>, kOrderStateCount> allowed{};
  Table() {
    for (const Rule& r : kRules) {
      for (S to : r.to) {
        if (to != r.from) allowed[idx(r.from)][idx(to)] = true;
      }
    }
  }
};

const Table& table() {
  static const Table t;
  return t;
}

// Progress of an order's life, used to tell stale evidence from impossible evidence.
int rank(S s) {
  switch (s) {
    case S::created: return 0;
    case S::submitting: case S::unknown: return 1;
    case S::pending_new: case S::accepted: case S::accepted_for_bidding: case S::pending_review:
    case S::held: return 2;
    case S::new_: return 3;
    case S::partially_filled: case S::done_for_day: case S::stopped: case S::suspended:
    case S::calculated: case S::pending_cancel: case S::pending_replace: return 4;
    case S::filled: case S::canceled: case S::expired: case S::replaced: case S::rejected:
    case S::submit_failed: case S::parked: return 9;
  }
  return 0;
}

}  // namespace

const std::array<OrderState, kOrderStateCount> kAllOrderStates = [] {
  std::array<OrderState, kOrderStateCount> a{};
  for (std::size_t i = 0; i < kOrderStateCount; ++i) a[i] = kNames[i].first;
  return a;
}();

std::string_view to_string(OrderState s) { return kNames[idx(s)].second; }

std::optional<OrderState> parse_order_state(std::string_view s) {
  for (const auto& [state, name] : kNames) {
    if (name == s) return state;
  }
  return std::nullopt;
}

bool is_local(OrderState s) {
  return s == S::created || s == S::submitting || s == S::unknown || s == S::submit_failed ||
         s == S::parked;
}

bool is_terminal(OrderState s) {
  return s == S::filled || s == S::canceled || s == S::expired || s == S::rejected ||
         s == S::replaced || s == S::submit_failed;
}

bool is_open_at_broker(OrderState s) { return !is_local(s) && !is_terminal(s); }

bool is_known_to_broker(OrderState s) { return !is_local(s); }

bool transition_allowed(OrderState from, OrderState to) {
  return table().allowed[idx(from)][idx(to)];
}

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::applied: return "applied";
    case Verdict::duplicate: return "duplicate";
    case Verdict::stale: return "stale";
    case Verdict::illegal: return "illegal";
    case Verdict::fill_regressed: return "fill_regressed";
  }
  return "?";
}

Decision evaluate(const OrderSnapshot& cur, const StateUpdate& u) {
  const Decimal new_filled = u.filled_qty.value_or(cur.filled_qty);
  const bool older = u.broker_time && cur.broker_time && *u.broker_time < *cur.broker_time;
  // Evidence from before the fills we hold is old, not a regression: the answer to our own
  // submit ("new", filled 0) routinely arrives after the stream's fill of that order. Stamped
  // with the same instant and less filled, it is from earlier in that instant (a filled qty
  // never decreases at the broker): a market order's "new" and its fill can share a
  // millisecond (one false anomaly per 1,000-trade burst against the simulator).
  const bool not_newer =
      u.broker_time && cur.broker_time && *u.broker_time <= *cur.broker_time;
  if (new_filled < cur.filled_qty && not_newer) {
    return {Verdict::stale, fmt::format("evidence for {} filled {} is older than the {} filled "
                                        "we hold",
                                        to_string(u.to), new_filled.str(), cur.filled_qty.str())};
  }
  if (new_filled < cur.filled_qty) {
    return {Verdict::fill_regressed,
            fmt::format("filled_qty would go from {} to {} ({} -> {})", cur.filled_qty.str(),
                        new_filled.str(), to_string(cur.state), to_string(u.to))};
  }
  const bool more_filled = new_filled > cur.filled_qty;
  if (older && !more_filled) {
    return {Verdict::stale, fmt::format("evidence for {} is older than what we hold ({})",
                                        to_string(u.to), to_string(cur.state))};
  }
  if (u.to == cur.state) {
    if (more_filled) return {Verdict::applied, {}};
    return {Verdict::duplicate, {}};
  }
  if (transition_allowed(cur.state, u.to)) return {Verdict::applied, {}};
  if (rank(u.to) < rank(cur.state) || (is_terminal(cur.state) && !more_filled)) {
    return {Verdict::stale, fmt::format("{} after {} is stale", to_string(u.to),
                                        to_string(cur.state))};
  }
  return {Verdict::illegal,
          fmt::format("illegal transition {} -> {}", to_string(cur.state), to_string(u.to))};
}

}  // namespace orderly
