#pragma once
// The daemon's logs: spdlog, plain text by default or one JSON object per line (--log-json), with
// every configured secret (API key id, secret key, API token) replaced by "<redacted>" in every
// message, whoever logged it.

#include <cstddef>
#include <string>
#include <vector>

namespace orderly::app {

void setup_logging(bool json_lines, std::vector<std::string> secrets);

// The last-resort scrub: `text` with every whole occurrence of each secret of at least
// kMinSecretLength characters replaced by "<redacted>"; shorter ones are left alone.
inline constexpr std::size_t kMinSecretLength = 8;
std::string redact_secrets(std::string text, const std::vector<std::string>& secrets);

}  // namespace orderly::app
