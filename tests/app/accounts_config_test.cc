// Several accounts in one config ([[accounts]], [lease]): every key, every error, and that the
// single [broker] form still means one account.
#include <gtest/gtest.h>

#include <map>

#include "app/config.h"

namespace orderly::app {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The error of parsing `toml`, or "" when it parsed.
std::string error_of(const std::string& toml) {
  auto c = parse_config(toml, "f.toml");
  return c.ok() ? "" : c.status().message();
}

constexpr const char* kTwo = R"(
[[accounts]]
name = "alpha"
key_id = "PKALPHA"
secret_key = "SECRETALPHA"
base_url = "http://127.0.0.1:1001"
rate_limit_per_min = 120
[[accounts]]
name = "beta-2"
key_id_env = "BETA_KEY"
secret_key_env = "BETA_SECRET"
[lease]
ttl_ms = 9000
safety_margin_ms = 3000
renew_interval_ms = 1000
)";

TEST(AccountsConfig, ReadsEveryKey) {
  auto c = parse_config(kTwo, "f.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->accounts.size(), 2u);
  const AccountConfig& a = c->accounts[0];
  EXPECT_EQ(a.name, "alpha");
  EXPECT_EQ(a.key_id, "PKALPHA");
  EXPECT_EQ(a.secret_key, "SECRETALPHA");
  EXPECT_EQ(a.base_url, "http://127.0.0.1:1001");
  EXPECT_EQ(a.rate_limit_per_min, 120);
  const AccountConfig& b = c->accounts[1];
  EXPECT_EQ(b.name, "beta-2");
  EXPECT_EQ(b.key_id_env, "BETA_KEY");
  EXPECT_EQ(b.secret_key_env, "BETA_SECRET");
  EXPECT_EQ(b.base_url, "https://paper-api.alpaca.markets");
  EXPECT_EQ(b.rate_limit_per_min, 190);
  EXPECT_EQ(c->lease.ttl_ms, 9000);
  EXPECT_EQ(c->lease.safety_margin_ms, 3000);
  EXPECT_EQ(c->lease.renew_interval_ms, 1000);
}

TEST(AccountsConfig, LeaseDefaults) {
  auto c = parse_config("", "f.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->accounts.empty());
  EXPECT_EQ(c->lease.ttl_ms, 15000);
  EXPECT_EQ(c->lease.safety_margin_ms, 5000);
  EXPECT_EQ(c->lease.renew_interval_ms, 3000);
}

TEST(AccountsConfig, ResolvesEnvironmentNames) {
  auto c = parse_config(kTwo, "f.toml");
  ASSERT_TRUE(c.ok());
  auto accounts = resolve_accounts(*c, env_of({{"BETA_KEY", "PKBETA"}, {"BETA_SECRET", "SB"},
                                               {"APCA_API_KEY_ID", "IGNORED"}}));
  ASSERT_TRUE(accounts.ok()) << accounts.status().message();
  ASSERT_EQ(accounts->size(), 2u);
  EXPECT_EQ((*accounts)[0].key_id, "PKALPHA");
  EXPECT_EQ((*accounts)[1].key_id, "PKBETA");
  EXPECT_EQ((*accounts)[1].secret_key, "SB");
  EXPECT_NE(store_account((*accounts)[0]), store_account((*accounts)[1]));
}

TEST(AccountsConfig, MissingEnvironmentVariableNamesItNotAValue) {
  auto c = parse_config(kTwo, "f.toml");
  ASSERT_TRUE(c.ok());
  auto accounts = resolve_accounts(*c, env_of({{"BETA_KEY", "PKBETA"}}));
  ASSERT_FALSE(accounts.ok());
  const std::string m = accounts.status().message();
  EXPECT_NE(m.find("beta-2"), std::string::npos) << m;
  EXPECT_NE(m.find("BETA_SECRET"), std::string::npos) << m;
  EXPECT_EQ(m.find("PKBETA"), std::string::npos) << m;
}

TEST(AccountsConfig, AccountWithoutKeysIsRefused) {
  auto c = parse_config("[[accounts]]\nname = \"a\"\n", "f.toml");
  ASSERT_TRUE(c.ok());
  auto accounts = resolve_accounts(*c, env_of({}));
  ASSERT_FALSE(accounts.ok());
  EXPECT_NE(accounts.status().message().find("account 'a' needs key_id"), std::string::npos)
      << accounts.status().message();
}

TEST(AccountsConfig, SingleBrokerFormIsOneDefaultAccount) {
  auto c = parse_config(
      "[broker]\nkey_id = \"K\"\nsecret_key = \"S\"\nbase_url = \"http://127.0.0.1:5\"\n"
      "rate_limit_per_min = 50\n",
      "f.toml");
  ASSERT_TRUE(c.ok());
  auto accounts = resolve_accounts(*c, env_of({}));
  ASSERT_TRUE(accounts.ok());
  ASSERT_EQ(accounts->size(), 1u);
  const AccountConfig& a = (*accounts)[0];
  EXPECT_EQ(a.name, "default");
  EXPECT_EQ(a.key_id, "K");
  EXPECT_EQ(a.base_url, "http://127.0.0.1:5");
  EXPECT_EQ(a.rate_limit_per_min, 50);
  // The store rows of a single-form daemon keep their account: same tag as before.
  EXPECT_EQ(store_account(a), store_account(*c));
}

TEST(AccountsConfig, DuplicateNamesRefused) {
  std::string e = error_of(
      "[[accounts]]\nname = \"a\"\nkey_id = \"K1\"\n[[accounts]]\nname = \"a\"\nkey_id = \"K2\"\n");
  EXPECT_NE(e.find("accounts[1].name 'a' is used by accounts[0]"), std::string::npos) << e;
}

TEST(AccountsConfig, SameKeyIdTwiceRefusedWithoutEchoingIt) {
  std::string e = error_of(
      "[[accounts]]\nname = \"a\"\nkey_id = \"PKSAME\"\n[[accounts]]\nname = \"b\"\n"
      "key_id = \"PKSAME\"\n");
  EXPECT_NE(e.find("accounts 'a' and 'b' have the same key_id"), std::string::npos) << e;
  EXPECT_EQ(e.find("PKSAME"), std::string::npos) << e;
  // The same through the environment is found when the keys are resolved.
  auto c = parse_config(
      "[[accounts]]\nname = \"a\"\nkey_id_env = \"K1\"\nsecret_key = \"s\"\n[[accounts]]\n"
      "name = \"b\"\nkey_id_env = \"K2\"\nsecret_key = \"t\"\n",
      "f.toml");
  ASSERT_TRUE(c.ok());
  auto accounts = resolve_accounts(*c, env_of({{"K1", "PKENV"}, {"K2", "PKENV"}}));
  ASSERT_FALSE(accounts.ok());
  EXPECT_NE(accounts.status().message().find("same key_id"), std::string::npos);
  EXPECT_EQ(accounts.status().message().find("PKENV"), std::string::npos);
}

TEST(AccountsConfig, BrokerAndAccountsTogetherRefused) {
  std::string e = error_of("[broker]\nkey_id = \"K\"\n[[accounts]]\nname = \"a\"\n");
  EXPECT_NE(e.find("[broker] and [[accounts]] cannot be used together"), std::string::npos) << e;
  EXPECT_NE(e.find("f.toml:1"), std::string::npos) << e;
}

TEST(AccountsConfig, BadEntriesNameTheKey) {
  struct Case {
    std::string toml;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"[[accounts]]\nkey_id = \"K\"\n", "accounts[0].name is required"},
      {"[[accounts]]\nname = \"a b\"\n", "accounts[0].name 'a b' must be 1-32 letters"},
      {"[[accounts]]\nname = \"a\"\nkey = \"K\"\n", "f.toml:3: unknown key 'accounts[0].key'"},
      {"[[accounts]]\nname = \"a\"\nrate_limit_per_min = \"x\"\n",
       "accounts[0].rate_limit_per_min must be an integer"},
      {"[[accounts]]\nname = \"a\"\nrate_limit_per_min = 0\n",
       "account 'a': rate_limit_per_min must be positive"},
      {"[[accounts]]\nname = \"a\"\nbase_url = \"ftp://x\"\n", "account 'a': base_url 'ftp://x'"},
      {"[[accounts]]\nname = \"a\"\nkey_id = \"K\"\nkey_id_env = \"E\"\n",
       "account 'a': give key_id or key_id_env, not both"},
      {"[[accounts]]\nname = \"a\"\nsecret_key = \"S\"\nsecret_key_env = \"E\"\n",
       "account 'a': give secret_key or secret_key_env, not both"},
      {"accounts = 3\n", "'accounts' must be written as [[accounts]] tables"},
      {"[accounts]\nname = \"a\"\n", "'accounts' must be written as [[accounts]] tables"},
      {"[lease]\nttl_ms = 0\n", "lease.ttl_ms must be positive"},
      {"[lease]\nttl_ms = 5000\nsafety_margin_ms = 5000\n",
       "lease.safety_margin_ms (5000) must be below lease.ttl_ms (5000)"},
      {"[lease]\nsafety_margin_ms = -1\n", "lease.safety_margin_ms must not be negative"},
      {"[lease]\nrenew_interval_ms = 0\n", "lease.renew_interval_ms must be positive"},
      {"[lease]\nttl_ms = 10000\nsafety_margin_ms = 4000\nrenew_interval_ms = 6000\n",
       "lease.renew_interval_ms (6000) must be below lease.ttl_ms - lease.safety_margin_ms (6000)"},
      {"[lease]\nttl = 1\n", "unknown key 'lease.ttl'"},
  };
  for (const auto& c : cases) {
    std::string e = error_of(c.toml);
    EXPECT_NE(e.find(c.expect), std::string::npos) << c.toml << "\n -> " << e;
  }
}

TEST(AccountsConfig, DescribeShowsAccountsWithoutSecrets) {
  auto c = parse_config(kTwo, "f.toml");
  ASSERT_TRUE(c.ok());
  std::string d = describe(*c);
  EXPECT_EQ(d.find("PKALPHA"), std::string::npos) << d;
  EXPECT_EQ(d.find("SECRETALPHA"), std::string::npos) << d;
  EXPECT_NE(d.find("accounts.alpha.key_id=<redacted>"), std::string::npos) << d;
  EXPECT_NE(d.find("accounts.beta-2.secret_key=$BETA_SECRET"), std::string::npos) << d;
  EXPECT_NE(d.find("lease.ttl_ms=9000"), std::string::npos) << d;
}

TEST(AccountsConfig, SqliteGetsOneFilePerAccount) {
  EXPECT_EQ(account_store_url("sqlite:orderly.db", "default", 1), "sqlite:orderly.db");
  EXPECT_EQ(account_store_url("sqlite:/var/lib/o/orderly.db", "alpha", 2),
            "sqlite:/var/lib/o/orderly-alpha.db");
  EXPECT_EQ(account_store_url("sqlite:data", "b", 2), "sqlite:data-b");
  EXPECT_EQ(account_store_url("sqlite::memory:", "b", 2), "sqlite::memory:");
  EXPECT_EQ(account_store_url("postgresql://u@h/db", "b", 2), "postgresql://u@h/db");
}

}  // namespace
}  // namespace orderly::app
