#include "store/postgres/postgres_store.h"

#include <charconv>
#include <map>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "core/ids.h"
#include "store/lease.h"
#include "store/open.h"
#include "store/postgres/pg_conn.h"

namespace orderly {
namespace {

using pg::Param;
using pg::Row;
using pg::Rows;
using pg::Stmt;

// ---- SQL (constant text; every value is a parameter) ----------------------------------------

#define ORDER_COLS                                                                            \
  "id, trade_id, role, client_order_id, broker_order_id, symbol, side, type, tif, order_class, " \
  "qty, limit_price, stop_price, parent_order_id, replaces_order_id, state, filled_qty, "     \
  "filled_avg_price, broker_updated_at, attempts, next_attempt_at, last_error, created_at, "  \
  "updated_at, version, notional, trail_price, trail_percent, extended_hours"
#define TRADE_COLS                                                                    \
  "id, symbol, side, qty, entry_type, entry_limit_price, tif, tp_price, tp_percent, " \
  "has_stop_loss, sl_price, sl_percent, exits, state, note, created_at, updated_at, " \
  "client_trade_id, notional, entry_stop_price, extended_hours, sl_trail_percent, "   \
  "sl_trail_price, price_increment"
#define EVENT_COLS "seq, order_id, at, source, from_state, to_state, filled_qty, payload, note"
#define FILL_COLS "execution_id, order_id, symbol, side, qty, price, at"
#define ALERT_COLS "id, kind, subject, message, raised_at, cleared_at"

constexpr pg::StatementDef kStatements[] = {
    {"begin", "BEGIN"},
    {"commit", "COMMIT"},
    {"account_register",
     "INSERT INTO accounts (account, instance_tag) VALUES ($1, $2) "
     "ON CONFLICT (account) DO NOTHING"},
    {"account_get", "SELECT instance_tag FROM accounts WHERE account = $1"},
    {"commits_prune",
     "DELETE FROM commits WHERE account = $1 AND committed_at < clock_timestamp() - "
     "interval '7 days'"},
    {"commit_record", "INSERT INTO commits (account, batch_id) VALUES ($1, $2)"},
    {"commit_find", "SELECT 1 FROM commits WHERE account = $1 AND batch_id = $2"},
    {"fence", "SELECT orderly_fence($1::text, $2::bigint)"},
    // Reserves the batch's event seqs under the account row's lock (held to COMMIT): seqs are
    // gap-free because a rolled-back batch rolls its reservation back too.
    {"seq_reserve",
     "UPDATE accounts SET last_event_seq = last_event_seq + $2::bigint WHERE account = $1"},
    {"trade_upsert",
     "INSERT INTO trades (account, " TRADE_COLS ", is_open) VALUES ($1, $2, $3, $4, $5, $6, $7, "
     "$8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, "
     "$26) "
     "ON CONFLICT (account, id) DO "
     "UPDATE SET symbol = EXCLUDED.symbol, side = EXCLUDED.side, qty = EXCLUDED.qty, "
     "entry_type = EXCLUDED.entry_type, entry_limit_price = EXCLUDED.entry_limit_price, "
     "tif = EXCLUDED.tif, tp_price = EXCLUDED.tp_price, tp_percent = EXCLUDED.tp_percent, "
     "has_stop_loss = EXCLUDED.has_stop_loss, sl_price = EXCLUDED.sl_price, "
     "sl_percent = EXCLUDED.sl_percent, exits = EXCLUDED.exits, state = EXCLUDED.state, "
     "note = EXCLUDED.note, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, "
     "client_trade_id = EXCLUDED.client_trade_id, notional = EXCLUDED.notional, "
     "entry_stop_price = EXCLUDED.entry_stop_price, extended_hours = EXCLUDED.extended_hours, "
     "sl_trail_percent = EXCLUDED.sl_trail_percent, sl_trail_price = EXCLUDED.sl_trail_price, "
     "price_increment = EXCLUDED.price_increment, is_open = EXCLUDED.is_open"},
    // Batches are written with one statement per table: each column travels as one array
    // parameter and unnest() turns them back into rows (a 64-change batch is 2 statements, not
    // 128). Rows keep the batch's order, so event seqs follow it.
    {"orders_upsert",
     "INSERT INTO orders (account, " ORDER_COLS ", is_open) SELECT $1, u.* FROM unnest("
     "$2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
     "$9::text[], $10::text[], $11::text[], $12::numeric[], $13::numeric[], $14::numeric[], "
     "$15::bigint[], $16::bigint[], $17::text[], $18::numeric[], $19::numeric[], $20::bigint[], "
     "$21::integer[], $22::bigint[], $23::text[], $24::bigint[], $25::bigint[], $26::bigint[], "
     "$27::numeric[], $28::numeric[], $29::numeric[], $30::boolean[], $31::boolean[]) AS u "
     "ON CONFLICT (account, id) DO UPDATE SET trade_id = EXCLUDED.trade_id, "
     "role = EXCLUDED.role, client_order_id = EXCLUDED.client_order_id, "
     "broker_order_id = COALESCE(EXCLUDED.broker_order_id, orders.broker_order_id), "
     "symbol = EXCLUDED.symbol, "
     "side = EXCLUDED.side, type = EXCLUDED.type, tif = EXCLUDED.tif, "
     "order_class = EXCLUDED.order_class, qty = EXCLUDED.qty, "
     "limit_price = EXCLUDED.limit_price, stop_price = EXCLUDED.stop_price, "
     "parent_order_id = EXCLUDED.parent_order_id, "
     "replaces_order_id = EXCLUDED.replaces_order_id, state = EXCLUDED.state, "
     "filled_qty = EXCLUDED.filled_qty, filled_avg_price = EXCLUDED.filled_avg_price, "
     "broker_updated_at = EXCLUDED.broker_updated_at, attempts = EXCLUDED.attempts, "
     "next_attempt_at = EXCLUDED.next_attempt_at, last_error = EXCLUDED.last_error, "
     "created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, "
     "version = EXCLUDED.version, notional = EXCLUDED.notional, "
     "trail_price = EXCLUDED.trail_price, trail_percent = EXCLUDED.trail_percent, "
     "extended_hours = EXCLUDED.extended_hours, is_open = EXCLUDED.is_open"},
    // $2 = events in the batch; e.ord = the event's 1-based position in it. A missing account
    // row yields a NULL seq and fails the batch instead of dropping the event.
    {"events_insert",
     "INSERT INTO order_events (account, " EVENT_COLS ") SELECT $1::text, (SELECT last_event_seq "
     "FROM accounts WHERE account = $1::text) - $2::bigint + e.ord, e.order_id, e.at, e.source, "
     "e.from_state, e.to_state, e.filled_qty, e.payload, e.note FROM unnest($3::bigint[], "
     "$4::bigint[], $5::text[], $6::text[], $7::text[], $8::numeric[], $9::text[], $10::text[]) "
     "WITH ORDINALITY AS e(order_id, at, source, from_state, to_state, filled_qty, payload, "
     "note, ord)"},
    {"fill_insert",
     "INSERT INTO fills (account, " FILL_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
     "ON CONFLICT (account, execution_id) DO NOTHING"},
    {"position_upsert",
     "INSERT INTO positions (account, symbol, qty, avg_entry_price) VALUES ($1, $2, $3, $4) "
     "ON CONFLICT (account, symbol) DO UPDATE SET qty = EXCLUDED.qty, "
     "avg_entry_price = EXCLUDED.avg_entry_price"},
    {"alert_upsert",
     "INSERT INTO alerts (account, " ALERT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7) "
     "ON CONFLICT (account, id) DO UPDATE SET kind = EXCLUDED.kind, subject = EXCLUDED.subject, "
     "message = EXCLUDED.message, raised_at = EXCLUDED.raised_at, "
     "cleared_at = EXCLUDED.cleared_at"},
    {"sync_upsert",
     "INSERT INTO sync_state (account, key, value) VALUES ($1, $2, $3) "
     "ON CONFLICT (account, key) DO UPDATE SET value = EXCLUDED.value"},
    // Reads. Lists are newest first, like the SQLite store; audit trails oldest first.
    {"trades_open",
     "SELECT " TRADE_COLS " FROM trades WHERE account = $1 AND is_open ORDER BY id"},
    {"orders_open",
     "SELECT " ORDER_COLS " FROM orders WHERE account = $1 AND (is_open OR trade_id IN "
     "(SELECT id FROM trades WHERE account = $1 AND is_open)) ORDER BY id"},
    {"positions_all",
     "SELECT symbol, qty, avg_entry_price FROM positions WHERE account = $1 ORDER BY symbol"},
    {"alerts_active",
     "SELECT " ALERT_COLS " FROM alerts WHERE account = $1 AND cleared_at IS NULL ORDER BY id"},
    {"sync_all", "SELECT key, value FROM sync_state WHERE account = $1 ORDER BY key"},
    {"maxima",
     "SELECT (SELECT COALESCE(max(id), 0) FROM trades WHERE account = $1), "
     "(SELECT COALESCE(max(id), 0) FROM orders WHERE account = $1), "
     "(SELECT COALESCE(max(id), 0) FROM alerts WHERE account = $1)"},
    {"order_by_id", "SELECT " ORDER_COLS " FROM orders WHERE account = $1 AND id = $2"},
    {"order_by_cid",
     "SELECT " ORDER_COLS " FROM orders WHERE account = $1 AND client_order_id = $2"},
    {"order_by_bid",
     "SELECT " ORDER_COLS " FROM orders WHERE account = $1 AND broker_order_id = $2"},
    {"orders_list",
     "SELECT " ORDER_COLS " FROM orders WHERE account = $1 AND ($2::text IS NULL OR state = $2) "
     "AND ($3::text IS NULL OR symbol = $3) AND ($4::bigint IS NULL OR trade_id = $4) "
     "AND (NOT $5::boolean OR is_open) ORDER BY id DESC LIMIT $6 OFFSET $7"},
    {"trade_by_id", "SELECT " TRADE_COLS " FROM trades WHERE account = $1 AND id = $2"},
    {"trade_by_client_id",
     "SELECT " TRADE_COLS " FROM trades WHERE account = $1 AND client_trade_id = $2"},
    {"trades_list",
     "SELECT " TRADE_COLS " FROM trades WHERE account = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"},
    {"events_of_order",
     "SELECT " EVENT_COLS " FROM order_events WHERE account = $1 AND order_id = $2 ORDER BY seq"},
    {"events_since",
     "SELECT " EVENT_COLS " FROM order_events WHERE account = $1 AND seq > $2 ORDER BY seq "
     "LIMIT $3"},
    {"fills_of_order",
     "SELECT " FILL_COLS " FROM fills WHERE account = $1 AND order_id = $2 "
     "ORDER BY at, execution_id"},
    {"alerts_list",
     "SELECT " ALERT_COLS " FROM alerts WHERE account = $1 AND (NOT $2::boolean OR cleared_at "
     "IS NULL) ORDER BY id DESC LIMIT $3"},
};

// Positions of the fixed statements framing a batch.
constexpr std::size_t kRecordIndex = 1;  // commit_record, right after BEGIN

// ---- values to and from text -------------------------------------------------------------------

std::string i64(std::int64_t v) { return std::to_string(v); }
Param opt_dec(const std::optional<Decimal>& d) { return d ? Param(d->str()) : std::nullopt; }
Param opt_ts(const std::optional<Timestamp>& t) { return t ? Param(i64(t->ns)) : std::nullopt; }
Param opt_i64(const std::optional<std::int64_t>& v) { return v ? Param(i64(*v)) : std::nullopt; }
std::string boolean(bool b) { return b ? "t" : "f"; }

// Reads one row column by column; remembers the first bad value (a corrupt row is reported,
// never guessed at).
class Reader {
 public:
  explicit Reader(const Row& row) : row_(row) {}
  const std::string& error() const { return error_; }

