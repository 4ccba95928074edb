#pragma once
// The local HTTP API's routes (DESIGN.md "Local HTTP API"), without any socket: a request in, a
// response out. The HTTP server (http_server.h) feeds it; tests call it directly.
//
// Depends only on EngineControl (actions, health, metrics, positions) and the Store's read
// queries (orders, trades, audit, alerts). Every bad request gets a 4xx with {"error": "..."}.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/time.h"
#include "engine/control.h"
#include "store/store.h"

namespace orderly::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query
  std::string authorization;  // the Authorization header, "" when absent
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A JSON answer as every route gives it (not cached), and the {"error": ...} one.
HttpResponse json_body(int status, std::string body);
HttpResponse json_error(int status, const std::string& message);

// What the HTTP server serves: one engine's Api, or a router over several accounts' Apis
// (src/app/account_router.h). The methods are Api's, with Api's meaning.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual HttpResponse handle(const HttpRequest& request) = 0;
  virtual void count(const std::string& route, int status) = 0;
  virtual std::vector<std::pair<std::int64_t, std::string>> events_after(std::int64_t after_seq,
                                                                         int limit) = 0;
  virtual std::int64_t last_event_seq() = 0;
  virtual std::string health_json() = 0;
};

class Api final : public Handler {
 public:
  // `token`: the bearer token every mutating route requires; empty refuses them all (403).
  Api(EngineControl& engine, Store& store, std::string token, const Clock& clock);

  HttpResponse handle(const HttpRequest& request) override;

  // Counts one answered request for /metrics (the HTTP server calls it for every response,
  // including the ones it answers itself: 413, timeouts).
  void count(const std::string& route, int status) override;

  // Server-Sent Events: the audit events after `after_seq` (at most `limit`) as JSON objects,
  // and the current health as JSON. The HTTP server streams these.
  std::vector<std::pair<std::int64_t, std::string>> events_after(std::int64_t after_seq,
                                                                 int limit) override;
  std::int64_t last_event_seq() override;
  std::string health_json() override;

 private:
  HttpResponse route(const HttpRequest& request, std::string& route_name);

  EngineControl& engine_;
  Store& store_;
  std::string token_;
  const Clock& clock_;
  std::mutex counters_mu_;
  std::map<std::pair<std::string, int>, std::int64_t> counters_;
};

// Looks up an embedded dashboard asset ("/" -> index.html). Defined in the generated
// web_assets.cc (src/server/CMakeLists.txt embeds web/ at build time).
struct Asset {
  const char* path;  // "/index.html"
  const char* content_type;
  const unsigned char* data;
  std::size_t size;
};
const Asset* find_asset(std::string_view path);
// "/openapi.json": api/openapi.json, embedded the same way (the local API's OpenAPI description).
const Asset* find_api_description(std::string_view path);

}  // namespace orderly::server
