#pragma once
// Test doubles for the engine: the tests' in-memory Store (support/memory_store.h: a new Engine
// over the same store is a restart, commits and reads can fail); and a scripted Broker with
// Alpaca's essentials: client_order_id uniqueness (40010001), share holds of open sells
// (40310000 + related_orders), OCO/bracket legs, fills, account activities.

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <stdexcept>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "core/time.h"
#include "store/store.h"
#include "support/memory_store.h"

namespace orderly::testing {

// A scripted broker. Orders fill only when the test says so (fill()).
class FakeBroker final : public Broker {
 public:
  explicit FakeBroker(const Clock& clock) : clock_(clock) {}

  // Script for the next submits: each entry answers one submit. `apply` creates the order
  // first (a lost response); otherwise nothing is created.
  struct SubmitScript {
    BrokerError error;
    bool apply = false;
  };
  std::deque<SubmitScript> submit_script;
  std::deque<BrokerError> lookup_script;  // next get_order_by_client_id answers
  std::function<void(const OrderRequest&)> before_submit;
  int list_calls = 0, activity_calls = 0, position_calls = 0, submit_calls = 0, lookup_calls = 0;
  int get_calls = 0, cancel_calls = 0, replace_calls = 0;
  int insufficient_qty_answers = 0;
  std::map<std::string, int> created_per_client_id;
  std::map<std::string, BrokerOrder> orders;  // by id
  std::map<std::string, Decimal> position_qty;
  std::vector<FillActivity> activities;
  std::vector<TradeUpdate> emitted;  // every trade update the broker produced, in order
  std::vector<Timestamp> call_times;
  std::optional<BrokerError> reads_fail;  // set: every listing answers it

  static BrokerError error(BrokerError::Kind k, int http, std::int64_t code, std::string msg) {
    BrokerError e;
    e.kind = k;
    e.http_status = http;
    e.code = code;
    e.message = std::move(msg);
    return e;
  }

  BrokerOrder& by_cid(const std::string& cid) {
    for (auto& [id, o] : orders) {
      if (o.client_order_id == cid) return o;
    }
    throw std::runtime_error("no broker order with client id " + cid);
  }

  Decimal held_for(const std::string& symbol, std::vector<std::string>* related) const {
    Decimal held;
    for (auto& [id, o] : orders) {
      // A group's leg does not reserve again (alpaca-api.md section 8).
      if (o.symbol != symbol || o.side != Side::sell || !o.status ||
          !is_open_at_broker(*o.status) || *o.status == OrderState::held ||
          parent_of.count(id)) {
        continue;
      }
      held += *o.qty - o.filled_qty;
      if (related) related->push_back(id);
    }
    return held;
  }

  BrokerResult<BrokerOrder> submit_order(const OrderRequest& r) override {
    note_call();
    ++submit_calls;
    if (before_submit) before_submit(r);
    std::optional<SubmitScript> script;
    if (!submit_script.empty()) {
      script = submit_script.front();
      submit_script.pop_front();
      if (!script->apply) return script->error;
    }
    for (auto& [id, o] : orders) {
      if (o.client_order_id == r.client_order_id) {
        return error(BrokerError::Kind::rejected, 422, 40010001,
                     "client_order_id must be unique");
      }
    }
    if (r.side == Side::sell) {
      std::vector<std::string> related;
      Decimal held = held_for(r.symbol, &related);
      Decimal have = position_qty.count(r.symbol) ? position_qty.at(r.symbol) : Decimal();
      Decimal avail = have - held;
      if (r.qty > avail) {
        ++insufficient_qty_answers;
        BrokerError e = error(BrokerError::Kind::rejected, 403, 40310000,
                              "insufficient qty available for order");
        e.insufficient_qty = InsufficientQty{r.symbol, avail, have, held, related};
        return e;
      }
    }
    BrokerOrder o = make(r.symbol, r.side, r.type, *(&r.qty), r.client_order_id, r.order_class);
    o.limit_price = r.limit_price;
    o.stop_price = r.stop_price;
    o.tif = r.tif;
    if (r.order_class == OrderClass::oco) {
      o.status = OrderState::new_;
      BrokerOrder sl = make(r.symbol, r.side, OrderType::stop, r.qty, o.id + "-sl",
                            OrderClass::oco);
      sl.stop_price = r.stop_loss_stop_price;
      sl.status = OrderState::new_;
      o.legs.push_back(sl);
      orders[sl.id] = sl;
      parent_of[sl.id] = o.id;
    } else if (r.order_class == OrderClass::bracket) {
      BrokerOrder tp = make(r.symbol, opposite(r.side), OrderType::limit, r.qty, o.id + "-tp",
                            OrderClass::bracket);
      tp.limit_price = r.take_profit_limit_price;
      tp.status = OrderState::held;
      BrokerOrder sl = make(r.symbol, opposite(r.side), OrderType::stop, r.qty, o.id + "-sl",
                            OrderClass::bracket);
      sl.stop_price = r.stop_loss_stop_price;
      sl.status = OrderState::held;
      o.legs = {tp, sl};
      orders[tp.id] = tp;
      orders[sl.id] = sl;
      parent_of[tp.id] = o.id;
      parent_of[sl.id] = o.id;
    }
    orders[o.id] = o;
    created_per_client_id[r.client_order_id]++;
    emit("new", o.id);
    if (script && script->apply) return script->error;
    return current(o.id);
  }

