#pragma once
// Alpaca credentials and endpoint. Environment variables named like Alpaca's own SDKs'
// (APCA_API_KEY_ID, APCA_API_SECRET_KEY, APCA_API_BASE_URL) override the configured values, so
// one shell set-up serves the SDKs and orderly (DESIGN.md "Configuration").

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace orderly::alpaca {

inline constexpr std::string_view kPaperBaseUrl = "https://paper-api.alpaca.markets";
inline constexpr std::string_view kLiveBaseUrl = "https://api.alpaca.markets";

struct AlpacaConfig {
  std::string base_url = std::string(kPaperBaseUrl);
  std::string key_id;
  std::string secret_key;
};

using EnvReader = std::function<std::optional<std::string>(const char* name)>;
std::optional<std::string> read_process_env(const char* name);

// `configured` with every non-empty APCA_* variable applied over it; an empty base URL becomes
// the paper URL.
AlpacaConfig alpaca_config_from_env(AlpacaConfig configured, const EnvReader& env = read_process_env);

// `text` with every occurrence of the secret (and of the key id) replaced by "<redacted>", for
// anything that might end up in a log, an error or an audit row.
std::string redact(std::string_view text, const AlpacaConfig& config);

}  // namespace orderly::alpaca