  bool is_null(std::size_t i) const { return !row_.at(i).has_value(); }
  std::string text(std::size_t i) { return row_.at(i).value_or(""); }
  std::int64_t int64(std::size_t i) {
    const std::string s = text(i);
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) bad(i, s);
    return v;
  }
  std::optional<std::int64_t> opt_int64(std::size_t i) {
    return is_null(i) ? std::nullopt : std::optional(int64(i));
  }
  Decimal decimal(std::size_t i) {
    const std::string s = text(i);
    auto d = Decimal::parse(s);
    if (!d) bad(i, s);
    return d.value_or(Decimal());
  }
  std::optional<Decimal> opt_decimal(std::size_t i) {
    return is_null(i) ? std::nullopt : std::optional(decimal(i));
  }
  Timestamp ts(std::size_t i) { return Timestamp{int64(i)}; }
  std::optional<Timestamp> opt_ts(std::size_t i) {
    return is_null(i) ? std::nullopt : std::optional(ts(i));
  }
  bool boolean(std::size_t i) { return text(i) == "t"; }
  template <typename E, typename ParseFn>
  E enumeration(std::size_t i, ParseFn parse) {
    const std::string s = text(i);
    auto v = parse(s);
    if (!v) {
      bad(i, s);
      return E{};
    }
    return *v;
  }

