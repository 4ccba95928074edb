#pragma once
// TLS set-up shared by the REST transport and the stream (internal: includes Boost.Asio/OpenSSL).
// Certificate verification against the system CA store and host name verification are always on;
// there is deliberately no switch to turn them off.

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl.hpp>
#include <memory>
#include <string>

#include "core/status.h"

namespace orderly::alpaca::detail {

// A client context trusting the system CA store (plus `extra_ca_file` when not empty).
StatusOr<std::shared_ptr<boost::asio::ssl::context>> make_client_tls_context(
    const std::string& extra_ca_file);

// SNI (for names, not IP literals) and peer + host name verification on one stream.
template <typename SslStream>
Status prepare_tls(SslStream& stream, const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec && !SSL_set_tlsext_host_name(stream.native_handle(), host.c_str())) {
    return Status::error(Status::Code::internal, "cannot set the TLS SNI host name");
  }
  stream.set_verify_mode(boost::asio::ssl::verify_peer, ec);
  if (!ec) stream.set_verify_callback(boost::asio::ssl::host_name_verification(host), ec);
  if (ec) return Status::error(Status::Code::internal, "TLS set-up: " + ec.message());
  return Status::success();
}

// A clear sentence for a failed handshake, naming a certificate problem as such.
std::string describe_tls_failure(SSL* ssl, const boost::system::error_code& ec,
                                 const std::string& host);

}  // namespace orderly::alpaca::detail
