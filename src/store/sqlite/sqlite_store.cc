#include "store/sqlite/sqlite_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <unistd.h>
#include <random>
#include <unordered_map>
#include <utility>

#include "core/ids.h"
#include "core/order_state.h"
#include "core/types.h"

namespace orderly {
namespace {

using Code = Status::Code;

constexpr int kBusyTimeoutMs = 5000;
constexpr int kListLimitMax = 10000;  // bounded pages for every list call

// Migration i takes the schema from version i to i + 1. Decimals are TEXT (exact, printed as
// Alpaca sent them), times INTEGER nanoseconds. Every row carries its account. `is_open` mirrors
// "not terminal" so that partial indexes let load() read only open rows, whatever the history.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE trades (
  account TEXT NOT NULL,
  id INTEGER NOT NULL,
  symbol TEXT NOT NULL,
  side TEXT NOT NULL,
  qty TEXT NOT NULL,
  entry_type TEXT NOT NULL,
  entry_limit_price TEXT,
  tif TEXT NOT NULL,
  tp_price TEXT,
  tp_percent TEXT,
  has_stop_loss INTEGER NOT NULL,
  sl_price TEXT,
  sl_percent TEXT,
  exits TEXT NOT NULL,
  state TEXT NOT NULL,
  is_open INTEGER NOT NULL,
  note TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (account, id)
);
CREATE INDEX trades_open ON trades (account, id) WHERE is_open = 1;

CREATE TABLE orders (
  account TEXT NOT NULL,
  id INTEGER NOT NULL,
  trade_id INTEGER NOT NULL,
  role TEXT NOT NULL,
  client_order_id TEXT NOT NULL,
  broker_order_id TEXT,
  symbol TEXT NOT NULL,
  side TEXT NOT NULL,
  type TEXT NOT NULL,
  tif TEXT NOT NULL,
  order_class TEXT NOT NULL,
  qty TEXT NOT NULL,
  limit_price TEXT,
  stop_price TEXT,
  parent_order_id INTEGER,
  replaces_order_id INTEGER,
  state TEXT NOT NULL,
  is_open INTEGER NOT NULL,
  filled_qty TEXT NOT NULL,
  filled_avg_price TEXT,
  broker_updated_at INTEGER,
  attempts INTEGER NOT NULL,
  next_attempt_at INTEGER,
  last_error TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (account, id),
  UNIQUE (account, client_order_id)
);
CREATE UNIQUE INDEX orders_broker_id ON orders (account, broker_order_id)
  WHERE broker_order_id IS NOT NULL;
CREATE INDEX orders_open ON orders (account, id) WHERE is_open = 1;
CREATE INDEX orders_trade ON orders (account, trade_id);

-- Append-only audit log. seq is the rowid: assigned at commit, and gap-free because rows are
-- never deleted (the triggers refuse it) and a rolled-back batch leaves no row behind.
CREATE TABLE order_events (
  seq INTEGER PRIMARY KEY,
  account TEXT NOT NULL,
  order_id INTEGER NOT NULL,
  at INTEGER NOT NULL,
  source TEXT NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  filled_qty TEXT NOT NULL,
  payload TEXT NOT NULL,
  note TEXT NOT NULL,
  FOREIGN KEY (account, order_id) REFERENCES orders (account, id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX order_events_order ON order_events (account, order_id, seq);
CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events
  BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;
CREATE TRIGGER order_events_no_delete BEFORE DELETE ON order_events
  BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;

CREATE TABLE fills (
  account TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  order_id INTEGER NOT NULL,
  symbol TEXT NOT NULL,
  side TEXT NOT NULL,
  qty TEXT NOT NULL,
  price TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (account, execution_id)
);
CREATE INDEX fills_order ON fills (account, order_id);

CREATE TABLE positions (
  account TEXT NOT NULL,
  symbol TEXT NOT NULL,
  qty TEXT NOT NULL,
  avg_entry_price TEXT NOT NULL,
  PRIMARY KEY (account, symbol)
) WITHOUT ROWID;

CREATE TABLE alerts (
  account TEXT NOT NULL,
  id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  message TEXT NOT NULL,
  raised_at INTEGER NOT NULL,
  cleared_at INTEGER,
  PRIMARY KEY (account, id)
);
CREATE INDEX alerts_active ON alerts (account, id) WHERE cleared_at IS NULL;

CREATE TABLE sync_state (
  account TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (account, key)
) WITHOUT ROWID;
)sql",
    // 2: the caller's key of a trade (POST /api/trades client_trade_id). Unique per account, so
    // that a retried request can never record a second trade under the same key.
    R"sql(
ALTER TABLE trades ADD COLUMN client_trade_id TEXT;
CREATE UNIQUE INDEX trades_client_trade_id ON trades (account, client_trade_id)
  WHERE client_trade_id IS NOT NULL;
)sql",
    // 3: the trades Alpaca users place (issue 17): notional and stop entries, extended hours,
    // trailing stop-losses; on orders the fields Alpaca's request carries for them.
    R"sql(
ALTER TABLE trades ADD COLUMN notional TEXT;
ALTER TABLE trades ADD COLUMN entry_stop_price TEXT;
ALTER TABLE trades ADD COLUMN extended_hours INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trades ADD COLUMN sl_trail_percent TEXT;
ALTER TABLE trades ADD COLUMN sl_trail_price TEXT;
ALTER TABLE orders ADD COLUMN notional TEXT;
ALTER TABLE orders ADD COLUMN trail_price TEXT;
ALTER TABLE orders ADD COLUMN trail_percent TEXT;
ALTER TABLE orders ADD COLUMN extended_hours INTEGER NOT NULL DEFAULT 0;
)sql",
    // 4: a crypto pair's price_increment, kept with its trade (issue 17) so that a percent exit
    // resolved at the fill, after a restart too, is on it. NULL: not known (the cent's rule).
    R"sql(