 private:
  void bad(std::size_t i, const std::string& s) {
    if (error_.empty()) error_ = "column " + std::to_string(i) + " holds '" + s + "'";
  }
  const Row& row_;
  std::string error_;
};

Status corrupt(const char* what, const std::string& detail) {
  return Status::error(Status::Code::corruption,
                       std::string("PostgreSQL store: unreadable ") + what + " row: " + detail);
}

StatusOr<Order> read_order(const Row& row) {
  Reader r(row);
  Order o;
  o.id = r.int64(0);
  o.trade_id = r.int64(1);
  o.role = r.enumeration<OrderRole>(2, parse_order_role);
  o.client_order_id = r.text(3);
  if (!r.is_null(4)) o.broker_order_id = r.text(4);
  o.symbol = r.text(5);
  o.side = r.enumeration<Side>(6, parse_side);
  o.type = r.enumeration<OrderType>(7, parse_order_type);
  o.tif = r.enumeration<TimeInForce>(8, parse_time_in_force);
  o.order_class = r.enumeration<OrderClass>(9, parse_order_class);
  o.qty = r.decimal(10);
  o.limit_price = r.opt_decimal(11);
  o.stop_price = r.opt_decimal(12);
  o.parent_order_id = r.opt_int64(13);
  o.replaces_order_id = r.opt_int64(14);
  o.state = r.enumeration<OrderState>(15, parse_order_state);
  o.filled_qty = r.decimal(16);
  o.filled_avg_price = r.opt_decimal(17);
  o.broker_updated_at = r.opt_ts(18);
  o.attempts = static_cast<int>(r.int64(19));
  o.next_attempt_at = r.opt_ts(20);
  o.last_error = r.text(21);
  o.created_at = r.ts(22);
  o.updated_at = r.ts(23);
  o.version = r.int64(24);
  o.notional = r.opt_decimal(25);
  o.trail_price = r.opt_decimal(26);
  o.trail_percent = r.opt_decimal(27);
  o.extended_hours = r.boolean(28);
  if (!r.error().empty()) return corrupt("order", r.error());
  return o;
}

