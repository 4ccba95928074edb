#pragma once
// The PostgreSQL Store: one database shared by several orderly processes and accounts (every row
// carries its account). Same logical schema as the SQLite store; see pg_conn.cc for the tables.
//
// A commit is one transaction sent as one pipeline (one round trip). Its first row is a unique
// batch id in `commits`: when the connection drops after COMMIT was sent, the outcome is unknown,
// and the store reconnects and looks the batch id up BEFORE it retries, so an intent is never
// lost nor applied twice (a late duplicate would collide on the batch id anyway).

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "store/store.h"

namespace orderly {

struct PostgresStoreOptions {
  // How long one call keeps trying to reach a server that went away before it gives up with
  // `unavailable`. The engine cannot submit without durable intent, so waiting is the safe
  // thing to do; the lease's own deadline bounds how long a takeover waits for us.
  std::int64_t reconnect_window_ms = 60'000;
  std::int64_t reconnect_backoff_max_ms = 1'000;
  // Told about every connection loss and every failed reconnect attempt (the app logs it).
  // Empty: one line through store_log() per outage.
  std::function<void(const Status&)> on_error;
};

struct PostgresStoreStats {
  std::int64_t commits = 0;
  std::int64_t reconnects = 0;
  std::int64_t unknown_outcomes = 0;    // connection lost after the batch was sent
  std::int64_t verified_committed = 0;  // ... and the batch id showed it had committed
  std::int64_t verified_absent = 0;     // ... and it had not: retried under the same id
};

// Test hook: breaks the connection once at the named point of the next commit.
enum class PostgresFault { none, before_send, after_commit };

class PostgresStore final : public Store {
 public:
  ~PostgresStore() override;

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
  Status bind_lease(std::shared_ptr<const AccountLease> lease) override;

  PostgresStoreStats stats() const;
  void inject_fault(PostgresFault fault);

  struct Impl;

 private:
  explicit PostgresStore(std::unique_ptr<Impl> impl);
  friend StatusOr<std::unique_ptr<Store>> open_postgres_store(std::string_view,
                                                               std::string_view,
                                                               PostgresStoreOptions);
  std::unique_ptr<Impl> impl_;
};

// Connects, creates or migrates the schema, registers the account. Errors: unavailable
// (unreachable), invalid_argument (bad URL, authentication refused), schema_too_new.
StatusOr<std::unique_ptr<Store>> open_postgres_store(std::string_view url, std::string_view account,
                                                     PostgresStoreOptions options);
StatusOr<std::unique_ptr<Store>> open_postgres_store(std::string_view url, std::string_view account);

}  // namespace orderly
