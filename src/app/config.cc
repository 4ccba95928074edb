#include "app/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <variant>
#include <vector>

#include "server/api.h"

namespace orderly::app {
namespace {

using Code = Status::Code;

Status invalid(std::string msg) { return Status::error(Code::invalid_argument, std::move(msg)); }

std::string where(std::string_view source, const toml::node& node) {
  std::string out(source);
  const auto& begin = node.source().begin;
  if (begin.line > 0) out += ":" + std::to_string(begin.line);
  return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// ---- where each key of config_keys.h lives in the structs

using Field = std::variant<std::string*, std::int64_t*, bool*, std::vector<std::string>*>;
struct GlobalField {
  std::string_view path;
  Field (*get)(Config&);
};
struct AccountField {
  std::string_view path;
  Field (*get)(AccountConfig&);
};

constexpr GlobalField kGlobalFields[] = {
    {"broker.base_url", [](Config& c) -> Field { return &c.broker.base_url; }},
    {"broker.key_id", [](Config& c) -> Field { return &c.broker.key_id; }},
    {"broker.secret_key", [](Config& c) -> Field { return &c.broker.secret_key; }},
    {"broker.rate_limit_per_min", [](Config& c) -> Field { return &c.broker.rate_limit_per_min; }},
    {"store.url", [](Config& c) -> Field { return &c.store.url; }},
    {"api.listen", [](Config& c) -> Field { return &c.api.listen; }},
    {"api.token", [](Config& c) -> Field { return &c.api.token; }},
    {"api.public_reads", [](Config& c) -> Field { return &c.api.public_reads; }},
    {"api.allowed_hosts", [](Config& c) -> Field { return &c.api.allowed_hosts; }},
    {"sync.poll_interval_ms", [](Config& c) -> Field { return &c.sync.poll_interval_ms; }},
    {"sync.idle_poll_interval_ms",
     [](Config& c) -> Field { return &c.sync.idle_poll_interval_ms; }},
    {"sync.idle_sweep_interval_ms",
     [](Config& c) -> Field { return &c.sync.idle_sweep_interval_ms; }},
    {"sync.positions_interval_ms",
     [](Config& c) -> Field { return &c.sync.positions_interval_ms; }},
    {"sync.clock_refresh_ms", [](Config& c) -> Field { return &c.sync.clock_refresh_ms; }},
    {"sync.stream", [](Config& c) -> Field { return &c.sync.stream; }},
    {"retry.base_ms", [](Config& c) -> Field { return &c.retry.base_ms; }},
    {"retry.cap_ms", [](Config& c) -> Field { return &c.retry.cap_ms; }},
    {"retry.max_attempts", [](Config& c) -> Field { return &c.retry.max_attempts; }},
    {"alerts.webhook_url", [](Config& c) -> Field { return &c.alerts.webhook_url; }},
    {"alerts.sync_lag_ms", [](Config& c) -> Field { return &c.alerts.sync_lag_ms; }},
    {"alerts.stuck_order_ms", [](Config& c) -> Field { return &c.alerts.stuck_order_ms; }},
    {"alerts.unprotected_grace_ms",
     [](Config& c) -> Field { return &c.alerts.unprotected_grace_ms; }},
    {"lease.ttl_ms", [](Config& c) -> Field { return &c.lease.ttl_ms; }},
    {"lease.safety_margin_ms", [](Config& c) -> Field { return &c.lease.safety_margin_ms; }},
    {"lease.renew_interval_ms", [](Config& c) -> Field { return &c.lease.renew_interval_ms; }},
};

constexpr AccountField kAccountFields[] = {
    {"accounts.name", [](AccountConfig& a) -> Field { return &a.name; }},
    {"accounts.base_url", [](AccountConfig& a) -> Field { return &a.base_url; }},
    {"accounts.key_id", [](AccountConfig& a) -> Field { return &a.key_id; }},
    {"accounts.secret_key", [](AccountConfig& a) -> Field { return &a.secret_key; }},
    {"accounts.key_id_env", [](AccountConfig& a) -> Field { return &a.key_id_env; }},
    {"accounts.secret_key_env", [](AccountConfig& a) -> Field { return &a.secret_key_env; }},
    {"accounts.rate_limit_per_min",
     [](AccountConfig& a) -> Field { return &a.rate_limit_per_min; }},
};

// Every key of the table has exactly one field, and every field a key: checked by the compiler.
template <typename Fields>
consteval int bindings_of(std::string_view path, const Fields& fields) {
  int n = 0;
  for (const auto& f : fields) n += f.path == path ? 1 : 0;
  return n;
}
consteval bool every_key_bound_once() {
  for (const ConfigKey& k : kConfigKeys) {
    const int n = k.per_account() ? bindings_of(k.path, kAccountFields)
                                  : bindings_of(k.path, kGlobalFields);
    if (n != 1) return false;
  }
  return std::size(kGlobalFields) + std::size(kAccountFields) == kConfigKeys.size();
}
static_assert(every_key_bound_once(), "config_keys.h and the fields of config.cc disagree");

template <typename Fields, typename Struct>
Field field_of(const Fields& fields, Struct& s, std::string_view path) {
  for (const auto& f : fields) {
    if (f.path == path) return f.get(s);
  }
  return static_cast<std::string*>(nullptr);  // unreachable: every_key_bound_once
}
Field field(Config& c, const ConfigKey& k) { return field_of(kGlobalFields, c, k.path); }
Field field(AccountConfig& a, const ConfigKey& k) { return field_of(kAccountFields, a, k.path); }
// Read only through these: one set of getters serves parsing (which writes) and checking and
// printing (which do not).
Field field(const Config& c, const ConfigKey& k) { return field(const_cast<Config&>(c), k); }
Field field(const AccountConfig& a, const ConfigKey& k) {
  return field(const_cast<AccountConfig&>(a), k);
}

// ---- reading: the TOML type a key's table type asks for

std::string_view toml_type(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
  }
}

// Stores `node` into `f`; "" or why not (without the value, which may be a secret).
std::string read_into(const toml::node& node, const Field& f) {
  const std::string got = std::string(" (got ") + std::string(toml_type(node)) + ")";
  if (auto* text = std::get_if<std::string*>(&f)) {
    if (!node.is_string()) return "must be a string" + got;
    **text = *node.value<std::string>();
  } else if (auto* number = std::get_if<std::int64_t*>(&f)) {
    if (!node.is_integer()) return "must be an integer" + got;
    **number = *node.value<std::int64_t>();
  } else if (auto* flag = std::get_if<bool*>(&f)) {
    if (!node.is_boolean()) return "must be true or false" + got;
    **flag = *node.value<bool>();
  } else {
    const toml::array* a = node.as_array();
    std::vector<std::string> out;
    for (std::size_t i = 0; a != nullptr && i < a->size(); ++i) {
      if (!(*a)[i].is_string()) return "must be an array of strings";
      out.push_back(*(*a)[i].value<std::string>());
    }
    if (a == nullptr) return "must be an array of strings" + got;
    *std::get<std::vector<std::string>*>(f) = std::move(out);
  }
  return "";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The known key nearest to an unknown `section.name` (a name at the root has section ""), as
// the user would write it: by the key's own name, a key of another section costing a little
// more, so `[sync] base_ms` points to retry.base_ms and `poll_intervall_ms` to
// sync.poll_interval_ms. At the root a section may be nearest: "[broker]".
std::string nearest_key(std::string_view section, std::string_view name, std::string_view label) {
  const bool in_accounts = section == "accounts";
  std::string best;
  std::size_t best_cost = std::string::npos;
  for (const ConfigKey& k : kConfigKeys) {
    if (k.per_account() != in_accounts) continue;
    const bool here = k.section() == section;
    const std::size_t cost = edit_distance(name, k.name()) + (here || section.empty() ? 0 : 2);
    if (cost < best_cost) {
      best_cost = cost;
      best = here ? std::string(label) + "." + std::string(k.name()) : std::string(k.path);
    }
    if (!section.empty()) continue;
    if (std::size_t d = edit_distance(name, k.section()); d < best_cost) {
      best_cost = d, best = "[" + std::string(k.section()) + "]";
    }
  }
  return best;
}

// `label` is the table as errors name it (sync, accounts[2]); "" at the root.
std::string unknown_key(std::string_view section, std::string_view name, std::string_view label) {
  const std::string near = nearest_key(section, name, label);
  if (section.empty()) {
    return "unknown section or key '" + std::string(name) + "' (nearest known " +
           (near.starts_with("[") ? "section: " : "key: '") + near +
           (near.starts_with("[") ? ")" : "')");
  }
  return "unknown key '" + std::string(label) + "." + std::string(name) +
         "' (nearest known key: '" + near + "')";
}

const ConfigKey* key_at(std::string_view section, std::string_view name) {
  return find_config_key(std::string(section) + "." + std::string(name));
}

// One table's keys into `fields`; `label` is how errors name the table (accounts[2]).
template <typename Struct>
std::string read_table(const toml::table& table, std::string_view section, std::string_view label,
                       std::string_view source, Struct& into) {
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    const std::string shown = std::string(label) + "." + name;
    const ConfigKey* k = key_at(section, name);
    if (k == nullptr) return where(source, node) + ": " + unknown_key(section, name, label);
    if (std::string error = read_into(node, field(into, *k)); !error.empty()) {
      return where(source, node) + ": " + shown + " " + error;
    }
  }
  return "";
}

// [[accounts]]: an array of tables. Errors carry file:line and the entry's index (accounts[2])
// because the name itself may be what is wrong.
std::string read_accounts(const toml::node& node, std::string_view source,
                          std::vector<AccountConfig>& out) {
  const toml::array* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    return where(source, node) + ": 'accounts' must be written as [[accounts]] tables";
  }
  for (std::size_t i = 0; i < array->size(); ++i) {
    AccountConfig account;
    const std::string label = "accounts[" + std::to_string(i) + "]";
    std::string error = read_table(*(*array)[i].as_table(), "accounts", label, source, account);
    if (!error.empty()) return error;
    out.push_back(std::move(account));
  }
  return "";
}

bool known_section(std::string_view name) {
  return std::any_of(kConfigKeys.begin(), kConfigKeys.end(), [&](const ConfigKey& k) {
    return !k.per_account() && k.section() == name;
  });
}

std::string read_root(const toml::table& root, std::string_view source, Config& config) {
  if (root.contains("accounts") && root.contains("broker")) {
    return where(source, *root.get("broker")) +
           ": [broker] and [[accounts]] cannot be used together: move the [broker] keys into an "
           "[[accounts]] entry with a name";
  }
  for (const auto& [table_key, table_node] : root) {
    const std::string section(table_key.str());
    if (section == "accounts") {
      if (std::string e = read_accounts(table_node, source, config.accounts); !e.empty()) return e;
      continue;
    }
    if (!known_section(section)) {
      return where(source, table_node) + ": " + unknown_key("", section, "");
    }
    const toml::table* table = table_node.as_table();
    if (table == nullptr) return where(source, table_node) + ": '" + section + "' must be a table";
    if (std::string e = read_table(*table, section, section, source, config); !e.empty()) return e;
  }
  return "";
}

}  // namespace