std::vector<Param> order_params(const std::string& account, const Order& o) {
  return {account,
          i64(o.id),
          i64(o.trade_id),
          std::string(to_string(o.role)),
          o.client_order_id,
          o.broker_order_id,
          o.symbol,
          std::string(to_string(o.side)),
          std::string(to_string(o.type)),
          std::string(to_string(o.tif)),
          std::string(to_string(o.order_class)),
          o.qty.str(),
          opt_dec(o.limit_price),
          opt_dec(o.stop_price),
          opt_i64(o.parent_order_id),
          opt_i64(o.replaces_order_id),
          std::string(to_string(o.state)),
          o.filled_qty.str(),
          opt_dec(o.filled_avg_price),
          opt_ts(o.broker_updated_at),
          i64(o.attempts),
          opt_ts(o.next_attempt_at),
          o.last_error,
          i64(o.created_at.ns),
          i64(o.updated_at.ns),
          i64(o.version),
          opt_dec(o.notional),
          opt_dec(o.trail_price),
          opt_dec(o.trail_percent),
          boolean(o.extended_hours),
          boolean(!is_terminal(o.state))};
}

StatusOr<Trade> read_trade(const Row& row) {
  Reader r(row);
  Trade t;
  t.id = r.int64(0);
  t.spec.symbol = r.text(1);
  t.spec.side = r.enumeration<Side>(2, parse_side);
  t.spec.qty = r.decimal(3);
  t.spec.entry_type = r.enumeration<OrderType>(4, parse_order_type);
  t.spec.entry_limit_price = r.opt_decimal(5);
  t.spec.tif = r.enumeration<TimeInForce>(6, parse_time_in_force);
  t.spec.take_profit.price = r.opt_decimal(7);
  t.spec.take_profit.percent = r.opt_decimal(8);
  if (r.boolean(9)) t.spec.stop_loss = PriceTarget{r.opt_decimal(10), r.opt_decimal(11)};
  t.spec.exits = r.enumeration<ExitMode>(12, parse_exit_mode);
  t.state = r.enumeration<TradeState>(13, parse_trade_state);
  t.note = r.text(14);
  t.created_at = r.ts(15);
  t.updated_at = r.ts(16);
  t.spec.client_trade_id = r.text(17);  // NULL: none
  t.spec.notional = r.opt_decimal(18);
  t.spec.entry_stop_price = r.opt_decimal(19);
  t.spec.extended_hours = r.boolean(20);
  if (t.spec.stop_loss) {
    t.spec.stop_loss->trail_percent = r.opt_decimal(21);
    t.spec.stop_loss->trail_price = r.opt_decimal(22);
  }
  t.spec.price_increment = r.opt_decimal(23);
  if (!r.error().empty()) return corrupt("trade", r.error());
  return t;
}

std::vector<Param> trade_params(const std::string& account, const Trade& t) {
  const auto& s = t.spec;
  return {account,
          i64(t.id),
          s.symbol,
          std::string(to_string(s.side)),
          s.qty.str(),
          std::string(to_string(s.entry_type)),
          opt_dec(s.entry_limit_price),
          std::string(to_string(s.tif)),
          opt_dec(s.take_profit.price),
          opt_dec(s.take_profit.percent),
          boolean(s.stop_loss.has_value()),
          s.stop_loss ? opt_dec(s.stop_loss->price) : std::nullopt,
          s.stop_loss ? opt_dec(s.stop_loss->percent) : std::nullopt,
          std::string(to_string(s.exits)),
          std::string(to_string(t.state)),
          t.note,
          i64(t.created_at.ns),
          i64(t.updated_at.ns),
          s.client_trade_id.empty() ? Param() : Param(s.client_trade_id),
          opt_dec(s.notional),
          opt_dec(s.entry_stop_price),
          boolean(s.extended_hours),
          s.stop_loss ? opt_dec(s.stop_loss->trail_percent) : std::nullopt,
          s.stop_loss ? opt_dec(s.stop_loss->trail_price) : std::nullopt,
          opt_dec(s.price_increment),
          boolean(!is_terminal(t.state))};
}

StatusOr<OrderEvent> read_event(const Row& row) {
  Reader r(row);
  OrderEvent e;
  e.seq = r.int64(0);
  e.order_id = r.int64(1);
  e.at = r.ts(2);
  e.source = r.enumeration<EventSource>(3, parse_event_source);
  if (!r.is_null(4)) e.from = r.enumeration<OrderState>(4, parse_order_state);
  e.to = r.enumeration<OrderState>(5, parse_order_state);
  e.filled_qty = r.decimal(6);
  e.payload = r.text(7);
  e.note = r.text(8);
  if (!r.error().empty()) return corrupt("order_events", r.error());
  return e;
}

StatusOr<Fill> read_fill(const Row& row) {
  Reader r(row);
  Fill f;
  f.execution_id = r.text(0);
  f.order_id = r.int64(1);
  f.symbol = r.text(2);
  f.side = r.enumeration<Side>(3, parse_side);
  f.qty = r.decimal(4);
  f.price = r.decimal(5);
  f.at = r.ts(6);
  if (!r.error().empty()) return corrupt("fills", r.error());
  return f;
}

StatusOr<Alert> read_alert(const Row& row) {
  Reader r(row);
  Alert a;
  a.id = r.int64(0);
  a.kind = r.enumeration<AlertKind>(1, parse_alert_kind);
  a.subject = r.text(2);
  a.message = r.text(3);
  a.raised_at = r.ts(4);
  a.cleared_at = r.opt_ts(5);
  if (!r.error().empty()) return corrupt("alerts", r.error());
  return a;
}

