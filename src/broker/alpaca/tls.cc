#include "broker/alpaca/tls.h"

#include <openssl/x509.h>

#include <fmt/format.h>

namespace orderly::alpaca::detail {
namespace ssl = boost::asio::ssl;

StatusOr<std::shared_ptr<ssl::context>> make_client_tls_context(const std::string& extra_ca_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                       ssl::context::no_tlsv1_1,
                   ec);
  if (!ec) ctx->set_default_verify_paths(ec);
  if (!ec && !extra_ca_file.empty()) ctx->load_verify_file(extra_ca_file, ec);
  if (!ec) ctx->set_verify_mode(ssl::verify_peer, ec);
  if (ec) {
    return Status::error(Status::Code::internal, "TLS context: " + ec.message());
  }
  return ctx;
}

std::string describe_tls_failure(SSL* ssl, const boost::system::error_code& ec,
                                 const std::string& host) {
  const long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (verify != X509_V_OK) {
    return fmt::format("TLS certificate verification failed for {}: {}", host,
                       X509_verify_cert_error_string(verify));
  }
  // The host name check runs in the verify callback; OpenSSL then reports only the reason code.
  if (ec.category() == boost::asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    return fmt::format("TLS certificate verification failed for {}: certificate does not match "
                       "the host name",
                       host);
  }
  return fmt::format("TLS handshake with {} failed: {}", host, ec.message());
}

}  // namespace orderly::alpaca::detail
