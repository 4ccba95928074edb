#pragma once
// The HTTP seam under AlpacaBroker: the real Beast client (beast_transport.h), the in-process
// simulator (sim/inprocess/inprocess_broker.h) and test fakes all implement it. Free of Boost.
//
// A failure says whether the request may have reached the server. That single bit is what keeps
// a retry safe: "not sent" may be sent again, "maybe sent" must be resolved by a lookup first.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.h"

namespace orderly::alpaca {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // GET, POST, PATCH, DELETE
  std::string target;  // path + query, relative to the base URL: "/v2/orders?status=open"
  HttpHeaders headers;
  std::string body;  // JSON, or empty
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
  // X-Ratelimit-Limit / -Remaining / -Reset (Unix seconds), when the server sent them.
  std::optional<std::int64_t> ratelimit_limit;
  std::optional<std::int64_t> ratelimit_remaining;
  std::optional<std::int64_t> ratelimit_reset_s;

  // Case-insensitive lookup of the first header with this name.
  std::optional<std::string> header(std::string_view name) const;
  // The header as a whole integer; nullopt when absent or not a number.
  std::optional<std::int64_t> header_int(std::string_view name) const;
  // Fills the ratelimit_* fields from the headers (transports call it once).
  void read_ratelimit_headers();
};

struct TransportError {
  // false: connect/resolve/TLS failed, or we refused the URL: nothing left this process.
  // true: the request was (at least partly) written; the server may have acted on it.
  bool maybe_sent = false;
  std::string message;  // never carries credentials
};

using TransportResult = Result<HttpResponse, TransportError>;

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Blocking; safe to call from several threads at once.
  virtual TransportResult send(const HttpRequest& request) = 0;
};

}  // namespace orderly::alpaca
