#include "broker/alpaca/beast_transport.h"

#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "broker/alpaca/endpoint.h"
#include "broker/alpaca/tls.h"

namespace orderly::alpaca {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// One connection with its own io_context, so a thread that borrows it runs it alone.
struct Connection {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;

  beast::tcp_stream& tcp_layer() { return tls ? tls->next_layer() : *plain; }

  // Runs the io_context until the operation started by `start` completes.
  void run() {
    ioc.restart();
    ioc.run();
  }

  // An idle keep-alive connection that is readable was closed (or spoken to) by the server: using
  // it would write into a dead socket, so it is replaced before anything is written.
  bool closed_by_peer() {
    auto& sock = tcp_layer().socket();
    if (!sock.is_open()) return true;
    pollfd p{};
    p.fd = sock.native_handle();
    p.events = POLLIN;
    const int n = ::poll(&p, 1, 0);
    return n != 0;  // readable, hung up, or poll failed
  }

  void close() {
    error_code ignored;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_layer().socket().close(ignored);
  }
};

template <typename Stream>
std::string read_failure(const error_code& ec, std::int64_t read_timeout_ms,
                         std::size_t max_body_bytes) {
  if (ec == beast::error::timeout) {
    return fmt::format("no complete response within {} ms (read timeout)", read_timeout_ms);
  }
  if (ec == http::error::body_limit || ec == http::error::buffer_overflow) {
    return fmt::format("response larger than the {} byte limit", max_body_bytes);
  }
  if (ec == http::error::partial_message || ec == http::error::end_of_stream ||
      ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    return "connection closed before a complete response";
  }
  return "reading the response: " + ec.message();
}

}  // namespace

struct BeastTransport::Impl {
  BeastTransportOptions options;
  Endpoint endpoint;
  std::shared_ptr<ssl::context> tls_context;  // null for loopback http
  std::mutex mutex;
  std::vector<std::unique_ptr<Connection>> idle;

  std::unique_ptr<Connection> take_idle() {
    std::lock_guard lock(mutex);
    if (idle.empty()) return nullptr;
    auto c = std::move(idle.back());
    idle.pop_back();
    return c;
  }

