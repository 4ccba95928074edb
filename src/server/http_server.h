#pragma once
// The local HTTP API over TCP (Boost.Beast behind this Boost-free interface): a few IO threads,
// keep-alive, bounded request bodies (413), bounded time to send a request (slow clients are
// cut), and the Server-Sent Events stream GET /api/events for the dashboard. Routes run on
// handler threads with a deadline for reads, so a frozen store cannot silence /healthz.

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "server/api.h"

namespace orderly::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8930;  // 0: any free port (see HttpServer::port())
  std::int64_t max_body_bytes = 64 * 1024;
  std::int64_t request_timeout_ms = 10'000;  // headers and body must arrive within this
  std::int64_t idle_timeout_ms = 30'000;     // keep-alive connection without a request
  std::int64_t sse_poll_ms = 500;            // how often the event stream looks for news
  int threads = 4;  // IO threads: they never wait on the store or the engine
  // Requests are answered on these threads, so that routes waiting on a frozen store hold them
  // and not the IO threads: /healthz is answered on the IO threads and keeps answering.
  int handler_threads = 8;
  // A read (GET, HEAD) not answered within this answers 503 "store busy"; its thread goes on
  // waiting. Mutating calls wait for their answer (it says whether a trade was opened).
  std::int64_t read_deadline_ms = 5'000;
  int max_waiting_requests = 64;  // beyond this many unanswered requests: 503 at once
  AccessPolicy access;  // checked before every route and the event stream
};

class HttpServer {
 public:
  HttpServer(Handler& api, ServerOptions options);
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving. Error: the address is taken or invalid.
  Status start();
  std::uint16_t port() const;
  // Stops accepting, lets requests being handled finish (bounded wait), closes the rest.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::server
