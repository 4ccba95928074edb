#include "store/postgres/lease.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>

#include "store/postgres/pg_conn.h"

namespace orderly {
namespace {

using pg::Param;
using Clock = std::chrono::steady_clock;

constexpr pg::StatementDef kLeaseStatements[] = {
    // Takes the account when nobody holds it or the holder's expiry has passed; every
    // acquisition gets a larger token, which is what fences the previous holder's writes.
    {"lease_acquire",
     "INSERT INTO account_leases (account, owner, token, acquired_at, expires_at) "
     "VALUES ($1, $2, 1, clock_timestamp(), clock_timestamp() + $3::bigint * interval '1 ms') "
     "ON CONFLICT (account) DO UPDATE SET owner = EXCLUDED.owner, "
     "token = account_leases.token + 1, acquired_at = EXCLUDED.acquired_at, "
     "expires_at = EXCLUDED.expires_at "
     "WHERE account_leases.expires_at <= clock_timestamp() RETURNING token"},
    {"lease_holder",
     "SELECT owner, token, GREATEST(0, CEIL(EXTRACT(EPOCH FROM expires_at - clock_timestamp()) "
     "* 1000))::bigint FROM account_leases WHERE account = $1"},
    // Only an unexpired lease is renewed: once expired it may already belong to someone else
    // in spirit, and the holder must re-acquire (new token) and recover.
    {"lease_renew",
     "UPDATE account_leases SET expires_at = clock_timestamp() + $4::bigint * interval '1 ms' "
     "WHERE account = $1 AND owner = $2 AND token = $3 AND expires_at > clock_timestamp() "
     "RETURNING token"},
    {"lease_release",
     "UPDATE account_leases SET expires_at = clock_timestamp() "
     "WHERE account = $1 AND owner = $2 AND token = $3 AND expires_at > clock_timestamp()"},
};

std::string default_owner() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device rd;
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + std::to_string(rd() % 100000);
}

class PostgresLease final : public AccountLease {
 public:
  PostgresLease(std::string url, std::string account, LeaseOptions options)
      : url_(std::move(url)), account_(std::move(account)), options_(std::move(options)) {
    if (options_.owner.empty()) options_.owner = default_owner();
  }

  Status connect() {
    if (conn_ && !conn_->broken()) return Status::success();
    conn_.reset();
    auto c = pg::Connection::open(url_);
    if (!c.ok()) return c.status();
    if (Status s = c.value()->prepare(kLeaseStatements); !s) return s;
    conn_ = std::move(c.value());
    return Status::success();
  }

  Status migrate_schema() {
    auto c = pg::Connection::open(url_);
    if (!c.ok()) return c.status();
    return pg::migrate(*c.value());
  }

  Status try_acquire() override {
    std::lock_guard lock(mu_);
    if (Status s = connect(); !s) return s;
    // The local deadline counts from before the request: the database's expiry, set while the
    // request runs, can only be later.
    const auto sent = Clock::now();
    auto rows = conn_->query("lease_acquire", {account_, options_.owner, ttl()});
    if (!rows.ok()) return rows.status();
    if (rows.value().empty()) {
      auto holder = conn_->query("lease_holder", {account_});
      std::string who = "another owner";
      if (holder.ok() && !holder.value().empty()) {
        const auto& r = holder.value()[0];
        who = r[0].value_or("?") + " (token " + r[1].value_or("?") + ", expires in " +
              r[2].value_or("?") + " ms)";
      }
      return Status::error(Status::Code::busy, "account " + account_ + " is leased by " + who);
    }
    token_ = std::stoll(rows.value()[0][0].value_or("0"));
    set_deadline(sent);
    return Status::success();
  }

  Status renew() override {
    std::lock_guard lock(mu_);
    if (token_ == 0) {
      return Status::error(Status::Code::conflict, "lease of account " + account_ + " not acquired");
    }
    if (Status s = connect(); !s) return s;
    const auto sent = Clock::now();
    auto rows = conn_->query("lease_renew", {account_, options_.owner, std::to_string(token_), ttl()});
    if (!rows.ok()) return rows.status();
    if (rows.value().empty()) {
      deadline_ns_.store(0);
      return Status::error(Status::Code::conflict,
                           "lease of account " + account_ + " (token " +
                               std::to_string(token_) + ") was lost: expired or taken over");
    }
    set_deadline(sent);
    return Status::success();
  }

  Status release() override {
    std::lock_guard lock(mu_);
    deadline_ns_.store(0);  // stop at once, whatever the database says
    if (token_ == 0) return Status::success();
    if (Status s = connect(); !s) return s;
    auto rows = conn_->query("lease_release", {account_, options_.owner, std::to_string(token_)});
    return rows.ok() ? Status::success() : rows.status();
  }

  bool held() const override {
    return Clock::now().time_since_epoch().count() < deadline_ns_.load();
  }
  std::int64_t token() const override { return token_; }
  const std::string& account() const override { return account_; }
  const std::string& owner() const override { return options_.owner; }
  const LeaseOptions& options() const override { return options_; }

 private:
  std::string ttl() const { return std::to_string(options_.ttl_ms); }
  void set_deadline(Clock::time_point sent) {
    const auto deadline =
        sent + std::chrono::milliseconds(options_.ttl_ms - options_.safety_margin_ms);
    deadline_ns_.store(
        std::chrono::duration_cast<Clock::duration>(deadline.time_since_epoch()).count());
  }

  std::string url_;
  std::string account_;
  LeaseOptions options_;
  std::mutex mu_;
  std::unique_ptr<pg::Connection> conn_;
  std::atomic<std::int64_t> token_ = 0;
  std::atomic<Clock::rep> deadline_ns_ = 0;
};

}  // namespace

StatusOr<std::unique_ptr<AccountLease>> open_postgres_lease(std::string_view url,
                                                            std::string_view account,
                                                            LeaseOptions options) {
  if (account.empty()) {
    return Status::error(Status::Code::invalid_argument, "lease: account is empty");
  }
  if (options.ttl_ms <= 0 || options.safety_margin_ms < 0 ||
      options.safety_margin_ms >= options.ttl_ms || options.renew_interval_ms <= 0 ||
      options.renew_interval_ms >= options.ttl_ms - options.safety_margin_ms) {
    return Status::error(Status::Code::invalid_argument,
                         "lease: need 0 < renew_interval_ms < ttl_ms - safety_margin_ms and "
                         "0 <= safety_margin_ms < ttl_ms");
  }
  auto lease = std::make_unique<PostgresLease>(std::string(url), std::string(account),
                                               std::move(options));
  if (Status s = lease->migrate_schema(); !s) return s;
  return std::unique_ptr<AccountLease>(std::move(lease));
}

}  // namespace orderly
