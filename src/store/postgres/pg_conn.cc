#include "store/postgres/pg_conn.h"

#include <libpq-fe.h>
#include <sys/socket.h>

#include <cstdlib>
#include <algorithm>
#include <string>

namespace orderly::pg {
namespace {

// Statements per pipeline round: the results of one round must fit the socket buffers while we
// are still sending, otherwise client and server would both block on a full buffer.
constexpr std::size_t kPipelineChunk = 256;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string conn_error(pg_conn* conn) { return trim(PQerrorMessage(conn)); }

Status classify_connect_failure(pg_conn* conn, const std::string& url) {
  const std::string msg = conn_error(conn);
  const bool auth = PQconnectionNeedsPassword(conn) ||
                    msg.find("authentication failed") != std::string::npos ||
                    msg.find("no password supplied") != std::string::npos ||
                    msg.find("no pg_hba.conf entry") != std::string::npos;
  if (auth) {
    return Status::error(Status::Code::invalid_argument,
                         "PostgreSQL refused the credentials for " + url + ": " + msg);
  }
  if (msg.find("does not exist") != std::string::npos ||
      msg.find("invalid URI") != std::string::npos ||
      msg.find("invalid connection option") != std::string::npos ||
      msg.find("invalid integer value") != std::string::npos ||
      msg.find("missing \"=\"") != std::string::npos) {
    return Status::error(Status::Code::invalid_argument,
                         "bad PostgreSQL store URL " + url + ": " + msg);
  }
  return Status::error(Status::Code::unavailable,
                       "PostgreSQL unreachable at " + url + ": " + msg);
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

Rows copy_rows(const PGresult* res) {
  Rows rows;
  const int n = PQntuples(res);
  const int cols = PQnfields(res);
  rows.reserve(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) {
    Row row;
    row.reserve(static_cast<std::size_t>(cols));
    for (int c = 0; c < cols; ++c) {
      if (PQgetisnull(res, r, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(res, r, c),
                                     static_cast<std::size_t>(PQgetlength(res, r, c))));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

struct ParamArrays {
  std::vector<const char*> values;
  explicit ParamArrays(const std::vector<Param>& params) {
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  }
};

std::string result_sqlstate(const PGresult* res) {
  const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  return s ? s : "";
}

std::string result_message(const PGresult* res) {
  const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  return primary ? primary : trim(PQresultErrorMessage(res));
}

}  // namespace

std::string redact_url(std::string_view url) {
  std::string out(url);
  // URI form: scheme://user:password@host -> scheme://user:***@host
  if (auto scheme = out.find("://"); scheme != std::string::npos) {
    const auto at = out.find('@', scheme + 3);
    const auto colon = out.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // Keyword/value or query-parameter form: password=secret
  for (std::size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    const auto start = pos + 9;
    auto end = out.find_first_of(" &", start);
    if (end == std::string::npos) end = out.size();
    out.replace(start, end - start, "***");
  }
  return out;
}

StatusOr<std::unique_ptr<Connection>> Connection::open(const std::string& url) {
  const std::string redacted = redact_url(url);
  // Defaults first: the URL (expanded from dbname) overrides any of them. An abandoned
  // transaction (client vanished after BEGIN) must not hold the account's row locks forever.
  const char* keys[] = {"connect_timeout", "application_name", "keepalives_idle", "options",
                        "dbname", nullptr};
  const char* values[] = {"5", "orderly", "10",
                          "-c idle_in_transaction_session_timeout=60000 -c client_min_messages=warning", url.c_str(), nullptr};
  pg_conn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return Status::error(Status::Code::internal, "libpq could not allocate a connection");
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    Status s = classify_connect_failure(conn, redacted);
    PQfinish(conn);
    return s;
  }
  // Server notices ("terminating connection due to immediate shutdown") would go to stderr;
  // the store reports connection problems through its own Status values instead.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  std::unique_ptr<Connection> c(new Connection(conn, redacted));
  if (Status s = c->exec_constant("SET TIME ZONE 'UTC'"); !s) return s;
  return c;
}

Status Connection::prepare(std::span<const StatementDef> statements) {
  for (const StatementDef& def : statements) {
    if (!prepared_.insert(def.name).second) continue;
    Result res(PQprepare(conn_, def.name, def.sql, 0, nullptr));
    if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
      prepared_.erase(def.name);
      if (broken()) {
        return Status::error(Status::Code::unavailable,
                             "PostgreSQL connection lost while preparing statements (" + url_ +
                                 "): " + conn_error(conn_));
      }
      return Status::error(Status::Code::internal,
                           std::string("preparing ") + def.name + ": " +
                               (res ? result_message(res.get()) : conn_error(conn_)));
    }
  }
  return Status::success();
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::broken() const { return PQstatus(conn_) != CONNECTION_OK; }

void Connection::sever() {
  const int fd = PQsocket(conn_);
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

Status Connection::exec_constant(const char* sql) {
  Result res(PQexec(conn_, sql));
  if (res && (PQresultStatus(res.get()) == PGRES_COMMAND_OK ||
              PQresultStatus(res.get()) == PGRES_TUPLES_OK)) {
    return Status::success();
  }
  if (broken()) {
    return Status::error(Status::Code::unavailable,
                         "PostgreSQL connection lost (" + url_ + "): " + conn_error(conn_));
  }
  return Status::error(Status::Code::internal,
                       res ? result_message(res.get()) : conn_error(conn_));
}

StatusOr<Rows> Connection::query(const char* name, const std::vector<Param>& params,
                                 std::string* sqlstate) {
  ParamArrays arrays(params);
  Result res(PQexecPrepared(conn_, name, static_cast<int>(params.size()), arrays.values.data(),
                            nullptr, nullptr, 0));
  if (res && (PQresultStatus(res.get()) == PGRES_TUPLES_OK ||
              PQresultStatus(res.get()) == PGRES_COMMAND_OK)) {
    return copy_rows(res.get());
  }
  if (broken() || !res) {
    return Status::error(Status::Code::unavailable,
                         "PostgreSQL connection lost (" + url_ + "): " + conn_error(conn_));
  }
  if (sqlstate) *sqlstate = result_sqlstate(res.get());
  return Status::error(Status::Code::internal,
                       std::string(name) + ": " + result_message(res.get()) + " (SQLSTATE " +
                           result_sqlstate(res.get()) + ")");
}

PipelineOutcome Connection::pipeline(std::span<const Stmt> stmts) {
  PipelineOutcome out;
  auto lost = [&] {
    out.kind = PipelineOutcome::Kind::connection_lost;
    out.message = "PostgreSQL connection lost (" + url_ + "): " + conn_error(conn_);
    return out;
  };
  if (broken() || PQenterPipelineMode(conn_) != 1) return lost();

  std::size_t sent = 0;
  std::size_t read = 0;
  bool failed = false;
  while (sent < stmts.size() && !failed) {
    const std::size_t end = std::min(stmts.size(), sent + kPipelineChunk);
    for (; sent < end; ++sent) {
      ParamArrays arrays(stmts[sent].params);
      if (PQsendQueryPrepared(conn_, stmts[sent].name,
                              static_cast<int>(stmts[sent].params.size()),
                              arrays.values.data(), nullptr, nullptr, 0) != 1) {
        PQexitPipelineMode(conn_);
        return lost();
      }
    }
    const bool last = sent == stmts.size();
    if ((last ? PQpipelineSync(conn_) : PQsendFlushRequest(conn_)) != 1 || PQflush(conn_) != 0) {
      return lost();
    }
    for (; read < sent; ++read) {
      Result res(PQgetResult(conn_));
      if (!res) return lost();
      const ExecStatusType st = PQresultStatus(res.get());
      if (st == PGRES_FATAL_ERROR && broken()) return lost();
      if (st == PGRES_FATAL_ERROR && !failed) {
        failed = true;
        out.kind = PipelineOutcome::Kind::sql_error;
        out.failed_index = read;
        out.sqlstate = result_sqlstate(res.get());
        out.message = std::string(stmts[read].name) + ": " + result_message(res.get());
      } else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
                 st != PGRES_PIPELINE_ABORTED && st != PGRES_FATAL_ERROR) {
        return lost();
      }
      // Each statement's results end with a null result.
      while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
      if (broken()) return lost();
    }
  }
  if (failed && sent < stmts.size()) {
    // Stopped early after an error: the rest of the transaction is never sent; close it.
    if (PQpipelineSync(conn_) != 1 || PQflush(conn_) != 0) return lost();
  }
  // Wait for the Sync's result: the server has finished the whole pipeline.
  for (;;) {
    Result res(PQgetResult(conn_));
    if (!res) {
      if (broken()) return lost();
      continue;
    }
    if (PQresultStatus(res.get()) == PGRES_PIPELINE_SYNC) break;
    if (broken()) return lost();
  }
  if (PQexitPipelineMode(conn_) != 1) return lost();
  return out;
}

namespace {

// Version 1: the SQLite store's schema (same tables and columns), and every table carries the account (one database serves many accounts and
// processes). Decimals are NUMERIC, which keeps the scale they were written with ("10.50");
// times are BIGINT nanoseconds like core/time.h, except lease times, which are the database's
// own clock on purpose (one clock judges every owner).
constexpr const char* kMigration1[] = {
    R"(CREATE TABLE accounts (
         account TEXT PRIMARY KEY,
         instance_tag TEXT NOT NULL,
         last_event_seq BIGINT NOT NULL DEFAULT 0,
         created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()))",
    R"(CREATE TABLE trades (
         account TEXT NOT NULL, id BIGINT NOT NULL,
         symbol TEXT NOT NULL, side TEXT NOT NULL, qty NUMERIC NOT NULL,
         entry_type TEXT NOT NULL, entry_limit_price NUMERIC, tif TEXT NOT NULL,
         tp_price NUMERIC, tp_percent NUMERIC,
         has_stop_loss BOOLEAN NOT NULL, sl_price NUMERIC, sl_percent NUMERIC,
         exits TEXT NOT NULL, state TEXT NOT NULL, is_open BOOLEAN NOT NULL,
         note TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
         PRIMARY KEY (account, id)))",
    "CREATE INDEX trades_open ON trades (account, id) WHERE is_open",
    R"(CREATE TABLE orders (
         account TEXT NOT NULL, id BIGINT NOT NULL, trade_id BIGINT NOT NULL,
         role TEXT NOT NULL, client_order_id TEXT NOT NULL, broker_order_id TEXT,
         symbol TEXT NOT NULL, side TEXT NOT NULL, type TEXT NOT NULL, tif TEXT NOT NULL,
         order_class TEXT NOT NULL, qty NUMERIC NOT NULL, limit_price NUMERIC,
         stop_price NUMERIC, parent_order_id BIGINT, replaces_order_id BIGINT,
         state TEXT NOT NULL, is_open BOOLEAN NOT NULL, filled_qty NUMERIC NOT NULL,
         filled_avg_price NUMERIC, broker_updated_at BIGINT, attempts INTEGER NOT NULL,
         next_attempt_at BIGINT, last_error TEXT NOT NULL, created_at BIGINT NOT NULL,
         updated_at BIGINT NOT NULL, version BIGINT NOT NULL,
         PRIMARY KEY (account, id)))",
    "CREATE UNIQUE INDEX orders_client_order_id ON orders (account, client_order_id)",
    R"(CREATE UNIQUE INDEX orders_broker_order_id ON orders (account, broker_order_id)
         WHERE broker_order_id IS NOT NULL)",
    "CREATE INDEX orders_trade ON orders (account, trade_id)",
    "CREATE INDEX orders_open ON orders (account, id) WHERE is_open",
    R"(CREATE TABLE order_events (
         account TEXT NOT NULL, seq BIGINT NOT NULL, order_id BIGINT NOT NULL,
         at BIGINT NOT NULL, source TEXT NOT NULL, from_state TEXT, to_state TEXT NOT NULL,
         filled_qty NUMERIC NOT NULL, payload TEXT NOT NULL, note TEXT NOT NULL,
         PRIMARY KEY (account, seq),
         FOREIGN KEY (account, order_id) REFERENCES orders (account, id)
           DEFERRABLE INITIALLY DEFERRED))",
    "CREATE INDEX order_events_order ON order_events (account, order_id, seq)",
    // The audit log is append-only, whatever SQL reaches the database.
    R"(CREATE FUNCTION orderly_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'order_events is append-only'; END $$)",
    R"(CREATE TRIGGER order_events_append_only BEFORE UPDATE OR DELETE ON order_events
       FOR EACH ROW EXECUTE FUNCTION orderly_append_only())",
    R"(CREATE TABLE fills (
         account TEXT NOT NULL, execution_id TEXT NOT NULL, order_id BIGINT NOT NULL,
         symbol TEXT NOT NULL, side TEXT NOT NULL, qty NUMERIC NOT NULL, price NUMERIC NOT NULL,
         at BIGINT NOT NULL,
         PRIMARY KEY (account, execution_id)))",
    "CREATE INDEX fills_order ON fills (account, order_id)",
    R"(CREATE TABLE positions (
         account TEXT NOT NULL, symbol TEXT NOT NULL, qty NUMERIC NOT NULL,
         avg_entry_price NUMERIC NOT NULL,
         PRIMARY KEY (account, symbol)))",
    R"(CREATE TABLE alerts (
         account TEXT NOT NULL, id BIGINT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
         message TEXT NOT NULL, raised_at BIGINT NOT NULL, cleared_at BIGINT,
         PRIMARY KEY (account, id)))",
    R"(CREATE TABLE sync_state (
         account TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
         PRIMARY KEY (account, key)))",
    // One row per committed write batch, written first in its transaction: after a connection
    // loss the batch id tells whether the commit happened, and a concurrent late commit of the
    // same batch collides on the key instead of applying twice.
    R"(CREATE TABLE commits (
         account TEXT NOT NULL, batch_id TEXT NOT NULL,
         committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
         PRIMARY KEY (account, batch_id)))",
    R"(CREATE TABLE account_leases (
         account TEXT PRIMARY KEY, owner TEXT NOT NULL, token BIGINT NOT NULL,
         acquired_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL))",
    // The fence runs inside every write transaction. FOR SHARE holds the lease row until the
    // batch commits, so a takeover (an UPDATE of that row) is ordered after the batch: the new
    // owner's recovery sees everything the old owner committed, and nothing after.
    R"(CREATE FUNCTION orderly_fence(p_account TEXT, p_token BIGINT) RETURNS void
       LANGUAGE plpgsql AS $$
       DECLARE l account_leases%ROWTYPE;
       BEGIN
         SELECT * INTO l FROM account_leases WHERE account = p_account FOR SHARE;
         IF p_token IS NULL THEN
           IF FOUND AND l.expires_at > clock_timestamp() THEN
             RAISE EXCEPTION USING ERRCODE = 'OL001', MESSAGE = format(
               'account %s is leased by %s (token %s) and this store holds no lease',
               p_account, l.owner, l.token);
           END IF;
           RETURN;
         END IF;
         IF NOT FOUND THEN
           RAISE EXCEPTION USING ERRCODE = 'OL001', MESSAGE = format(
             'account %s has no lease row; token %s is not valid', p_account, p_token);
         END IF;
         IF l.token <> p_token THEN
           RAISE EXCEPTION USING ERRCODE = 'OL001', MESSAGE = format(
             'lease of account %s was taken over by %s (token %s); token %s is stale',
             p_account, l.owner, l.token, p_token);
         END IF;
         IF l.expires_at <= clock_timestamp() THEN
           RAISE EXCEPTION USING ERRCODE = 'OL001', MESSAGE = format(
             'lease of account %s (token %s) expired at %s', p_account, p_token, l.expires_at);
         END IF;
       END $$)",
};