StatusOr<Config> parse_config(std::string_view toml_text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source << ":" << e.source().begin.line << ": " << e.description();
    return invalid(msg.str());
  }
  Config config;
  if (std::string error = read_root(root, source, config); !error.empty()) return invalid(error);
  Status valid = validate(config);
  if (!valid) return invalid(std::string(source) + ": " + valid.message());
  return config;
}

StatusOr<Config> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error(Code::not_found, "cannot read config file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

std::optional<std::string> process_env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

void apply_env(Config& config, const EnvLookup& env) {
  auto set = [&](const char* name, std::string& field) {
    auto v = env(name);
    if (v && !v->empty()) field = *v;
  };
  set("APCA_API_KEY_ID", config.broker.key_id);
  set("APCA_API_SECRET_KEY", config.broker.secret_key);
  set("APCA_API_BASE_URL", config.broker.base_url);
}

namespace {

// Why `text` is no listen address, or "" with `out` set.
std::string listen_address_problem(std::string_view text, ListenAddress& out) {
  std::string_view host;
  std::string_view port_text;
  if (starts_with(text, "[")) {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return "expected [IPv6]:PORT";
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return "expected HOST:PORT";
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || port_text.empty() || ec != std::errc() ||
      ptr != port_text.data() + port_text.size() || port > 65535) {
    return "expected HOST:PORT with a port 0-65535";
  }
  out = ListenAddress{std::string(host), static_cast<std::uint16_t>(port)};
  return "";
}

// A value as an error message may show it: secrets never, URLs without their credentials (cut
// after they are removed, so a long password is never half shown).
std::string quoted(const ConfigKey& k, const std::string& value) {
  std::string shown = value;
  if (k.shown == Shown::secret || k.shown == Shown::presence) return "";
  if (k.shown == Shown::url || k.shown == Shown::store_url) {
    shown = printable_url(value);
    shown = shown.substr(0, shown.find('?'));
  }
  return " '" + shown.substr(0, 60) + "'";
}

std::string bounds_of(const ConfigKey& k) {
  return std::to_string(k.min) + " to " + std::to_string(k.max) + " " + std::string(k.unit);
}

std::string check_number(const ConfigKey& k, const std::string& label, std::int64_t v) {
  if (v >= k.min && v <= k.max) return "";
  std::string rule = "must be at most " + std::to_string(k.max);
  if (v < k.min) {
    rule = k.min == 1   ? "must be positive"
           : k.min == 0 ? "must not be negative"
                        : "must be at least " + std::to_string(k.min);
  }
  return label + " " + rule + " (" + bounds_of(k) + "; got " + std::to_string(v) + ")";
}

bool valid_account_name(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
  });
}

