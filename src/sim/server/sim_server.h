#pragma once
// `orderly sim` transport: one port serving Alpaca's REST routes (HTTP/1.1 keep-alive) and the
// trade_updates WebSocket at /stream, in front of a sim::Exchange. The model is not thread-safe,
// so every Exchange call runs on one strand; connections run on their own strands.
// Boost stays in sim_server.cc (pimpl).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "sim/exchange.h"

namespace orderly::sim {

struct SimServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: the OS picks a free port (see SimServer::port)
  SimConfig config;        // the model's settings; key_id/secret_key also guard /stream
  std::optional<std::string> faults_json;  // initial fault plan, as for POST /sim/faults
  // The paper stream sends binary frames; some clients only expect text.
  bool text_frames = false;
  int io_threads = 1;
  std::int64_t pump_interval_ms = 5;  // how often the model advances and the stream is fed
  std::int64_t max_header_bytes = 16 * 1024;
  std::int64_t read_timeout_ms = 30'000;  // a client slower than this to send a request is cut
  // A stream client this many messages behind is disconnected instead of growing memory.
  std::size_t max_stream_queue = 10'000;
  std::size_t max_ws_message_bytes = 64 * 1024;
};

class SimServer {
 public:
  // Binds, listens and starts serving on background threads. The model is built with
  // make_exchange(options.config, SystemClock).
  static StatusOr<std::unique_ptr<SimServer>> start(SimServerOptions options);
  // Same, in front of a given model (tests use a fake).
  static StatusOr<std::unique_ptr<SimServer>> start(SimServerOptions options,
                                                    std::unique_ptr<Exchange> exchange);

  ~SimServer();
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  std::uint16_t port() const;
  // Stops accepting, closes every connection and joins the threads. Idempotent.
  void stop();

  struct Impl;

 private:
  explicit SimServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::sim
