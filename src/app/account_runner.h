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
#include "server/accounts_view.h"

namespace orderly::app {

using server::AccountState;
using server::AccountStatus;

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
