// Credentials: environment over configured values, and redaction.
#include "broker/alpaca/config.h"

#include <gtest/gtest.h>

#include <map>

namespace orderly::alpaca {
namespace {

EnvReader env_of(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(AlpacaConfig, EnvironmentOverridesConfiguredValues) {
  AlpacaConfig file{"https://api.alpaca.markets", "file-key", "file-secret"};
  auto c = alpaca_config_from_env(file, env_of({{"APCA_API_KEY_ID", "env-key"},
                                                {"APCA_API_SECRET_KEY", "env-secret"},
                                                {"APCA_API_BASE_URL", "http://127.0.0.1:9"}}));
  EXPECT_EQ(c.key_id, "env-key");
  EXPECT_EQ(c.secret_key, "env-secret");
  EXPECT_EQ(c.base_url, "http://127.0.0.1:9");
}

TEST(AlpacaConfig, EmptyOrMissingVariablesKeepTheFileAndPaperIsTheDefault) {
  AlpacaConfig file{"", "file-key", "file-secret"};
  auto c = alpaca_config_from_env(file, env_of({{"APCA_API_KEY_ID", ""}}));
  EXPECT_EQ(c.key_id, "file-key");
  EXPECT_EQ(c.secret_key, "file-secret");
  EXPECT_EQ(c.base_url, kPaperBaseUrl);
  EXPECT_EQ(AlpacaConfig{}.base_url, kPaperBaseUrl);
}

TEST(AlpacaConfig, RedactRemovesEveryOccurrence) {
  AlpacaConfig c{"", "PKTESTKEYID123", "s3cr3t-s3cr3t-s3cr3t"};
  const std::string text = "auth PKTESTKEYID123:s3cr3t-s3cr3t-s3cr3t and again s3cr3t-s3cr3t-s3cr3t";
  const std::string r = redact(text, c);
  EXPECT_EQ(r.find("s3cr3t-s3cr3t-s3cr3t"), std::string::npos);
  EXPECT_EQ(r.find("PKTESTKEYID123"), std::string::npos);
  EXPECT_EQ(r, "auth <redacted>:<redacted> and again <redacted>");
  EXPECT_EQ(redact("nothing here", c), "nothing here");
  EXPECT_EQ(redact("abc", AlpacaConfig{"", "", ""}), "abc");  // empty secrets redact nothing
}

}  // namespace
}  // namespace orderly::alpaca