  void give_back(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mutex);
    if (idle.size() < options.max_idle_connections) idle.push_back(std::move(c));
  }

  // Resolve + connect + handshake. Failures here never sent a byte of the request.
  std::unique_ptr<Connection> connect(std::string& error) {
    auto c = std::make_unique<Connection>();
    const auto timeout = std::chrono::milliseconds(options.connect_timeout_ms);

    tcp::resolver resolver(c->ioc);
    error_code ec;
    tcp::resolver::results_type endpoints;
    bool resolved = false;
    resolver.async_resolve(endpoint.host, endpoint.port,
                           [&](error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             resolved = true;
                           });
    c->ioc.run_for(timeout);
    if (!resolved) {
      resolver.cancel();
      c->run();
      error = fmt::format("resolving {}: timed out after {} ms", endpoint.host,
                          options.connect_timeout_ms);
      return nullptr;
    }
    if (ec) {
      error = fmt::format("resolving {}: {}", endpoint.host, ec.message());
      return nullptr;
    }

    if (tls_context) {
      c->tls.emplace(c->ioc, *tls_context);
      if (Status s = detail::prepare_tls(*c->tls, endpoint.host); !s.ok()) {
        error = s.message();
        return nullptr;
      }
    } else {
      c->plain.emplace(c->ioc);
    }
    c->tcp_layer().expires_after(timeout);
    c->tcp_layer().async_connect(endpoints, [&](error_code e, const tcp::endpoint&) { ec = e; });
    c->run();
    if (ec) {
      error = fmt::format("connecting to {}:{}: {}", endpoint.host, endpoint.port,
                          ec == beast::error::timeout ? "timed out" : ec.message());
      return nullptr;
    }
    if (c->tls) {
      c->tcp_layer().expires_after(timeout);
      c->tls->async_handshake(ssl::stream_base::client, [&](error_code e) { ec = e; });
      c->run();
      if (ec) {
        error = ec == beast::error::timeout
                    ? fmt::format("TLS handshake with {} timed out", endpoint.host)
                    : detail::describe_tls_failure(c->tls->native_handle(), ec, endpoint.host);
        return nullptr;
      }
    }
    return c;
  }

  template <typename Stream>
  TransportResult exchange(Connection& c, Stream& stream, const http::request<http::string_body>& req,
                           bool& written_nothing, bool& keep) {
    error_code ec;
    std::size_t written = 0;
    c.tcp_layer().expires_after(std::chrono::milliseconds(options.read_timeout_ms));
    http::async_write(stream, req, [&](error_code e, std::size_t n) {
      ec = e;
      written = n;
    });
    c.run();
    if (ec) {
      written_nothing = written == 0;
      return TransportError{!written_nothing, "writing the request: " + ec.message()};
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(options.max_body_bytes);
    c.tcp_layer().expires_after(std::chrono::milliseconds(options.read_timeout_ms));
    http::async_read(stream, c.buffer, parser, [&](error_code e, std::size_t) { ec = e; });
    c.run();
    if (ec) {
      return TransportError{true, read_failure<Stream>(ec, options.read_timeout_ms,
                                                       options.max_body_bytes)};
    }
    auto msg = parser.release();
    HttpResponse r;
    r.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) {
      r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    r.body = std::move(msg.body());
    r.read_ratelimit_headers();
    keep = msg.keep_alive() && c.buffer.size() == 0;
    return r;
  }

  TransportResult send(const HttpRequest& request) {
    http::request<http::string_body> req;
    http::verb verb = http::string_to_verb(request.method);
    if (verb == http::verb::unknown) return TransportError{false, "unknown HTTP method"};
    req.method(verb);
    req.target(endpoint.path_prefix + request.target);
    req.version(11);
    req.set(http::field::host, endpoint.host_header);
    req.set(http::field::user_agent, "orderly/0.1");
    for (const auto& [k, v] : request.headers) req.set(k, v);
    req.keep_alive(true);
    if (!request.body.empty() || verb == http::verb::post || verb == http::verb::patch) {
      req.body() = request.body;
    }
    req.prepare_payload();

    // At most two tries, and the second only when the first wrote nothing: a request that may
    // have reached the server is never sent again here (that is the caller's lookup to do).
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::unique_ptr<Connection> c = take_idle();
      const bool reused = c != nullptr;
      if (c && c->closed_by_peer()) c.reset();
      if (!c) {
        std::string error;
        c = connect(error);
        if (!c) return TransportError{false, error};
      }
      bool written_nothing = false;
      bool keep = false;
      TransportResult result = c->tls ? exchange(*c, *c->tls, req, written_nothing, keep)
                                      : exchange(*c, *c->plain, req, written_nothing, keep);
      if (result.ok()) {
        if (keep) {
          give_back(std::move(c));
        } else {
          c->close();
        }
        return result;
      }
      c->close();
      if (!(reused && written_nothing)) return result;
    }
    return TransportError{false, "connection closed by the server before sending"};
  }
};

BeastTransport::BeastTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BeastTransport::~BeastTransport() = default;

StatusOr<std::unique_ptr<BeastTransport>> BeastTransport::create(BeastTransportOptions options) {
  auto endpoint = parse_endpoint(options.base_url);
  if (!endpoint.ok()) return endpoint.status();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->endpoint = std::move(endpoint.value());
  if (impl->endpoint.tls) {
    auto ctx = detail::make_client_tls_context(impl->options.extra_ca_file);
    if (!ctx.ok()) return ctx.status();
    impl->tls_context = std::move(ctx.value());
  }
  return std::unique_ptr<BeastTransport>(new BeastTransport(std::move(impl)));
}

TransportResult BeastTransport::send(const HttpRequest& request) {
  try {
    return impl_->send(request);
  } catch (const std::exception& e) {  // allocation or an Asio surprise: never across the seam
    return TransportError{true, std::string("transport failure: ") + e.what()};
  }
}

}  // namespace orderly::alpaca
