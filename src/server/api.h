#pragma once
// The local HTTP API's routes (DESIGN.md "Local HTTP API"), without any socket: a request in, a
// response out. The HTTP server (http_server.h) feeds it; tests call it directly.
//
// Depends only on EngineControl (actions, health, metrics, positions) and the Store's read
// queries (orders, trades, audit, alerts). Every bad request gets a 4xx with {"error": "..."}.
// The read routes ask AccountQueries, so that the same routes read several accounts
// (read_accounts, for app/account_router.h); every answer is rendered by server/json_shapes.h.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/asset_rules.h"
#include "core/time.h"
#include "engine/control.h"
#include "server/account_queries.h"
#include "store/store.h"

namespace orderly::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query
  std::string authorization;  // the Authorization header, "" when absent
  std::string body;
  std::string idempotency_key;  // Idempotency-Key (client_trade_id's alias), "" when absent
  std::string host;             // the Host header, "" when absent
};

// Who may use the API at all (checked by the HTTP server before any route, the event stream
// included). The token guards every route but /healthz and the dashboard's own files.
struct AccessPolicy {
  std::string token;            // empty: none configured, so only /healthz (and public reads)
  bool public_reads = false;    // GET/HEAD without a token: for a loopback-only set-up
  std::vector<std::string> allowed_hosts;  // Host names served besides loopback ones
};

// Host header values: "127.0.0.1:8930", "localhost", "[::1]:8930" are loopback.
bool host_allowed(std::string_view host_header, const std::vector<std::string>& allowed);

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// nullopt when `request` may proceed; else the answer: 421 for a Host that is neither loopback
// nor allowed (a web page reaching us through DNS rebinding), 401 without a valid bearer token,
// 403 when no token is configured. Constant-time token comparison.
std::optional<HttpResponse> check_access(const AccessPolicy& policy, const HttpRequest& request);

// A JSON answer as every route gives it (not cached), and the {"error": ...} one.
HttpResponse json_body(int status, std::string body);
HttpResponse json_error(int status, const std::string& message);

// What the HTTP server serves: one engine's Api, or a router over several accounts' Apis
// (src/app/account_router.h). The methods are Api's, with Api's meaning.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual HttpResponse handle(const HttpRequest& request) = 0;
  virtual void count(const std::string& route, int status) = 0;
  virtual std::vector<std::pair<std::int64_t, std::string>> events_after(std::int64_t after_seq,
                                                                         int limit) = 0;
  virtual std::int64_t last_event_seq() = 0;
  virtual std::string health_json() = 0;
};

class Api final : public Handler, public AccountQueries {
 public:
  // `token`: the bearer token every mutating route requires; empty refuses them all (403).
  Api(EngineControl& engine, Store& store, std::string token, const Clock& clock);

  HttpResponse handle(const HttpRequest& request) override;
  // handle(), the answer's objects naming `account` (several accounts: the one a request names).
  HttpResponse handle_for(const HttpRequest& request, std::string_view account);

  // A GET or HEAD of /api/... over several accounts by the single-account routes: a list merges
  // every account's (each element naming its account; limit and offset apply per account;
  // `daemon_alerts` first in /api/alerts); one trade or order is found in whichever account
  // holds it (409 when several do: local ids are per account). `route_name`: the route's label
  // for /metrics. `accounts` is not empty.
  static HttpResponse read_accounts(const HttpRequest& request,
                                    const std::vector<AccountSource>& accounts,
                                    const std::vector<AccountAlert>& daemon_alerts,
                                    std::string& route_name);

  // AccountQueries, over the engine and the store.
  StatusOr<std::vector<TradeRecord>> trades(int limit, int offset) override;
  StatusOr<std::optional<TradeRecord>> trade(TradeId id) override;
  StatusOr<std::vector<Order>> orders(const OrderFilter& filter) override;
  StatusOr<std::optional<Order>> order(std::string_view ref) override;
  StatusOr<std::optional<OrderAudit>> audit(std::string_view ref) override;
  std::vector<PositionView> positions() override;
  StatusOr<std::vector<AlertRow>> alerts(bool active_only, int limit) override;
  HealthReport health_report() override;
  std::vector<OrderEvent> events_since(std::int64_t after_seq, int limit) override;

  // Counts one answered request for /metrics (the HTTP server calls it for every response,
  // including the ones it answers itself: 413, timeouts).
  void count(const std::string& route, int status) override;

  // Server-Sent Events: the audit events after `after_seq` (at most `limit`) as JSON objects,
  // and the current health as JSON. The HTTP server streams these.
  std::vector<std::pair<std::int64_t, std::string>> events_after(std::int64_t after_seq,
                                                                 int limit) override;
  std::int64_t last_event_seq() override;
  std::string health_json() override;

  // The market's session as last read from the broker, shown in /healthz (nullopt: not read
  // yet). Set once, before the API serves.
  using Market = MarketSession;
  void set_market_source(std::function<std::optional<Market>()> source) {
    market_ = std::move(source);
  }

