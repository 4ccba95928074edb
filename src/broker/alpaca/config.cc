#include "broker/alpaca/config.h"

#include <cstdlib>

namespace orderly::alpaca {

std::optional<std::string> read_process_env(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at start-up only
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

AlpacaConfig alpaca_config_from_env(AlpacaConfig configured, const EnvReader& env) {
  auto apply = [&](const char* name, std::string& field) {
    if (auto v = env(name); v && !v->empty()) field = *v;
  };
  apply("APCA_API_KEY_ID", configured.key_id);
  apply("APCA_API_SECRET_KEY", configured.secret_key);
  apply("APCA_API_BASE_URL", configured.base_url);
  if (configured.base_url.empty()) configured.base_url = std::string(kPaperBaseUrl);
  return configured;
}

namespace {
void replace_all(std::string& s, std::string_view needle) {
  // Very short "secrets" (a test's "k") would shred every message; real keys are 20+ chars.
  if (needle.size() < 4) return;
  for (auto pos = s.find(needle); pos != std::string::npos; pos = s.find(needle, pos)) {
    s.replace(pos, needle.size(), "<redacted>");
    pos += 10;
  }
}
}  // namespace

std::string redact(std::string_view text, const AlpacaConfig& config) {
  std::string out(text);
  replace_all(out, config.secret_key);
  replace_all(out, config.key_id);
  return out;
}

}  // namespace orderly::alpaca