// Why a text value does not have its key's format, or "".
std::string format_problem(Format format, const std::string& v) {
  ListenAddress ignored;
  bool http = starts_with(v, "https://") || starts_with(v, "http://");
  switch (format) {
    case Format::http_url:
      return http ? "" : "must start with https:// or http://";
    case Format::http_url_or_empty:
      return http || v.empty() ? "" : "must be empty or start with https:// or http://";
    case Format::listen_address:
      return listen_address_problem(v, ignored);
    case Format::store_url:
      return (starts_with(v, "sqlite:") && v.size() > 7) || starts_with(v, "postgresql://") ||
                     starts_with(v, "postgres://")
                 ? ""
                 : "must be sqlite:PATH or postgresql://...";
    case Format::account_name:
      return valid_account_name(v) ? "" : "must be 1-32 letters, digits, '_' or '-'";
    default:
      return "";
  }
}

std::string check_text(const ConfigKey& k, const std::string& label, const std::string& v) {
  if (k.format == Format::account_name && v.empty()) return label + " is required";
  if (k.format == Format::api_token && !v.empty() && v.size() < kMinApiTokenLength) {
    return label + " is " + std::to_string(v.size()) + " characters; use at least " +
           std::to_string(kMinApiTokenLength) + " (e.g. `openssl rand -hex 16`)";
  }
  std::string problem = format_problem(k.format, v);
  if (problem.empty()) return "";
  return label + quoted(k, v) + (problem.starts_with("expected") ? ": " : " ") +
         problem;
}