// Version 2: the caller's key of a trade (POST /api/trades client_trade_id), unique per account
// so that a retried request can never record a second trade under the same key.
constexpr const char* kMigration2[] = {
    "ALTER TABLE trades ADD COLUMN client_trade_id TEXT",
    R"(CREATE UNIQUE INDEX trades_client_trade_id ON trades (account, client_trade_id)
         WHERE client_trade_id IS NOT NULL)",
};

// Version 3: the trades Alpaca users place (issue 17): notional and stop entries, extended
// hours, trailing stop-losses; on orders the fields Alpaca's request carries for them.
constexpr const char* kMigration3[] = {
    "ALTER TABLE trades ADD COLUMN notional NUMERIC",
    "ALTER TABLE trades ADD COLUMN entry_stop_price NUMERIC",
    "ALTER TABLE trades ADD COLUMN extended_hours BOOLEAN NOT NULL DEFAULT false",
    "ALTER TABLE trades ADD COLUMN sl_trail_percent NUMERIC",
    "ALTER TABLE trades ADD COLUMN sl_trail_price NUMERIC",
    "ALTER TABLE orders ADD COLUMN notional NUMERIC",
    "ALTER TABLE orders ADD COLUMN trail_price NUMERIC",
    "ALTER TABLE orders ADD COLUMN trail_percent NUMERIC",
    "ALTER TABLE orders ADD COLUMN extended_hours BOOLEAN NOT NULL DEFAULT false",
};