  BrokerOrder make(const std::string& sym, Side side, OrderType type, Decimal qty,
                   const std::string& cid, OrderClass cls) {
    BrokerOrder o;
    o.id = "b" + std::to_string(++next_id_);
    o.client_order_id = cid;
    o.symbol = sym;
    o.side = side;
    o.type = type;
    o.qty = qty;
    o.order_class = cls;
    o.status = OrderState::accepted;
    o.created_at = clock_.now();
    o.updated_at = clock_.now();
    return o;
  }

  // The order with fresh legs (legs are kept as their own entries).
  BrokerOrder current(const std::string& id) {
    BrokerOrder o = orders.at(id);
    for (auto& leg : o.legs) leg = orders.at(leg.id);
    return o;
  }

  void emit(const std::string& event, const std::string& id,
            std::optional<std::string> exec = std::nullopt, std::optional<Decimal> qty = {},
            std::optional<Decimal> price = {}) {
    TradeUpdate u;
    u.event = event;
    u.order = current(id);
    u.execution_id = exec;
    u.qty = qty;
    u.price = price;
    u.timestamp = clock_.now();
    emitted.push_back(u);
  }

  void set_status(const std::string& id, OrderState s, const std::string& event) {
    orders.at(id).status = s;
    orders.at(id).updated_at = clock_.now();
    emit(event, id);
  }

  // Executes `qty` of order `id` at `price`: position, activity, trade update; OCO/bracket
  // siblings are canceled by the broker when a leg fills completely.
  void fill(const std::string& id, Decimal qty, Decimal price) {
    BrokerOrder& o = orders.at(id);
    Decimal prev = o.filled_qty;
    o.filled_qty += qty;
    Decimal avg = price;
    if (o.filled_avg_price) {
      avg = ((*o.filled_avg_price * prev) + (price * qty)).checked_div(o.filled_qty)->round_price(
          Rounding::half_even);
    }
    o.filled_avg_price = avg;
    const bool done = o.filled_qty == *o.qty;
    o.status = done ? OrderState::filled : OrderState::partially_filled;
    o.updated_at = clock_.now();
    position_qty[o.symbol] += o.side == Side::buy ? qty : -qty;
    FillActivity a;
    a.id = fmt_id(++activity_seq_);
    a.order_id = id;
    a.symbol = o.symbol;
    a.side = o.side;
    a.qty = qty;
    a.price = price;
    a.cum_qty = o.filled_qty;
    a.leaves_qty = *o.qty - o.filled_qty;
    a.order_status = o.status;
    a.partial = !done;
    a.transaction_time = clock_.now();
    activities.push_back(a);
    emit(done ? "fill" : "partial_fill", id, "x" + a.id, qty, price);
    if (!done) return;
    // Group behaviour.
    std::string parent = parent_of.count(id) ? parent_of.at(id) : id;
    std::vector<std::string> group = {parent};
    for (auto& leg : orders.at(parent).legs) group.push_back(leg.id);
    BrokerOrder& p = orders.at(parent);
    if (p.order_class == OrderClass::bracket && id == parent) {
      for (auto& leg : p.legs) set_status(leg.id, OrderState::new_, "new");
      return;
    }
    for (const std::string& g : group) {
      if (g == id) continue;
      auto& s = orders.at(g);
      if (s.status && is_open_at_broker(*s.status) &&
          !(p.order_class == OrderClass::bracket && g == parent)) {
        set_status(g, OrderState::canceled, "canceled");
      }
    }
  }

  static std::string fmt_id(int n) {
    std::string s = std::to_string(n);
    return "act" + std::string(8 - s.size(), '0') + s;
  }

  BrokerResult<BrokerOrder> get_order(std::string_view id) override {
    note_call();
    ++get_calls;
    if (!orders.count(std::string(id))) {
      return error(BrokerError::Kind::rejected, 404, 40410000, "order not found");
    }
    return current(std::string(id));
  }

  BrokerResult<BrokerOrder> get_order_by_client_id(std::string_view cid) override {
    note_call();
    ++lookup_calls;
    if (!lookup_script.empty()) {
      BrokerError e = lookup_script.front();
      lookup_script.pop_front();
      return e;
    }
    for (auto& [id, o] : orders) {
      if (o.client_order_id == cid) return current(id);
    }
    return error(BrokerError::Kind::rejected, 404, 40410000, "order not found");
  }

