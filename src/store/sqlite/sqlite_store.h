#pragma once
// The embedded Store: one SQLite file in WAL mode with synchronous=FULL, so commit() returns only
// once the batch is on disk. One connection guarded by a mutex (the engine writes, API threads
// read). sqlite3.h stays out of this header.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace orderly {

class SqliteStore final : public Store {
 public:
  // The schema version this binary writes; a file with a newer one is refused (schema_too_new).
  static constexpr int kSchemaVersion = 4;

  // `path` is a file path or ":memory:". Creates and migrates the file as needed. Errors name
  // the file and the cause: corrupt or foreign file, newer schema, read-only, disk full.
  static StatusOr<std::unique_ptr<SqliteStore>> open(std::string_view path,
                                                     std::string_view account);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  StatusOr<LoadedState> load() override;
  Status commit(const WriteBatch& batch) override;
  StatusOr<std::optional<Order>> get_order(OrderId id) override;
  StatusOr<std::optional<Order>> find_order_by_client_id(std::string_view cid) override;
  StatusOr<std::optional<Order>> find_order_by_broker_id(std::string_view bid) override;
  StatusOr<std::vector<Order>> list_orders(const OrderFilter& filter) override;
  StatusOr<std::optional<Trade>> get_trade(TradeId id) override;
  StatusOr<std::optional<Trade>> find_trade_by_client_id(std::string_view key) override;
  StatusOr<std::vector<Trade>> list_trades(int limit, int offset) override;
  StatusOr<std::vector<OrderEvent>> order_events(OrderId id) override;
  StatusOr<std::vector<OrderEvent>> events_since(std::int64_t after_seq, int limit) override;
  StatusOr<std::vector<Fill>> fills_for(OrderId id) override;
  StatusOr<std::vector<Alert>> list_alerts(bool active_only, int limit) override;
  StatusOr<std::vector<Position>> positions() override;
  std::string fault() const override;

  // Test hooks: run raw SQL (e.g. "PRAGMA max_page_count = N" to simulate a full disk), and
  // the query plans of load()'s row statements (to check that only indexed, open rows are read;
  // its max(id) lookups use SQLite's min/max optimization on the primary key).
  Status exec_for_test(std::string_view sql);
  StatusOr<std::vector<std::string>> load_query_plans_for_test();

 private:
  struct Impl;
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly
