#include "app/config.h"

#include <toml++/toml.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

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
      {"api", {{"listen", string_into(c.api.listen)}, {"token", string_into(c.api.token)}}},
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
        {"stuck_order_ms", int_into(c.alerts.stuck_order_ms)}}},
  };
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string redact(const std::string& secret) { return secret.empty() ? "<empty>" : "<redacted>"; }

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
  for (const auto& [table_key, table_node] : root) {
    std::string table_name(table_key.str());
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
  if (auto listen = parse_listen_address(c.api.listen); !listen.ok()) {
    return invalid("api." + listen.status().message());
  }
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
  return Status::ok();
}

std::string describe(const Config& c) {
  std::ostringstream o;
  o << "broker.base_url=" << c.broker.base_url << "\n"
    << "broker.key_id=" << redact(c.broker.key_id) << "\n"
    << "broker.secret_key=" << redact(c.broker.secret_key) << "\n"
    << "broker.rate_limit_per_min=" << c.broker.rate_limit_per_min << "\n"
    // A postgres URL may carry a password: print only its scheme and host part.
    << "store.url=" << (starts_with(c.store.url, "sqlite:") ? c.store.url : "postgresql://<redacted>")
    << "\n"
    << "api.listen=" << c.api.listen << "\n"
    << "api.token=" << redact(c.api.token) << "\n"
    << "sync.poll_interval_ms=" << c.sync.poll_interval_ms << "\n"
    << "sync.idle_poll_interval_ms=" << c.sync.idle_poll_interval_ms << "\n"
    << "sync.stream=" << (c.sync.stream ? "true" : "false") << "\n"
    << "retry.base_ms=" << c.retry.base_ms << "\n"
    << "retry.cap_ms=" << c.retry.cap_ms << "\n"
    << "retry.max_attempts=" << c.retry.max_attempts << "\n"
    << "alerts.webhook_url=" << (c.alerts.webhook_url.empty() ? "<empty>" : "<set>") << "\n"
    << "alerts.sync_lag_ms=" << c.alerts.sync_lag_ms << "\n"
    << "alerts.stuck_order_ms=" << c.alerts.stuck_order_ms << "\n";
  return o.str();
}

}  // namespace orderly::app

#include "core/ids.h"

namespace orderly::app {
std::string store_account(const Config& config) { return account_tag(config.broker.key_id); }
}  // namespace orderly::app
