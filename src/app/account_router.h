#pragma once
// The local API of a daemon that serves several accounts: one server::Api per owned account,
// behind one listener. With one account every request goes to its Api unchanged (the DESIGN
// contract). With several:
//   - `?account=NAME` (or "account" in a POST /api/trades body) sends a request to that account;
//     the answer's objects carry "account": "NAME".
//   - without it, GET lists (trades, orders, positions, alerts) merge every active account's,
//     each element tagged with its account (limit/offset apply per account); GET of one trade or
//     order finds it in whichever account has it (409 when several do: local ids are per
//     account); mutating calls need an account (400 naming the configured ones).
//   - GET /healthz answers {"status","accounts":[{"name","state",...,"health":{...}}]}.
//   - GET /metrics labels every engine sample with account="NAME".
// In both modes GET /api/accounts lists each account's state (active, standby, starting,
// failed), and an account that is not active answers 503 naming its state.
// The router only routes: the merged views read each account's AccountQueries (domain
// objects) and are rendered by the server's shapes (server/accounts_view.h, Api::read_accounts).

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "app/account_runner.h"
#include "server/accounts_view.h"
#include "server/api.h"

namespace orderly::app {

class AccountRouter final : public server::Handler {
 public:
  // `accounts` outlive the router. `multi`: the [[accounts]] form (several names to route by).
  AccountRouter(std::vector<AccountRunner*> accounts, bool multi);
  ~AccountRouter() override;

  server::HttpResponse handle(const server::HttpRequest& request) override;
  void count(const std::string& route, int status) override;
  std::vector<std::pair<std::int64_t, std::string>> events_after(std::int64_t after_seq,
                                                                 int limit) override;
  std::int64_t last_event_seq() override;
  std::string health_json() override;

 private:
  struct Merged;  // the merged event feed of several accounts (see events_after)
  // An account a request names (?account= or a POST body's "account"), and the request to
  // forward to it.
  struct Named {
    std::string account;
    bool named = false;
    server::HttpRequest forwarded;
  };

  AccountRunner* find(const std::string& name) const;
  std::string names() const;  // "alpha, beta": the configured accounts, for error messages
  server::HttpResponse not_active(const AccountRunner& account) const;
  server::HttpResponse handle_multi(const server::HttpRequest& request);
  std::optional<server::HttpResponse> name_account(const server::HttpRequest& request,
                                                   Named& named) const;
  server::HttpResponse to_account(const Named& named) const;
  server::HttpResponse metrics(const server::HttpRequest& request) const;
  std::vector<server::DaemonAccount> daemon_accounts() const;
  void pull_events();

  std::vector<AccountRunner*> accounts_;
  bool multi_;
  std::mutex events_mu_;
  std::unique_ptr<Merged> merged_;
};

}  // namespace orderly::app