std::string check_texts(const ConfigKey& k, const std::string& label,
                        const std::vector<std::string>& values) {
  if (k.format != Format::host_names) return "";
  for (const auto& h : values) {
    if (h.empty() || h.find_first_of(" /\t") != std::string::npos) {
      return label + ": '" + h + "' is not a host name";
    }
  }
  return "";
}

// The table's rules for one value (bounds, format); "" when it keeps them.
std::string check(const ConfigKey& k, const std::string& label, const Field& f) {
  if (auto* number = std::get_if<std::int64_t*>(&f)) return check_number(k, label, **number);
  if (auto* text = std::get_if<std::string*>(&f)) return check_text(k, label, **text);
  if (auto* texts = std::get_if<std::vector<std::string>*>(&f)) {
    return check_texts(k, label, **texts);
  }
  return "";
}

// ---- the rules between keys (one key's own rules are the table's)

// The API's doors: an open port beyond this host without a token, or open reads there.
Status validate_api(const ApiConfig& api) {
  auto listen = parse_listen_address(api.listen);
  if (!listen.ok()) return invalid("api." + listen.status().message());
  const bool loopback = server::host_allowed(listen->host, {});
  if (!loopback && api.token.empty()) {
    return invalid("api.listen '" + api.listen + "' is reachable beyond this host and [api] token "
                   "is empty: set a token (16+ characters) or listen on 127.0.0.1");
  }
  if (!loopback && api.public_reads) {
    return invalid("api.public_reads = true is for a loopback-only set-up; api.listen '" +
                   api.listen + "' is reachable beyond this host");
  }
  return Status::success();
}