StatusOr<Position> read_position(const Row& row) {
  Reader r(row);
  Position p;
  p.symbol = r.text(0);
  p.qty = r.decimal(1);
  p.avg_entry_price = r.decimal(2);
  if (!r.error().empty()) return corrupt("positions", r.error());
  return p;
}

template <typename T, typename ReadFn>
StatusOr<std::vector<T>> read_all(const Rows& rows, ReadFn read) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (const Row& row : rows) {
    auto v = read(row);
    if (!v.ok()) return v.status();
    out.push_back(std::move(v.value()));
  }
  return out;
}

template <typename T, typename ReadFn>
StatusOr<std::optional<T>> read_one(const Rows& rows, ReadFn read) {
  if (rows.empty()) return std::optional<T>();
  auto v = read(rows.front());
  if (!v.ok()) return v.status();
  return std::optional<T>(std::move(v.value()));
}

// A PostgreSQL array literal ({"a","b",NULL}): every element quoted, so any text is exact.
std::string array_literal(const std::vector<std::vector<Param>>& rows, std::size_t column) {
  std::string out = "{";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (r > 0) out += ',';
    const Param& p = rows[r][column];
    if (!p) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *p) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

// {account, column 1 as an array, column 2 as an array, ...}, from rows whose first `skip`
// values are not columns (the account).
std::vector<Param> columns_of(const std::string& account, const std::vector<std::vector<Param>>& rows,
                              std::size_t skip) {
  std::vector<Param> params{account};
  const std::size_t width = rows.front().size();
  for (std::size_t c = skip; c < width; ++c) params.push_back(array_literal(rows, c));
  return params;
}

Status check_page(int limit, int offset) {
  if (limit < 0 || offset < 0) {
    return Status::error(Status::Code::invalid_argument,
                         "limit and offset must not be negative (limit " + std::to_string(limit) +
                             ", offset " + std::to_string(offset) + ")");
  }
  return Status::success();
}

std::string random_hex(std::mt19937_64& rng) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

std::mt19937_64 seeded_rng() {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd()};
  return std::mt19937_64(seq);
}

}  // namespace

// ---- the store -------------------------------------------------------------------------------------

struct PostgresStore::Impl {
  std::string url;
  std::string account;
  PostgresStoreOptions options;
  std::unique_ptr<pg::Connection> conn;
  std::shared_ptr<const AccountLease> lease;
  PostgresStoreStats stats;
  PostgresFault fault = PostgresFault::none;
  std::mt19937_64 rng = seeded_rng();
  bool outage_reported = false;
  // A batch whose outcome stayed unknown when a commit gave up: settled before the next write.
  struct Pending {
    std::string batch_id;
    std::vector<Stmt> body;
  };
  std::optional<Pending> pending;
  mutable std::mutex mu;

  using Clock = std::chrono::steady_clock;

  void report(const Status& s) {
    if (options.on_error) {
      options.on_error(s);
    } else if (!outage_reported) {
      store_log(true, s.to_string() + "; retrying");
    }
    outage_reported = true;
  }

  Status connect_once() {
    auto c = pg::Connection::open(url);
    if (!c.ok()) return c.status();
    if (Status s = c.value()->prepare(kStatements); !s) return s;
    const bool was_connected = conn != nullptr;
    conn = std::move(c.value());
    if (was_connected) ++stats.reconnects;
    if (outage_reported && !options.on_error) {
      store_log(false, "PostgreSQL connection restored");
    }
    outage_reported = false;
    return Status::success();
  }

