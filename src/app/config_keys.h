#pragma once
// The configuration contract as data: every TOML key orderly reads, with its type, default, unit,
// bounds, how it may be shown and what it means. The structs of config.h take their defaults
// from here, parse_config() reads and validate() checks by it, describe() (`--print-config`)
// prints by it and `orderly config-keys --markdown` renders the README's table from it, so a key
// is added, renamed or re-defaulted in one place. The names and defaults are DESIGN.md's
// "Configuration keys".

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace orderly::app {

enum class KeyType : std::uint8_t { text, integer, boolean, text_list };

// What a key's value may look like in `--print-config`, logs and error messages.
enum class Shown : std::uint8_t {
  plain,      // as written
  url,        // without user information (https://user:pass@host/ -> https://host/)
  store_url,  // a sqlite path as written; any other URL may hold a password: its scheme only
  secret,     // "<redacted>" or "<empty>"; an account's "$VARIABLE" when its *_env key names one
  presence,   // "<set>" or "<empty>": a webhook URL often carries its token in the path
  folded,     // no line of its own: an account's name is its prefix, *_env shows on the key line
};

// The shape a text value must have (integers have bounds instead).
enum class Format : std::uint8_t {
  any,
  http_url,           // http:// or https://
  http_url_or_empty,  // the same, or "" for "off"
  listen_address,     // HOST:PORT or [IPv6]:PORT
  store_url,          // sqlite:PATH or postgresql://...
  api_token,          // "" or at least kMinApiTokenLength characters
  host_names,         // each element a host name (no spaces or slashes)
  account_name,       // 1-32 of [A-Za-z0-9_-]
};

inline constexpr std::size_t kMinApiTokenLength = 16;

struct ConfigKey {
  std::string_view path;  // "sync.poll_interval_ms"; a key of each [[accounts]] entry: "accounts.X"
  KeyType type = KeyType::text;
  std::string_view text;    // default of a text key
  std::int64_t number = 0;  // default of an integer key; of a boolean, 0 or 1
  std::int64_t min = 0;     // integer bounds, inclusive
  std::int64_t max = 0;
  std::string_view unit;  // "ms", "calls/min", "attempts"
  Shown shown = Shown::plain;
  Format format = Format::any;
  std::string_view meaning;  // one line, for the README's table and `orderly config-keys`

  constexpr bool per_account() const { return path.starts_with("accounts."); }
  constexpr std::string_view section() const { return path.substr(0, path.find('.')); }
  constexpr std::string_view name() const { return path.substr(path.find('.') + 1); }
};

namespace config_keys_detail {

inline constexpr std::int64_t kDayMs = 86'400'000;
inline constexpr std::string_view kPaperApiUrl = "https://paper-api.alpaca.markets";
inline constexpr std::int64_t kRateLimitPerMin = 190;  // Alpaca allows 200 per account

constexpr ConfigKey text(std::string_view path, std::string_view def, Shown shown, Format format,
                         std::string_view meaning) {
  return {.path = path, .text = def, .shown = shown, .format = format, .meaning = meaning};
}
constexpr ConfigKey integer(std::string_view path, std::int64_t def, std::int64_t min,
                            std::int64_t max, std::string_view unit, std::string_view meaning) {
  return {.path = path, .type = KeyType::integer, .number = def, .min = min, .max = max,
          .unit = unit, .meaning = meaning};
}
constexpr ConfigKey millis(std::string_view path, std::int64_t def, std::int64_t min,
                           std::string_view meaning) {
  return integer(path, def, min, kDayMs, "ms", meaning);
}
constexpr ConfigKey flag(std::string_view path, bool def, std::string_view meaning) {
  return {.path = path, .type = KeyType::boolean, .number = def ? 1 : 0, .meaning = meaning};
}
constexpr ConfigKey texts(std::string_view path, Format format, std::string_view meaning) {
  return {.path = path, .type = KeyType::text_list, .format = format, .meaning = meaning};
}

// Upper bounds are generous (a day for an interval): they catch a slipped digit and keep every
// value inside the int the engine converts it to.
inline constexpr ConfigKey kKeys[] = {
    text("broker.base_url", kPaperApiUrl, Shown::url, Format::http_url,
         "Alpaca trading API (paper or live); APCA_API_BASE_URL overrides"),
    text("broker.key_id", "", Shown::secret, Format::any,
         "Alpaca key id; APCA_API_KEY_ID overrides"),
    text("broker.secret_key", "", Shown::secret, Format::any,
         "Alpaca secret key; APCA_API_SECRET_KEY overrides"),
    integer("broker.rate_limit_per_min", kRateLimitPerMin, 1, 10'000, "calls/min",
            "REST budget for all calls together"),
    text("store.url", "sqlite:orderly.db", Shown::store_url, Format::store_url,
         "where orders, trades and the audit log are kept"),
    text("api.listen", "127.0.0.1:8930", Shown::plain, Format::listen_address,
         "local API address (port 0: any free one); beyond loopback only with a token"),
    text("api.token", "", Shown::secret, Format::api_token,
         "bearer token for every route but /healthz; empty: those are refused"),
    flag("api.public_reads", false, "GET routes open without the token (loopback listen only)"),
    texts("api.allowed_hosts", Format::host_names, "Host header names served besides loopback"),
    // The REST cost of staying in sync is set here (BENCHMARKS.md, sync_rest_per_min_*).
    millis("sync.poll_interval_ms", 1000, 1,
           "while the stream is down or suspect: fill catch-up (1 call) and open-order sweep "
           "(1 call per 500 open orders) this often; what the stream would have said is found "
           "within it"),
    millis("sync.idle_poll_interval_ms", 10'000, 1,
           "while the stream is healthy: fill catch-up (1 call) this often, 60000/this calls/min; "
           "a fill the stream lost is found (and its exits placed) within it"),
    millis("sync.idle_sweep_interval_ms", 60'000, 1,
           "while the stream is healthy: open-order sweep this often (1 call per 500 open "
           "orders); a cancel or expiry the stream lost is found within it"),
    millis("sync.positions_interval_ms", 60'000, 1000,
           "positions read (1 call) this often and compared with the local ledger; a drift "
           "that lasts two reads raises reconciliation_mismatch"),
    flag("sync.stream", true, "follow Alpaca's trade_updates stream"),
    millis("sync.clock_refresh_ms", 60'000, 1000,
           "market clock read (status, dashboard); also just after each open and close"),
    millis("retry.base_ms", 1000, 1, "first retry delay; doubles per attempt"),
    millis("retry.cap_ms", 300'000, 1, "longest retry delay (not below retry.base_ms)"),
    integer("retry.max_attempts", 8, 1, 1000, "attempts",
            "submissions of one order before it is given up"),
    text("alerts.webhook_url", "", Shown::presence, Format::http_url_or_empty,
         "every alert raised or cleared is POSTed here; empty: none"),
    millis("alerts.sync_lag_ms", 5000, 1,
           "alert when no poll has completed for this long past its interval"),
    millis("alerts.stuck_order_ms", 30'000, 1, "alert when an order stays submitting/unknown"),
    millis("alerts.unprotected_grace_ms", 5000, 0, "alert when a filled position has no exits"),
    millis("lease.ttl_ms", 15'000, 1, "account lease length (PostgreSQL store)"),
    millis("lease.safety_margin_ms", 5000, 0, "the lease counts as lost this long before expiry"),
    millis("lease.renew_interval_ms", 3000, 1, "lease renewal period; below ttl - safety margin"),
    text("accounts.name", "", Shown::folded, Format::account_name,
         "required, unique; used in ?account=, logs and metric labels"),
    text("accounts.base_url", kPaperApiUrl, Shown::url, Format::http_url,
         "this account's Alpaca trading API"),
    text("accounts.key_id", "", Shown::secret, Format::any, "key id (or key_id_env)"),
    text("accounts.secret_key", "", Shown::secret, Format::any, "secret key (or secret_key_env)"),
    text("accounts.key_id_env", "", Shown::folded, Format::any,
         "the name of a variable holding key_id"),
    text("accounts.secret_key_env", "", Shown::folded, Format::any,
         "the name of a variable holding secret_key"),
    integer("accounts.rate_limit_per_min", kRateLimitPerMin, 1, 10'000, "calls/min",
            "this account's REST budget (Alpaca counts per account)"),
};

consteval const ConfigKey& find(std::string_view path) {
  for (const ConfigKey& k : kKeys) {
    if (k.path == path) return k;
  }
  throw "no such configuration key";  // a compile error: the struct names a key the table lacks
}

}  // namespace config_keys_detail

// Every key, in the order `--print-config` and the README show them.
inline constexpr std::span<const ConfigKey> kConfigKeys{config_keys_detail::kKeys};

// A key's default, for the structs of config.h (a path the table lacks does not compile).
consteval std::string_view default_text(std::string_view path) {
  return config_keys_detail::find(path).text;
}
consteval std::int64_t default_number(std::string_view path) {
  return config_keys_detail::find(path).number;
}
consteval bool default_flag(std::string_view path) {
  return config_keys_detail::find(path).number != 0;
}

// The key at `path`, or nullptr.
const ConfigKey* find_config_key(std::string_view path);

// The README's table (GitHub markdown), and the same as plain text for `orderly config-keys`.
std::string config_keys_markdown();
std::string config_keys_text();

}  // namespace orderly::app
