#pragma once
// What one account answers about itself, as domain objects: the local API's read routes render
// these (server/json_shapes.h), for one account or merged over several (Api::read_accounts,
// server/accounts_view.h), so each JSON shape is written once. server::Api implements it over
// its engine and store.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit.h"
#include "core/status.h"
#include "core/time.h"
#include "core/trade.h"
#include "engine/control.h"
#include "store/store.h"

namespace orderly::server {

// A trade as the API shows it: with its orders (none when they cannot be read).
struct TradeRecord {
  Trade trade;
  std::vector<Order> orders;
};

// An order's audit trail: its events and fills (none when the fills cannot be read).
struct OrderAudit {
  Order order;
  std::vector<OrderEvent> events;
  std::vector<Fill> fills;
};

// An alert as /api/alerts lists it: a row of the account's alert table, or one the store
// cannot hold (store_failing while it refuses writes, the daemon's lease_lost): those have no
// id, and lease_lost no severity.
struct AlertRow {
  std::optional<std::int64_t> id;
  std::optional<AlertSeverity> severity;
  std::string kind;
  std::string subject;
  std::string message;
  std::optional<Timestamp> raised_at;
  std::optional<Timestamp> cleared_at;
  bool active = true;
};
AlertRow alert_row(const Alert& a);

// The market's session as last read from the broker (GET /v2/clock).
struct MarketSession {
  bool is_open = false;
  Timestamp next_open;
  Timestamp next_close;
  Timestamp as_of;  // when the broker was asked
};

// An account's health at one instant: what /healthz shows.
struct HealthReport {
  Health health;
  Timestamp now;
  std::optional<MarketSession> market;  // nullopt: not read yet
};

class AccountQueries {
 public:
  virtual ~AccountQueries() = default;
  // Newest first, as the store lists them. An error: the store could not be read.
  virtual StatusOr<std::vector<TradeRecord>> trades(int limit, int offset) = 0;
  virtual StatusOr<std::optional<TradeRecord>> trade(TradeId id) = 0;
  virtual StatusOr<std::vector<Order>> orders(const OrderFilter& filter) = 0;
  // By a local id (digits), our client_order_id, or the broker's id: whatever the user has.
  virtual StatusOr<std::optional<Order>> order(std::string_view ref) = 0;
  virtual StatusOr<std::optional<OrderAudit>> audit(std::string_view ref) = 0;
  virtual std::vector<PositionView> positions() = 0;
  // The alert table's rows (at most `limit`), after store_failing while the store refuses.
  virtual StatusOr<std::vector<AlertRow>> alerts(bool active_only, int limit) = 0;
  virtual HealthReport health_report() = 0;
  // The audit events after `after_seq`, oldest first (none when the store cannot be read).
  virtual std::vector<OrderEvent> events_since(std::int64_t after_seq, int limit) = 0;
};

// An account as the read routes see it: its name, which every object they render carries (""
// with one account: none), and its queries.
struct AccountSource {
  std::string name;
  AccountQueries* queries = nullptr;
};

// An alert of the daemon about one of its accounts (lease_lost), listed before theirs.
struct AccountAlert {
  std::string account;
  AlertRow alert;
};

}  // namespace orderly::server