Status validate_lease(const LeaseConfig& l) {
  auto num = [](std::int64_t v) { return std::to_string(v); };
  if (l.safety_margin_ms >= l.ttl_ms) {
    return invalid("lease.safety_margin_ms (" + num(l.safety_margin_ms) +
                   ") must be below lease.ttl_ms (" + num(l.ttl_ms) + ")");
  }
  // A renewal must land while the lease is still held locally, with time to spare for a retry.
  if (l.renew_interval_ms >= l.ttl_ms - l.safety_margin_ms) {
    return invalid("lease.renew_interval_ms (" + num(l.renew_interval_ms) +
                   ") must be below lease.ttl_ms - lease.safety_margin_ms (" +
                   num(l.ttl_ms - l.safety_margin_ms) + ")");
  }
  return Status::success();
}

// One entry's own keys by the table, then its key pairs; names before anything else, because
// later errors name the account by it.
Status validate_account(const AccountConfig& a, std::size_t index) {
  const std::string label = "accounts[" + std::to_string(index) + "].";
  const std::string who = "account '" + a.name + "': ";
  for (const ConfigKey& k : kConfigKeys) {
    if (!k.per_account()) continue;
    const std::string name(k.name());
    const std::string error = check(k, (name == "name" ? label : who) + name, field(a, k));
    if (!error.empty()) return invalid(error);
  }
  if (!a.key_id.empty() && !a.key_id_env.empty()) {
    return invalid(who + "give key_id or key_id_env, not both");
  }
  if (!a.secret_key.empty() && !a.secret_key_env.empty()) {
    return invalid(who + "give secret_key or secret_key_env, not both");
  }
  return Status::success();
}

Status validate_accounts(const std::vector<AccountConfig>& accounts) {
  std::map<std::string, std::string> names;    // name -> label
  std::map<std::string, std::string> key_ids;  // key id -> account name (key never printed)
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    const AccountConfig& a = accounts[i];
    if (Status s = validate_account(a, i); !s) return s;
    const std::string label = "accounts[" + std::to_string(i) + "]";
    if (!names.emplace(a.name, label).second) {
      return invalid(label + ".name '" + a.name + "' is used by " + names[a.name] +
                     " too: account names must be unique");
    }
    if (a.key_id.empty()) continue;
    auto [it, fresh] = key_ids.emplace(a.key_id, a.name);
    if (!fresh) {
      return invalid("accounts '" + it->second + "' and '" + a.name +
                     "' have the same key_id: one Alpaca account must be served by one entry");
    }
  }
  return Status::success();
}

}  // namespace

StatusOr<ListenAddress> parse_listen_address(std::string_view text) {
  ListenAddress out;
  std::string problem = listen_address_problem(text, out);
  if (!problem.empty()) return invalid("listen address '" + std::string(text) + "': " + problem);
  return out;
}

Status validate(const Config& c) {
  for (const ConfigKey& k : kConfigKeys) {
    if (k.per_account()) continue;
    if (std::string error = check(k, std::string(k.path), field(c, k)); !error.empty()) {
      return invalid(error);
    }
  }
  if (c.retry.cap_ms < c.retry.base_ms) {
    return invalid("retry.cap_ms (" + std::to_string(c.retry.cap_ms) +
                   ") must not be below retry.base_ms (" + std::to_string(c.retry.base_ms) + ")");
  }
  if (Status s = validate_api(c.api); !s) return s;
  if (Status s = validate_lease(c.lease); !s) return s;
  return validate_accounts(c.accounts);
}

std::string printable_url(std::string_view url) {
  const auto scheme = url.find("://");
  const std::size_t host = scheme == std::string_view::npos ? 0 : scheme + 3;
  const std::size_t end = std::min(url.find_first_of("/?#", host), url.size());
  const auto at = url.substr(host, end - host).rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, host)) + std::string(url.substr(host + at + 1));
}

