#pragma once
// trade_updates over a WebSocket (wss://<base>/stream; ws:// only to loopback). Authenticates,
// listens, delivers updates from text and binary frames, pings when quiet and reconnects when the
// server stays silent, reconnects with bounded exponential backoff and full jitter, and signals
// every successful (re)subscription with on_connected: Alpaca does not replay missed events, so
// the engine must resync each time. Runs on its own thread; stop() is prompt and joins.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "core/status.h"

namespace orderly::alpaca {

struct StreamOptions {
  std::string base_url;  // the REST base URL; https -> wss, http -> ws, path + "/stream"
  std::string key_id;
  std::string secret_key;
  std::int64_t connect_timeout_ms = 10'000;  // TCP + TLS + WebSocket handshake
  std::int64_t auth_timeout_ms = 10'000;     // authorization and listen acks
  // No frame or pong for this long: the connection is dead. A ping goes out at half of it.
  std::int64_t idle_timeout_ms = 30'000;
  std::int64_t backoff_base_ms = 500;
  std::int64_t backoff_cap_ms = 30'000;
  std::int64_t backoff_floor_ms = 100;  // never a tight loop, even when the jitter draws 0
  std::size_t max_message_bytes = 8u << 20;
  std::string extra_ca_file;
  std::uint64_t jitter_seed = 0;  // 0: random
};

class AlpacaStream final : public TradeUpdateStream {
 public:
  // Validates the URL (clear text only to loopback) and TLS set-up; does not connect.
  static StatusOr<std::unique_ptr<AlpacaStream>> create(StreamOptions options);
  ~AlpacaStream() override;

  void start(TradeUpdateHandler& handler) override;
  void stop() override;
  // Ends the wait between two connection attempts now (any thread): the REST side found the
  // broker back after an outage, so the stream need not sit out its backoff (up to 30 s).
  void reconnect_now();

  struct Impl;

 private:
  explicit AlpacaStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The delay before reconnect attempt `failures` (0-based): floor + uniform[0, min(cap,
// base * 2^failures)]. `uniform01` is a draw in [0, 1).
std::int64_t reconnect_delay_ms(const StreamOptions& options, int failures, double uniform01);

}  // namespace orderly::alpaca
