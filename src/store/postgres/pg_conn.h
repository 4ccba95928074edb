#pragma once
// One libpq connection, hidden behind values (libpq-fe.h stays in pg_conn.cc): connect with
// classified errors, prepared statements only, and a pipeline that sends a whole write batch in
// one round trip. Internal to src/store/postgres.

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct pg_conn;  // libpq's PGconn

namespace orderly::pg {

using Param = std::optional<std::string>;  // nullopt is SQL NULL; values travel as text
using Row = std::vector<std::optional<std::string>>;
using Rows = std::vector<Row>;

struct StatementDef {
  const char* name;
  const char* sql;
};

struct Stmt {
  const char* name;
  std::vector<Param> params;
  friend bool operator==(const Stmt&, const Stmt&) = default;
};

struct PipelineOutcome {
  enum class Kind { ok, sql_error, connection_lost };
  Kind kind = Kind::ok;
  std::size_t failed_index = 0;  // for sql_error: the statement that failed
  std::string sqlstate;
  std::string message;
};

// SQLSTATEs the store acts on.
inline constexpr std::string_view kUniqueViolation = "23505";
inline constexpr std::string_view kLeaseFenced = "OL001";  // raised by orderly_fence()

// The URL with any password removed, safe for messages and logs.
std::string redact_url(std::string_view url);

class Connection {
 public:
  // Connects. Errors: unavailable (server unreachable), invalid_argument (bad URL,
  // authentication refused, unknown database). Messages never contain the password.
  static StatusOr<std::unique_ptr<Connection>> open(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Prepares each statement once per connection (the tables they use must exist).
  Status prepare(std::span<const StatementDef> statements);
  bool broken() const;
  // Runs constant SQL without parameters (DDL in migrations, BEGIN/COMMIT).
  Status exec_constant(const char* sql);
  // A prepared statement. On failure: unavailable when the connection was lost (broken() is then
  // true), otherwise the server's message with its SQLSTATE in `sqlstate` if given.
  StatusOr<Rows> query(const char* name, const std::vector<Param>& params,
                       std::string* sqlstate = nullptr);
  // Sends `stmts` in pipeline mode (chunked so neither side's buffers fill up) and reads the
  // results; stops at the first failing statement. The caller frames the transaction.
  PipelineOutcome pipeline(std::span<const Stmt> stmts);
  // Test hook: breaks the socket as a network failure would.
  void sever();

 private:
  explicit Connection(pg_conn* conn, std::string redacted) : conn_(conn), url_(std::move(redacted)) {}
  pg_conn* conn_;
  std::string url_;
  std::set<std::string> prepared_;
};

// Creates or upgrades the schema (versioned, in schema_migrations, under an advisory lock so
// concurrent processes migrate once). schema_too_new when the database is newer than this build.
Status migrate(Connection& conn);
inline constexpr int kSchemaVersion = 4;

}  // namespace orderly::pg
