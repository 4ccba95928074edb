#include "app/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
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

// A key's reader: checks the TOML type and stores the value; returns an error text or "".
using Reader = std::function<std::string(const toml::node&)>;

Reader string_into(std::string& field) {
  return [&field](const toml::node& n) -> std::string {
    if (!n.is_string()) return "must be a string";
    field = *n.value<std::string>();
    return "";
  };
}
Reader int_into(std::int64_t& field) {
  return [&field](const toml::node& n) -> std::string {
    if (!n.is_integer()) return "must be an integer";
    field = *n.value<std::int64_t>();
    return "";
  };
}
Reader strings_into(std::vector<std::string>& field) {
  return [&field](const toml::node& n) -> std::string {
    const toml::array* a = n.as_array();
    if (a == nullptr) return "must be an array of strings";
    std::vector<std::string> out;
    for (const auto& e : *a) {
      if (!e.is_string()) return "must be an array of strings";
      out.push_back(*e.value<std::string>());
    }
    field = std::move(out);
    return "";
  };
}
Reader bool_into(bool& field) {
  return [&field](const toml::node& n) -> std::string {
    if (!n.is_boolean()) return "must be true or false";
    field = *n.value<bool>();
    return "";
  };
}

// The schema: table -> key -> reader. Unknown tables and keys are errors (a typo such as
// `poll_intervall_ms` would otherwise silently keep the default).
std::map<std::string, std::map<std::string, Reader>> schema(Config& c) {
  return {
      {"broker",
       {{"base_url", string_into(c.broker.base_url)},
        {"key_id", string_into(c.broker.key_id)},
        {"secret_key", string_into(c.broker.secret_key)},
        {"rate_limit_per_min", int_into(c.broker.rate_limit_per_min)}}},
      {"store", {{"url", string_into(c.store.url)}}},
      {"api",
       {{"listen", string_into(c.api.listen)},
        {"token", string_into(c.api.token)},
        {"public_reads", bool_into(c.api.public_reads)},
        {"allowed_hosts", strings_into(c.api.allowed_hosts)}}},
      {"sync",
       {{"poll_interval_ms", int_into(c.sync.poll_interval_ms)},
        {"idle_poll_interval_ms", int_into(c.sync.idle_poll_interval_ms)},
        {"stream", bool_into(c.sync.stream)}}},
      {"retry",
       {{"base_ms", int_into(c.retry.base_ms)},
        {"cap_ms", int_into(c.retry.cap_ms)},
        {"max_attempts", int_into(c.retry.max_attempts)}}},
      {"alerts",
       {{"webhook_url", string_into(c.alerts.webhook_url)},
        {"sync_lag_ms", int_into(c.alerts.sync_lag_ms)},
        {"stuck_order_ms", int_into(c.alerts.stuck_order_ms)},
        {"unprotected_grace_ms", int_into(c.alerts.unprotected_grace_ms)}}},
      {"lease",
       {{"ttl_ms", int_into(c.lease.ttl_ms)},
        {"safety_margin_ms", int_into(c.lease.safety_margin_ms)},
        {"renew_interval_ms", int_into(c.lease.renew_interval_ms)}}},
  };
}

std::map<std::string, Reader> account_schema(AccountConfig& a) {
  return {{"name", string_into(a.name)},
          {"base_url", string_into(a.base_url)},
          {"key_id", string_into(a.key_id)},
          {"secret_key", string_into(a.secret_key)},
          {"key_id_env", string_into(a.key_id_env)},
          {"secret_key_env", string_into(a.secret_key_env)},
          {"rate_limit_per_min", int_into(a.rate_limit_per_min)}};
}