// Version 4: a crypto pair's price_increment, kept with its trade (issue 17) so that a percent
// exit resolved at the fill, after a restart too, is on it. NULL: not known (the cent's rule).
constexpr const char* kMigration4[] = {
    "ALTER TABLE trades ADD COLUMN price_increment NUMERIC",
};

struct Migration {
  int version;
  const char* description;
  std::span<const char* const> steps;
};

constexpr Migration kMigrations[] = {
    {1, "accounts, trades, orders, order_events, fills, positions, alerts, sync_state, "
        "commits, account_leases",
     kMigration1},
    {2, "trades.client_trade_id (unique per account)", kMigration2},
    {3, "notional, stop entries, extended hours, trailing stops (trades and orders)",
     kMigration3},
    {4, "trades.price_increment (a crypto pair's, for prices resolved at the fill)",
     kMigration4},
};
static_assert(std::size(kMigrations) == kSchemaVersion);

constexpr StatementDef kMigrationStatements[] = {
    {"mig_current", "SELECT COALESCE(max(version), 0) FROM schema_migrations"},
    {"mig_record",
     "INSERT INTO schema_migrations (version, description) VALUES ($1::int, $2::text)"},
};

}  // namespace

Status migrate(Connection& conn) {
  auto fail = [&](Status s) {
    (void)conn.exec_constant("ROLLBACK");
    return s;
  };
  if (Status s = conn.exec_constant("BEGIN"); !s) return s;
  // One migrator at a time across every process sharing the database.
  if (Status s = conn.exec_constant("SELECT pg_advisory_xact_lock(7305693261407311)"); !s) {
    return fail(s);
  }
  if (Status s = conn.exec_constant(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
          "description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())");
      !s) {
    return fail(s);
  }
  if (Status s = conn.prepare(kMigrationStatements); !s) return fail(s);
  auto rows = conn.query("mig_current", {});
  if (!rows.ok()) return fail(rows.status());
  const int current = std::atoi(rows.value().at(0).at(0).value_or("0").c_str());
  if (current > kSchemaVersion) {
    return fail(Status::error(
        Status::Code::schema_too_new,
        "the PostgreSQL schema is at version " + std::to_string(current) +
            " but this orderly knows versions up to " + std::to_string(kSchemaVersion) +
            "; upgrade orderly (a newer release migrated this database)"));
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= current) continue;
    for (const char* step : m.steps) {
      if (Status s = conn.exec_constant(step); !s) {
        return fail(Status::error(s.code(), "migration " + std::to_string(m.version) + ": " +
                                                s.message()));
      }
    }
    auto rec = conn.query("mig_record", {std::to_string(m.version), std::string(m.description)});
    if (!rec.ok()) return fail(rec.status());
  }
  return conn.exec_constant("COMMIT");
}

}  // namespace orderly::pg
