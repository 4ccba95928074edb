#pragma once
// HttpTransport over Boost.Beast: TLS with certificate and host name verification (system CA
// store), plain HTTP only to loopback, keep-alive connection reuse, connect and read timeouts, a
// response size limit. Thread-safe: each call borrows one pooled connection.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "broker/alpaca/transport.h"
#include "core/status.h"

namespace orderly::alpaca {

struct BeastTransportOptions {
  std::string base_url;
  std::int64_t connect_timeout_ms = 10'000;  // resolve + TCP connect + TLS handshake
  std::int64_t read_timeout_ms = 30'000;     // writing the request and reading the response
  std::size_t max_body_bytes = 8u << 20;     // a bigger response is an error, not an allocation
  // At least the calls made at once (the runtime's workers, 8 by default): a connection returned
  // past this is closed, and the next call pays a new connect and TLS handshake.
  std::size_t max_idle_connections = 16;
  std::string extra_ca_file;  // trusted in addition to the system store (empty: none)
};

class BeastTransport final : public HttpTransport {
 public:
  // Refuses a bad URL, or clear-text http:// to a non-loopback host, before any connection.
  static StatusOr<std::unique_ptr<BeastTransport>> create(BeastTransportOptions options);
  ~BeastTransport() override;

  TransportResult send(const HttpRequest& request) override;

  struct Impl;

 private:
  explicit BeastTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::alpaca