ALTER TABLE trades ADD COLUMN price_increment TEXT;
)sql",
};
static_assert(std::size(kMigrations) == SqliteStore::kSchemaVersion);

// ---- column lists: the INSERT and SELECT statements are generated from these, so the bind
// order and the read order cannot drift apart.

constexpr const char* kTradeColumns[] = {
    "id", "symbol", "side", "qty", "entry_type", "entry_limit_price", "tif", "tp_price",
    "tp_percent", "has_stop_loss", "sl_price", "sl_percent", "exits", "state", "is_open", "note",
    "created_at", "updated_at", "client_trade_id", "notional", "entry_stop_price",
    "extended_hours", "sl_trail_percent", "sl_trail_price", "price_increment"};
constexpr const char* kOrderColumns[] = {
    "id", "trade_id", "role", "client_order_id", "broker_order_id", "symbol", "side", "type",
    "tif", "order_class", "qty", "limit_price", "stop_price", "parent_order_id",
    "replaces_order_id", "state", "is_open", "filled_qty", "filled_avg_price",
    "broker_updated_at", "attempts", "next_attempt_at", "last_error", "created_at", "updated_at",
    "version", "notional", "trail_price", "trail_percent", "extended_hours"};
constexpr const char* kEventColumns[] = {"seq", "order_id", "at", "source", "from_state",
                                         "to_state", "filled_qty", "payload", "note"};
constexpr const char* kFillColumns[] = {"execution_id", "order_id", "symbol", "side",
                                        "qty", "price", "at"};
constexpr const char* kAlertColumns[] = {"id", "kind", "subject", "message", "raised_at",
                                         "cleared_at"};

// "SELECT c1, c2 FROM table " (or "SELECT p.c1, p.c2 " with a table prefix, FROM left out).
template <std::size_t N>
std::string select_sql(const char* const (&cols)[N], std::string_view table,
                       std::string_view prefix = {}) {
  std::string s = "SELECT ";
  for (std::size_t i = 0; i < N; ++i) {
    s += fmt::format("{}{}{}{}", i ? ", " : "", prefix, prefix.empty() ? "" : ".", cols[i]);
  }
  return prefix.empty() ? s + fmt::format(" FROM {} ", table) : s + " ";
}

// INSERT ... ON CONFLICT (account, <key>) DO UPDATE every other column. `keep` columns keep their
// stored value when the new one is NULL (a broker_order_id, once learned, is never cleared).
template <std::size_t N>
std::string upsert_sql(const char* const (&cols)[N], std::string_view table,
                       std::string_view key, std::string_view keep = {}) {
  std::string names = "account", params = "?1", sets;
  for (std::size_t i = 0; i < N; ++i) {
    names += fmt::format(", {}", cols[i]);
    params += fmt::format(", ?{}", i + 2);
    if (cols[i] == key) continue;
    if (!sets.empty()) sets += ", ";
    if (cols[i] == keep) {
      sets += fmt::format("{0} = COALESCE(excluded.{0}, {1}.{0})", cols[i], table);
    } else {
      sets += fmt::format("{0} = excluded.{0}", cols[i]);
    }
  }
  return fmt::format("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (account, {}) DO UPDATE SET {}",
                     table, names, params, key, sets);
}

constexpr int kQuickCheckErrors = 5;  // quick_check stops after this many findings
constexpr const char* kRestoreHint =
    "the database file is corrupt; stop orderly and restore it from a backup, or salvage what is "
    "readable with `sqlite3 DAMAGED.db .recover | sqlite3 NEW.db` and point [store] url at "
    "NEW.db (then run `orderly reconcile` against the broker)";

std::string hint_for(int primary) {
  switch (primary) {
    case SQLITE_NOTADB: return "the file is not an SQLite database (a foreign or encrypted file?)";
    case SQLITE_CORRUPT: return kRestoreHint;
    case SQLITE_FULL: return "no space left on the device";
    case SQLITE_READONLY:
    case SQLITE_PERM: return "the database file or its directory is read-only";
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return "another process holds the database lock";
    default: return {};
  }
}

// ---- binding and reading -----------------------------------------------------------------------

class Binder {
 public:
  explicit Binder(sqlite3_stmt* s) : s_(s) {}
  Binder& text(std::string_view v) {
    sqlite3_bind_text(s_, ++i_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Binder& i64(std::int64_t v) {
    sqlite3_bind_int64(s_, ++i_, v);
    return *this;
  }
  Binder& null() {
    sqlite3_bind_null(s_, ++i_);
    return *this;
  }
  Binder& dec(Decimal d) { return text(d.str()); }
  Binder& ts(Timestamp t) { return i64(t.ns); }
  Binder& opt_text(const std::optional<std::string>& v) { return v ? text(*v) : null(); }
  Binder& opt_dec(const std::optional<Decimal>& v) { return v ? dec(*v) : null(); }
  Binder& opt_i64(const std::optional<std::int64_t>& v) { return v ? i64(*v) : null(); }
  Binder& opt_ts(const std::optional<Timestamp>& v) { return v ? ts(*v) : null(); }

 private:
  sqlite3_stmt* s_;
  int i_ = 0;
};

// Reads columns left to right; the first unreadable value (a row written by something else, or
// a damaged file) is remembered and turned into a corruption Status naming the column.
class Reader {
 public:
  Reader(sqlite3_stmt* s, std::string_view table) : s_(s), table_(table) {}
  bool is_null() const { return sqlite3_column_type(s_, i_) == SQLITE_NULL; }
  std::int64_t i64() { return sqlite3_column_int64(s_, i_++); }
  std::string text() {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, i_));
    const int n = sqlite3_column_bytes(s_, i_++);
    return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
  }
  Timestamp ts() { return Timestamp{i64()}; }
  Decimal dec() {
    const std::string s = text();
    auto d = Decimal::parse(s);
    if (!d) fail(fmt::format("'{}' is not a decimal", s));
    return d.value_or(Decimal());
  }
  template <typename E>
  E en(std::optional<E> (*parse)(std::string_view)) {
    const std::string s = text();
    auto v = parse(s);
    if (!v) fail(fmt::format("unknown value '{}'", s));
    return v.value_or(E{});
  }
  std::optional<std::string> opt_text() { return skip_null() ? std::nullopt : std::optional(text()); }
  std::optional<Decimal> opt_dec() { return skip_null() ? std::nullopt : std::optional(dec()); }
  std::optional<std::int64_t> opt_i64() { return skip_null() ? std::nullopt : std::optional(i64()); }
  std::optional<Timestamp> opt_ts() { return skip_null() ? std::nullopt : std::optional(ts()); }
  const std::string& error() const { return error_; }