  BrokerResult<std::vector<BrokerOrder>> list_orders(const ListOrdersQuery& q) override {
    note_call();
    ++list_calls;
    if (reads_fail) return *reads_fail;
    std::vector<BrokerOrder> out;
    for (auto& [id, o] : orders) {
      if (parent_of.count(id)) continue;  // nested under the parent
      bool open = o.status && is_open_at_broker(*o.status);
      bool any_leg_open = false;
      for (auto& leg : o.legs) {
        auto& l = orders.at(leg.id);
        any_leg_open = any_leg_open || (l.status && is_open_at_broker(*l.status));
      }
      if (q.status == OrderListStatus::open && !(open || any_leg_open)) continue;
      if (q.status == OrderListStatus::closed && (open || any_leg_open)) continue;
      if (q.after && !(o.created_at > *q.after)) continue;
      out.push_back(current(id));
    }
    std::sort(out.begin(), out.end(), [](const BrokerOrder& a, const BrokerOrder& b) {
      return a.created_at < b.created_at || (a.created_at == b.created_at && a.id < b.id);
    });
    if (static_cast<int>(out.size()) > q.limit) out.resize(q.limit);
    return out;
  }

  BrokerResult<Unit> cancel_order(std::string_view id) override {
    note_call();
    ++cancel_calls;
    std::string sid(id);
    if (!orders.count(sid)) return error(BrokerError::Kind::rejected, 404, 40410000, "not found");
    auto& o = orders.at(sid);
    if (!o.status || !is_open_at_broker(*o.status)) {
      return error(BrokerError::Kind::rejected, 422, 42210000, "order is not cancelable");
    }
    set_status(sid, OrderState::canceled, "canceled");
    for (auto& leg : o.legs) {
      auto& l = orders.at(leg.id);
      if (l.status && is_open_at_broker(*l.status)) set_status(leg.id, OrderState::canceled, "canceled");
    }
    return Unit{};
  }

  BrokerResult<std::vector<CancelResult>> cancel_all_orders() override {
    return std::vector<CancelResult>{};
  }

  BrokerResult<BrokerOrder> replace_order(std::string_view id, const ReplaceRequest& r) override {
    note_call();
    ++replace_calls;
    std::string sid(id);
    if (!orders.count(sid)) return error(BrokerError::Kind::rejected, 404, 40410000, "not found");
    BrokerOrder old = current(sid);
    if (!old.status || !is_open_at_broker(*old.status)) {
      return error(BrokerError::Kind::rejected, 422, 42210000, "order is not replaceable");
    }
    Decimal qty = r.qty.value_or(*old.qty);
    if (old.side == Side::sell) {
      Decimal held = held_for(old.symbol, nullptr) - (*old.qty - old.filled_qty);
      Decimal have = position_qty[old.symbol];
      if (qty > have - held) {
        ++insufficient_qty_answers;
        BrokerError e = error(BrokerError::Kind::rejected, 403, 40310000,
                              "insufficient qty available for order");
        e.insufficient_qty = InsufficientQty{old.symbol, have - held, have, held, {sid}};
        return e;
      }
    }
    BrokerOrder n = make(old.symbol, old.side, old.type, qty,
                         r.client_order_id.value_or(old.client_order_id + "-r"), old.order_class);
    n.limit_price = r.limit_price ? r.limit_price : old.limit_price;
    n.stop_price = old.stop_price;
    n.status = OrderState::new_;
    n.replaces = sid;
    for (auto& leg : old.legs) {
      BrokerOrder nl = make(leg.symbol, leg.side, leg.type, qty, n.id + "-leg", leg.order_class);
      nl.stop_price = leg.stop_price;
      nl.limit_price = leg.limit_price;
      nl.status = OrderState::new_;
      orders[nl.id] = nl;
      parent_of[nl.id] = n.id;
      n.legs.push_back(nl);
      set_status(leg.id, OrderState::replaced, "replaced");
    }
    orders[n.id] = n;
    orders.at(sid).replaced_by = n.id;
    set_status(sid, OrderState::replaced, "replaced");
    created_per_client_id[n.client_order_id]++;
    return current(n.id);
  }

  BrokerResult<std::vector<BrokerPosition>> list_positions() override {
    note_call();
    ++position_calls;
    if (reads_fail) return *reads_fail;
    std::vector<BrokerPosition> out;
    for (auto& [sym, q] : position_qty) {
      if (q.is_zero()) continue;
      BrokerPosition p;
      p.symbol = sym;
      p.qty = q;
      p.qty_available = q - held_for(sym, nullptr);
      out.push_back(p);
    }
    return out;
  }

  BrokerResult<Account> get_account() override { return Account{}; }

  BrokerResult<ActivityPage> fill_activities(const ActivityQuery& q) override {
    note_call();
    ++activity_calls;
    if (reads_fail) return *reads_fail;
    ActivityPage page;
    for (auto& a : activities) {
      if (q.after && !(a.transaction_time > *q.after)) continue;
      if (q.page_token && !(a.id > *q.page_token)) continue;
      page.activities.push_back(a);
      if (static_cast<int>(page.activities.size()) == q.page_size) {
        page.more = true;
        break;
      }
    }
    return page;
  }

  BrokerResult<MarketClock> get_clock() override { return MarketClock{}; }

  void note_call() { call_times.push_back(clock_.now()); }

  std::map<std::string, std::string> parent_of;

 private:
  const Clock& clock_;
  int next_id_ = 0;
  int activity_seq_ = 0;
};

}  // namespace orderly::testing
