#pragma once
// What the client commands (trade, status, orders, positions, alerts, audit, reconcile) share:
// finding the daemon (--config, ORDERLY_API, ORDERLY_TOKEN), calling it, turning its answers
// into exit codes and messages, and printing aligned tables.

#include <string>
#include <vector>

#include "app/api_client.h"
#include "core/status.h"

namespace CLI {
class App;
}

namespace orderly::app {

struct ClientOptions {
  std::string config_path;  // default: orderly.toml when it exists
  bool json = false;
  std::string account;  // a daemon serving several accounts: the one to act on (?account=)
};

// Adds --config, --json and --account to a client subcommand.
void add_client_options(CLI::App* command, ClientOptions& options);

// The daemon's address and token: ORDERLY_API ("HOST:PORT" or "http://HOST:PORT") and
// ORDERLY_TOKEN win over the config file's [api] listen/token, which win over the defaults.
StatusOr<ApiEndpoint> resolve_endpoint(const ClientOptions& options);

// Calls the daemon. On success (2xx) stores the body and returns kExitOk; otherwise prints a
// clear message to stderr and returns the exit code that means it (3: unreachable,
// 2: refused input or token, 1: not found or another failure); an error answer's body is
// stored too, so that a caller can tell an answer from none (a connection lost on the way).
// `pass`: other statuses whose body is an answer, not an error (e.g. 503 from /healthz, whose
// body says why the account is down): returned like a 2xx.
int call_daemon(const ClientOptions& options, const std::string& method, const std::string& target,
                const std::string& body, std::string& reply_body,
                const std::vector<int>& pass = {});

// Left-aligned columns separated by two spaces; a header row then the rows.
std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

// "3s", "5m", "2h", "4d" since an RFC3339 time; "-" when it cannot be read.
std::string age_since(const std::string& rfc3339);

}  // namespace orderly::app