 private:
  bool skip_null() {
    if (!is_null()) return false;
    ++i_;
    return true;
  }
  void fail(std::string why) {
    if (error_.empty()) {
      error_ = fmt::format("{}.{}: {}", table_, sqlite3_column_name(s_, i_ - 1), why);
    }
  }
  sqlite3_stmt* s_;
  std::string_view table_;
  int i_ = 0;
  std::string error_;
};

void bind_trade(Binder& b, const Trade& t) {
  const TradeSpec& s = t.spec;
  b.i64(t.id).text(s.symbol).text(to_string(s.side)).dec(s.qty).text(to_string(s.entry_type));
  b.opt_dec(s.entry_limit_price).text(to_string(s.tif));
  b.opt_dec(s.take_profit.price).opt_dec(s.take_profit.percent);
  b.i64(s.stop_loss ? 1 : 0);
  b.opt_dec(s.stop_loss ? s.stop_loss->price : std::nullopt);
  b.opt_dec(s.stop_loss ? s.stop_loss->percent : std::nullopt);
  b.text(to_string(s.exits)).text(to_string(t.state)).i64(is_terminal(t.state) ? 0 : 1);
  b.text(t.note).ts(t.created_at).ts(t.updated_at);
  b.opt_text(s.client_trade_id.empty() ? std::nullopt : std::optional(s.client_trade_id));
  b.opt_dec(s.notional).opt_dec(s.entry_stop_price).i64(s.extended_hours ? 1 : 0);
  b.opt_dec(s.stop_loss ? s.stop_loss->trail_percent : std::nullopt);
  b.opt_dec(s.stop_loss ? s.stop_loss->trail_price : std::nullopt);
  b.opt_dec(s.price_increment);
}

Trade read_trade(Reader& r) {
  Trade t;
  TradeSpec& s = t.spec;
  t.id = r.i64();
  s.symbol = r.text();
  s.side = r.en(parse_side);
  s.qty = r.dec();
  s.entry_type = r.en(parse_order_type);
  s.entry_limit_price = r.opt_dec();
  s.tif = r.en(parse_time_in_force);
  s.take_profit.price = r.opt_dec();
  s.take_profit.percent = r.opt_dec();
  const bool has_sl = r.i64() != 0;
  auto sl_price = r.opt_dec();
  auto sl_percent = r.opt_dec();
  if (has_sl) s.stop_loss = PriceTarget{sl_price, sl_percent};
  s.exits = r.en(parse_exit_mode);
  t.state = r.en(parse_trade_state);
  r.i64();  // is_open
  t.note = r.text();
  t.created_at = r.ts();
  t.updated_at = r.ts();
  s.client_trade_id = r.opt_text().value_or("");
  s.notional = r.opt_dec();
  s.entry_stop_price = r.opt_dec();
  s.extended_hours = r.i64() != 0;
  auto trail_percent = r.opt_dec();
  auto trail_price = r.opt_dec();
  if (s.stop_loss) {
    s.stop_loss->trail_percent = trail_percent;
    s.stop_loss->trail_price = trail_price;
  }
  s.price_increment = r.opt_dec();
  return t;
}

void bind_order(Binder& b, const Order& o) {
  b.i64(o.id).i64(o.trade_id).text(to_string(o.role)).text(o.client_order_id);
  b.opt_text(o.broker_order_id).text(o.symbol).text(to_string(o.side)).text(to_string(o.type));
  b.text(to_string(o.tif)).text(to_string(o.order_class)).dec(o.qty);
  b.opt_dec(o.limit_price).opt_dec(o.stop_price).opt_i64(o.parent_order_id);
  b.opt_i64(o.replaces_order_id).text(to_string(o.state)).i64(is_terminal(o.state) ? 0 : 1);
  b.dec(o.filled_qty).opt_dec(o.filled_avg_price).opt_ts(o.broker_updated_at);
  b.i64(o.attempts).opt_ts(o.next_attempt_at).text(o.last_error);
  b.ts(o.created_at).ts(o.updated_at).i64(o.version);
  b.opt_dec(o.notional).opt_dec(o.trail_price).opt_dec(o.trail_percent);
  b.i64(o.extended_hours ? 1 : 0);
}

Order read_order(Reader& r) {
  Order o;
  o.id = r.i64();
  o.trade_id = r.i64();
  o.role = r.en(parse_order_role);
  o.client_order_id = r.text();
  o.broker_order_id = r.opt_text();
  o.symbol = r.text();
  o.side = r.en(parse_side);
  o.type = r.en(parse_order_type);
  o.tif = r.en(parse_time_in_force);
  o.order_class = r.en(parse_order_class);
  o.qty = r.dec();
  o.limit_price = r.opt_dec();
  o.stop_price = r.opt_dec();
  o.parent_order_id = r.opt_i64();
  o.replaces_order_id = r.opt_i64();
  o.state = r.en(parse_order_state);
  r.i64();  // is_open
  o.filled_qty = r.dec();
  o.filled_avg_price = r.opt_dec();
  o.broker_updated_at = r.opt_ts();
  o.attempts = static_cast<int>(r.i64());
  o.next_attempt_at = r.opt_ts();
  o.last_error = r.text();
  o.created_at = r.ts();
  o.updated_at = r.ts();
  o.version = r.i64();
  o.notional = r.opt_dec();
  o.trail_price = r.opt_dec();
  o.trail_percent = r.opt_dec();
  o.extended_hours = r.i64() != 0;
  return o;
}

