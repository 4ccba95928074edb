#pragma once
// Durable state: trades, orders, fills, the local position ledger, the append-only audit log
// (order_events), alerts and sync watermarks.
//
// Writes go through one atomic batch: an order row and its audit event are committed together
// (transactional outbox: the engine emits a broker request only after the batch that recorded
// the intent has been committed). commit() returns only once the batch is durable.
//
// A Store handle is bound to one broker account. Ids are assigned by the engine (single writer
// per account, guaranteed by the account lease) from the maxima returned by load().

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit.h"
#include "core/decimal.h"
#include "core/order.h"
#include "core/status.h"
#include "core/time.h"
#include "core/trade.h"

namespace orderly {

class AccountLease;  // store/lease.h

// One execution (fill) recorded once, by its execution id (stream execution_id or activity id).
struct Fill {
  std::string execution_id;
  OrderId order_id = 0;
  std::string symbol;
  Side side = Side::buy;
  Decimal qty;
  Decimal price;
  Timestamp at;
};

struct WriteBatch {
  std::vector<Trade> trades;   // upsert by id
  std::vector<Order> orders;   // upsert by id (version is stored as given)
  std::vector<OrderEvent> events;  // appended; seq assigned at commit, gap-free
  std::vector<Fill> fills;     // inserted; a known execution_id is skipped, not an error
  std::vector<Position> positions;  // upsert by symbol
  std::vector<Alert> alerts;   // upsert by id (id assigned by the caller)
  std::map<std::string, std::string> sync_state;  // upsert by key
  bool empty() const {
    return trades.empty() && orders.empty() && events.empty() && fills.empty() &&
           positions.empty() && alerts.empty() && sync_state.empty();
  }
};

// Everything the engine needs to resume after a start or a crash.
struct LoadedState {
  std::string instance_tag;     // random, made when the store was created
  std::vector<Trade> open_trades;       // not terminal
  std::vector<Order> open_orders;       // not terminal, plus every order of an open trade
  std::vector<Position> positions;
  std::vector<Alert> active_alerts;
  std::map<std::string, std::string> sync_state;
  TradeId max_trade_id = 0;
  OrderId max_order_id = 0;
  std::int64_t max_alert_id = 0;
};

struct OrderFilter {
  std::optional<OrderState> state;
  std::optional<std::string> symbol;
  std::optional<TradeId> trade_id;
  bool open_only = false;  // not terminal
  int limit = 500;
  int offset = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual StatusOr<LoadedState> load() = 0;
  virtual Status commit(const WriteBatch& batch) = 0;

  virtual StatusOr<std::optional<Order>> get_order(OrderId id) = 0;
  virtual StatusOr<std::optional<Order>> find_order_by_client_id(std::string_view cid) = 0;
  virtual StatusOr<std::optional<Order>> find_order_by_broker_id(std::string_view bid) = 0;
  virtual StatusOr<std::vector<Order>> list_orders(const OrderFilter& filter) = 0;
  virtual StatusOr<std::optional<Trade>> get_trade(TradeId id) = 0;
  virtual StatusOr<std::vector<Trade>> list_trades(int limit, int offset) = 0;
  // The trade whose spec.client_trade_id is `key` (unique per account). The stores answer from
  // an index; this default pages through list_trades() so that test doubles need not.
  virtual StatusOr<std::optional<Trade>> find_trade_by_client_id(std::string_view key) {
    for (int offset = 0;; offset += 1000) {
      auto page = list_trades(1000, offset);
      if (!page.ok()) return page.status();
      for (auto& t : *page) {
        if (t.spec.client_trade_id == key) return std::optional<Trade>(std::move(t));
      }
      if (page->size() < 1000) return std::optional<Trade>();
    }
  }
  virtual StatusOr<std::vector<OrderEvent>> order_events(OrderId id) = 0;
  // Audit events of every order, in seq order, from `after_seq` (exclusive).
  virtual StatusOr<std::vector<OrderEvent>> events_since(std::int64_t after_seq, int limit) = 0;
  virtual StatusOr<std::vector<Fill>> fills_for(OrderId id) = 0;
  virtual StatusOr<std::vector<Alert>> list_alerts(bool active_only, int limit) = 0;
  virtual StatusOr<std::vector<Position>> positions() = 0;

  // The first read error that showed the store itself damaged or unreadable (corruption, I/O
  // error) since it was opened, for health reports; empty while there is none. It stays: a
  // damaged file does not heal while the process runs.
  virtual std::string fault() const { return {}; }

  // Fencing for shared backends (postgres): from now on commit() refuses to write unless `lease`
  // is held(), and checks its token inside the write transaction, so a stale owner's batch is
  // refused (Status conflict) instead of interleaving with the new owner's. Backends that one
  // process owns exclusively (sqlite: one process per file) may ignore it.
  virtual Status bind_lease(std::shared_ptr<const AccountLease> lease) {
    (void)lease;
    return Status::success();
  }
};

}  // namespace orderly
