#include "app/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "store/open.h"
#include "store/store.h"

namespace orderly::app {
namespace {

void append_json_escaped(std::string_view in, spdlog::memory_buf_t& out) {
  for (char c : in) {
    switch (c) {
      case '"': out.append(std::string_view("\\\"")); break;
      case '\\': out.append(std::string_view("\\\\")); break;
      case '\n': out.append(std::string_view("\\n")); break;
      case '\r': out.append(std::string_view("\\r")); break;
      case '\t': out.append(std::string_view("\\t")); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out.append(std::string_view(buf));
        } else {
          out.push_back(c);
        }
    }
  }
}

// The fields of the line being written by log_event on this thread (spdlog formats on the
// caller's thread: the logger is synchronous).
struct LineFields {
  std::string_view event;
  const std::vector<LogField>* fields = nullptr;
};
thread_local LineFields tl_line;

void append_json_string(std::string_view in, spdlog::memory_buf_t& out) {
  out.push_back('"');
  append_json_escaped(in, out);
  out.push_back('"');
}

// %* in the pattern: the message, secrets redacted. For --log-json: "message":"..." and, for a
// line written by log_event, "event" and its fields, each redacted.
class RedactedMessage final : public spdlog::custom_flag_formatter {
 public:
  RedactedMessage(bool json, std::vector<std::string> secrets)
      : json_(json), secrets_(std::move(secrets)) {}
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string text = redact_secrets(std::string(msg.payload.data(), msg.payload.size()), secrets_);
    if (!json_) {
      dest.append(std::string_view(text));
      return;
    }
    dest.append(std::string_view("\"message\":"));
    append_json_string(text, dest);
    if (tl_line.fields == nullptr) return;
    dest.append(std::string_view(",\"event\":"));
    append_json_string(tl_line.event, dest);
    for (const LogField& f : *tl_line.fields) {
      dest.push_back(',');
      append_json_string(f.key, dest);
      dest.push_back(':');
      if (f.number) {
        dest.append(std::string_view(f.value));
      } else {
        append_json_string(redact_secrets(f.value, secrets_), dest);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<RedactedMessage>(json_, secrets_);
  }

 private:
  bool json_;
  std::vector<std::string> secrets_;
};

}  // namespace

std::string redact_secrets(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) {
    // A short "secret" ("any", the README's example key) is a word like others: scrubbing it
    // garbled every line that contained it, and it protects nothing. The configuration is
    // printed with its keys replaced structurally (describe()).
    if (s.size() < kMinSecretLength) continue;
    for (auto pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos)) {
      text.replace(pos, s.size(), "<redacted>");
      pos += 10;
    }
  }
  return text;
}

void setup_logging(bool json_lines, std::vector<std::string> secrets) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("orderly", sink);
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<RedactedMessage>('*', json_lines, std::move(secrets));
  if (json_lines) {
    formatter->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n",%*})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %*");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  // The stores' own lines (a database connection lost or restored) go through the same logger.
  set_store_log([](bool error, const std::string& line) {
    log_event(error ? spdlog::level::err : spdlog::level::info, error ? "store_error" : "store",
              "store: " + line);
  });
}

void log_event(spdlog::level::level_enum level, std::string_view event, std::string_view message,
               const std::vector<LogField>& fields) {
  struct Reset {
    ~Reset() { tl_line = LineFields{}; }
  } reset;
  tl_line = LineFields{event, &fields};
  spdlog::log(level, "{}", message);
}

}  // namespace orderly::app