// [[accounts]]: an array of tables, each read with account_schema. Errors carry file:line and
// the entry's index (accounts[2]) because the name itself may be what is wrong.
std::string read_accounts(const toml::node& node, std::string_view source,
                          std::vector<AccountConfig>& out) {
  const toml::array* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    return where(source, node) + ": 'accounts' must be written as [[accounts]] tables";
  }
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::table& table = *(*array)[i].as_table();
    AccountConfig account;
    auto readers = account_schema(account);
    const std::string label = "accounts[" + std::to_string(i) + "]";
    for (const auto& [key, value] : table) {
      std::string key_name(key.str());
      auto reader = readers.find(key_name);
      if (reader == readers.end()) {
        return where(source, value) + ": unknown key '" + label + "." + key_name + "'";
      }
      if (std::string error = reader->second(value); !error.empty()) {
        return where(source, value) + ": " + label + "." + key_name + " " + error;
      }
    }
    out.push_back(std::move(account));
  }
  return "";
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string redact(const std::string& secret) { return secret.empty() ? "<empty>" : "<redacted>"; }

}  // namespace

namespace {

// The API's doors: a guessable token, or an open port beyond this host, is refused at start.
Status validate_api(const ApiConfig& api) {
  auto listen = parse_listen_address(api.listen);
  if (!listen.ok()) return invalid("api." + listen.status().message());
  if (!api.token.empty() && api.token.size() < kMinApiTokenLength) {
    return invalid("api.token is " + std::to_string(api.token.size()) +
                   " characters; use at least " + std::to_string(kMinApiTokenLength) +
                   " (e.g. `openssl rand -hex 16`)");
  }
  const bool loopback = server::host_allowed(listen->host, {});
  if (!loopback && api.token.empty()) {
    return invalid("api.listen '" + api.listen + "' is reachable beyond this host and [api] token "
                   "is empty: set a token (16+ characters) or listen on 127.0.0.1");
  }
  if (!loopback && api.public_reads) {
    return invalid("api.public_reads = true is for a loopback-only set-up; api.listen '" +
                   api.listen + "' is reachable beyond this host");
  }
  for (const auto& h : api.allowed_hosts) {
    if (h.empty() || h.find_first_of(" /\t") != std::string::npos) {
      return invalid("api.allowed_hosts: '" + h + "' is not a host name");
    }
  }
  return Status::ok();
}

}  // namespace