  // Connected, or unavailable once `deadline` has passed; other errors (authentication) at once.
  Status ensure_connected(Clock::time_point deadline) {
    std::int64_t backoff_ms = 50;
    for (;;) {
      if (conn && !conn->broken()) return Status::success();
      Status s = connect_once();
      if (s) return s;
      if (s.code() != Status::Code::unavailable) return s;
      report(s);
      if (Clock::now() >= deadline) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, options.reconnect_backoff_max_ms);
    }
  }

  Clock::time_point deadline() const {
    return Clock::now() + std::chrono::milliseconds(options.reconnect_window_ms);
  }

  // Reads are idempotent: after a connection loss they are simply run again.
  StatusOr<Rows> read(const char* name, const std::vector<Param>& params) {
    const auto until = deadline();
    for (;;) {
      if (Status s = ensure_connected(until); !s) return s;
      auto rows = conn->query(name, params);
      if (rows.ok() || !conn->broken()) return rows;
      report(rows.status());
    }
  }

  std::vector<Stmt> body_of(const WriteBatch& b) const {
    std::vector<Stmt> body;
    const std::string& a = account;
    if (!b.events.empty()) body.push_back({"seq_reserve", {a, i64(std::ssize(b.events))}});
    for (const Trade& t : b.trades) body.push_back({"trade_upsert", trade_params(a, t)});
    if (!b.orders.empty()) {
      // Upsert by id, the last one in the batch winning (as one-by-one upserts would);
      // a single multi-row upsert may not touch a row twice.
      std::map<OrderId, std::size_t> last;
      for (std::size_t i = 0; i < b.orders.size(); ++i) last[b.orders[i].id] = i;
      std::vector<std::vector<Param>> rows;
      for (std::size_t i = 0; i < b.orders.size(); ++i) {
        if (last[b.orders[i].id] == i) rows.push_back(order_params(a, b.orders[i]));
      }
      body.push_back({"orders_upsert", columns_of(a, rows, 1)});
    }
    if (!b.events.empty()) {
      std::vector<std::vector<Param>> rows;
      for (const OrderEvent& e : b.events) {
        rows.push_back({i64(e.order_id), i64(e.at.ns), std::string(to_string(e.source)),
                        e.from ? Param(std::string(to_string(*e.from))) : std::nullopt,
                        std::string(to_string(e.to)), e.filled_qty.str(), e.payload, e.note});
      }
      std::vector<Param> params = columns_of(a, rows, 0);
      params.insert(params.begin() + 1, i64(std::ssize(b.events)));
      body.push_back({"events_insert", std::move(params)});
    }
    for (const Fill& f : b.fills) {
      body.push_back({"fill_insert",
                      {a, f.execution_id, i64(f.order_id), f.symbol,
                       std::string(to_string(f.side)), f.qty.str(), f.price.str(),
                       i64(f.at.ns)}});
    }
    for (const Position& p : b.positions) {
      body.push_back({"position_upsert", {a, p.symbol, p.qty.str(), p.avg_entry_price.str()}});
    }
    for (const Alert& al : b.alerts) {
      body.push_back({"alert_upsert",
                      {a, i64(al.id), std::string(to_string(al.kind)), al.subject, al.message,
                       i64(al.raised_at.ns), opt_ts(al.cleared_at)}});
    }
    for (const auto& [k, v] : b.sync_state) body.push_back({"sync_upsert", {a, k, v}});
    return body;
  }

  std::vector<Stmt> frame(const std::string& batch_id, const std::vector<Stmt>& body) const {
    std::vector<Stmt> stmts;
    stmts.reserve(body.size() + 4);
    stmts.push_back({"begin", {}});
    stmts.push_back({"commit_record", {account, batch_id}});
    stmts.push_back({"fence", {account, lease ? Param(i64(lease->token())) : std::nullopt}});
    stmts.insert(stmts.end(), body.begin(), body.end());
    stmts.push_back({"commit", {}});
    return stmts;
  }

  StatusOr<bool> batch_committed(const std::string& batch_id) {
    auto rows = conn->query("commit_find", {account, batch_id});
    if (!rows.ok()) return rows.status();
    return !rows.value().empty();
  }

  // An earlier batch whose outcome stayed unknown: claim its id so that it can never commit
  // late (a still-running transaction makes this wait for it, then collide).
  Status settle_pending(Clock::time_point until) {
    for (;;) {
      if (Status s = ensure_connected(until); !s) return s;
      std::string sqlstate;
      auto rows = conn->query("commit_record", {account, pending->batch_id}, &sqlstate);
      if (rows.ok()) {
        ++stats.verified_absent;
        pending.reset();
        return Status::success();
      }
      if (sqlstate == pg::kUniqueViolation) {
        ++stats.verified_committed;
        pending.reset();
        return Status::success();
      }
      if (!conn->broken()) return rows.status();
      report(rows.status());
    }
  }

  Status commit(const WriteBatch& batch) {
    if (lease && !lease->held()) {
      return Status::error(Status::Code::conflict,
                           "account " + account + ": lease (token " + i64(lease->token()) +
                               ") is not held; refusing to write");
    }
    if (batch.empty()) return Status::success();
    const auto until = deadline();
    std::vector<Stmt> body = body_of(batch);
    if (Status s = refuse_nul_bytes(body); !s) return s;
    std::string batch_id;
    bool sent = false;  // sent at least once: the outcome must be verified before a resend
    if (pending && pending->body == body) {
      batch_id = pending->batch_id;  // the caller retries the batch whose outcome was unknown
      sent = true;
    } else {
      if (pending) {
        if (Status s = settle_pending(until); !s) return s;
      }
      batch_id = random_hex(rng);
    }
    const std::vector<Stmt> stmts = frame(batch_id, body);

    for (;;) {
      if (Status s = ensure_connected(until); !s) {
        if (sent) {
          pending = Pending{batch_id, std::move(body)};
          return Status::error(
              s.code(), "commit outcome unknown (batch " + batch_id + "): " + s.message() +
                            "; it is verified before anything else is written");
        }
        return s;
      }
      if (sent) {
        auto committed = batch_committed(batch_id);
        if (!committed.ok()) {
          report(committed.status());
          continue;
        }
        if (committed.value()) {
          ++stats.verified_committed;
          pending.reset();
          return Status::success();
        }
        ++stats.verified_absent;
      }
      if (fault == PostgresFault::before_send) {
        fault = PostgresFault::none;
        conn->sever();
      }
      pg::PipelineOutcome out = conn->pipeline(stmts);
      sent = true;
      if (out.kind == pg::PipelineOutcome::Kind::ok && fault == PostgresFault::after_commit) {
        fault = PostgresFault::none;
        conn->sever();
        out.kind = pg::PipelineOutcome::Kind::connection_lost;
        out.message = "connection severed after COMMIT (test fault)";
      }
      switch (out.kind) {
        case pg::PipelineOutcome::Kind::ok:
          ++stats.commits;
          pending.reset();
          return Status::success();
        case pg::PipelineOutcome::Kind::connection_lost:
          ++stats.unknown_outcomes;
          report(Status::error(Status::Code::unavailable, out.message));
          continue;
        case pg::PipelineOutcome::Kind::sql_error:
          (void)conn->exec_constant("ROLLBACK");
          pending.reset();
          return sql_failure(out);
      }
    }
  }

  // libpq passes text as C strings: a NUL byte would silently cut the value short, and
  // PostgreSQL text cannot hold one anyway.
  static Status refuse_nul_bytes(const std::vector<Stmt>& body) {
    for (const Stmt& st : body) {
      for (const Param& p : st.params) {
        if (p && p->find('\0') != std::string::npos) {
          return Status::error(Status::Code::invalid_argument,
                               std::string("batch refused, nothing written: a text value for ") +
                                   st.name + " contains a NUL byte");
        }
      }
    }
    return Status::success();
  }

  Status sql_failure(const pg::PipelineOutcome& out) {
    if (out.failed_index == kRecordIndex && out.sqlstate == pg::kUniqueViolation) {
      // A resend collided with its own earlier, committed attempt: that attempt is the commit.
      ++stats.verified_committed;
      return Status::success();
    }
    if (out.sqlstate == pg::kLeaseFenced) {
      return Status::error(Status::Code::conflict, "write refused by lease fencing: " + out.message);
    }
    if (out.sqlstate.starts_with("23")) {  // integrity: duplicate client_order_id, NULL seq ...
      return Status::error(Status::Code::conflict,
                           "batch refused, nothing written: " + out.message + " (SQLSTATE " +
                               out.sqlstate + ")");
    }
    if (out.sqlstate.starts_with("22")) {  // data: a value PostgreSQL cannot take
      return Status::error(Status::Code::invalid_argument,
                           "batch refused, nothing written: " + out.message + " (SQLSTATE " +
                               out.sqlstate + ")");
    }
    return Status::error(Status::Code::internal, "batch failed, nothing written: " +
                                                     out.message + " (SQLSTATE " + out.sqlstate +
                                                     ")");
  }
};