  // A symbol's asset as the broker answers it (broker/asset_cache.h), for the rules it sets on
  // a trade (server/asset_check.h). Set once, before the API serves; unset (API tests without a
  // broker), trades are not checked against an asset.
  struct AssetAnswer {
    std::optional<AssetRules> asset;
    bool not_found = false;  // the broker has no such asset
    std::string error;       // why it could not be read (when neither of the above)
  };
  void set_asset_source(std::function<AssetAnswer(const std::string& symbol)> source) {
    assets_ = std::move(source);
  }

  // The broker's account (broker/account_cache.h) as read at most `max_age_ms` ago, for what it
  // permits (shorting_enabled). Set once, before the API serves; unset, trades are not checked
  // against it.
  struct AccountAnswer {
    bool read = false;                      // false: it could not be read (see error)
    std::optional<bool> shorting_enabled;   // nullopt: the answer did not say
    Timestamp read_at;
    std::string error;
  };
  // Kept answers serve ten minutes; a refusal stands only on an answer this fresh.
  static constexpr std::int64_t kAccountKeepMs = 10 * 60 * 1000;
  static constexpr std::int64_t kRefusalAccountAgeMs = 30 * 1000;
  // A price of a pair judges a crypto market entry's value while at most this old.
  static constexpr std::int64_t kPriceMaxAgeMs = 60 * 1000;
  void set_account_source(std::function<AccountAnswer(std::int64_t max_age_ms)> source) {
    account_ = std::move(source);
  }

  // The broker's position of a symbol read now (GET /v2/positions), asked when a sell entry
  // would be refused were it a short (the asset's or the account's rules): whether a long covers
  // it is judged on this read alone. The engine's own read of positions may be a minute old
  // (sync.positions_interval_ms), and neither a long bought since nor one sold since (by our
  // own exit, or another client) is in it. Set once, before the API serves; unset, the
  // engine's read decides.
  struct PositionAnswer {
    bool read = false;  // false: it could not be read (see error)
    Decimal qty;        // signed, 0 when the account holds none
    std::string error;
  };
  void set_position_source(std::function<PositionAnswer(const std::string& symbol)> source) {
    positions_ = std::move(source);
  }

 private:
  struct Routes;  // the route table (api.cc): method, pattern, token, metrics name, handler
  friend struct Routes;
  HttpResponse route(const HttpRequest& request, std::string_view account,
                     std::string& route_name);
  std::optional<HttpResponse> authorize(const HttpRequest& request) const;
  HttpResponse post_trade(const HttpRequest& request, std::string_view account);
  TradeRecord with_orders(const Trade& t);
  // A trade being opened (`opening`) or its exits being modified, against its asset
  // (server/asset_check.h); a modify is not held up by an unreadable asset (see api.cc). A crypto
  // trade being opened takes its pair's price_increment from the asset read.
  std::optional<HttpResponse> refuse_by_asset(TradeSpec& spec, bool opening);
  // A sell entry that would open a short on an account that may not sell short (api.cc).
  std::optional<HttpResponse> refuse_short(const TradeSpec& spec);
  // The long of a symbol the account holds as the engine knows it: orderly's own or the
  // broker's as last read, the larger (0 when none). What may cover a sell; never enough to
  // take one on (judge_long).
  Decimal long_held(const std::string& symbol);
  // Whether a long the account holds covers a sell entry: the broker's position read now alone
  // (api.cc). Unknown while it cannot be read; `held` is then long_held().
  struct LongCover {
    enum class Verdict : std::uint8_t { covers, opens_short, unknown };
    Verdict verdict = Verdict::unknown;
    Decimal held;       // the long it was judged on
    std::string error;  // unknown: why the broker's position could not be read
  };
  LongCover judge_long(const TradeSpec& spec);
  // "4 GME", "notional 100 USD of GME": a sell entry, in refusals.
  static std::string sell_of(const TradeSpec& spec);
  // Whether a sell entry goes below zero beyond `held` (api.cc).
  static bool opens_short(const TradeSpec& spec, Decimal held);
  // A crypto market entry by qty worth less than Alpaca's least crypto order value at a price
  // orderly knows of the pair (api.cc).
  std::optional<HttpResponse> refuse_crypto_value(const TradeSpec& spec);
  Health health();  // the engine's, with the store's own read faults

  EngineControl& engine_;
  Store& store_;
  std::string token_;
  const Clock& clock_;
  std::function<std::optional<Market>()> market_;
  std::function<AssetAnswer(const std::string&)> assets_;
  std::function<AccountAnswer(std::int64_t)> account_;
  std::function<PositionAnswer(const std::string&)> positions_;
  // Held from the look-up of a client_trade_id to the commit of its trade, so that two requests
  // with one key (a retry racing its original) cannot both open a trade.
  std::mutex open_mu_;
  std::mutex counters_mu_;
  std::map<std::pair<std::string, int>, std::int64_t> counters_;
};

// Looks up an embedded dashboard asset ("/" -> index.html). Defined in the generated
// web_assets.cc (src/server/CMakeLists.txt embeds web/ at build time).
struct Asset {
  const char* path;  // "/index.html"
  const char* content_type;
  const unsigned char* data;
  std::size_t size;
};
const Asset* find_asset(std::string_view path);
// "/openapi.json": api/openapi.json, embedded the same way (the local API's OpenAPI description).
const Asset* find_api_description(std::string_view path);

}  // namespace orderly::server
