#pragma once
// An EngineControl that records intents into a Store the way the engine does (trade + entry
// order + audit event, committed before returning), for tests of the API and the CLI.

#include <mutex>

#include "core/ids.h"
#include "engine/control.h"
#include "store/store.h"

namespace orderly::testing {

class FakeEngine final : public EngineControl {
 public:
  FakeEngine(Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  StatusOr<Trade> open_trade(const TradeSpec& spec) override {
    std::lock_guard lock(mu_);
    if (auto problem = validate(spec); !problem.empty()) {
      return Status::error(Status::Code::invalid_argument, problem);
    }
    Trade t;
    t.id = ++trade_ids_;
    t.spec = spec;
    t.created_at = t.updated_at = clock_.now();
    Order o;
    o.id = ++order_ids_;
    o.trade_id = t.id;
    o.role = OrderRole::entry;
    o.client_order_id = make_client_order_id("abcdefghij", t.id, OrderRole::entry, 0);
    o.symbol = spec.symbol;
    o.side = spec.side;
    o.type = spec.entry_type;
    o.qty = spec.qty;
    o.limit_price = spec.entry_limit_price;
    o.created_at = o.updated_at = clock_.now();
    OrderEvent e;
    e.order_id = o.id;
    e.at = clock_.now();
    e.source = EventSource::intent;
    e.to = OrderState::created;
    e.note = "trade opened";
    WriteBatch b;
    b.trades.push_back(t);
    b.orders.push_back(o);
    b.events.push_back(e);
    if (Status s = store_.commit(b); !s) return s;
    return t;
  }
  Status cancel_trade(TradeId id) override {
    std::lock_guard lock(mu_);
    canceled.push_back(id);
    auto t = store_.get_trade(id);
    if (!t.ok() || !t->has_value()) return Status::error(Status::Code::not_found, "no trade");
    Trade trade = **t;
    trade.state = TradeState::closing;
    WriteBatch b;
    b.trades.push_back(trade);
    return store_.commit(b);
  }
  Status cancel_entry(TradeId id) override {
    std::lock_guard lock(mu_);
    entry_canceled.push_back(id);
    auto t = store_.get_trade(id);
    if (!t.ok() || !t->has_value()) return Status::error(Status::Code::not_found, "no trade");
    Trade trade = **t;
    if (trade.state == TradeState::open) {
      return Status::error(Status::Code::conflict, "trade holds a position");
    }
    trade.note = "cancel requested (entry)";  // written, as the engine does
    WriteBatch b;
    b.trades.push_back(trade);
    return store_.commit(b);
  }
  // Records the change on the stored trade's targets (the engine's own checks are its tests').
  Status modify_exits(TradeId id, const ExitChange& change) override {
    std::lock_guard lock(mu_);
    modified.emplace_back(id, change);
    auto t = store_.get_trade(id);
    if (!t.ok() || !t->has_value()) return Status::error(Status::Code::not_found, "no trade");
    Trade trade = **t;
    if (change.take_profit) trade.spec.take_profit = *change.take_profit;
    if (change.remove_take_profit) trade.spec.take_profit = PriceTarget{};
    if (change.stop_loss) trade.spec.stop_loss = *change.stop_loss;
    if (change.remove_stop_loss) trade.spec.stop_loss.reset();
    WriteBatch b;
    b.trades.push_back(trade);
    return store_.commit(b);
  }
  StatusOr<std::vector<TradeId>> close_all() override {
    std::lock_guard lock(mu_);
    ++close_alls;
    return std::vector<TradeId>{};
  }
  Health health() const override {
    Health h;
    h.stream_connected = true;
    h.last_sync_at = clock_.now();
    return h;
  }
  std::string metrics_text() const override {
    return "# TYPE orderly_submissions_total counter\norderly_submissions_total 3\n";
  }
  std::vector<PositionView> positions() override { return position_views; }
  ReconcileReport reconcile(bool fix) override {
    ReconcileReport r;
    r.orders_checked = 2;
    r.position_mismatches = fix ? 0 : 1;
    r.findings.push_back("STWD: local 0, broker 37");
    return r;
  }

  std::vector<PositionView> position_views;
  std::vector<TradeId> canceled;
  std::vector<TradeId> entry_canceled;
  std::vector<std::pair<TradeId, ExitChange>> modified;
  int close_alls = 0;

 private:
  std::mutex mu_;
  Store& store_;
  const Clock& clock_;
  TradeId trade_ids_ = 0;
  OrderId order_ids_ = 0;
};

}  // namespace orderly::testing
