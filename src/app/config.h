#pragma once
// orderly's configuration: the TOML keys of DESIGN.md "Configuration keys", each default written
// once, in config_keys.h (the keys as data; their meanings are there too). Alpaca's own
// environment variables (APCA_API_KEY_ID, APCA_API_SECRET_KEY, APCA_API_BASE_URL) override the
// file so the same shell set-up works for the SDKs and orderly. Secrets (key id, secret key, API
// token) never leave this struct except through the calls that need them: describe() redacts
// them.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/config_keys.h"
#include "core/status.h"

namespace orderly::app {

struct BrokerConfig {
  std::string base_url{default_text("broker.base_url")};
  std::string key_id;
  std::string secret_key;
  std::int64_t rate_limit_per_min = default_number("broker.rate_limit_per_min");
};

struct StoreConfig {
  std::string url{default_text("store.url")};
};

// The token guards every route but /healthz (and the dashboard's files). At least 16
// characters; a listen address other than loopback needs one.
struct ApiConfig {
  std::string listen{default_text("api.listen")};
  std::string token;  // empty: every call but /healthz is refused (reads: see public_reads)
  bool public_reads = default_flag("api.public_reads");
  std::vector<std::string> allowed_hosts;
};

struct SyncConfig {
  std::int64_t poll_interval_ms = default_number("sync.poll_interval_ms");
  std::int64_t idle_poll_interval_ms = default_number("sync.idle_poll_interval_ms");
  std::int64_t idle_sweep_interval_ms = default_number("sync.idle_sweep_interval_ms");
  std::int64_t positions_interval_ms = default_number("sync.positions_interval_ms");
  std::int64_t clock_refresh_ms = default_number("sync.clock_refresh_ms");
  bool stream = default_flag("sync.stream");
};

struct RetryConfig {
  std::int64_t base_ms = default_number("retry.base_ms");
  std::int64_t cap_ms = default_number("retry.cap_ms");
  std::int64_t max_attempts = default_number("retry.max_attempts");
};

struct AlertsConfig {
  std::string webhook_url;
  std::int64_t sync_lag_ms = default_number("alerts.sync_lag_ms");
  std::int64_t stuck_order_ms = default_number("alerts.stuck_order_ms");
  std::int64_t unprotected_grace_ms = default_number("alerts.unprotected_grace_ms");
};

// One broker account of a several-account daemon ([[accounts]] tables). The single [broker] form
// is one account named "default". Keys come from the file or from the environment variables the
// *_env keys name (each account needs its own pair, so APCA_* cannot serve them).
struct AccountConfig {
  std::string name;  // [A-Za-z0-9_-]{1,32}: appears in URLs (?account=), logs and metric labels
  std::string base_url{default_text("accounts.base_url")};
  std::string key_id;
  std::string secret_key;
  std::string key_id_env;      // the name of a variable holding key_id (not the key)
  std::string secret_key_env;  // the name of a variable holding secret_key
  std::int64_t rate_limit_per_min = default_number("accounts.rate_limit_per_min");
};

// The account lease (PostgreSQL store; a SQLite file is owned by one process anyway).
struct LeaseConfig {
  std::int64_t ttl_ms = default_number("lease.ttl_ms");
  std::int64_t safety_margin_ms = default_number("lease.safety_margin_ms");
  std::int64_t renew_interval_ms = default_number("lease.renew_interval_ms");
};

struct Config {
  BrokerConfig broker;
  StoreConfig store;
  ApiConfig api;
  SyncConfig sync;
  RetryConfig retry;
  AlertsConfig alerts;
  std::vector<AccountConfig> accounts;  // empty: the single [broker] form
  LeaseConfig lease;
};

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};

// "127.0.0.1:8930", "[::1]:8930", "localhost:0". Port 0 asks the OS for a free one.
StatusOr<ListenAddress> parse_listen_address(std::string_view text);

// Parses TOML text. `source` names the file in errors ("orderly.toml:12: unknown key ...").
// Does not apply the environment; validates.
StatusOr<Config> parse_config(std::string_view toml_text, std::string_view source);
// Reads and parses a file; a missing file is an error naming it.
StatusOr<Config> load_config_file(const std::string& path);

// Reads a variable; the default reads the process environment. Tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
std::optional<std::string> process_env(const char* name);
// Applies APCA_API_KEY_ID, APCA_API_SECRET_KEY, APCA_API_BASE_URL (non-empty values only).
void apply_env(Config& config, const EnvLookup& env = process_env);

// Checks values: negative or zero intervals, a bad listen address, an unknown store URL scheme.
Status validate(const Config& config);

// One line per key, secrets shown as "<redacted>" (or "<empty>"), for logs and `--print-config`.
std::string describe(const Config& config);

// `url` without the user information of its authority (https://user:pass@host/ ->
// https://host/): what may be printed of a configured URL.
std::string printable_url(std::string_view url);

}  // namespace orderly::app

namespace orderly::app {
// The account every store row is scoped to: a hash of the key id (account_tag), never the key.
std::string store_account(const Config& config);
std::string store_account(const AccountConfig& account);

// The accounts this daemon serves, keys resolved: the [broker] form (after apply_env) as one
// account named "default", or every [[accounts]] entry with its *_env variables read. Errors
// name the account and the variable, never a key; two accounts resolving to one key id are
// refused (two engines would submit for one Alpaca account).
StatusOr<std::vector<AccountConfig>> resolve_accounts(const Config& config,
                                                      const EnvLookup& env = process_env);

// The store URL of one account: `url` itself when only one account is configured; with several
// a SQLite path gets the account's name before its extension (sqlite:orderly.db ->
// sqlite:orderly-NAME.db: one file, one lock, per account); other URLs are shared.
std::string account_store_url(const std::string& url, const std::string& account_name,
                              std::size_t account_count);
}  // namespace orderly::app
