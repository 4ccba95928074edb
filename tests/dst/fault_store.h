#pragma once
// A Store decorator that injects storage faults: commit() fails cleanly (nothing applied, as an
// SQLite transaction that rolled back) with a probability, and load() fails the same way, so a
// restart can meet a store that is briefly unreadable. Reads other than load() pass through.
//
// It also pins the store's instance tag to one derived from the seed: the SQLite backend draws it
// from the OS entropy source, and it is part of every client_order_id, so without this a seed
// would not replay bit for bit.

#include <cstdint>
#include <memory>
#include <string>

#include "rng.h"
#include "store/store.h"
#include "trace.h"

namespace orderly::dst {

class FaultStore final : public Store {
 public:
  FaultStore(std::unique_ptr<Store> inner, Rng& rng, Trace& trace, std::string instance_tag)
      : inner_(std::move(inner)), rng_(rng), trace_(trace), tag_(std::move(instance_tag)) {}

  // Probabilities in per mille; 0 turns the fault off.
  void set_commit_failure_per_mille(int p) { commit_fail_pm_ = p; }
  void set_load_failure_per_mille(int p) { load_fail_pm_ = p; }

  std::int64_t commits() const { return commits_; }
  std::int64_t failed_commits() const { return failed_commits_; }
  std::int64_t failed_loads() const { return failed_loads_; }
  Store& inner() { return *inner_; }

  StatusOr<LoadedState> load() override;
  Status commit(const WriteBatch& batch) override;

  StatusOr<std::optional<Order>> get_order(OrderId id) override { return inner_->get_order(id); }
  StatusOr<std::optional<Order>> find_order_by_client_id(std::string_view cid) override {
    return inner_->find_order_by_client_id(cid);
  }
  StatusOr<std::optional<Order>> find_order_by_broker_id(std::string_view bid) override {
    return inner_->find_order_by_broker_id(bid);
  }
  StatusOr<std::vector<Order>> list_orders(const OrderFilter& filter) override {
    return inner_->list_orders(filter);
  }
  StatusOr<std::optional<Trade>> get_trade(TradeId id) override { return inner_->get_trade(id); }
  StatusOr<std::vector<Trade>> list_trades(int limit, int offset) override {
    return inner_->list_trades(limit, offset);
  }
  StatusOr<std::vector<OrderEvent>> order_events(OrderId id) override {
    return inner_->order_events(id);
  }
  StatusOr<std::vector<OrderEvent>> events_since(std::int64_t after_seq, int limit) override {
    return inner_->events_since(after_seq, limit);
  }
  StatusOr<std::vector<Fill>> fills_for(OrderId id) override { return inner_->fills_for(id); }
  StatusOr<std::vector<Alert>> list_alerts(bool active_only, int limit) override {
    return inner_->list_alerts(active_only, limit);
  }
  StatusOr<std::vector<Position>> positions() override { return inner_->positions(); }

 private:
  std::unique_ptr<Store> inner_;
  Rng& rng_;
  Trace& trace_;
  std::string tag_;
  int commit_fail_pm_ = 0;
  int load_fail_pm_ = 0;
  std::int64_t commits_ = 0;
  std::int64_t failed_commits_ = 0;
  std::int64_t failed_loads_ = 0;
};

}  // namespace orderly::dst
