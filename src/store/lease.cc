#include "store/lease.h"

#include "store/postgres/lease.h"

namespace orderly {
namespace {

// A store file that one process owns exclusively (the sqlite backend locks it) needs no
// coordination: the lease is always held and its token never changes.
class LocalLease final : public AccountLease {
 public:
  LocalLease(std::string account, LeaseOptions options)
      : account_(std::move(account)), options_(std::move(options)) {
    if (options_.owner.empty()) options_.owner = "local";
  }
  Status try_acquire() override { return Status::success(); }
  Status renew() override { return Status::success(); }
  Status release() override { return Status::success(); }
  bool held() const override { return true; }
  std::int64_t token() const override { return 1; }
  const std::string& account() const override { return account_; }
  const std::string& owner() const override { return options_.owner; }
  const LeaseOptions& options() const override { return options_; }

 private:
  std::string account_;
  LeaseOptions options_;
};

}  // namespace

Status AccountLease::acquire(std::int64_t wait_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    Status s = try_acquire();
    if (s || (s.code() != Status::Code::busy && s.code() != Status::Code::unavailable)) return s;
    if (std::chrono::steady_clock::now() >= deadline) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(options().acquire_poll_ms));
  }
}

StatusOr<std::unique_ptr<AccountLease>> open_lease(std::string_view url, std::string_view account,
                                                   LeaseOptions options) {
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    return open_postgres_lease(url, account, std::move(options));
  }
  if (url.starts_with("sqlite:")) {
    return std::unique_ptr<AccountLease>(
        std::make_unique<LocalLease>(std::string(account), std::move(options)));
  }
  return Status::error(Status::Code::invalid_argument,
                       "lease: unknown store URL scheme (want sqlite: or postgresql://)");
}

LeaseKeeper::LeaseKeeper(AccountLease& lease, std::function<void(const Status&)> on_lost)
    : lease_(lease), on_lost_(std::move(on_lost)), thread_([this] { run(); }) {}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void LeaseKeeper::run() {
  const auto period = std::chrono::milliseconds(lease_.options().renew_interval_ms);
  // After a failed renewal, try again soon: the deadline is closer than one period away.
  const auto retry = std::chrono::milliseconds(
      std::max<std::int64_t>(1, std::min<std::int64_t>(lease_.options().renew_interval_ms, 250)));
  auto wait = period;
  std::unique_lock lock(mu_);
  for (;;) {
    if (cv_.wait_for(lock, wait, [this] { return stop_; })) return;
    lock.unlock();
    Status s = lease_.renew();
    lock.lock();
    if (s) {
      wait = period;
      continue;
    }
    if (s.code() == Status::Code::conflict || !lease_.held()) {
      lock.unlock();
      if (on_lost_) on_lost_(s);
      return;
    }
    wait = retry;
  }
}

}  // namespace orderly
