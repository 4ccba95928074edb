// The table of configuration keys (config_keys.h) against what it drives: the structs' defaults,
// parsing, validation and --print-config; and against DESIGN.md's contract.
#include "app/config_keys.h"

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "app/config.h"
#include "support/paths.h"

namespace orderly::app {
namespace {

// The error of parsing `toml`, or "" when it parsed.
std::string error_of(const std::string& toml) {
  auto c = parse_config(toml, "f.toml");
  return c.ok() ? "" : c.status().message();
}

// A valid value other than the default, as TOML.
std::string sample(const ConfigKey& k) {
  switch (k.type) {
    case KeyType::integer:
      return std::to_string(k.number < k.max ? k.number + 1 : k.number - 1);
    case KeyType::boolean:
      return k.number != 0 ? "false" : "true";
    case KeyType::text_list:
      return "[\"box.lan\"]";
    case KeyType::text:
      break;
  }
  switch (k.format) {
    case Format::http_url:
    case Format::http_url_or_empty:
      return "\"http://127.0.0.1:1/x\"";
    case Format::listen_address:
      return "\"127.0.0.1:1\"";
    case Format::store_url:
      return "\"sqlite:other.db\"";
    case Format::api_token:
      return "\"sixteen-chars-xx\"";
    default:
      return "\"X\"";
  }
}

// `section.name = value` as a TOML document.
std::string one_key(const ConfigKey& k, const std::string& value) {
  return "[" + std::string(k.section()) + "]\n" + std::string(k.name()) + " = " + value + "\n";
}

std::set<std::string> lines_of(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.insert(line);
  return out;
}

// Every global key with a value other than its default; each asserted on its field below.
constexpr const char* kEveryKey = R"(
[broker]
base_url = "http://127.0.0.1:9999"
key_id = "K"
secret_key = "S"
rate_limit_per_min = 100
[store]
url = "sqlite:/tmp/x.db"
[api]
listen = "127.0.0.1:0"
token = "t0k-t0k-t0k-t0k-t0k"
public_reads = true
allowed_hosts = ["orderly.lan", "box:8930"]
[sync]
poll_interval_ms = 200
idle_poll_interval_ms = 2000
idle_sweep_interval_ms = 30000
positions_interval_ms = 120000
stream = false
clock_refresh_ms = 5000
[retry]
base_ms = 10
cap_ms = 20
max_attempts = 3
[alerts]
webhook_url = "http://127.0.0.1:1/hook"
sync_lag_ms = 7
stuck_order_ms = 9
unprotected_grace_ms = 11
[lease]
ttl_ms = 9000
safety_margin_ms = 3000
renew_interval_ms = 1000
)";

constexpr const char* kEveryAccountKey = R"(
[[accounts]]
name = "alpha"
base_url = "http://127.0.0.1:1001"
key_id = "PKALPHA"
secret_key = "SECRETALPHA"
key_id_env = "ALPHA_KEY"
secret_key_env = "ALPHA_SECRET"
rate_limit_per_min = 120
)";

// The keys a TOML document sets, as table paths ("accounts.name" for an [[accounts]] key).
std::set<std::string> keys_in(const char* text) {
  std::set<std::string> out;
  toml::table root = toml::parse(text);
  for (const auto& [section, node] : root) {
    const toml::table* table = node.as_table();
    if (const toml::array* a = node.as_array()) table = (*a)[0].as_table();
    for (const auto& [key, value] : *table) {
      out.insert(std::string(section.str()) + "." + std::string(key.str()));
    }
  }
  return out;
}

std::set<std::string> table_keys(bool per_account) {
  std::set<std::string> out;
  for (const ConfigKey& k : kConfigKeys) {
    if (k.per_account() == per_account) out.insert(std::string(k.path));
  }
  return out;
}