PostgresStore::PostgresStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresStore::~PostgresStore() = default;

StatusOr<std::unique_ptr<Store>> open_postgres_store(std::string_view url, std::string_view account,
                                                     PostgresStoreOptions options) {
  if (account.empty()) {
    return Status::error(Status::Code::invalid_argument, "PostgreSQL store: account is empty");
  }
  auto impl = std::make_unique<PostgresStore::Impl>();
  impl->url = std::string(url);
  impl->account = std::string(account);
  impl->options = std::move(options);
  {
    auto c = pg::Connection::open(impl->url);
    if (!c.ok()) return c.status();
    if (Status s = pg::migrate(*c.value()); !s) return s;
  }
  if (Status s = impl->connect_once(); !s) return s;
  const std::string tag = make_instance_tag(impl->rng());
  if (auto r = impl->conn->query("account_register", {impl->account, tag}); !r.ok()) {
    return r.status();
  }
  if (auto r = impl->conn->query("commits_prune", {impl->account}); !r.ok()) return r.status();
  return std::unique_ptr<Store>(new PostgresStore(std::move(impl)));
}

StatusOr<std::unique_ptr<Store>> open_postgres_store(std::string_view url,
                                                     std::string_view account) {
  return open_postgres_store(url, account, PostgresStoreOptions{});
}

Status PostgresStore::commit(const WriteBatch& batch) {
  std::lock_guard lock(impl_->mu);
  return impl_->commit(batch);
}

Status PostgresStore::bind_lease(std::shared_ptr<const AccountLease> lease) {
  std::lock_guard lock(impl_->mu);
  if (lease && lease->account() != impl_->account) {
    return Status::error(Status::Code::invalid_argument,
                         "lease is for account " + lease->account() + ", store for " +
                             impl_->account);
  }
  impl_->lease = std::move(lease);
  return Status::success();
}

PostgresStoreStats PostgresStore::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

void PostgresStore::inject_fault(PostgresFault fault) {
  std::lock_guard lock(impl_->mu);
  impl_->fault = fault;
}

StatusOr<LoadedState> PostgresStore::load() {
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  const std::vector<Param> acct{m.account};
  LoadedState st;
  auto tag = m.read("account_get", acct);
  if (!tag.ok()) return tag.status();
  if (tag.value().empty()) {
    return Status::error(Status::Code::corruption, "account " + m.account + " is not registered");
  }
  st.instance_tag = tag.value()[0][0].value_or("");

  auto trades = m.read("trades_open", acct);
  if (!trades.ok()) return trades.status();
  auto t = read_all<Trade>(trades.value(), read_trade);
  if (!t.ok()) return t.status();
  st.open_trades = std::move(t.value());

  auto orders = m.read("orders_open", acct);
  if (!orders.ok()) return orders.status();
  auto o = read_all<Order>(orders.value(), read_order);
  if (!o.ok()) return o.status();
  st.open_orders = std::move(o.value());

  auto pos = m.read("positions_all", acct);
  if (!pos.ok()) return pos.status();
  auto p = read_all<Position>(pos.value(), read_position);
  if (!p.ok()) return p.status();
  st.positions = std::move(p.value());

  auto alerts = m.read("alerts_active", acct);
  if (!alerts.ok()) return alerts.status();
  auto a = read_all<Alert>(alerts.value(), read_alert);
  if (!a.ok()) return a.status();
  st.active_alerts = std::move(a.value());

  auto sync = m.read("sync_all", acct);
  if (!sync.ok()) return sync.status();
  for (const Row& row : sync.value()) st.sync_state[row.at(0).value_or("")] = row.at(1).value_or("");

  auto maxima = m.read("maxima", acct);
  if (!maxima.ok()) return maxima.status();
  Reader r(maxima.value().at(0));
  st.max_trade_id = r.int64(0);
  st.max_order_id = r.int64(1);
  st.max_alert_id = r.int64(2);
  if (!r.error().empty()) return corrupt("maxima", r.error());
  return st;
}

