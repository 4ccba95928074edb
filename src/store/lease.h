#pragma once
// Account leases: each broker account is owned by one orderly process at a time, so two
// processes never submit for the same account (the incident's duplicate-retry storm, multiplied).
//
// A lease has an owner, an expiry and a fencing token that grows on every acquisition. The owner
// renews it periodically. held() turns false at a LOCAL deadline that falls a safety margin before
// the expiry the database records (measured from when the renewal was sent, so the database's
// expiry is never earlier): a process that cannot renew stops submitting before anyone else can
// take the account over. The store checks the token inside every write transaction (fencing), so
// a stale owner that wakes up late has its commit refused instead of racing the new owner.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <condition_variable>

#include "core/status.h"

namespace orderly {

struct LeaseOptions {
  std::string owner;             // empty: "<host>:<pid>:<random>", unique per lease object
  std::int64_t ttl_ms = 15'000;  // expiry recorded in the database, from its own clock
  // held() ends this long before the recorded expiry; covers a stalled process, a slow renewal
  // round trip and clock rate differences.
  std::int64_t safety_margin_ms = 5'000;
  std::int64_t renew_interval_ms = 3'000;  // LeaseKeeper's period; well below ttl - margin
  std::int64_t acquire_poll_ms = 500;      // how often acquire() retries while another owns it
};

class AccountLease {
 public:
  virtual ~AccountLease() = default;

  // One attempt. ok: held now. busy: another owner's lease has not expired (message names it).
  virtual Status try_acquire() = 0;
  // Retries try_acquire() until it succeeds or `wait_ms` has passed (then busy).
  Status acquire(std::int64_t wait_ms);
  // Extends the expiry. Fails (conflict) once the lease was lost: expired or taken over; then
  // the holder must stop, acquire again and recover from the store like after a crash.
  virtual Status renew() = 0;
  // Gives the account up at once (the next owner need not wait for the expiry).
  virtual Status release() = 0;

  // True until the local deadline (see above). Check before every request to the broker.
  virtual bool held() const = 0;
  virtual std::int64_t token() const = 0;  // fencing token of the current/last acquisition
  virtual const std::string& account() const = 0;
  virtual const std::string& owner() const = 0;
  virtual const LeaseOptions& options() const = 0;
};

// "postgresql://..." -> a lease row in that database. "sqlite:..." stores are single-process by
// construction (one process per file) and get a lease that is always held with token 1.
StatusOr<std::unique_ptr<AccountLease>> open_lease(std::string_view url, std::string_view account,
                                                   LeaseOptions options = {});

// Renews a lease every renew_interval_ms on its own thread; calls on_lost once (from that
// thread) when a renewal fails and held() has turned false, then stops.
class LeaseKeeper {
 public:
  LeaseKeeper(AccountLease& lease, std::function<void(const Status&)> on_lost);
  ~LeaseKeeper();  // stops the thread; does not release the lease
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

 private:
  void run();
  AccountLease& lease_;
  std::function<void(const Status&)> on_lost_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace orderly
