#include "app/config.h"

#include <gtest/gtest.h>

#include <map>

namespace orderly::app {
namespace {

TEST(Config, EmptyFileGivesDesignDefaults) {
  auto c = parse_config("", "orderly.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->broker.base_url, "https://paper-api.alpaca.markets");
  EXPECT_EQ(c->broker.rate_limit_per_min, 190);
  EXPECT_EQ(c->store.url, "sqlite:orderly.db");
  EXPECT_EQ(c->api.listen, "127.0.0.1:8930");
  EXPECT_EQ(c->api.token, "");
  EXPECT_EQ(c->sync.poll_interval_ms, 1000);
  EXPECT_EQ(c->sync.idle_poll_interval_ms, 10000);
  EXPECT_TRUE(c->sync.stream);
  EXPECT_EQ(c->retry.base_ms, 1000);
  EXPECT_EQ(c->retry.cap_ms, 300000);
  EXPECT_EQ(c->retry.max_attempts, 8);
  EXPECT_EQ(c->alerts.webhook_url, "");
  EXPECT_EQ(c->alerts.sync_lag_ms, 5000);
  EXPECT_EQ(c->alerts.stuck_order_ms, 30000);
}

// Every key reaching its field: config_keys_test.cc (ConfigKeys.EveryGlobalKeyReachesItsField).

TEST(Config, UnknownKeyNamesKeyFileAndLine) {
  auto c = parse_config("[sync]\npoll_interval_ms = 5\npoll_intervall_ms = 5\n", "my.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("my.toml:3"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("sync.poll_intervall_ms"), std::string::npos);
}

TEST(Config, UnknownSectionIsAnError) {
  auto c = parse_config("[brokr]\nkey_id = \"x\"\n", "my.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("brokr"), std::string::npos);
}

TEST(Config, WrongTypeIsAnError) {
  auto c = parse_config("[sync]\npoll_interval_ms = \"fast\"\n", "my.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("my.toml:2"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("must be an integer"), std::string::npos);
}

TEST(Config, SyntaxErrorNamesLine) {
  auto c = parse_config("[api]\nlisten = \n", "my.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("my.toml:2"), std::string::npos) << c.status().message();
}

TEST(Config, NegativeIntervalRefused) {
  auto c = parse_config("[sync]\npoll_interval_ms = -1\n", "my.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("sync.poll_interval_ms must be positive"), std::string::npos);
}

TEST(Config, BadListenAddressRefused) {
  for (const char* bad : {"8930", "127.0.0.1:", "127.0.0.1:99999", ":80", "host:port"}) {
    auto c = parse_config(std::string("[api]\nlisten = \"") + bad + "\"\n", "my.toml");
    EXPECT_FALSE(c.ok()) << bad;
  }
  auto v6 = parse_listen_address("[::1]:8930");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8930);
}

TEST(Config, BadStoreUrlRefused) {
  auto c = parse_config("[store]\nurl = \"mysql://x\"\n", "my.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("store.url"), std::string::npos);
  EXPECT_TRUE(parse_config("[store]\nurl = \"postgresql://u@h/db\"\n", "t").ok());
}

TEST(Config, EnvironmentOverridesFile) {
  auto c = parse_config("[broker]\nkey_id = \"file\"\n", "t");
  ASSERT_TRUE(c.ok());
  std::map<std::string, std::string> env = {{"APCA_API_KEY_ID", "envkey"},
                                            {"APCA_API_SECRET_KEY", "envsecret"},
                                            {"APCA_API_BASE_URL", "http://127.0.0.1:1"}};
  apply_env(*c, [&](const char* n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
  EXPECT_EQ(c->broker.key_id, "envkey");
  EXPECT_EQ(c->broker.secret_key, "envsecret");
  EXPECT_EQ(c->broker.base_url, "http://127.0.0.1:1");
}

// An API anyone could use is a configuration error: a guessable token, a port open beyond
// this host without one, or open reads there.
TEST(Config, ApiThatLetsAnyoneInIsRefused) {
  struct Case {
    std::string api;
    std::string message;  // "" when valid
  };
  const Case cases[] = {
      {"token = \"fifteen-chars-x\"", "api.token is 15 characters; use at least 16"},
      {"token = \"sixteen-chars-xx\"", ""},
      {"listen = \"0.0.0.0:8930\"", "is reachable beyond this host and [api] token is empty"},
      {"listen = \"10.1.2.3:8930\"", "is reachable beyond this host and [api] token is empty"},
      {"listen = \"[::]:8930\"", "is reachable beyond this host"},
      {"listen = \"0.0.0.0:8930\"\ntoken = \"sixteen-chars-xx\"", ""},
      {"listen = \"localhost:8930\"", ""},
      {"listen = \"[::1]:8930\"\npublic_reads = true", ""},
      {"listen = \"127.0.0.2:8930\"\npublic_reads = true", ""},
      {"listen = \"0.0.0.0:8930\"\ntoken = \"sixteen-chars-xx\"\npublic_reads = true",
       "api.public_reads = true is for a loopback-only set-up"},
      {"allowed_hosts = \"orderly.lan\"", "must be an array of strings"},
      {"allowed_hosts = [\"bad host\"]", "is not a host name"},
  };
  for (const auto& c : cases) {
    auto r = parse_config("[api]\n" + c.api + "\n", "t.toml");
    if (c.message.empty()) {
      EXPECT_TRUE(r.ok()) << c.api << ": " << r.status().message();
    } else {
      ASSERT_FALSE(r.ok()) << c.api;
      EXPECT_NE(r.status().message().find(c.message), std::string::npos)
          << c.api << ": " << r.status().message();
    }
  }
}

TEST(Config, DescribeNeverShowsSecrets) {
  auto c = parse_config(
      "[broker]\nkey_id = \"PKSECRETKEYID\"\nsecret_key = \"VERYSECRET\"\n[api]\ntoken = "
      "\"TOKENVALUE-LONG-ENOUGH\"\n[store]\nurl = \"postgresql://u:PASSWORD@h/db\"\n",
      "t");
  ASSERT_TRUE(c.ok());
  std::string d = describe(*c);
  for (const char* secret : {"PKSECRETKEYID", "VERYSECRET", "TOKENVALUE", "PASSWORD"}) {
    EXPECT_EQ(d.find(secret), std::string::npos) << secret;
  }
  EXPECT_NE(d.find("broker.key_id=<redacted>"), std::string::npos);
}

}  // namespace
}  // namespace orderly::app
