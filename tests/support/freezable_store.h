#pragma once
// The tests' store that stops answering (issue 21, one testing seam): a MemoryStore whose commits,
// or every call, wait while it is frozen, as a disk that stopped answering; whose commits can be
// refused; and which keeps the fill ids of each commit it took. For the threaded runtime (an
// engine thread blocked in a commit while events queue) and the API server (a request waiting on
// a store that hangs).

#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "store/forwarding_store.h"
#include "support/memory_store.h"

namespace orderly::testing {

class FreezableStore final : public ForwardingStore {
 public:
  enum class Freezes { commits, every_call };

  explicit FreezableStore(Freezes what = Freezes::commits)
      : ForwardingStore(std::make_unique<MemoryStore>()), what_(what) {}

  MemoryStore& memory() { return static_cast<MemoryStore&>(inner()); }

  void freeze() {
    std::lock_guard lock(mu_);
    frozen_ = true;
  }
  void thaw() {
    {
      std::lock_guard lock(mu_);
      frozen_ = false;
    }
    cv_.notify_all();
  }
  // How many calls wait for the thaw now.
  int waiting() {
    std::lock_guard lock(mu_);
    return waiting_;
  }
  // Commits that get past the freeze are answered `refusal` (Status::success(): taken again).
  void refuse_commits(Status refusal) {
    std::lock_guard lock(mu_);
    refusal_ = std::move(refusal);
  }
  // The execution ids of the fills of each commit taken, in order.
  std::vector<std::set<std::string>> fills_by_commit() {
    std::lock_guard lock(mu_);
    return fills_by_commit_;
  }

  Status commit(const WriteBatch& batch) override {
    {
      std::unique_lock lock(mu_);
      wait_thawed(lock);
      if (!refusal_.ok()) return refusal_;
      std::set<std::string> ids;
      for (const Fill& f : batch.fills) ids.insert(f.execution_id);
      fills_by_commit_.push_back(std::move(ids));
    }
    return ForwardingStore::commit(batch);
  }
  StatusOr<LoadedState> load() override {
    read_allowed();
    return ForwardingStore::load();
  }
  StatusOr<std::optional<Order>> get_order(OrderId id) override {
    read_allowed();
    return ForwardingStore::get_order(id);
  }
  StatusOr<std::optional<Order>> find_order_by_client_id(std::string_view cid) override {
    read_allowed();
    return ForwardingStore::find_order_by_client_id(cid);
  }
  StatusOr<std::optional<Order>> find_order_by_broker_id(std::string_view bid) override {
    read_allowed();
    return ForwardingStore::find_order_by_broker_id(bid);
  }
  StatusOr<std::vector<Order>> list_orders(const OrderFilter& filter) override {
    read_allowed();
    return ForwardingStore::list_orders(filter);
  }
  StatusOr<std::optional<Trade>> get_trade(TradeId id) override {
    read_allowed();
    return ForwardingStore::get_trade(id);
  }
  StatusOr<std::vector<Trade>> list_trades(int limit, int offset) override {
    read_allowed();
    return ForwardingStore::list_trades(limit, offset);
  }
  StatusOr<std::optional<Trade>> find_trade_by_client_id(std::string_view key) override {
    read_allowed();
    return ForwardingStore::find_trade_by_client_id(key);
  }
  StatusOr<std::vector<OrderEvent>> order_events(OrderId id) override {
    read_allowed();
    return ForwardingStore::order_events(id);
  }
  StatusOr<std::vector<OrderEvent>> events_since(std::int64_t after_seq, int limit) override {
    read_allowed();
    return ForwardingStore::events_since(after_seq, limit);
  }
  StatusOr<std::vector<Fill>> fills_for(OrderId id) override {
    read_allowed();
    return ForwardingStore::fills_for(id);
  }
  StatusOr<std::vector<Alert>> list_alerts(bool active_only, int limit) override {
    read_allowed();
    return ForwardingStore::list_alerts(active_only, limit);
  }
  StatusOr<std::vector<Position>> positions() override {
    read_allowed();
    return ForwardingStore::positions();
  }

 private:
  void wait_thawed(std::unique_lock<std::mutex>& lock) {
    ++waiting_;
    cv_.wait(lock, [&] { return !frozen_; });
    --waiting_;
  }
  // A read waits for the thaw when every call freezes.
  void read_allowed() {
    if (what_ != Freezes::every_call) return;
    std::unique_lock lock(mu_);
    wait_thawed(lock);
  }

  const Freezes what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool frozen_ = false;
  int waiting_ = 0;
  Status refusal_ = Status::success();
  std::vector<std::set<std::string>> fills_by_commit_;
};

}  // namespace orderly::testing
