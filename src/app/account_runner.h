#pragma once
// One broker account of `orderly run`, on its own thread: lease -> store bound to the lease ->
// broker (waited for) -> trade_updates stream -> engine runtime, then the local API's view of it.
// An account another instance owns waits as a standby for that account only; an account whose
// lease is lost stops at once (its engine, stream and REST budget are its own, so the daemon's
// other accounts keep trading), raises an alert, and goes back to standby: it resumes through
// crash recovery if it gets the lease again.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "app/config.h"
#include "core/time.h"

namespace orderly::server {
class Api;
}

namespace orderly::app {

enum class AccountState {
  starting,  // opening the lease / waiting for the broker
  standby,   // another instance owns the account
  active,    // this process owns it and its engine runs
  stopping,  // the lease was lost (or the daemon stops): the engine finishes in-flight work
  failed,    // cannot run (credentials refused, store unreachable at start); see detail
  stopped,
};
std::string_view to_string(AccountState s);

struct AccountStatus {
  std::string name;
  std::string store_account;  // the account tag every store row carries (a hash, not the key)
  AccountState state = AccountState::starting;
  std::string detail;         // why: the owner it waits for, the failure
  std::optional<Timestamp> since;
  std::int64_t leases_acquired = 0;
  std::int64_t leases_lost = 0;
  std::optional<Timestamp> last_lost_at;
  std::string last_lost_reason;
  int exit_code = 0;  // for `failed`: the code `orderly run` exits with when no account runs
};

class AccountRunner {
 public:
  // `config`: the daemon's ([sync], [retry], [alerts], [lease], [api] token); `store_url`: this
  // account's (account_store_url()).
  AccountRunner(AccountConfig account, const Config& config, std::string store_url,
                const Clock& clock);
  ~AccountRunner();  // stop()
  AccountRunner(const AccountRunner&) = delete;
  AccountRunner& operator=(const AccountRunner&) = delete;

  void start();
  // Stops the engine, releases the lease (the next owner need not wait for its expiry), joins.
  void stop();

  AccountStatus status() const;
  const std::string& name() const;
  // The API of the running engine; null unless active. Holding it keeps the engine's objects
  // alive (not running: a lost lease stops the engine while a request may still hold it).
  std::shared_ptr<server::Api> api() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::app
