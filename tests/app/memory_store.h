#pragma once
// A Store held in memory, for tests of the read side (server, forensics) without SQLite.

#include <algorithm>
#include <mutex>

#include "store/store.h"

namespace orderly::testing {

class MemoryStore final : public Store {
 public:
  StatusOr<LoadedState> load() override {
    std::lock_guard lock(mu_);
    LoadedState s;
    for (const auto& t : trades_) s.open_trades.push_back(t);
    for (const auto& o : orders_) s.open_orders.push_back(o);
    s.positions = positions_;
    return s;
  }
  Status commit(const WriteBatch& batch) override {
    std::lock_guard lock(mu_);
    for (const auto& t : batch.trades) upsert(trades_, t, [&](const Trade& x) { return x.id == t.id; });
    for (const auto& o : batch.orders) upsert(orders_, o, [&](const Order& x) { return x.id == o.id; });
    for (auto e : batch.events) {
      e.seq = static_cast<std::int64_t>(events_.size()) + 1;
      events_.push_back(e);
    }
    for (const auto& p : batch.positions) {
      upsert(positions_, p, [&](const Position& x) { return x.symbol == p.symbol; });
    }
    for (const auto& a : batch.alerts) upsert(alerts_, a, [&](const Alert& x) { return x.id == a.id; });
    for (const auto& f : batch.fills) fills_.push_back(f);
    return Status::success();
  }
  StatusOr<std::optional<Order>> get_order(OrderId id) override {
    return find_order([&](const Order& o) { return o.id == id; });
  }
  StatusOr<std::optional<Order>> find_order_by_client_id(std::string_view cid) override {
    return find_order([&](const Order& o) { return o.client_order_id == cid; });
  }
  StatusOr<std::optional<Order>> find_order_by_broker_id(std::string_view bid) override {
    return find_order([&](const Order& o) { return o.broker_order_id && *o.broker_order_id == bid; });
  }
  StatusOr<std::vector<Order>> list_orders(const OrderFilter& f) override {
    std::lock_guard lock(mu_);
    std::vector<Order> out;
    for (const auto& o : orders_) {
      if (f.state && o.state != *f.state) continue;
      if (f.symbol && o.symbol != *f.symbol) continue;
      if (f.trade_id && o.trade_id != *f.trade_id) continue;
      if (f.open_only && is_terminal(o.state)) continue;
      out.push_back(o);
    }
    if (static_cast<std::size_t>(f.offset) >= out.size()) return std::vector<Order>{};
    out.erase(out.begin(), out.begin() + f.offset);
    if (out.size() > static_cast<std::size_t>(f.limit)) out.resize(f.limit);
    return out;
  }
  StatusOr<std::optional<Trade>> get_trade(TradeId id) override {
    std::lock_guard lock(mu_);
    for (const auto& t : trades_) {
      if (t.id == id) return std::optional<Trade>(t);
    }
    return std::optional<Trade>();
  }
  StatusOr<std::vector<Trade>> list_trades(int limit, int offset) override {
    std::lock_guard lock(mu_);
    std::vector<Trade> out;
    for (int i = offset; i < static_cast<int>(trades_.size()) && i < offset + limit; ++i) {
      out.push_back(trades_[i]);
    }
    return out;
  }
  StatusOr<std::vector<OrderEvent>> order_events(OrderId id) override {
    std::lock_guard lock(mu_);
    std::vector<OrderEvent> out;
    for (const auto& e : events_) {
      if (e.order_id == id) out.push_back(e);
    }
    return out;
  }
  StatusOr<std::vector<OrderEvent>> events_since(std::int64_t after_seq, int limit) override {
    std::lock_guard lock(mu_);
    std::vector<OrderEvent> out;
    for (const auto& e : events_) {
      if (e.seq > after_seq && static_cast<int>(out.size()) < limit) out.push_back(e);
    }
    return out;
  }
  StatusOr<std::vector<Fill>> fills_for(OrderId id) override {
    std::lock_guard lock(mu_);
    std::vector<Fill> out;
    for (const auto& f : fills_) {
      if (f.order_id == id) out.push_back(f);
    }
    return out;
  }
  StatusOr<std::vector<Alert>> list_alerts(bool active_only, int limit) override {
    std::lock_guard lock(mu_);
    std::vector<Alert> out;
    for (const auto& a : alerts_) {
      if ((!active_only || a.active()) && static_cast<int>(out.size()) < limit) out.push_back(a);
    }
    return out;
  }
  StatusOr<std::vector<Position>> positions() override {
    std::lock_guard lock(mu_);
    return positions_;
  }
  std::string fault() const override {
    std::lock_guard lock(mu_);
    return fault_;
  }
  // What a damaged backend would report after a failed read.
  void set_fault(std::string fault) {
    std::lock_guard lock(mu_);
    fault_ = std::move(fault);
  }

 private:
  template <typename T, typename Pred>
  static void upsert(std::vector<T>& v, const T& item, Pred same) {
    auto it = std::find_if(v.begin(), v.end(), same);
    if (it == v.end()) {
      v.push_back(item);
    } else {
      *it = item;
    }
  }
  template <typename Pred>
  StatusOr<std::optional<Order>> find_order(Pred pred) {
    std::lock_guard lock(mu_);
    for (const auto& o : orders_) {
      if (pred(o)) return std::optional<Order>(o);
    }
    return std::optional<Order>();
  }

  mutable std::mutex mu_;
  std::string fault_;
  std::vector<Trade> trades_;
  std::vector<Order> orders_;
  std::vector<OrderEvent> events_;
  std::vector<Position> positions_;
  std::vector<Alert> alerts_;
  std::vector<Fill> fills_;
};

}  // namespace orderly::testing
