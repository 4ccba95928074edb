#pragma once
// The views of a daemon that serves several accounts (app/account_router.h routes to them):
// each account's state, and /healthz over them all. Accounts that run here answer through
// AccountQueries; every object is rendered by the shapes the single-account routes use
// (server/json_shapes.h). Lists and lookups over several accounts: Api::read_accounts.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "server/account_queries.h"
#include "server/api.h"

namespace orderly::server {

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

// An account of the daemon: its state, and its queries while it runs in this process.
struct DaemonAccount {
  AccountStatus status;
  std::shared_ptr<AccountQueries> queries;  // null unless it runs here
};

// GET /api/accounts: each account's state, "health" null (no engine is asked).
std::string accounts_json(const std::vector<AccountStatus>& accounts);

// /healthz over several accounts: the daemon's verdict (the worst of the accounts it should
// run; a standby is another instance's to run; down only when none of them can trade), the
// single-account fields over the running accounts (combine_health), and "accounts": each one's
// state with its own health. 503 when down.
HttpResponse daemon_health(const std::vector<DaemonAccount>& accounts);

// The single-account /healthz fields over several running accounts, so readers of that shape
// (the dashboard, scripts) keep working: all must be connected/ok, counts add up, the latest
// stream event, the oldest sync and the worst lag count. No account: nothing connected.
HealthReport combine_health(const std::vector<HealthReport>& running);

// The health of an account this process does not run (yet): {"status": "down", "reasons",
// "state"}. It cannot trade here.
std::string idle_health_json(const AccountStatus& s);

// The daemon's own alert per account whose lease it lost (the account's alert table is fenced
// against this process by then): active until the account runs here again.
std::vector<AccountAlert> lease_alerts(const std::vector<AccountStatus>& accounts);

// An event of GET /api/events over several accounts: naming its account and its seq there.
std::string feed_event_json(const OrderEvent& e, std::string_view account);

}  // namespace orderly::server
