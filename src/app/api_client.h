#pragma once
// A small blocking HTTP client for the CLI commands that talk to the running daemon's local API.

#include <cstdint>
#include <string>

#include "core/status.h"

namespace orderly::app {

struct ApiEndpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8930;
  std::string token;  // sent as a bearer token when not empty
  std::int64_t timeout_ms = 15'000;
};

struct ApiReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

// Error `unavailable` when the daemon cannot be reached (nothing listening, timeout).
StatusOr<ApiReply> api_call(const ApiEndpoint& endpoint, const std::string& method,
                            const std::string& target, const std::string& body = "");

}  // namespace orderly::app