StatusOr<ListenAddress> parse_listen_address(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (starts_with(text, "[")) {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return invalid("listen address '" + std::string(text) +
                                                        "': expected [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return invalid("listen address '" + std::string(text) + "': expected HOST:PORT");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || port_text.empty() || ec != std::errc() ||
      ptr != port_text.data() + port_text.size() || port > 65535) {
    return invalid("listen address '" + std::string(text) + "': expected HOST:PORT with a port 0-65535");
  }
  return ListenAddress{std::string(host), static_cast<std::uint16_t>(port)};
}

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
  auto readers = schema(config);
  if (root.contains("accounts") && root.contains("broker")) {
    return invalid(where(source, *root.get("broker")) +
                   ": [broker] and [[accounts]] cannot be used together: move the [broker] keys "
                   "into an [[accounts]] entry with a name");
  }
  for (const auto& [table_key, table_node] : root) {
    std::string table_name(table_key.str());
    if (table_name == "accounts") {
      if (std::string error = read_accounts(table_node, source, config.accounts); !error.empty()) {
        return invalid(error);
      }
      continue;
    }
    auto known_table = readers.find(table_name);
    if (known_table == readers.end()) {
      return invalid(where(source, table_node) + ": unknown section or key '" + table_name + "'");
    }
    const toml::table* table = table_node.as_table();
    if (table == nullptr) {
      return invalid(where(source, table_node) + ": '" + table_name + "' must be a table");
    }
    for (const auto& [key, node] : *table) {
      std::string key_name(key.str());
      auto reader = known_table->second.find(key_name);
      if (reader == known_table->second.end()) {
        return invalid(where(source, node) + ": unknown key '" + table_name + "." + key_name + "'");
      }
      std::string error = reader->second(node);
      if (!error.empty()) {
        return invalid(where(source, node) + ": " + table_name + "." + key_name + " " + error);
      }
    }
  }
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

Status validate_lease(const LeaseConfig& l) {
  auto num = [](std::int64_t v) { return std::to_string(v); };
  if (l.ttl_ms <= 0) return invalid("lease.ttl_ms must be positive (got " + num(l.ttl_ms) + ")");
  if (l.safety_margin_ms < 0) {
    return invalid("lease.safety_margin_ms must not be negative (got " + num(l.safety_margin_ms) + ")");
  }
  if (l.renew_interval_ms <= 0) {
    return invalid("lease.renew_interval_ms must be positive (got " + num(l.renew_interval_ms) + ")");
  }
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
  return Status::ok();
}

bool valid_account_name(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  for (char ch : name) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

Status validate_accounts(const std::vector<AccountConfig>& accounts) {
  std::map<std::string, std::string> names;  // name -> label
  std::map<std::string, std::string> key_ids;  // key id -> account name (key never printed)
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    const AccountConfig& a = accounts[i];
    const std::string label = "accounts[" + std::to_string(i) + "]";
    if (a.name.empty()) return invalid(label + ".name is required");
    if (!valid_account_name(a.name)) {
      return invalid(label + ".name '" + a.name.substr(0, 40) +
                     "' must be 1-32 letters, digits, '_' or '-'");
    }
    if (!names.emplace(a.name, label).second) {
      return invalid(label + ".name '" + a.name + "' is used by " + names[a.name] +
                     " too: account names must be unique");
    }
    const std::string who = "account '" + a.name + "'";
    if (!a.key_id.empty() && !a.key_id_env.empty()) {
      return invalid(who + ": give key_id or key_id_env, not both");
    }
    if (!a.secret_key.empty() && !a.secret_key_env.empty()) {
      return invalid(who + ": give secret_key or secret_key_env, not both");
    }
    if (a.rate_limit_per_min <= 0) {
      return invalid(who + ": rate_limit_per_min must be positive (got " +
                     std::to_string(a.rate_limit_per_min) + ")");
    }
    if (!starts_with(a.base_url, "https://") && !starts_with(a.base_url, "http://")) {
      return invalid(who + ": base_url '" + a.base_url + "' must start with https:// or http://");
    }
    if (!a.key_id.empty()) {
      auto [it, fresh] = key_ids.emplace(a.key_id, a.name);
      if (!fresh) {
        return invalid("accounts '" + it->second + "' and '" + a.name +
                       "' have the same key_id: one Alpaca account must be served by one entry");
      }
    }
  }
  return Status::ok();
}

}  // namespace

