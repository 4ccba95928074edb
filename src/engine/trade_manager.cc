#include "engine/trade_manager.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/ids.h"
#include "engine/crypto.h"

namespace orderly {

TradeView view_of(const Ledger& ledger, TradeId tid) {
  TradeView v;
  for (OrderId id : ledger.of_trade(tid)) {
    const Order& o = ledger.order_at(id);
    if (o.role == OrderRole::entry) {
      if (!o.replaces_order_id) v.entries.push_back(id);
      v.entry_filled += o.filled_qty;
      if (!is_terminal(o.state) && o.state != OrderState::parked) v.entries_done = false;
      continue;
    }
    v.all_exits.push_back(id);
    v.exit_filled += o.filled_qty;
    if (!o.parent_order_id) v.exits.push_back(id);  // the orders we send ourselves
  }
  for (OrderId id : v.entries) {
    if (!v.entry && ledger.order_at(id).filled_qty.is_positive()) v.entry = id;
  }
  if (!v.entry && !v.entries.empty()) v.entry = v.entries.back();
  return v;
}

Decimal own_qty(const TradeSpec& spec, Decimal entry_filled, Decimal exit_filled) {
  return received_qty(spec.symbol, spec.side, entry_filled) - exit_filled;
}

std::vector<TradeHolding> holdings_of(const Ledger& ledger, const std::string& symbol,
                                      Side side) {
  struct Own {
    Side side = Side::buy;
    bool open = false;
    bool entry_known = false;  // an exit of a pruned trade comes back without its entry
    bool entries_done = true;  // the entry's fills are all known: a negative qty is an over-sell
    Decimal qty;
  };
  std::map<TradeId, Own> trades;
  for (OrderId id : ledger.of_symbol(symbol)) {
    const Order& o = ledger.order_at(id);
    const Trade* t = ledger.trade(o.trade_id);
    if (t == nullptr) continue;
    Own& own = trades[o.trade_id];
    own.side = t->spec.side;
    own.open = !is_terminal(t->state);
    if (o.role == OrderRole::entry) {
      own.entry_known = true;
      own.qty += received_qty(o.symbol, o.side, o.filled_qty);
      if (!is_terminal(o.state) && o.state != OrderState::parked) own.entries_done = false;
    } else {
      own.qty -= o.filled_qty;
    }
  }
  // Charged: what the ledger's position lacks, at most what trades whose entries are done sold
  // beyond them. An exit's fill heard before its entry's (a bracket leg, the entry's message
  // lost), or an exit of a pruned trade brought back by a late event without its entry, is no
  // over-sell, and charges nothing (DST trades seed 12700000000166).
  const Decimal position = ledger.position_qty(symbol);
  Decimal net = side == Side::buy ? position : -position;
  Decimal claimed, oversold;
  std::vector<TradeHolding> open;
  for (const auto& [id, own] : trades) {
    if (own.side == side && own.qty.is_negative() && own.entry_known && own.entries_done) {
      oversold -= own.qty;
    }
    if (!own.open || !own.qty.is_positive()) continue;
    if (own.side != side) {
      net += own.qty;
      continue;
    }
    open.push_back({id, own.qty, own.qty});
    claimed += own.qty;
  }
  charge_shortfall(open, Decimal::max(net, claimed - oversold));
  return open;
}

Decimal held_of(const Ledger& ledger, const std::set<std::string>& oversold_symbols, TradeId tid,
                const TradeView& v) {
  const TradeSpec& spec = ledger.trade_at(tid).spec;
  const Decimal own = own_qty(spec, v.entry_filled, v.exit_filled);
  if (!own.is_positive() || !oversold_symbols.count(spec.symbol)) return own;
  for (const TradeHolding& h : holdings_of(ledger, spec.symbol, spec.side)) {
    if (h.trade == tid) return h.held;
  }
  return own;
}

// Only needed to name a new exit: parsing every exit's client id on every event was not free.
int next_generation(const Ledger& ledger, const TradeView& v, bool flatten) {
  int gen = 0;
  for (OrderId id : v.all_exits) {
    const Order& o = ledger.order_at(id);
    if ((o.role == OrderRole::exit) != flatten) continue;
    auto parts = parse_client_order_id(o.client_order_id);
    gen = std::max(gen, parts ? parts->generation + 1 : 1);
  }
  return gen;
}

bool never_sent(const Order& o) {
  return !o.broker_order_id &&
         (o.state == OrderState::created || o.state == OrderState::canceled ||
          o.state == OrderState::submit_failed);
}

bool working_or_pending(const Order& o) {
  return !is_terminal(o.state) && o.state != OrderState::parked;
}

bool replacement_tried(const Ledger& ledger, OrderId id) {
  for (OrderId oid : ledger.of_trade(ledger.order_at(id).trade_id)) {
    if (ledger.order_at(oid).replaces_order_id == id) return true;
  }
  return false;
}

bool has_pending_replacement(const Ledger& ledger, OrderId id) {
  for (OrderId oid : ledger.of_trade(ledger.order_at(id).trade_id)) {
    const Order& o = ledger.order_at(oid);
    if (o.replaces_order_id == id && working_or_pending(o)) return true;
  }
  return false;
}

Settlement settle(const Trade& t, const TradeView& v, const Ledger& ledger, Decimal held) {
  Settlement s;
  if (t.state == TradeState::pending && v.entry_filled.is_positive()) {
    s.state = TradeState::open;
    s.note = "entry filled " + v.entry_filled.str();
  }
  if (!v.entry_filled.is_positive() && v.entries_done) {
    const Order& entry = ledger.order_at(v.entry);
    const bool failed = entry.state == OrderState::submit_failed ||
                        entry.state == OrderState::parked || entry.state == OrderState::rejected;
    s.state = failed ? TradeState::failed : TradeState::canceled;
    // With why, when it has one: the broker's refusal, or what kept orderly from sending it.
    s.note = fmt::format("entry {} without a fill", to_string(entry.state));
    if (!entry.last_error.empty()) s.note += ": " + entry.last_error;
    s.ended = true;
    s.drop_unsent_exits = true;
    return s;
  }
  if (v.entry_filled.is_positive() && !held.is_positive() && v.entries_done) {
    for (OrderId id : v.all_exits) {
      if (working_or_pending(ledger.order_at(id))) return s;
    }
    s.state = TradeState::closed;
    s.note = "flat";
    s.ended = true;
  }
  return s;
}

std::vector<OrderId> unfitting_exits(const Ledger& ledger, const TradeView& v, Decimal held,
                                     const std::function<bool(OrderId)>& command_outstanding) {
  std::vector<OrderId> out;
  for (OrderId id : v.exits) {
    const Order& o = ledger.order_at(id);
    if (o.state != OrderState::created || o.broker_order_id || o.replaces_order_id ||
        command_outstanding(id) || o.role == OrderRole::exit) {
      continue;
    }
    if (!held.is_positive() || o.qty > held) out.push_back(id);
  }
  return out;
}

ExitNeed exit_need(const Ledger& ledger, const TradeView& v, Decimal held) {
  ExitNeed need;
  bool leg_working = false;
  for (OrderId id : v.all_exits) {
    const Order& o = ledger.order_at(id);
    if (o.role == OrderRole::exit || !working_or_pending(o)) continue;
    if (o.parent_order_id) leg_working = true; else need.active = id;
  }
  if (need.active == 0) {
    // A working leg (a bracket's, or an OCO's whose parent we have not seen end yet: the leg
    // may have filled, its fill is what ended the parent) covers the position: wait for it.
    // Else the exits ended without closing what is held (expired at a close, canceled outside
    // orderly, rejected, a bracket leg gone): placed again at once (principle 9).
    need.kind = leg_working ? ExitNeed::Kind::leg_covers : ExitNeed::Kind::place;
    return need;
  }
  const Order& ex = ledger.order_at(need.active);
  // Grown by replace as more of the entry fills, only while nothing of it filled: a replacement
  // of a partially filled order re-used the original qty at Alpaca (#165). Shrunk the same way
  // when it covers more than is held: the order a grow replaced filled in part while the
  // replace was on its way, and the replacement asked for everything held then (DST trades
  // seed 23500000067813: 17 of an 18 take-profit filled, its replacement sold 39 more of 39
  // held; left resting it sells what another trade holds, or opens a short).
  need.covers = ex.qty - ex.filled_qty;
  if (!is_open_at_broker(ex.state) || !ex.broker_order_id || need.covers == held ||
      ex.state == OrderState::pending_replace || ex.state == OrderState::pending_cancel ||
      has_pending_replacement(ledger, need.active)) {
    return need;
  }
  // Alpaca does not change a fractional qty by replace: such an exit is placed again instead.
  // One replace attempt per exit, never a loop of them.
  const bool resizable = ex.filled_qty.is_zero() && !replacement_tried(ledger, need.active) &&
                         held.is_integer() && ex.qty.is_integer();
  need.kind = resizable ? ExitNeed::Kind::resize : ExitNeed::Kind::cancel_to_replace;
  return need;
}

PlacementGate placement_gate(const Ledger& ledger, const TradeView& v, Timestamp now,
                             int max_per_minute,
                             const std::function<bool(OrderId)>& canceled_by_us) {
  PlacementGate gate;
  std::optional<Timestamp> cap_ends;  // when the oldest exit counted leaves the minute
  for (OrderId id : v.exits) {
    const Order& o = ledger.order_at(id);
    if (o.role == OrderRole::exit) continue;
    if (!o.replaces_order_id &&
        (o.state == OrderState::parked || o.state == OrderState::submit_failed)) {
      gate.kind = PlacementGate::Kind::refused_for_good;
      return gate;
    }
    const bool ended_open = o.state == OrderState::expired || o.state == OrderState::canceled ||
                            o.state == OrderState::rejected;
    // An exit we canceled ourselves (a modify, an entry clearing its way, a crypto exit making
    // way for the other one), or whose OCO/bracket group we canceled, is not the broker ending
    // it (DST trades seed 23400000064213: a modify's cancel counted with the cancels of
    // another client and a restart's, and the short stayed naked).
    const bool ours =
        o.state == OrderState::canceled &&
        (canceled_by_us(id) || (o.parent_order_id && canceled_by_us(*o.parent_order_id)));
    if (!o.replaces_order_id && ended_open && !ours && now.ms_since(o.created_at) < 60'000) {
      ++gate.recent;
      const Timestamp leaves = o.created_at.plus_ms(60'000);
      if (!cap_ends || leaves < *cap_ends) cap_ends = leaves;
    }
  }
  if (gate.recent >= max_per_minute) {
    gate.kind = PlacementGate::Kind::capped;
    gate.cap_ends = *cap_ends;
  }
  return gate;
}

ClosingPlan closing_plan(const Ledger& ledger, const TradeView& v, Decimal held) {
  ClosingPlan plan;
  auto close_one = [&](OrderId id) {
    const Order& o = ledger.order_at(id);
    if (is_terminal(o.state) || o.state == OrderState::parked) return;
    if (o.state == OrderState::created) {
      // A leg goes with its parent at the broker; only when the parent never got there is the
      // leg ours to end (DST seed 26: the leg of an unsent OCO kept the trade closing).
      if (!o.parent_order_id || never_sent(ledger.order_at(*o.parent_order_id))) {
        plan.steps.push_back({id, ClosingStep::Kind::drop_unsent});
      }
      return;
    }
    plan.waiting = true;
    // A leg is canceled on its own only once its parent is done (a filled bracket entry);
    // canceling an OCO parent takes its leg with it.
    const bool cancelable_alone =
        !o.parent_order_id || is_terminal(ledger.order_at(*o.parent_order_id).state);
    if (o.broker_order_id && cancelable_alone && is_open_at_broker(o.state) &&
        o.state != OrderState::pending_cancel) {
      plan.steps.push_back({id, ClosingStep::Kind::cancel});
    }
  };
  for (OrderId id : v.entries) close_one(id);
  for (OrderId id : v.all_exits) {
    if (ledger.order_at(id).role != OrderRole::exit) close_one(id);
  }
  if (plan.waiting || !held.is_positive()) return plan;
  for (OrderId id : v.exits) {
    const Order& o = ledger.order_at(id);
    if (o.role != OrderRole::exit) continue;
    // A flatten under way, or one parked or refused for good (not replaced by another one:
    // the alert asks a person).
    if (working_or_pending(o) || o.state == OrderState::parked ||
        o.state == OrderState::submit_failed) {
      return plan;
    }
  }
  plan.flatten = true;
  return plan;
}

}  // namespace orderly