StatusOr<std::optional<Order>> PostgresStore::get_order(OrderId id) {
  std::lock_guard lock(impl_->mu);
  auto rows = impl_->read("order_by_id", {impl_->account, i64(id)});
  if (!rows.ok()) return rows.status();
  return read_one<Order>(rows.value(), read_order);
}

StatusOr<std::optional<Order>> PostgresStore::find_order_by_client_id(std::string_view cid) {
  std::lock_guard lock(impl_->mu);
  auto rows = impl_->read("order_by_cid", {impl_->account, std::string(cid)});
  if (!rows.ok()) return rows.status();
  return read_one<Order>(rows.value(), read_order);
}

StatusOr<std::optional<Order>> PostgresStore::find_order_by_broker_id(std::string_view bid) {
  std::lock_guard lock(impl_->mu);
  auto rows = impl_->read("order_by_bid", {impl_->account, std::string(bid)});
  if (!rows.ok()) return rows.status();
  return read_one<Order>(rows.value(), read_order);
}

StatusOr<std::vector<Order>> PostgresStore::list_orders(const OrderFilter& f) {
  if (Status s = check_page(f.limit, f.offset); !s) return s;
  std::lock_guard lock(impl_->mu);
  auto rows = impl_->read(
      "orders_list",
      {impl_->account, f.state ? Param(std::string(to_string(*f.state))) : std::nullopt,
       f.symbol ? Param(*f.symbol) : std::nullopt, opt_i64(f.trade_id), boolean(f.open_only),
       i64(f.limit), i64(f.offset)});
  if (!rows.ok()) return rows.status();
  return read_all<Order>(rows.value(), read_order);
}

StatusOr<std::optional<Trade>> PostgresStore::get_trade(TradeId id) {
  std::lock_guard lock(impl_->mu);
  auto rows = impl_->read("trade_by_id", {impl_->account, i64(id)});
  if (!rows.ok()) return rows.status();
  return read_one<Trade>(rows.value(), read_trade);
}

StatusOr<std::optional<Trade>> PostgresStore::find_trade_by_client_id(std::string_view key) {
  std::lock_guard lock(impl_->mu);
  auto rows = impl_->read("trade_by_client_id", {impl_->account, std::string(key)});
  if (!rows.ok()) return rows.status();
  return read_one<Trade>(rows.value(), read_trade);
}

StatusOr<std::vector<Trade>> PostgresStore::list_trades(int limit, int offset) {
  if (Status s = check_page(limit, offset); !s) return s;
  std::lock_guard lock(impl_->mu);
  auto rows = impl_->read("trades_list", {impl_->account, i64(limit), i64(offset)});
  if (!rows.ok()) return rows.status();
  return read_all<Trade>(rows.value(), read_trade);
}

StatusOr<std::vector<OrderEvent>> PostgresStore::order_events(OrderId id) {
  std::lock_guard lock(impl_->mu);
  auto rows = impl_->read("events_of_order", {impl_->account, i64(id)});
  if (!rows.ok()) return rows.status();
  return read_all<OrderEvent>(rows.value(), read_event);
}

StatusOr<std::vector<OrderEvent>> PostgresStore::events_since(std::int64_t after_seq, int limit) {
  if (Status s = check_page(limit, 0); !s) return s;
  std::lock_guard lock(impl_->mu);
  auto rows = impl_->read("events_since", {impl_->account, i64(after_seq), i64(limit)});
  if (!rows.ok()) return rows.status();
  return read_all<OrderEvent>(rows.value(), read_event);
}

StatusOr<std::vector<Fill>> PostgresStore::fills_for(OrderId id) {
  std::lock_guard lock(impl_->mu);
  auto rows = impl_->read("fills_of_order", {impl_->account, i64(id)});
  if (!rows.ok()) return rows.status();
  return read_all<Fill>(rows.value(), read_fill);
}

StatusOr<std::vector<Alert>> PostgresStore::list_alerts(bool active_only, int limit) {
  if (Status s = check_page(limit, 0); !s) return s;
  std::lock_guard lock(impl_->mu);
  auto rows = impl_->read("alerts_list", {impl_->account, boolean(active_only), i64(limit)});
  if (!rows.ok()) return rows.status();
  return read_all<Alert>(rows.value(), read_alert);
}

StatusOr<std::vector<Position>> PostgresStore::positions() {
  std::lock_guard lock(impl_->mu);
  auto rows = impl_->read("positions_all", {impl_->account});
  if (!rows.ok()) return rows.status();
  return read_all<Position>(rows.value(), read_position);
}

}  // namespace orderly