OrderEvent read_event(Reader& r) {
  OrderEvent e;
  e.seq = r.i64();
  e.order_id = r.i64();
  e.at = r.ts();
  e.source = r.en(parse_event_source);
  if (r.is_null()) {
    r.opt_text();
  } else {
    e.from = r.en(parse_order_state);
  }
  e.to = r.en(parse_order_state);
  e.filled_qty = r.dec();
  e.payload = r.text();
  e.note = r.text();
  return e;
}

Fill read_fill(Reader& r) {
  Fill f;
  f.execution_id = r.text();
  f.order_id = r.i64();
  f.symbol = r.text();
  f.side = r.en(parse_side);
  f.qty = r.dec();
  f.price = r.dec();
  f.at = r.ts();
  return f;
}

Alert read_alert(Reader& r) {
  Alert a;
  a.id = r.i64();
  a.kind = r.en(parse_alert_kind);
  a.subject = r.text();
  a.message = r.text();
  a.raised_at = r.ts();
  a.cleared_at = r.opt_ts();
  return a;
}

Position read_position(Reader& r) {
  Position p;
  p.symbol = r.text();
  p.qty = r.dec();
  p.avg_entry_price = r.dec();
  return p;
}

int clamp_limit(int limit) { return std::clamp(limit, 0, kListLimitMax); }

// SQLite reports a read-only place as "unable to open database file" (it could not create the
// -wal/-shm files) with an errno that is often not the one that mattered; ask the filesystem.
bool not_writable(const std::string& path) {
  if (path.empty() || path == ":memory:") return false;
  const auto unwritable = [](const std::string& p) {
    return access(p.c_str(), W_OK) != 0 && (errno == EACCES || errno == EROFS || errno == EPERM);
  };
  if (access(path.c_str(), F_OK) == 0 && unwritable(path)) return true;
  const auto slash = path.rfind('/');
  return unwritable(slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash));
}

}  // namespace

// ---- the connection ----------------------------------------------------------------------------

struct SqliteStore::Impl {
  std::string label;  // "sqlite:PATH", in every error
  std::string path;
  std::string account;
  sqlite3* db = nullptr;
  std::mutex mu;
  mutable std::mutex fault_mu;  // fault is read by health reports without taking `mu`
  std::string fault;
  std::unordered_map<std::string, sqlite3_stmt*> stmts;  // prepared once, reused

  ~Impl() {
    for (auto& [sql, s] : stmts) sqlite3_finalize(s);
    if (db) sqlite3_close_v2(db);
  }

  Status error(int rc, std::string_view what) const {
    const int primary = rc & 0xff;
    const int sys_errno = db ? sqlite3_system_errno(db) : 0;
    Code code = Code::internal;
    switch (primary) {
      case SQLITE_FULL: code = Code::disk_full; break;
      case SQLITE_READONLY:
      case SQLITE_PERM: code = Code::read_only; break;
      case SQLITE_CORRUPT:
      case SQLITE_NOTADB: code = Code::corruption; break;
      case SQLITE_BUSY:
      case SQLITE_LOCKED: code = Code::busy; break;
      case SQLITE_CONSTRAINT: code = Code::conflict; break;
      case SQLITE_IOERR:
      case SQLITE_CANTOPEN:
        code = sys_errno == ENOSPC                                             ? Code::disk_full
               : sys_errno == EROFS || sys_errno == EACCES || sys_errno == EPERM ? Code::read_only
                                                                              : Code::io_error;
        break;
      default: break;
    }
    if (code == Code::io_error && not_writable(path)) code = Code::read_only;
    std::string detail = db && sqlite3_extended_errcode(db) == rc ? sqlite3_errmsg(db)
                                                                  : sqlite3_errstr(rc);
    std::string hint = hint_for(primary);
    if (hint.empty() && code == Code::disk_full) hint = hint_for(SQLITE_FULL);
    if (hint.empty() && code == Code::read_only) hint = hint_for(SQLITE_READONLY);
    return Status::error(code, fmt::format("{}: {}: {}{}{}", label, what, detail,
                                           hint.empty() ? "" : "; ", hint));
  }

  Status exec(std::string_view sql, std::string_view what) {
    const std::string s(sql);
    const int rc = sqlite3_exec(db, s.c_str(), nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? Status::success() : error(sqlite3_extended_errcode(db), what);
  }

  StatusOr<sqlite3_stmt*> prepare(const std::string& sql) {
    if (auto it = stmts.find(sql); it != stmts.end()) return it->second;
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) return error(rc, "preparing a statement");
    stmts.emplace(sql, s);
    return s;
  }

  // Runs a prepared statement to completion; `row` is called for each result row and returns a
  // non-empty string to stop with a corruption error.
  template <typename Bind, typename Row>
  Status run(const std::string& sql, std::string_view what, Bind&& bind, Row&& row) {
    auto st = prepare(sql);
    if (!st.ok()) return st.status();
    sqlite3_stmt* s = *st;
    struct Reset {
      sqlite3_stmt* s;
      ~Reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } reset{s};
    Binder b(s);
    b.text(account);
    bind(b);
    for (;;) {
      const int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return Status::success();
      if (rc != SQLITE_ROW) return error(sqlite3_extended_errcode(db), what);
      if (std::string bad = row(s); !bad.empty()) {
        return Status::error(Code::corruption, fmt::format("{}: {}: {}", label, what, bad));
      }
    }
  }

