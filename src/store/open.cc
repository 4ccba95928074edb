// open_store(): picks the backend from the URL. PostgreSQL is linked in only when its backend
// is built (ORDERLY_HAVE_POSTGRES); without it a postgresql:// URL gets a clear error.

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "store/open.h"
#include "store/sqlite/sqlite_store.h"

#ifdef ORDERLY_HAVE_POSTGRES
#include "store/postgres/postgres_store.h"
#endif

namespace orderly {
namespace {
std::mutex store_log_mu;
std::function<void(bool, const std::string&)>& store_log_sink() {
  static std::function<void(bool, const std::string&)> sink;
  return sink;
}
}  // namespace

void set_store_log(std::function<void(bool error, const std::string& line)> log) {
  std::lock_guard lock(store_log_mu);
  store_log_sink() = std::move(log);
}

void store_log(bool error, const std::string& line) {
  std::lock_guard lock(store_log_mu);
  if (store_log_sink()) {
    store_log_sink()(error, line);
  } else {
    std::fprintf(stderr, "orderly store: %s\n", line.c_str());
  }
}

StatusOr<std::unique_ptr<Store>> open_store(std::string_view url, std::string_view account) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (url.starts_with(kSqlite)) {
    auto s = SqliteStore::open(url.substr(kSqlite.size()), account);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Store>(std::move(*s));
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
#ifdef ORDERLY_HAVE_POSTGRES
    return open_postgres_store(url, account);
#else
    return Status::error(Status::Code::unavailable,
                         "this orderly was built without the PostgreSQL store; use sqlite:PATH");
#endif
  }
  // Only the scheme is echoed: a mistyped postgres URL may carry a password.
  const std::string_view scheme = url.substr(0, std::min(url.find(':'), std::size_t{16}));
  return Status::error(Status::Code::invalid_argument,
                       fmt::format("unknown store URL scheme '{}': expected sqlite:PATH, "
                                   "sqlite::memory: or postgresql://...",
                                   scheme));
}

}  // namespace orderly
