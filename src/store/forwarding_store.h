#pragma once
// A Store that hands every call to another: the base of decorators that change one or two calls
// (the event log's LoggedStore tells about commits, DST's FaultStore fails some) and forward the
// rest unchanged, so a call added to Store is forwarded in one place.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/store.h"

namespace orderly {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}

  StatusOr<LoadedState> load() override { return inner_->load(); }
  Status commit(const WriteBatch& batch) override { return inner_->commit(batch); }
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
  StatusOr<std::optional<Trade>> find_trade_by_client_id(std::string_view key) override {
    return inner_->find_trade_by_client_id(key);
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
  std::string fault() const override { return inner_->fault(); }
  Status bind_lease(std::shared_ptr<const AccountLease> lease) override {
    return inner_->bind_lease(std::move(lease));
  }

  Store& inner() { return *inner_; }

 private:
  std::unique_ptr<Store> inner_;
};

}  // namespace orderly