  template <typename Bind>
  Status write(const std::string& sql, std::string_view what, Bind&& bind) {
    return run(sql, what, std::forward<Bind>(bind), [](sqlite3_stmt*) { return std::string(); });
  }

  template <typename T, typename Bind, typename Read>
  StatusOr<std::vector<T>> query(const std::string& sql, std::string_view what,
                                 std::string_view table, Bind&& bind, Read&& read) {
    std::vector<T> out;
    Status s = run(sql, what, std::forward<Bind>(bind), [&](sqlite3_stmt* st) {
      Reader r(st, table);
      out.push_back(read(r));
      return r.error();
    });
    if (!s.ok()) {
      note_fault(s);
      return s;
    }
    return out;
  }

  // A read that finds the file damaged (or cannot read it) makes the store unhealthy for good:
  // logged once, then reported by fault() to /healthz.
  void note_fault(const Status& s) {
    if (s.code() != Code::corruption && s.code() != Code::io_error) return;
    std::lock_guard lock(fault_mu);
    if (!fault.empty()) return;
    fault = s.message();
    spdlog::error("store unhealthy: {}", fault);
  }

  // PRAGMA quick_check: every page and index entry is read once (no cross-check of indexes and
  // tables, which is what makes integrity_check slow), stopping at kQuickCheckErrors findings.
  Status check_integrity() {
    auto rows = query<std::string>(fmt::format("PRAGMA quick_check({})", kQuickCheckErrors),
                                   "checking the file's integrity", "", [](Binder&) {},
                                   [](Reader& r) { return r.text(); });
    if (!rows.ok()) return rows.status();
    if (rows->size() == 1 && rows->front() == "ok") return Status::success();
    std::string findings;
    for (const auto& f : *rows) findings += (findings.empty() ? "" : "; ") + f;
    return Status::error(Code::corruption,
                         fmt::format("{}: the integrity check failed ({}); {}", label,
                                     findings.substr(0, 400), kRestoreHint));
  }

  StatusOr<std::int64_t> scalar(const std::string& sql, std::string_view what) {
    auto v = query<std::int64_t>(sql, what, "", [](Binder&) {},
                                 [](Reader& r) { return r.is_null() ? 0 : r.i64(); });
    if (!v.ok()) return v.status();
    return v->empty() ? 0 : v->front();
  }

  Status open(const std::string& path);
  Status migrate();
  Status apply(const WriteBatch& b);
};

