#pragma once
// The daemon's logs: spdlog, plain text by default or one JSON object per line (--log-json), with
// every configured secret (API key id, secret key, API token) replaced by "<redacted>" in every
// message and every field, whoever logged it.
//
// Lines an operator acts on (alerts, refusals, outages; see event_log.h) are written with
// log_event: the text form reads as a sentence, and --log-json carries the same facts as keys of
// their own ("event", "kind", "subject", "severity", "symbol", "trade_id", "outage_ms" ...), so
// a log pipeline need not parse the sentence.

#include <spdlog/common.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace orderly::app {

void setup_logging(bool json_lines, std::vector<std::string> secrets);

// The last-resort scrub: `text` with every whole occurrence of each secret of at least
// kMinSecretLength characters replaced by "<redacted>"; shorter ones are left alone.
inline constexpr std::size_t kMinSecretLength = 8;
std::string redact_secrets(std::string text, const std::vector<std::string>& secrets);

// One fact of a log line. Keys are fixed names (never input); values are redacted.
struct LogField {
  LogField(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  LogField(std::string_view k, std::int64_t v)
      : key(k), value(std::to_string(v)), number(true) {}
  LogField(std::string_view k, int v) : LogField(k, static_cast<std::int64_t>(v)) {}
  std::string key;
  std::string value;
  bool number = false;  // unquoted in JSON
};

// Writes `message` at `level`. Text: the message alone (it already says everything).
// --log-json: {"time","level","logger","message","event",<fields>...}.
void log_event(spdlog::level::level_enum level, std::string_view event, std::string_view message,
               const std::vector<LogField>& fields = {});

}  // namespace orderly::app
