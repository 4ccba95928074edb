#include "app/config_keys.h"

#include <algorithm>
#include <sstream>
#include <vector>

namespace orderly::app {
namespace {

std::string_view type_name(KeyType t) {
  switch (t) {
    case KeyType::text:
      return "string";
    case KeyType::integer:
      return "integer";
    case KeyType::boolean:
      return "boolean";
    case KeyType::text_list:
      return "array of strings";
  }
  return "";
}

// The default as it would be written in orderly.toml.
std::string default_toml(const ConfigKey& k) {
  switch (k.type) {
    case KeyType::text:
      return "\"" + std::string(k.text) + "\"";
    case KeyType::integer:
      return std::to_string(k.number);
    case KeyType::boolean:
      return k.number != 0 ? "true" : "false";
    case KeyType::text_list:
      return "[]";
  }
  return "";
}

std::string_view format_rule(Format f) {
  switch (f) {
    case Format::http_url:
      return "http:// or https://";
    case Format::http_url_or_empty:
      return "empty, http:// or https://";
    case Format::listen_address:
      return "HOST:PORT or [IPv6]:PORT";
    case Format::store_url:
      return "sqlite:PATH or postgresql://...";
    case Format::api_token:
      return "empty or 16+ characters";
    case Format::host_names:
      return "host names";
    case Format::account_name:
      return "1-32 of A-Z a-z 0-9 _ -";
    default:
      return "";
  }
}

std::string bounds(const ConfigKey& k) {
  if (k.type != KeyType::integer) return std::string(format_rule(k.format));
  return std::to_string(k.min) + " to " + std::to_string(k.max) + " " + std::string(k.unit);
}

std::string_view secrecy(Shown shown) {
  switch (shown) {
    case Shown::secret:
      return "yes: redacted";
    case Shown::presence:
      return "yes: set or empty";
    case Shown::url:
      return "credentials hidden";
    case Shown::store_url:
      return "yes unless sqlite";
    default:
      return "";
  }
}

// How the README and `orderly config-keys` name a key: [[accounts]] keys by their table.
std::string key_label(const ConfigKey& k) {
  if (k.per_account()) return "[[accounts]] " + std::string(k.name());
  return std::string(k.path);
}

using Row = std::vector<std::string>;

std::vector<Row> rows() {
  std::vector<Row> out = {{"Key", "Type", "Default", "Bounds", "Secret", "Meaning"}};
  for (const ConfigKey& k : kConfigKeys) {
    out.push_back({key_label(k), std::string(type_name(k.type)), default_toml(k), bounds(k),
                   std::string(secrecy(k.shown)), std::string(k.meaning)});
  }
  return out;
}

}  // namespace

const ConfigKey* find_config_key(std::string_view path) {
  auto it = std::find_if(kConfigKeys.begin(), kConfigKeys.end(),
                         [&](const ConfigKey& k) { return k.path == path; });
  return it == kConfigKeys.end() ? nullptr : &*it;
}

std::string config_keys_markdown() {
  std::ostringstream o;
  const std::vector<Row> table = rows();
  for (std::size_t r = 0; r < table.size(); ++r) {
    const Row& row = table[r];
    auto code = [&](const std::string& cell) { return r == 0 ? cell : "`" + cell + "`"; };
    o << "| " << code(row[0]) << " | " << row[1] << " | " << code(row[2]) << " | " << row[3]
      << " | " << row[4] << " | " << row[5] << " |\n";
    if (r == 0) o << "|---|---|---|---|---|---|\n";
  }
  return o.str();
}

std::string config_keys_text() {
  const std::vector<Row> table = rows();
  std::vector<std::size_t> width(table[0].size(), 0);
  for (const Row& row : table) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::ostringstream o;
  for (const Row& row : table) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i] + (i + 1 < row.size() ? std::string(width[i] - row[i].size() + 2, ' ') : "");
    }
    o << line.substr(0, line.find_last_not_of(' ') + 1) << "\n";
  }
  return o.str();
}

}  // namespace orderly::app
