#include "invariants.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "broker/alpaca/json.h"
#include "core/ids.h"

namespace orderly::dst {

namespace {

std::string state_name(const std::optional<OrderState>& s) {
  return s ? std::string(to_string(*s)) : std::string("none");
}

// Every broker order with its legs, flattened.
void flatten(const BrokerOrder& o, std::map<std::string, BrokerOrder>& out) {
  for (const BrokerOrder& leg : o.legs) flatten(leg, out);
  BrokerOrder copy = o;
  copy.legs.clear();
  out[o.id] = std::move(copy);
}

// The intent a client_order_id stands for: ol-<owner>-<trade>-<role+generation>, without any
// suffix a resubmission might have added. Two broker orders of one intent are a duplicate.
std::string intent_of(const std::string& cid) {
  std::size_t at = 0;
  for (int dashes = 0; dashes < 4; ++dashes) {
    at = cid.find('-', at == 0 && dashes == 0 ? 0 : at + 1);
    if (at == std::string::npos) return cid;
  }
  return cid.substr(0, at);
}

// True when `o` or one of its legs is an open order on `side` that may close a position: not an
// entry of ours (legs carry the broker's own ids, and the account holds only our orders), and not
// on its way out.
bool works_as_exit(const BrokerOrder& o, Side side) {
  if (o.side == side && o.status && is_open_at_broker(*o.status) &&
      *o.status != OrderState::pending_cancel) {
    auto parts = parse_client_order_id(o.client_order_id);
    if (!parts || parts->role != OrderRole::entry) return true;
  }
  for (const BrokerOrder& leg : o.legs) {
    if (works_as_exit(leg, side)) return true;
  }
  return false;
}

// An order that ends an exit of ours without filling it.
bool ended_unfilled(const BrokerOrder& o) {
  return o.status && (*o.status == OrderState::canceled || *o.status == OrderState::expired);
}

Timestamp ended_at(const BrokerOrder& o) {
  if (o.canceled_at) return *o.canceled_at;
  return o.expired_at.value_or(o.updated_at);
}

bool is_exit(const BrokerOrder& o) {
  auto parts = parse_client_order_id(o.client_order_id);
  return !parts || parts->role != OrderRole::entry;
}

}  // namespace

sim::HttpReply Checker::control(const std::string& method, const std::string& target) {
  return exchange_.handle({method, target, {{"X-Sim-Control", "dst"}}, ""});
}

std::int64_t Checker::check_protection(const ProtectionBounds& b, bool engine_up,
                                       const std::set<std::string>& raised) {
  const Timestamp now = clock_.now();
  sim::HttpReply pr = control("GET", "/v2/positions");
  auto positions = alpaca::parse_positions(pr.body);
  std::vector<BrokerOrder> open;
  if (positions.ok() && positions->size() != 0) {
    sim::HttpReply orr = control("GET", "/v2/orders?status=open&limit=500&nested=true");
    auto orders = alpaca::parse_orders(orr.body);
    if (!orders.ok()) {
      report("setup", "protection orders", "checker: cannot read open orders: " + orr.body);
      return longest_unprotected_ms_;
    }
    open = std::move(orders->items);
  } else if (!positions.ok()) {
    report("setup", "protection positions", "checker: cannot read positions: " + pr.body);
    return longest_unprotected_ms_;
  }
  std::set<std::string> unprotected;
  for (const BrokerPosition& p : *positions) {
    if (p.qty.is_zero()) continue;
    const Side exit_side = p.qty.is_negative() ? Side::buy : Side::sell;
    bool covered = false;
    for (const BrokerOrder& o : open) {
      if (o.symbol == p.symbol && works_as_exit(o, exit_side)) {
        covered = true;
        break;
      }
    }
    if (covered) continue;
    unprotected.insert(p.symbol);
    auto [it, fresh] = unprotected_.try_emplace(p.symbol, Unprotected{now, now, 0});
    Unprotected& u = it->second;
    // An exit worked after this gap began (placed and filled between two looks, DST trades
    // seed 22100000011930: 49 DIS covered for 100 ms, then 9.8 of another trade naked): the
    // gap counts from then, and fully, as if the engine had been up throughout.
    if (auto told = cover_told_.find({p.symbol, exit_side});
        !fresh && told != cover_told_.end() && told->second > u.since) {
      u = Unprotected{told->second, now, now.ms_since(told->second), false};
    }
    if (!fresh && engine_up) u.counted_ms += now.ms_since(u.last_look);
    u.last_look = now;
    u.raised = u.raised || raised.count(p.symbol) > 0;
    longest_unprotected_ms_ = std::max(longest_unprotected_ms_, u.counted_ms);
    const std::int64_t silent_ms = b.bound_ms + b.raise_within_ms;
    const bool silent = !u.raised && u.counted_ms > silent_ms &&
                        !lost_fill_within(p.symbol, b.lost_fill_ms + silent_ms) &&
                        !lost_end_within(p.symbol, b.lost_end_ms + silent_ms);
    if (silent || u.counted_ms > b.raised_bound_ms) {
      report("I6", fmt::format("unprotected {} {}", p.symbol, u.since.ns),
             fmt::format("{} position {} has had no working exit at the broker for {} ms with "
                         "the engine up ({} ms in all; bound {} ms), {}",
                         p.symbol, p.qty.str(), u.counted_ms, now.ms_since(u.since), b.bound_ms,
                         u.raised ? fmt::format("raised, but longer than {} ms", b.raised_bound_ms)
                                  : "and no unprotected_position alert was raised"));
    }
  }
  std::erase_if(unprotected_, [&](const auto& kv) { return !unprotected.count(kv.first); });
  return longest_unprotected_ms_;
}

void Checker::on_stream_message(const TradeUpdate& u) {
  auto note = [this](const BrokerOrder& o) {
    Decimal& told = streamed_filled_[o.id];
    if (o.filled_qty > told) told = o.filled_qty;
    if (o.status && is_terminal(*o.status)) streamed_ended_.insert(o.id);
  };
  note(u.order);
  for (const BrokerOrder& leg : u.order.legs) note(leg);
  for (const Side side : {Side::buy, Side::sell}) {
    if (!works_as_exit(u.order, side) || u.order.updated_at.ns == 0) continue;
    Timestamp& at = cover_told_[{u.order.symbol, side}];
    at = std::max(at, u.order.updated_at);
  }
}

// A fill of `symbol` in the last `window_ms` whose stream message never reached the connection.
bool Checker::lost_fill_within(const std::string& symbol, std::int64_t window_ms) {
  const Timestamp now = clock_.now();
  std::string token;
  for (;;) {
    std::string target = "/v2/account/activities/FILL?direction=asc&page_size=100&after=" +
                         format_rfc3339(now.plus_ms(-window_ms));
    if (!token.empty()) target += "&page_token=" + token;
    auto page = alpaca::parse_fill_activities(control("GET", target).body);
    if (!page.ok()) return false;
    for (const FillActivity& a : page->items) {
      if (a.symbol != symbol) continue;
      auto told = streamed_filled_.find(a.order_id);
      if (told == streamed_filled_.end() || told->second < a.cum_qty) return true;
    }
    if (page->elements < 100 || page->last_id.empty()) return false;
    token = page->last_id;
  }
}

// An exit of `symbol` canceled or expired in the last `window_ms` whose ending message never
// reached the connection (dropped or still delayed by the fault plan), while no other exit of
// its group told of an end either: nothing tells the engine of it before its next open-order
// sweep, every `lost_end_ms` while the stream looks healthy. A group whose other order was
// heard ending is not excused: the engine fetches the rest of a group one of whose orders ended.
bool Checker::lost_end_within(const std::string& symbol, std::int64_t window_ms) {
  const Timestamp since = clock_.now().plus_ms(-window_ms);
  std::string until;
  for (;;) {
    auto page = alpaca::parse_orders(
        control("GET", "/v2/orders?status=closed&limit=500&direction=desc&nested=true&symbols=" +
                           symbol + until)
            .body);
    if (!page.ok()) return false;
    for (const BrokerOrder& top : page->items) {
      std::vector<const BrokerOrder*> exits;
      if (is_exit(top)) exits.push_back(&top);
      for (const BrokerOrder& leg : top.legs) exits.push_back(&leg);
      bool lost = false;
      bool heard = false;
      for (const BrokerOrder* x : exits) {
        const bool told = streamed_ended_.count(x->id) > 0;
        heard = heard || (told && ended_unfilled(*x));
        lost = lost || (!told && ended_unfilled(*x) && ended_at(*x) >= since);
      }
      if (lost && !heard) return true;
    }
    if (page->items.size() < 500) return false;
    until = "&until=" + format_rfc3339(page->items.back().created_at);
  }
}

std::string Checker::last_note(OrderId id) {
  auto events = store_.order_events(id);
  if (!events.ok() || events->empty()) return "(none)";
  const OrderEvent& e = events->back();
  return fmt::format("\"{}\" ({} -> {})", e.note, state_name(e.from), to_string(e.to));
}

bool Checker::ours(const std::string& cid) const {
  // A prefix test, not is_ours(): a resubmission under a suffixed id is still ours.
  return cid.rfind("ol-" + owner_ + "-", 0) == 0;
}

void Checker::report(const std::string& inv, const std::string& key, const std::string& details) {
  if (!reported_.insert(inv + "|" + key).second) return;
  report_(inv, details);
}

std::optional<std::string> Checker::get(const std::string& target) {
  for (int i = 0; i < 600; ++i) {
    sim::HttpReply r = exchange_.handle(
        {"GET", target, {{"APCA-API-KEY-ID", "dst-key"}, {"APCA-API-SECRET-KEY", "dst-secret"}}, ""});
    if (r.status == 200 && r.fault == sim::HttpFault::none) return r.body;
    if (r.status == 429 || r.fault != sim::HttpFault::none) {
      // The engine may have used this minute's budget; the checker waits like any client.
      clock_.advance_ms(1000);
      exchange_.advance(clock_.now());
      continue;
    }
    report("setup", target, fmt::format("checker: GET {} answered {}: {}", target, r.status, r.body));
    return std::nullopt;
  }
  report("setup", target, "checker: GET " + target + " kept failing");
  return std::nullopt;
}

void Checker::on_submit(const std::string& cid) {
  auto o = store_.find_order_by_client_id(intent_of(cid));
  if (!o.ok() || !o.value()) return;
  const Order& local = *o.value();
  if (local.broker_order_id) {
    report("I1", "resubmit " + cid,
           fmt::format("POST /v2/orders sends {} although the store holds broker id {} for "
                       "that intent ({}, state {})",
                       cid, *local.broker_order_id, local.client_order_id,
                       to_string(local.state)));
  }
}

void Checker::on_insufficient_qty(const std::string& request, const std::string& body,
                                  std::optional<Timestamp> positions_read_at) {
  if (replace_raced_a_fill(request)) return;
  if (holder_filled_since_read(body, positions_read_at)) return;
  // The scenario has no external holds: every share on hold is held by one of our own orders.
  report("I2", "40310000",
         fmt::format("the broker answered 40310000 insufficient qty to our own order: {} -> {}",
                     request.substr(0, 400), body.substr(0, 400)));
}

// A PATCH of an order that had filled in part at the broker while the engine, as its store
// shows, knew of no such fill (its stream message still on the way, no poll since): Alpaca
// counts a replacement's whole qty against what is left (alpaca-api.md §11, #165), and nothing
// the engine holds could have told it. A race with the exchange, not self-inflicted; what the
// engine does next is judged by I6. A PATCH sent after the engine knew of the fill is reported.
bool Checker::replace_raced_a_fill(const std::string& request) {
  constexpr std::string_view kPatch = "PATCH /v2/orders/";
  if (request.rfind(kPatch, 0) != 0) return false;
  const std::size_t end = request.find_first_of(" ?", kPatch.size());
  const std::string id = request.substr(kPatch.size(), end - kPatch.size());
  auto at_broker = alpaca::parse_order(control("GET", "/v2/orders/" + id).body);
  auto local = store_.find_order_by_broker_id(id);
  if (!at_broker.ok() || !local.ok() || !local->has_value()) return false;
  return at_broker->filled_qty > (*local)->filled_qty;
}

// One of the orders the broker names as holding the shares is ours and filled at the broker,
// beyond what the store knows, no earlier than the engine's last positions read: the holdings
// changed after the freshest view the engine had, and no message of it had come (DST trades
// seed 27000000016692: a take-profit filled 1 of 8 as its grow went out; the grow of another
// trade's exit, judged against the read just before, was one share short).
bool Checker::holder_filled_since_read(const std::string& body,
                                       std::optional<Timestamp> read_at) {
  if (!read_at) return false;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(body, ec);
  const boost::json::object* o = ec ? nullptr : v.if_object();
  const boost::json::value* ids = o == nullptr ? nullptr : o->if_contains("related_orders");
  const boost::json::array* related = ids == nullptr ? nullptr : ids->if_array();
  if (related == nullptr) return false;
  for (const boost::json::value& id : *related) {
    if (!id.is_string()) continue;
    const std::string bid(id.as_string());
    auto at_broker = alpaca::parse_order(control("GET", "/v2/orders/" + bid).body);
    auto local = store_.find_order_by_broker_id(bid);
    if (!at_broker.ok() || !local.ok() || !local->has_value()) continue;
    if (at_broker->filled_qty > (*local)->filled_qty && at_broker->updated_at >= *read_at) {
      return true;
    }
  }
  return false;
}

void Checker::check_rate(std::int64_t max_calls_per_minute) {
  if (max_calls_per_minute > rate_limit_) {
    report("I7", "rate",
           fmt::format("{} REST calls within one virtual minute (limit {})", max_calls_per_minute,
                       rate_limit_));
  }
}

void Checker::check_audit_log() {
  for (;;) {
    auto events = store_.events_since(last_seq_, 1000);
    if (!events.ok()) {
      report("I5", "read", "events_since failed: " + events.status().message());
      return;
    }
    if (events->empty()) return;
    for (const OrderEvent& e : *events) {
      if (e.seq != last_seq_ + 1) {
        report("I5", fmt::format("gap {}", last_seq_),
               fmt::format("order_events seq jumps from {} to {}", last_seq_, e.seq));
      }
      last_seq_ = e.seq;
      auto prev = last_to_.find(e.order_id);
      if (prev != last_to_.end()) {
        if (e.from && *e.from != prev->second) {
          report("I5", fmt::format("chain {}", e.order_id),
                 fmt::format("order {} event seq {} says from={} but its previous event ended in "
                             "{} (a state change without its audit event)",
                             e.order_id, e.seq, state_name(e.from), to_string(prev->second)));
        }
      } else if (e.from) {
        report("I5", fmt::format("first {}", e.order_id),
               fmt::format("order {}'s first audit event (seq {}) starts from {}, not creation",
                           e.order_id, e.seq, state_name(e.from)));
      }
      last_to_[e.order_id] = e.to;
      last_filled_[e.order_id] = e.filled_qty;
    }
  }
}

// I8: the fill rows are the record of what was bought and sold (P&L, tax lots); a fill learned
// from an order read rather than an execution must still leave one, or the rows undercount.
void Checker::check_fill_rows(const std::vector<Order>& local) {
  for (const Order& o : local) {
    auto fills = store_.fills_for(o.id);
    if (!fills.ok()) {
      report("I8", fmt::format("read {}", o.id), "fills_for failed: " + fills.status().message());
      continue;
    }
    Decimal sum;
    for (const Fill& f : *fills) sum = sum + f.qty;
    if (sum != o.filled_qty) {
      report("I8", fmt::format("fills {}", o.id),
             fmt::format("order {} ({} {}) filled {} but its {} fill rows sum to {}", o.id,
                         o.client_order_id, o.symbol, o.filled_qty.str(), fills->size(),
                         sum.str()));
    }
  }
}

void Checker::check_final(const Engine& engine) {
  check_audit_log();

  // ---- the broker's side ----
  std::map<std::string, BrokerOrder> broker;  // by broker id, legs included
  std::map<std::string, int> per_cid;
  {
    std::optional<std::string> after;
    for (int page = 0; page < 100; ++page) {
      std::string target = "/v2/orders?status=all&limit=500&direction=asc&nested=true";
      if (after) target += "&after=" + *after;
      auto body = get(target);
      if (!body) return;
      auto orders = alpaca::parse_orders(*body);
      if (!orders.ok()) {
        report("setup", "parse orders", "checker: cannot parse the order list: " +
                                            orders.status().message());
        return;
      }
      std::size_t fresh = 0;
      for (const BrokerOrder& o : *orders) {
        if (broker.count(o.id)) continue;
        ++fresh;
        flatten(o, broker);
      }
      if (orders->size() < 500 || fresh == 0) break;
      // One nanosecond before the last one: orders sharing a submission time are not skipped.
      const BrokerOrder& tail = orders->items.back();
      const Timestamp last = tail.submitted_at.value_or(tail.created_at);
      after = format_rfc3339(Timestamp{last.ns - 1});
    }
  }
  for (const auto& [id, o] : broker) {
    if (ours(o.client_order_id)) ++per_cid[intent_of(o.client_order_id)];
  }
  for (const auto& [intent, n] : per_cid) {
    if (n > 1) {
      report("I1", "dup " + intent,
             fmt::format("{} broker orders for the one intent {}", n, intent));
    }
  }

  // ---- the local side (the store: what survived every crash) ----
  std::vector<Order> local;
  for (int offset = 0;; offset += 500) {
    OrderFilter f;
    f.limit = 500;
    f.offset = offset;
    auto page = store_.list_orders(f);
    if (!page.ok()) {
      report("setup", "list_orders", "store list_orders failed: " + page.status().message());
      return;
    }
    local.insert(local.end(), page->begin(), page->end());
    if (page->size() < 500) break;
  }
  std::map<std::string, const Order*> local_by_broker_id;
  std::map<OrderId, const Order*> local_by_id;
  for (const Order& o : local) {
    local_by_id[o.id] = &o;
    if (o.broker_order_id) local_by_broker_id[*o.broker_order_id] = &o;
  }

  // I3: each local order against the broker.
  for (const Order& o : local) {
    const std::string who = fmt::format("order {} ({} {} {} trade {})", o.id, o.client_order_id,
                                        to_string(o.role), o.symbol, o.trade_id);
    if (o.broker_order_id) {
      auto it = broker.find(*o.broker_order_id);
      if (it == broker.end()) {
        // A bracket/OCO leg that was replaced is listed under its group no more (the group
        // names its replacement): asked for by its id.
        sim::HttpReply r = control("GET", "/v2/orders/" + *o.broker_order_id);
        if (auto one = alpaca::parse_order(r.body); r.status == 200 && one.ok()) {
          flatten(*one, broker);
          it = broker.find(*o.broker_order_id);
        }
      }
      if (it == broker.end()) {
        report("I3", "missing " + *o.broker_order_id,
               fmt::format("{} has broker id {} that the broker does not know", who,
                           *o.broker_order_id));
        continue;
      }
      const BrokerOrder& b = it->second;
      if (!b.status || *b.status != o.state || b.filled_qty != o.filled_qty) {
        report("I3", "diff " + *o.broker_order_id,
               fmt::format("{}: local {} filled {} vs broker {} filled {}", who,
                           to_string(o.state), o.filled_qty.str(),
                           b.status ? to_string(*b.status) : std::string_view(b.status_text),
                           b.filled_qty.str()));
      }
    } else if (o.state == OrderState::submitting || o.state == OrderState::unknown ||
               (o.state == OrderState::created && !o.parent_order_id)) {
      report("I3", "unresolved " + o.client_order_id,
             fmt::format("{} is still {} after the quiet period; last audit: {}", who,
                         to_string(o.state), last_note(o.id)));
    }
  }
  // I3: each broker order of ours is recorded locally, with its broker id.
  for (const auto& [id, b] : broker) {
    if (local_by_broker_id.count(id)) continue;
    if (!ours(b.client_order_id)) continue;  // legs carry the broker's own ids
    report("I3", "unrecorded " + id,
           fmt::format("broker order {} ({} {} {}) is ours but not recorded locally", id,
                       b.client_order_id, b.symbol,
                       b.status ? to_string(*b.status) : std::string_view(b.status_text)));
  }
  // I3: memory equals the store.
  for (const Order& m : engine.orders()) {
    auto it = local_by_id.find(m.id);
    if (it == local_by_id.end()) {
      report("I3", fmt::format("mem {}", m.id),
             fmt::format("order {} ({}) is in memory but not in the store", m.id, m.client_order_id));
      continue;
    }
    const Order& s = *it->second;
    if (s.state != m.state || s.filled_qty != m.filled_qty || s.broker_order_id != m.broker_order_id) {
      report("I3", fmt::format("mem {}", m.id),
             fmt::format("order {} ({}): memory {} filled {} vs store {} filled {}", m.id,
                         m.client_order_id, to_string(m.state), m.filled_qty.str(),
                         to_string(s.state), s.filled_qty.str()));
    }
  }

  // I4: positions.
  std::map<std::string, BrokerPosition> broker_positions;
  {
    std::map<std::string, Decimal> broker_pos, local_pos;
    if (auto body = get("/v2/positions")) {
      auto ps = alpaca::parse_positions(*body);
      if (!ps.ok()) {
        report("setup", "parse positions", "checker: cannot parse positions: " + ps.status().message());
      } else {
        for (const BrokerPosition& p : *ps) {
          broker_pos[p.symbol] = p.qty;
          broker_positions[p.symbol] = p;
        }
      }
    }
    auto lp = store_.positions();
    if (lp.ok()) {
      for (const Position& p : *lp) local_pos[p.symbol] = p.qty;
    }
    std::set<std::string> symbols;
    for (auto& [s, q] : broker_pos) symbols.insert(s);
    for (auto& [s, q] : local_pos) symbols.insert(s);
    for (const std::string& s : symbols) {
      const Decimal b = broker_pos.count(s) ? broker_pos[s] : Decimal();
      const Decimal l = local_pos.count(s) ? local_pos[s] : Decimal();
      if (b != l) {
        report("I4", "pos " + s, fmt::format("{}: local position {} vs broker {}", s, l.str(), b.str()));
      }
    }
  }

  // I5: every stored order's state is where its audit trail ends.
  for (const Order& o : local) {
    auto it = last_to_.find(o.id);
    if (it == last_to_.end()) {
      report("I5", fmt::format("noevents {}", o.id),
             fmt::format("order {} ({}) has no audit event", o.id, o.client_order_id));
    } else if (it->second != o.state) {
      report("I5", fmt::format("end {}", o.id),
             fmt::format("order {} ({}) is {} but its last audit event says {}", o.id,
                         o.client_order_id, to_string(o.state), to_string(it->second)));
    }
  }

  check_fill_rows(local);

  // I6: trades holding shares have a working exit; nothing stuck closing.
  for (int offset = 0;; offset += 500) {
    auto trades = store_.list_trades(500, offset);
    if (!trades.ok()) break;
    for (const Trade& t : *trades) {
      if (t.state == TradeState::closing) {
        std::string mine;
        for (const Order& o : local) {
          if (o.trade_id != t.id) continue;
          const auto dash = o.client_order_id.rfind('-');
          mine += fmt::format(" {}:{}:{} (last audit {})", o.client_order_id.substr(dash + 1),
                              to_string(o.state), o.filled_qty.str(), last_note(o.id));
        }
        report("I6", fmt::format("closing {}", t.id),
               fmt::format("trade {} ({}) is still closing after the quiet period; its orders:{}",
                           t.id, t.spec.symbol, mine));
      }
      if (t.state != TradeState::open) continue;
      // A trade whose exits sold all its entry bought holds nothing while the rest of a
      // limit entry rests (seed 11912175: 43 of 46 filled, take-profits filled 43).
      bool working = false;
      Decimal held;
      for (const Order& o : local) {
        if (o.trade_id != t.id) continue;
        held += o.role == OrderRole::entry ? o.filled_qty : -o.filled_qty;
        if (o.role == OrderRole::entry) continue;
        if (is_open_at_broker(o.state) && o.broker_order_id) working = true;
      }
      if (!working && held.is_positive()) {
        // What holds the symbol's shares at the broker, to tell a hold by our own orders from
        // shares that are gone.
        std::string holds;
        for (const auto& [id, b] : broker) {
          if (b.symbol != t.spec.symbol || b.side != Side::sell || !b.status ||
              !is_open_at_broker(*b.status)) {
            continue;
          }
          holds += fmt::format(" {}:{}:{}", b.client_order_id.substr(0, 24),
                               b.qty ? b.qty->str() : "?", to_string(*b.status));
        }
        std::string mine;
        for (const Order& o : local) {
          if (o.trade_id != t.id) continue;
          const auto dash = o.client_order_id.rfind('-');
          mine += fmt::format(" {}:{}:{}", o.client_order_id.substr(dash + 1), to_string(o.state),
                              o.filled_qty.str());
        }
        const auto bp = broker_positions.find(t.spec.symbol);
        report("I6", fmt::format("noexit {}", t.id),
               fmt::format("trade {} ({} {}) holds a filled entry but has no working exit; its "
                           "orders:{}; broker position {} available {}; open sells:{}",
                           t.id, t.spec.symbol, t.spec.qty.str(), mine,
                           bp == broker_positions.end() ? "0" : bp->second.qty.str(),
                           bp == broker_positions.end() ? "0" : bp->second.qty_available.str(),
                           holds.empty() ? " none" : holds));
      }
    }
    if (trades->size() < 500) break;
  }
}

}  // namespace orderly::dst