TEST(ConfigKeys, EveryGlobalKeyReachesItsField) {
  ASSERT_EQ(keys_in(kEveryKey), table_keys(false)) << "a key was added: set it in kEveryKey";
  auto c = parse_config(kEveryKey, "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->broker.base_url, "http://127.0.0.1:9999");
  EXPECT_EQ(c->broker.key_id, "K");
  EXPECT_EQ(c->broker.secret_key, "S");
  EXPECT_EQ(c->broker.rate_limit_per_min, 100);
  EXPECT_EQ(c->store.url, "sqlite:/tmp/x.db");
  EXPECT_EQ(c->api.listen, "127.0.0.1:0");
  EXPECT_EQ(c->api.token, "t0k-t0k-t0k-t0k-t0k");
  EXPECT_TRUE(c->api.public_reads);
  EXPECT_EQ(c->api.allowed_hosts, (std::vector<std::string>{"orderly.lan", "box:8930"}));
  EXPECT_EQ(c->sync.poll_interval_ms, 200);
  EXPECT_EQ(c->sync.idle_poll_interval_ms, 2000);
  EXPECT_EQ(c->sync.idle_sweep_interval_ms, 30000);
  EXPECT_EQ(c->sync.positions_interval_ms, 120000);
  EXPECT_FALSE(c->sync.stream);
  EXPECT_EQ(c->sync.clock_refresh_ms, 5000);
  EXPECT_EQ(c->retry.base_ms, 10);
  EXPECT_EQ(c->retry.cap_ms, 20);
  EXPECT_EQ(c->retry.max_attempts, 3);
  EXPECT_EQ(c->alerts.webhook_url, "http://127.0.0.1:1/hook");
  EXPECT_EQ(c->alerts.sync_lag_ms, 7);
  EXPECT_EQ(c->alerts.stuck_order_ms, 9);
  EXPECT_EQ(c->alerts.unprotected_grace_ms, 11);
  EXPECT_EQ(c->lease.ttl_ms, 9000);
  EXPECT_EQ(c->lease.safety_margin_ms, 3000);
  EXPECT_EQ(c->lease.renew_interval_ms, 1000);
}

TEST(ConfigKeys, EveryAccountKeyReachesItsField) {
  ASSERT_EQ(keys_in(kEveryAccountKey), table_keys(true)) << "set the new key in kEveryAccountKey";
  // key_id with key_id_env is refused: the key pairs are read in two documents below.
  auto c = parse_config(kEveryAccountKey, "t.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("give key_id or key_id_env, not both"), std::string::npos);
  auto without_keys = parse_config(
      "[[accounts]]\nname = \"alpha\"\nbase_url = \"http://127.0.0.1:1001\"\n"
      "key_id_env = \"ALPHA_KEY\"\nsecret_key_env = \"ALPHA_SECRET\"\nrate_limit_per_min = 120\n",
      "t.toml");
  ASSERT_TRUE(without_keys.ok()) << without_keys.status().message();
  const AccountConfig& a = without_keys->accounts.at(0);
  EXPECT_EQ(a.name, "alpha");
  EXPECT_EQ(a.base_url, "http://127.0.0.1:1001");
  EXPECT_EQ(a.key_id_env, "ALPHA_KEY");
  EXPECT_EQ(a.secret_key_env, "ALPHA_SECRET");
  EXPECT_EQ(a.rate_limit_per_min, 120);
  auto with_keys = parse_config(
      "[[accounts]]\nname = \"alpha\"\nkey_id = \"PKALPHA\"\nsecret_key = \"SA\"\n", "t");
  ASSERT_TRUE(with_keys.ok()) << with_keys.status().message();
  EXPECT_EQ(with_keys->accounts.at(0).key_id, "PKALPHA");
  EXPECT_EQ(with_keys->accounts.at(0).secret_key, "SA");
}

// Each key set alone changes its own line of --print-config and no other: no two keys share a
// field, and each is printed from the field it was read into.
TEST(ConfigKeys, EachKeyChangesOnlyItsOwnPrintedLine) {
  const std::set<std::string> defaults = lines_of(describe(Config{}));
  for (const ConfigKey& k : kConfigKeys) {
    if (k.per_account()) continue;
    auto c = parse_config(one_key(k, sample(k)), "t.toml");
    ASSERT_TRUE(c.ok()) << k.path << ": " << c.status().message();
    std::vector<std::string> changed;
    for (const std::string& line : lines_of(describe(*c))) {
      if (!defaults.contains(line)) changed.push_back(line);
    }
    ASSERT_EQ(changed.size(), 1u) << k.path;
    EXPECT_TRUE(changed[0].starts_with(std::string(k.path) + "=")) << k.path << ": " << changed[0];
  }
}

// The structs take their defaults from the table: an empty file prints the table's defaults.
TEST(ConfigKeys, PrintConfigShowsEveryKeyWithItsDefault) {
  const std::set<std::string> printed = lines_of(describe(Config{}));
  for (const ConfigKey& k : kConfigKeys) {
    if (k.per_account()) continue;
    std::string value;
    if (k.type == KeyType::integer) value = std::to_string(k.number);
    if (k.type == KeyType::boolean) value = k.number != 0 ? "true" : "false";
    if (k.type == KeyType::text) value = k.text.empty() ? "<empty>" : std::string(k.text);
    EXPECT_TRUE(printed.contains(std::string(k.path) + "=" + value)) << k.path << "=" << value;
  }
  AccountConfig account;
  EXPECT_EQ(account.base_url, default_text("accounts.base_url"));
  EXPECT_EQ(account.rate_limit_per_min, default_number("accounts.rate_limit_per_min"));
}

TEST(ConfigKeys, OutOfBoundsNamesTheBoundsAndUnit) {
  for (const ConfigKey& k : kConfigKeys) {
    if (k.type != KeyType::integer) continue;
    const std::string bounds =
        std::to_string(k.min) + " to " + std::to_string(k.max) + " " + std::string(k.unit);
    for (std::int64_t bad : {k.min - 1, k.max + 1}) {
      std::string toml = one_key(k, std::to_string(bad));
      if (k.per_account()) toml = "[[accounts]]\nname = \"a\"\n" + std::string(k.name()) + " = " +
                                  std::to_string(bad) + "\n";
      const std::string e = error_of(toml);
      EXPECT_NE(e.find(std::string(k.name())), std::string::npos) << toml << e;
      EXPECT_NE(e.find("(" + bounds + "; got " + std::to_string(bad) + ")"), std::string::npos)
          << toml << " -> " << e;
    }
  }
  EXPECT_NE(error_of("[sync]\npoll_interval_ms = 100000000000\n")
                .find("sync.poll_interval_ms must be at most 86400000"),
            std::string::npos);
}

TEST(ConfigKeys, UnknownKeyNamesTheNearestKnownOne) {
  struct Case {
    std::string toml;
    std::string expect;
  };
  const Case cases[] = {
      {"[sync]\nstreem = true\n", "f.toml:2: unknown key 'sync.streem' (nearest known key: "
                                  "'sync.stream')"},
      {"[sync]\nbase_ms = 5\n", "(nearest known key: 'retry.base_ms')"},
      {"poll_interval_ms = 5\n", "unknown section or key 'poll_interval_ms' (nearest known key: "
                                 "'sync.poll_interval_ms')"},
      {"[brokr]\nkey_id = \"x\"\n", "unknown section or key 'brokr' (nearest known section: "
                                    "[broker])"},
      {"[[accounts]]\nname = \"a\"\nkeyid = \"K\"\n",
       "unknown key 'accounts[0].keyid' (nearest known key: 'accounts[0].key_id')"},
  };
  for (const auto& c : cases) {
    const std::string e = error_of(c.toml);
    EXPECT_NE(e.find(c.expect), std::string::npos) << c.toml << " -> " << e;
  }
}

TEST(ConfigKeys, WrongTypeNamesBothTypes) {
  EXPECT_NE(error_of("[sync]\npoll_interval_ms = \"fast\"\n")
                .find("sync.poll_interval_ms must be an integer (got a string)"),
            std::string::npos);
  EXPECT_NE(error_of("[sync]\nstream = 1\n").find("sync.stream must be true or false (got an "
                                                  "integer)"),
            std::string::npos);
  EXPECT_NE(error_of("[api]\ntoken = 12\n").find("api.token must be a string (got an integer)"),
            std::string::npos);
}

// A refused secret is named, never shown; a refused URL is shown without its credentials.
TEST(ConfigKeys, ErrorsNeverShowSecrets) {
  const std::string cases[] = {
      "[api]\ntoken = \"SECRETX\"\n",
      "[alerts]\nwebhook_url = \"ftp://hooks.example/SECRETX\"\n",
      "[broker]\nbase_url = \"ftp://user:SECRETX@host/\"\n",
      "[store]\nurl = \"mysql://user:SECRETX@host/db?password=SECRETX\"\n",
      "[[accounts]]\nname = \"a\"\nbase_url = \"ftp://u:SECRETX@h\"\n",
  };
  for (const std::string& toml : cases) {
    const std::string e = error_of(toml);
    EXPECT_FALSE(e.empty()) << toml;
    EXPECT_EQ(e.find("SECRETX"), std::string::npos) << toml << " -> " << e;
  }
  EXPECT_NE(error_of(cases[2]).find("broker.base_url 'ftp://host/' must start with"),
            std::string::npos);
}

// DESIGN.md "Configuration keys" is a contract: each key named there, with its default.
TEST(ConfigKeys, DesignContractKeysKeepTheirDefaults) {
  const std::pair<const char*, const char*> contract[] = {
      {"broker.base_url", "https://paper-api.alpaca.markets"},
      {"broker.key_id", ""},
      {"broker.secret_key", ""},
      {"broker.rate_limit_per_min", "190"},
      {"store.url", "sqlite:orderly.db"},
      {"api.listen", "127.0.0.1:8930"},
      {"api.token", ""},
      {"sync.poll_interval_ms", "1000"},
      {"sync.idle_poll_interval_ms", "10000"},
      {"sync.stream", "true"},
      {"retry.base_ms", "1000"},
      {"retry.cap_ms", "300000"},
      {"retry.max_attempts", "8"},
      {"alerts.webhook_url", ""},
      {"alerts.sync_lag_ms", "5000"},
      {"alerts.stuck_order_ms", "30000"},
  };
  for (const auto& [path, value] : contract) {
    const ConfigKey* k = find_config_key(path);
    ASSERT_NE(k, nullptr) << path;
    std::string def(k->text);
    if (k->type == KeyType::integer) def = std::to_string(k->number);
    if (k->type == KeyType::boolean) def = k->number != 0 ? "true" : "false";
    EXPECT_EQ(def, value) << path;
  }
}

std::string readme_text() {
  std::ifstream in(orderly::testing::source_dir() + "/README.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The README's table is the table's markdown, so the two cannot drift.
TEST(ConfigKeys, ReadmeTableIsGeneratedFromTheTable) {
  const std::string readme = readme_text();
  const std::string begin = "<!-- config-keys: begin";
  const auto open = readme.find(begin);
  const auto close = readme.find("<!-- config-keys: end -->");
  ASSERT_TRUE(open != std::string::npos && close != std::string::npos && open < close);
  const auto first_row = readme.find('\n', open) + 1;
  EXPECT_EQ(readme.substr(first_row, close - first_row), config_keys_markdown())
      << "README.md's configuration table is stale: run scripts/config-docs";
}

// Each orderly.toml example of the README is a configuration orderly accepts.
TEST(ConfigKeys, ReadmeExamplesParse) {
  const std::string text = readme_text();
  int blocks = 0;
  for (auto open = text.find("```toml\n"); open != std::string::npos;
       open = text.find("```toml\n", open + 1)) {
    const auto body = open + 8;
    const std::string block = text.substr(body, text.find("```", body) - body);
    auto c = parse_config(block, "README.md block " + std::to_string(++blocks));
    EXPECT_TRUE(c.ok()) << c.status().message() << "\n" << block;
  }
  EXPECT_GE(blocks, 3);
}

}  // namespace
}  // namespace orderly::app