Status validate(const Config& c) {
  struct Positive {
    const char* name;
    std::int64_t value;
  };
  const std::vector<Positive> positives = {
      {"broker.rate_limit_per_min", c.broker.rate_limit_per_min},
      {"sync.poll_interval_ms", c.sync.poll_interval_ms},
      {"sync.idle_poll_interval_ms", c.sync.idle_poll_interval_ms},
      {"retry.base_ms", c.retry.base_ms},
      {"retry.cap_ms", c.retry.cap_ms},
      {"retry.max_attempts", c.retry.max_attempts},
      {"alerts.sync_lag_ms", c.alerts.sync_lag_ms},
      {"alerts.stuck_order_ms", c.alerts.stuck_order_ms},
  };
  if (c.alerts.unprotected_grace_ms < 0) {
    return invalid("alerts.unprotected_grace_ms must be 0 or more (got " +
                   std::to_string(c.alerts.unprotected_grace_ms) + ")");
  }
  for (const auto& p : positives) {
    if (p.value <= 0) {
      return invalid(std::string(p.name) + " must be positive (got " + std::to_string(p.value) + ")");
    }
  }
  if (c.retry.cap_ms < c.retry.base_ms) {
    return invalid("retry.cap_ms (" + std::to_string(c.retry.cap_ms) +
                   ") must not be below retry.base_ms (" + std::to_string(c.retry.base_ms) + ")");
  }
  if (!starts_with(c.broker.base_url, "https://") && !starts_with(c.broker.base_url, "http://")) {
    return invalid("broker.base_url '" + c.broker.base_url + "' must start with https:// or http://");
  }
  if (Status s = validate_api(c.api); !s) return s;
  const std::string& url = c.store.url;
  bool sqlite = starts_with(url, "sqlite:") && url.size() > 7;
  bool postgres = starts_with(url, "postgresql://") || starts_with(url, "postgres://");
  if (!sqlite && !postgres) {
    return invalid("store.url '" + url + "' must be sqlite:PATH or postgresql://...");
  }
  if (!c.alerts.webhook_url.empty() && !starts_with(c.alerts.webhook_url, "http://") &&
      !starts_with(c.alerts.webhook_url, "https://")) {
    return invalid("alerts.webhook_url must be an http:// or https:// URL");
  }
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

std::string describe(const Config& c) {
  std::ostringstream o;
  if (c.accounts.empty()) {  // with [[accounts]] the [broker] keys mean nothing
    o << "broker.base_url=" << printable_url(c.broker.base_url) << "\n"
      << "broker.key_id=" << redact(c.broker.key_id) << "\n"
      << "broker.secret_key=" << redact(c.broker.secret_key) << "\n"
      << "broker.rate_limit_per_min=" << c.broker.rate_limit_per_min << "\n";
  }
  // A postgres URL may carry a password: print only its scheme and host part.
  o << "store.url=" << (starts_with(c.store.url, "sqlite:") ? c.store.url : "postgresql://<redacted>")
    << "\n"
    << "api.listen=" << c.api.listen << "\n"
    << "api.token=" << redact(c.api.token) << "\n"
    << "api.public_reads=" << (c.api.public_reads ? "true" : "false") << "\n"
    << "api.allowed_hosts=" << join(c.api.allowed_hosts) << "\n"
    << "sync.poll_interval_ms=" << c.sync.poll_interval_ms << "\n"
    << "sync.idle_poll_interval_ms=" << c.sync.idle_poll_interval_ms << "\n"
    << "sync.stream=" << (c.sync.stream ? "true" : "false") << "\n"
    << "retry.base_ms=" << c.retry.base_ms << "\n"
    << "retry.cap_ms=" << c.retry.cap_ms << "\n"
    << "retry.max_attempts=" << c.retry.max_attempts << "\n"
    << "alerts.webhook_url=" << (c.alerts.webhook_url.empty() ? "<empty>" : "<set>") << "\n"
    << "alerts.sync_lag_ms=" << c.alerts.sync_lag_ms << "\n"
    << "alerts.stuck_order_ms=" << c.alerts.stuck_order_ms << "\n"
    << "alerts.unprotected_grace_ms=" << c.alerts.unprotected_grace_ms << "\n"
    << "lease.ttl_ms=" << c.lease.ttl_ms << "\n"
    << "lease.safety_margin_ms=" << c.lease.safety_margin_ms << "\n"
    << "lease.renew_interval_ms=" << c.lease.renew_interval_ms << "\n";
  for (const auto& a : c.accounts) {
    const std::string p = "accounts." + a.name + ".";
    o << p << "base_url=" << printable_url(a.base_url) << "\n"
      << p << "key_id=" << (a.key_id_env.empty() ? redact(a.key_id) : "$" + a.key_id_env) << "\n"
      << p << "secret_key="
      << (a.secret_key_env.empty() ? redact(a.secret_key) : "$" + a.secret_key_env) << "\n"
      << p << "rate_limit_per_min=" << a.rate_limit_per_min << "\n";
  }
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
      if (var.empty()) return Status::ok();
      auto v = env(var.c_str());
      if (!v || v->empty()) {
        return invalid("account '" + a.name + "': environment variable " + var + " (named by " +
                       key + ") is not set or empty");
      }
      field = *v;
      return Status::ok();
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
