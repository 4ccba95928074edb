#pragma once
// The one in-memory Store of the tests (issue 21, one testing seam): what the engine's tests and
// the read side's (server, forensics) hold their rows in without SQLite.
// - A restart is a new engine over the same store: load() gives what SqliteStore's gives (the
//   trades not ended, the orders not ended or of a trade not ended, the active alerts, the sync
//   state, the highest ids).
// - Faults: the next N commits fail; reads of one order or trade fail (a dead connection) or
//   throw (a state the engine did not expect); fault() says what a damaged backend would.
// - Each call takes a lock, as the API server reads from its own threads; the rows are public for
//   the tests to look at or seed, while nothing else runs.

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace orderly::testing {

class MemoryStore final : public Store {
 public:
  int fail_commits = 0;      // the next N commits fail
  bool fail_reads = false;   // reads of one order or trade fail (a dead connection)
  bool throw_on_reads = false;  // reads of one order throw: what the engine did not expect
  int commits = 0;
  std::map<TradeId, Trade> trades;
  std::map<OrderId, Order> orders;
  std::vector<OrderEvent> events;  // in commit order, seq from 1
  std::vector<Fill> fills;         // in commit order, one per execution id
  std::map<std::string, Position> positions_held;
  std::map<std::int64_t, Alert> alerts;
  std::map<std::string, std::string> sync;

  StatusOr<LoadedState> load() override {
    std::lock_guard lock(mu_);
    LoadedState s;
    s.instance_tag = "t3st";
    for (const auto& [id, t] : trades) {
      if (!is_terminal(t.state)) s.open_trades.push_back(t);
      s.max_trade_id = std::max(s.max_trade_id, id);
    }
    for (const auto& [id, o] : orders) {
      const auto t = trades.find(o.trade_id);
      const bool trade_open = t != trades.end() && !is_terminal(t->second.state);
      if (!is_terminal(o.state) || trade_open) s.open_orders.push_back(o);
      s.max_order_id = std::max(s.max_order_id, id);
    }
    for (const auto& [symbol, p] : positions_held) s.positions.push_back(p);
    for (const auto& [id, a] : alerts) {
      if (a.active()) s.active_alerts.push_back(a);
      s.max_alert_id = std::max(s.max_alert_id, id);
    }
    s.sync_state = sync;
    return s;
  }

  Status commit(const WriteBatch& b) override {
    std::lock_guard lock(mu_);
    if (fail_commits > 0) {
      --fail_commits;
      return Status::error(Status::Code::io_error, "injected commit failure");
    }
    ++commits;
    for (const auto& t : b.trades) trades[t.id] = t;
    for (const auto& o : b.orders) orders[o.id] = o;
    for (auto e : b.events) {
      e.seq = static_cast<std::int64_t>(events.size()) + 1;
      events.push_back(std::move(e));
    }
    for (const auto& f : b.fills) {
      if (fill_ids_.insert(f.execution_id).second) fills.push_back(f);
    }
    for (const auto& p : b.positions) positions_held[p.symbol] = p;
    for (const auto& a : b.alerts) alerts[a.id] = a;
    for (const auto& [k, v] : b.sync_state) sync[k] = v;
    return Status::success();
  }

  StatusOr<std::optional<Order>> get_order(OrderId id) override {
    return find_order([&](const Order& o) { return o.id == id; });
  }
  StatusOr<std::optional<Order>> find_order_by_client_id(std::string_view cid) override {
    return find_order([&](const Order& o) { return o.client_order_id == cid; });
  }
  StatusOr<std::optional<Order>> find_order_by_broker_id(std::string_view bid) override {
    return find_order([&](const Order& o) { return o.broker_order_id == bid; });
  }
  StatusOr<std::vector<Order>> list_orders(const OrderFilter& f) override {
    std::lock_guard lock(mu_);
    std::vector<Order> out;
    for (const auto& [id, o] : orders) {
      if (f.state && o.state != *f.state) continue;
      if (f.symbol && o.symbol != *f.symbol) continue;
      if (f.trade_id && o.trade_id != *f.trade_id) continue;
      if (f.open_only && is_terminal(o.state)) continue;
      out.push_back(o);
    }
    return page(std::move(out), f.limit, f.offset);
  }
  StatusOr<std::optional<Trade>> get_trade(TradeId id) override {
    std::lock_guard lock(mu_);
    if (fail_reads) return read_failure();
    const auto it = trades.find(id);
    if (it == trades.end()) return std::optional<Trade>();
    return std::optional<Trade>(it->second);
  }
  StatusOr<std::vector<Trade>> list_trades(int limit, int offset) override {
    std::lock_guard lock(mu_);
    std::vector<Trade> out;
    for (const auto& [id, t] : trades) out.push_back(t);
    return page(std::move(out), limit, offset);
  }
  StatusOr<std::vector<OrderEvent>> order_events(OrderId id) override {
    std::lock_guard lock(mu_);
    return of_order(events, id);
  }
  StatusOr<std::vector<OrderEvent>> events_since(std::int64_t after_seq, int limit) override {
    std::lock_guard lock(mu_);
    std::vector<OrderEvent> out;
    for (const auto& e : events) {
      if (e.seq > after_seq && static_cast<int>(out.size()) < limit) out.push_back(e);
    }
    return out;
  }
  StatusOr<std::vector<Fill>> fills_for(OrderId id) override {
    std::lock_guard lock(mu_);
    return of_order(fills, id);
  }
  StatusOr<std::vector<Alert>> list_alerts(bool active_only, int limit) override {
    std::lock_guard lock(mu_);
    std::vector<Alert> out;
    for (const auto& [id, a] : alerts) {
      if ((!active_only || a.active()) && static_cast<int>(out.size()) < limit) out.push_back(a);
    }
    return out;
  }
  StatusOr<std::vector<Position>> positions() override {
    std::lock_guard lock(mu_);
    std::vector<Position> out;
    for (const auto& [symbol, p] : positions_held) out.push_back(p);
    return out;
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
  static Status read_failure() {
    return Status::error(Status::Code::io_error, "injected read failure");
  }
  template <typename T>
  static std::vector<T> page(std::vector<T> rows, int limit, int offset) {
    if (offset >= static_cast<int>(rows.size())) return {};
    rows.erase(rows.begin(), rows.begin() + offset);
    if (static_cast<int>(rows.size()) > limit) rows.resize(static_cast<std::size_t>(limit));
    return rows;
  }
  template <typename T>
  static std::vector<T> of_order(const std::vector<T>& rows, OrderId id) {
    std::vector<T> out;
    for (const T& row : rows) {
      if (row.order_id == id) out.push_back(row);
    }
    return out;
  }
  template <typename Pred>
  StatusOr<std::optional<Order>> find_order(Pred matches) {
    std::lock_guard lock(mu_);
    if (throw_on_reads) throw std::logic_error("injected: not what the engine expects");
    if (fail_reads) return read_failure();
    for (const auto& [id, o] : orders) {
      if (matches(o)) return std::optional<Order>(o);
    }
    return std::optional<Order>();
  }

  mutable std::mutex mu_;
  std::string fault_;
  std::set<std::string> fill_ids_;
};

}  // namespace orderly::testing