namespace {

const std::string& trade_upsert() {
  static const std::string s = upsert_sql(kTradeColumns, "trades", "id");
  return s;
}
const std::string& order_upsert() {
  static const std::string s = upsert_sql(kOrderColumns, "orders", "id", "broker_order_id");
  return s;
}
const std::string& trade_select() {
  static const std::string s = select_sql(kTradeColumns, "trades");
  return s;
}
const std::string& order_select() {
  static const std::string s = select_sql(kOrderColumns, "orders");
  return s;
}
const std::string& event_select() {
  static const std::string s = select_sql(kEventColumns, "order_events");
  return s;
}

// load()'s statements. Each reads only open rows through a partial index (or a primary-key
// lookup), so a start with a million historical orders costs what the open ones cost. INDEXED BY
// pins the index: without statistics the planner was seen to pick (account, trade_id) for the
// open orders, which walks the account's whole history.
const std::string& load_trades_sql() {
  static const std::string s =
      trade_select() + "INDEXED BY trades_open WHERE account = ?1 AND is_open = 1 ORDER BY id";
  return s;
}
const std::string& load_open_orders_sql() {
  static const std::string s =
      order_select() + "INDEXED BY orders_open WHERE account = ?1 AND is_open = 1";
  return s;
}
// The finished orders of open trades (a filled entry whose exits still work). CROSS JOIN fixes
// the loop order: open trades first, then each one's orders by index. (Left to the planner, a
// UNION with the open orders walked every order of the account to keep the output sorted.)
const std::string& load_finished_orders_of_open_trades_sql() {
  static const std::string s =
      select_sql(kOrderColumns, "orders", "o") +
      "FROM trades AS t INDEXED BY trades_open CROSS JOIN orders AS o INDEXED BY orders_trade "
      "ON o.account = t.account AND o.trade_id = t.id "
      "WHERE t.account = ?1 AND t.is_open = 1 AND o.is_open = 0";
  return s;
}
const std::string& load_alerts_sql() {
  static const std::string s =
      select_sql(kAlertColumns, "alerts") +
      "INDEXED BY alerts_active WHERE account = ?1 AND cleared_at IS NULL ORDER BY id";
  return s;
}
std::string max_id_sql(std::string_view table) {
  return fmt::format("SELECT max(id) FROM {} WHERE account = ?1", table);
}

std::uint64_t random_bits() {
  std::random_device rd;  // the OS entropy source: two installations must not share a tag
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

Status SqliteStore::Impl::open(const std::string& path) {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                    SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) return error(rc, "opening the database");
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // Reading the header and the schema is what tells a database from a foreign or damaged file.
  if (Status s = exec("SELECT count(*) FROM sqlite_schema", "reading the schema"); !s.ok()) {
    return s;
  }
  if (path != ":memory:") {
    if (Status s = check_integrity(); !s.ok()) return s;
  }
  if (sqlite3_db_readonly(db, "main") == 1) {
    return Status::error(Code::read_only,
                         fmt::format("{}: opening the database: the file is read-only; orderly "
                                     "must write its audit log",
                                     label));
  }
  if (path != ":memory:") {
    auto mode = query<std::string>("PRAGMA journal_mode = WAL", "enabling WAL", "",
                                   [](Binder&) {}, [](Reader& r) { return r.text(); });
    if (!mode.ok()) return mode.status();
    if (mode->empty() || mode->front() != "wal") {
      return Status::error(Code::io_error,
                           fmt::format("{}: enabling WAL: the journal mode stayed '{}'", label,
                                       mode->empty() ? "?" : mode->front()));
    }
  }
  // FULL: a commit is fsynced to the WAL before commit() returns, so no intent is acknowledged
  // before it would survive a power loss.
  if (Status s = exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", "configuring");
      !s.ok()) {
    return s;
  }
  return migrate();
}

Status SqliteStore::Impl::migrate() {
  auto version = scalar("PRAGMA user_version", "reading the schema version");
  if (!version.ok()) return version.status();
  const std::int64_t have = *version;
  if (have > kSchemaVersion) {
    return Status::error(
        Code::schema_too_new,
        fmt::format("{}: the database has schema version {}, but this orderly knows versions up "
                    "to {}; upgrade orderly (a newer version wrote this file)",
                    label, have, kSchemaVersion));
  }
  if (have == 0) {
    auto tables = scalar("SELECT count(*) FROM sqlite_schema", "reading the schema");
    if (!tables.ok()) return tables.status();
    if (*tables > 0) {
      return Status::error(Code::invalid_argument,
                           fmt::format("{}: the file is an SQLite database, but not orderly's (it "
                                       "has {} schema objects and no orderly schema version)",
                                       label, *tables));
    }
  } else {
    auto meta = query<std::string>("SELECT value FROM meta WHERE key = 'schema_version'",
                                   "reading meta", "meta", [](Binder&) {},
                                   [](Reader& r) { return r.text(); });
    if (!meta.ok()) return meta.status();
    if (meta->empty() || meta->front() != std::to_string(have)) {
      return Status::error(Code::corruption,
                           fmt::format("{}: meta.schema_version ({}) disagrees with the file's "
                                       "user_version ({})",
                                       label, meta->empty() ? "missing" : meta->front(), have));
    }
  }
  for (std::int64_t v = have; v < kSchemaVersion; ++v) {
    const std::string what = fmt::format("migrating the schema to version {}", v + 1);
    if (Status s = exec("BEGIN IMMEDIATE", what); !s.ok()) return s;
    Status s = exec(kMigrations[v], what);
    if (s.ok()) {
      s = exec(fmt::format("PRAGMA user_version = {}; INSERT INTO meta (key, value) VALUES "
                           "('schema_version', '{}') ON CONFLICT (key) DO UPDATE SET value = "
                           "excluded.value",
                           v + 1, v + 1),
               what);
    }
    if (s.ok() && v == 0) {
      s = write("INSERT INTO meta (key, value) VALUES ('instance_tag', ?2) "
                "ON CONFLICT (key) DO NOTHING",
                what, [](Binder& b) { b.text(make_instance_tag(random_bits())); });
      // ?1 (the account) is bound by run() and unused: meta describes the file.
    }
    if (s.ok()) s = exec("COMMIT", what);
    if (!s.ok()) {
      // The first error is the one to report; a failed ROLLBACK shows again at the next BEGIN.
      if (!sqlite3_get_autocommit(db)) static_cast<void>(exec("ROLLBACK", what));
      return s;
    }
  }
  return Status::success();
}

Status SqliteStore::Impl::apply(const WriteBatch& b) {
  for (const Trade& t : b.trades) {
    Status s = write(trade_upsert(), fmt::format("writing trade {}", t.id),
                     [&](Binder& x) { bind_trade(x, t); });
    if (!s.ok()) return s;
  }
  for (const Order& o : b.orders) {
    Status s = write(order_upsert(),
                     fmt::format("writing order {} ({})", o.id, o.client_order_id),
                     [&](Binder& x) { bind_order(x, o); });
    if (!s.ok()) return s;
  }
  static const std::string kEventInsert =
      "INSERT INTO order_events (account, order_id, at, source, from_state, to_state, "
      "filled_qty, payload, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
  for (const OrderEvent& e : b.events) {
    Status s = write(kEventInsert, fmt::format("appending an audit event of order {}", e.order_id),
                     [&](Binder& x) {
                       x.i64(e.order_id).ts(e.at).text(to_string(e.source));
                       if (e.from) {
                         x.text(to_string(*e.from));
                       } else {
                         x.null();
                       }
                       x.text(to_string(e.to)).dec(e.filled_qty).text(e.payload).text(e.note);
                     });
    if (!s.ok()) return s;
  }
  // A fill seen twice (stream and activities catch-up) is recorded once.
  static const std::string kFillInsert =
      "INSERT INTO fills (account, execution_id, order_id, symbol, side, qty, price, at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (account, execution_id) DO NOTHING";
  for (const Fill& f : b.fills) {
    Status s = write(kFillInsert, fmt::format("recording fill {}", f.execution_id),
                     [&](Binder& x) {
                       x.text(f.execution_id).i64(f.order_id).text(f.symbol);
                       x.text(to_string(f.side)).dec(f.qty).dec(f.price).ts(f.at);
                     });
    if (!s.ok()) return s;
  }
  static const std::string kPositionUpsert =
      "INSERT INTO positions (account, symbol, qty, avg_entry_price) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (account, symbol) DO UPDATE SET qty = excluded.qty, "
      "avg_entry_price = excluded.avg_entry_price";
  for (const Position& p : b.positions) {
    Status s = write(kPositionUpsert, fmt::format("writing position {}", p.symbol),
                     [&](Binder& x) { x.text(p.symbol).dec(p.qty).dec(p.avg_entry_price); });
    if (!s.ok()) return s;
  }
  static const std::string kAlertUpsert = upsert_sql(kAlertColumns, "alerts", "id");
  for (const Alert& a : b.alerts) {
    Status s = write(kAlertUpsert, fmt::format("writing alert {}", a.id), [&](Binder& x) {
      x.i64(a.id).text(to_string(a.kind)).text(a.subject).text(a.message).ts(a.raised_at);
      x.opt_ts(a.cleared_at);
    });
    if (!s.ok()) return s;
  }
  static const std::string kSyncUpsert =
      "INSERT INTO sync_state (account, key, value) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (account, key) DO UPDATE SET value = excluded.value";
  for (const auto& [key, value] : b.sync_state) {
    Status s = write(kSyncUpsert, fmt::format("writing sync state {}", key),
                     [&](Binder& x) { x.text(key).text(value); });
    if (!s.ok()) return s;
  }
  return Status::success();
}

// ---- SqliteStore -------------------------------------------------------------------------------

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::open(std::string_view path,
                                                         std::string_view account) {
  const std::string label = fmt::format("sqlite:{}", path);
  if (path.empty()) {
    return Status::error(Code::invalid_argument,
                         "sqlite: needs a path (sqlite:PATH or sqlite::memory:)");
  }
  if (account.empty()) {
    return Status::error(Code::invalid_argument,
                         fmt::format("{}: a store is bound to an account; none was given", label));
  }
  auto impl = std::make_unique<Impl>();
  impl->label = label;
  impl->path = std::string(path);
  impl->account = std::string(account);
  if (Status s = impl->open(std::string(path)); !s.ok()) return s;
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

Status SqliteStore::commit(const WriteBatch& batch) {
  if (batch.empty()) return Status::success();
  std::lock_guard lock(impl_->mu);
  Impl& d = *impl_;
  // IMMEDIATE takes the write lock up front: a busy database fails here, before any work.
  if (Status s = d.exec("BEGIN IMMEDIATE", "starting a batch"); !s.ok()) return s;
  Status s = d.apply(batch);
  if (s.ok()) s = d.exec("COMMIT", "committing a batch");
  if (!s.ok() && !sqlite3_get_autocommit(d.db)) {
    // Nothing of the batch stays: SQLite may already have rolled back (e.g. on SQLITE_FULL),
    // otherwise we do. A failed deferred foreign-key check at COMMIT leaves it open, too.
    // The batch's own error is the one to report; a failed ROLLBACK shows at the next BEGIN.
    static_cast<void>(d.exec("ROLLBACK", "rolling back a batch"));
  }
  return s;
}

StatusOr<LoadedState> SqliteStore::load() {
  std::lock_guard lock(impl_->mu);
  Impl& d = *impl_;
  LoadedState out;
  auto tag = d.query<std::string>("SELECT value FROM meta WHERE key = 'instance_tag'",
                                  "loading", "meta", [](Binder&) {},
                                  [](Reader& r) { return r.text(); });
  if (!tag.ok()) return tag.status();
  if (tag->empty()) {
    return Status::error(Code::corruption, fmt::format("{}: meta has no instance_tag", d.label));
  }
  out.instance_tag = tag->front();

  auto trades = d.query<Trade>(load_trades_sql(), "loading open trades", "trades", [](Binder&) {}, read_trade);
  if (!trades.ok()) return trades.status();
  out.open_trades = std::move(*trades);

  auto orders = d.query<Order>(load_open_orders_sql(), "loading open orders", "orders",
                               [](Binder&) {}, read_order);
  if (!orders.ok()) return orders.status();
  auto finished = d.query<Order>(load_finished_orders_of_open_trades_sql(),
                                 "loading the orders of open trades", "orders", [](Binder&) {},
                                 read_order);
  if (!finished.ok()) return finished.status();
  out.open_orders = std::move(*orders);
  out.open_orders.insert(out.open_orders.end(), finished->begin(), finished->end());
  std::sort(out.open_orders.begin(), out.open_orders.end(),
            [](const Order& a, const Order& b) { return a.id < b.id; });

  auto positions = d.query<Position>(
      "SELECT symbol, qty, avg_entry_price FROM positions WHERE account = ?1 ORDER BY symbol",
      "loading positions", "positions", [](Binder&) {}, read_position);
  if (!positions.ok()) return positions.status();
  out.positions = std::move(*positions);

  auto alerts = d.query<Alert>(load_alerts_sql(), "loading active alerts", "alerts", [](Binder&) {}, read_alert);
  if (!alerts.ok()) return alerts.status();
  out.active_alerts = std::move(*alerts);

  auto sync = d.query<std::pair<std::string, std::string>>(
      "SELECT key, value FROM sync_state WHERE account = ?1", "loading sync state", "sync_state",
      [](Binder&) {}, [](Reader& r) {
        std::string k = r.text();
        return std::pair(std::move(k), r.text());
      });
  if (!sync.ok()) return sync.status();
  out.sync_state.insert(sync->begin(), sync->end());

  auto max_id = [&](const char* table, std::int64_t& into) -> Status {
    auto v = d.query<std::int64_t>(max_id_sql(table),
                                   "loading id maxima", table, [](Binder&) {},
                                   [](Reader& r) { return r.is_null() ? 0 : r.i64(); });
    if (!v.ok()) return v.status();
    into = v->empty() ? 0 : v->front();
    return Status::success();
  };
  if (Status s = max_id("trades", out.max_trade_id); !s.ok()) return s;
  if (Status s = max_id("orders", out.max_order_id); !s.ok()) return s;
  if (Status s = max_id("alerts", out.max_alert_id); !s.ok()) return s;
  return out;
}

namespace {
template <typename T>
StatusOr<std::optional<T>> first(StatusOr<std::vector<T>> v) {
  if (!v.ok()) return v.status();
  if (v->empty()) return std::optional<T>();
  return std::optional<T>(std::move(v->front()));
}
}  // namespace

StatusOr<std::optional<Order>> SqliteStore::get_order(OrderId id) {
  std::lock_guard lock(impl_->mu);
  return first(impl_->query<Order>(order_select() + "WHERE account = ?1 AND id = ?2",
                                   "reading an order", "orders",
                                   [&](Binder& b) { b.i64(id); }, read_order));
}

StatusOr<std::optional<Order>> SqliteStore::find_order_by_client_id(std::string_view cid) {
  std::lock_guard lock(impl_->mu);
  return first(impl_->query<Order>(order_select() + "WHERE account = ?1 AND client_order_id = ?2",
                                   "finding an order by client_order_id", "orders",
                                   [&](Binder& b) { b.text(cid); }, read_order));
}

StatusOr<std::optional<Order>> SqliteStore::find_order_by_broker_id(std::string_view bid) {
  std::lock_guard lock(impl_->mu);
  return first(impl_->query<Order>(order_select() + "WHERE account = ?1 AND broker_order_id = ?2",
                                   "finding an order by broker id", "orders",
                                   [&](Binder& b) { b.text(bid); }, read_order));
}

StatusOr<std::vector<Order>> SqliteStore::list_orders(const OrderFilter& f) {
  std::string sql = order_select() + "WHERE account = ?1";
  if (f.state) sql += " AND state = ?2";
  if (f.symbol) sql += " AND symbol = ?3";
  if (f.trade_id) sql += " AND trade_id = ?4";
  if (f.open_only) sql += " AND is_open = 1";
  sql += " ORDER BY id DESC LIMIT ?5 OFFSET ?6";
  std::lock_guard lock(impl_->mu);
  return impl_->query<Order>(sql, "listing orders", "orders", [&](Binder& b) {
    b.opt_text(f.state ? std::optional<std::string>(to_string(*f.state)) : std::nullopt);
    b.opt_text(f.symbol).opt_i64(f.trade_id);
    b.i64(clamp_limit(f.limit)).i64(std::max(0, f.offset));
  }, read_order);
}

StatusOr<std::optional<Trade>> SqliteStore::get_trade(TradeId id) {
  std::lock_guard lock(impl_->mu);
  return first(impl_->query<Trade>(trade_select() + "WHERE account = ?1 AND id = ?2",
                                   "reading a trade", "trades", [&](Binder& b) { b.i64(id); },
                                   read_trade));
}

StatusOr<std::optional<Trade>> SqliteStore::find_trade_by_client_id(std::string_view key) {
  std::lock_guard lock(impl_->mu);
  return first(impl_->query<Trade>(trade_select() + "WHERE account = ?1 AND client_trade_id = ?2",
                                   "finding a trade by client_trade_id", "trades",
                                   [&](Binder& b) { b.text(key); }, read_trade));
}

StatusOr<std::vector<Trade>> SqliteStore::list_trades(int limit, int offset) {
  std::lock_guard lock(impl_->mu);
  return impl_->query<Trade>(trade_select() + "WHERE account = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3",
                             "listing trades", "trades",
                             [&](Binder& b) { b.i64(clamp_limit(limit)).i64(std::max(0, offset)); },
                             read_trade);
}

StatusOr<std::vector<OrderEvent>> SqliteStore::order_events(OrderId id) {
  std::lock_guard lock(impl_->mu);
  return impl_->query<OrderEvent>(event_select() + "WHERE account = ?1 AND order_id = ?2 ORDER BY seq",
                                  "reading the audit trail", "order_events",
                                  [&](Binder& b) { b.i64(id); }, read_event);
}

StatusOr<std::vector<OrderEvent>> SqliteStore::events_since(std::int64_t after_seq, int limit) {
  std::lock_guard lock(impl_->mu);
  return impl_->query<OrderEvent>(
      event_select() + "WHERE account = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
      "reading the audit log", "order_events",
      [&](Binder& b) { b.i64(after_seq).i64(clamp_limit(limit)); }, read_event);
}

StatusOr<std::vector<Fill>> SqliteStore::fills_for(OrderId id) {
  std::lock_guard lock(impl_->mu);
  return impl_->query<Fill>(select_sql(kFillColumns, "fills") +
                                "WHERE account = ?1 AND order_id = ?2 ORDER BY at, execution_id",
                            "reading fills", "fills", [&](Binder& b) { b.i64(id); }, read_fill);
}

StatusOr<std::vector<Alert>> SqliteStore::list_alerts(bool active_only, int limit) {
  std::lock_guard lock(impl_->mu);
  std::string sql = select_sql(kAlertColumns, "alerts") + "WHERE account = ?1" +
                    (active_only ? " AND cleared_at IS NULL" : "") + " ORDER BY id DESC LIMIT ?2";
  return impl_->query<Alert>(sql, "listing alerts", "alerts",
                             [&](Binder& b) { b.i64(clamp_limit(limit)); }, read_alert);
}

StatusOr<std::vector<Position>> SqliteStore::positions() {
  std::lock_guard lock(impl_->mu);
  return impl_->query<Position>(
      "SELECT symbol, qty, avg_entry_price FROM positions WHERE account = ?1 ORDER BY symbol",
      "reading positions", "positions", [](Binder&) {}, read_position);
}

std::string SqliteStore::fault() const {
  std::lock_guard lock(impl_->fault_mu);
  return impl_->fault;
}

Status SqliteStore::exec_for_test(std::string_view sql) {
  std::lock_guard lock(impl_->mu);
  return impl_->exec(sql, "test statement");
}

StatusOr<std::vector<std::string>> SqliteStore::load_query_plans_for_test() {
  std::lock_guard lock(impl_->mu);
  const std::string statements[] = {load_trades_sql(), load_open_orders_sql(),
                                     load_finished_orders_of_open_trades_sql(), load_alerts_sql()};
  std::vector<std::string> plans;
  for (const std::string& sql : statements) {
    auto rows = impl_->query<std::string>("EXPLAIN QUERY PLAN " + sql, "explaining", "plan",
                                          [](Binder&) {}, [](Reader& r) {
                                            r.i64();
                                            r.i64();
                                            r.i64();
                                            return r.text();
                                          });
    if (!rows.ok()) return rows.status();
    plans.insert(plans.end(), rows->begin(), rows->end());
  }
  return plans;
}

}  // namespace orderly