namespace {

std::string redact(const std::string& secret) { return secret.empty() ? "<empty>" : "<redacted>"; }

std::string shown_text(const ConfigKey& k, const std::string& v, const std::string& env_name) {
  switch (k.shown) {
    case Shown::url:
      return printable_url(v);
    case Shown::store_url:  // a postgres URL may carry a password: its scheme only
      return starts_with(v, "sqlite:") ? v : "postgresql://<redacted>";
    case Shown::secret:
      return env_name.empty() ? redact(v) : "$" + env_name;
    case Shown::presence:
      return v.empty() ? "<empty>" : "<set>";
    default:
      return v;
  }
}

// A value as `--print-config` shows it; `env_name` is the variable an account's *_env key names.
std::string shown_value(const ConfigKey& k, const Field& f, const std::string& env_name = "") {
  if (auto* text = std::get_if<std::string*>(&f)) return shown_text(k, **text, env_name);
  if (auto* number = std::get_if<std::int64_t*>(&f)) return std::to_string(**number);
  if (auto* flag = std::get_if<bool*>(&f)) return **flag ? "true" : "false";
  std::string out;
  for (const auto& s : *std::get<std::vector<std::string>*>(f)) out += (out.empty() ? "" : ",") + s;
  return out;
}

void describe_account(const AccountConfig& a, std::ostream& o) {
  for (const ConfigKey& k : kConfigKeys) {
    if (!k.per_account() || k.shown == Shown::folded) continue;
    const ConfigKey* env_key = find_config_key(std::string(k.path) + "_env");
    const std::string env_name =
        env_key == nullptr ? "" : *std::get<std::string*>(field(a, *env_key));
    o << "accounts." << a.name << "." << k.name() << "=" << shown_value(k, field(a, k), env_name)
      << "\n";
  }
}

}  // namespace

std::string describe(const Config& c) {
  std::ostringstream o;
  for (const ConfigKey& k : kConfigKeys) {
    if (k.per_account() || k.shown == Shown::folded) continue;
    if (!c.accounts.empty() && k.section() == "broker") continue;  // unused with [[accounts]]
    o << k.path << "=" << shown_value(k, field(c, k)) << "\n";
  }
  for (const auto& a : c.accounts) describe_account(a, o);
  return o.str();
}

}  // namespace orderly::app

#include "core/ids.h"

namespace orderly::app {
std::string store_account(const Config& config) { return account_tag(config.broker.key_id); }
std::string store_account(const AccountConfig& account) { return account_tag(account.key_id); }

StatusOr<std::vector<AccountConfig>> resolve_accounts(const Config& config, const EnvLookup& env) {
  if (config.accounts.empty()) {
    AccountConfig single;
    single.name = "default";
    single.base_url = config.broker.base_url;
    single.key_id = config.broker.key_id;
    single.secret_key = config.broker.secret_key;
    single.rate_limit_per_min = config.broker.rate_limit_per_min;
    return std::vector<AccountConfig>{single};
  }
  std::vector<AccountConfig> out;
  std::map<std::string, std::string> key_ids;
  for (AccountConfig a : config.accounts) {
    auto read = [&](const std::string& var, std::string& field, const char* key) -> Status {
      if (var.empty()) return Status::success();
      auto v = env(var.c_str());
      if (!v || v->empty()) {
        return invalid("account '" + a.name + "': environment variable " + var + " (named by " +
                       key + ") is not set or empty");
      }
      field = *v;
      return Status::success();
    };
    if (Status s = read(a.key_id_env, a.key_id, "key_id_env"); !s) return s;
    if (Status s = read(a.secret_key_env, a.secret_key, "secret_key_env"); !s) return s;
    if (a.key_id.empty() || a.secret_key.empty()) {
      return invalid("account '" + a.name +
                     "' needs key_id (or key_id_env) and secret_key (or secret_key_env)");
    }
    auto [it, fresh] = key_ids.emplace(a.key_id, a.name);
    if (!fresh) {
      return invalid("accounts '" + it->second + "' and '" + a.name +
                     "' have the same key_id: one Alpaca account must be served by one entry");
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::string account_store_url(const std::string& url, const std::string& account_name,
                              std::size_t account_count) {
  if (account_count <= 1 || !starts_with(url, "sqlite:")) return url;
  const std::string path = url.substr(7);
  if (path == ":memory:") return url;  // each open is a private database already
  const std::filesystem::path p(path);
  std::filesystem::path file = p.stem();
  file += "-" + account_name;
  file += p.extension();
  return "sqlite:" + (p.parent_path() / file).string();
}
}  // namespace orderly::app
