#include "test_client.h"

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <strings.h>

namespace orderly::sim::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

std::string HttpResult::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  }
  return {};
}

struct HttpClient::Impl {
  Impl(std::uint16_t p, std::string k, std::string s)
      : port(p), stream(ioc), key(std::move(k)), secret(std::move(s)) {}
  std::uint16_t port;
  asio::io_context ioc;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::string key, secret;
};

HttpClient::HttpClient(std::uint16_t port, std::string key, std::string secret)
    : impl_(std::make_unique<Impl>(port, std::move(key), std::move(secret))) {
  connect();
}

HttpClient::~HttpClient() = default;

void HttpClient::connect() {
  beast::error_code ec;
  impl_->stream.socket().close(ec);
  impl_->stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), impl_->port));
}

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!impl_->key.empty()) req.set("APCA-API-KEY-ID", impl_->key);
  if (!impl_->secret.empty()) req.set("APCA-API-SECRET-KEY", impl_->secret);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  req.keep_alive(true);
  HttpResult result;
  beast::error_code ec;
  impl_->stream.expires_after(std::chrono::seconds(30));
  http::write(impl_->stream, req, ec);
  if (ec) return result;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  http::read(impl_->stream, impl_->buffer, parser, ec);
  if (ec) return result;
  http::response<http::string_body> raw = parser.release();
  result.status = raw.result_int();
  for (const auto& field : raw) {
    result.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  result.body = std::move(raw.body());
  return result;
}

RawResult raw_exchange(std::uint16_t port, const std::string& bytes,
                       std::chrono::seconds timeout) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  beast::error_code ec;
  stream.expires_after(timeout);
  asio::write(stream, asio::buffer(bytes), ec);
  RawResult out;
  char buf[4096];
  for (;;) {
    stream.expires_after(timeout);
    std::size_t n = stream.read_some(asio::buffer(buf), ec);
    out.received.append(buf, n);
    if (ec) {
      out.closed_by_server = ec != beast::error::timeout;
      break;
    }
  }
  return out;
}

struct WsClient::Impl {
  Impl() : ws(ioc) {}
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws;
};

WsClient::WsClient(std::uint16_t port, const std::string& target, int receive_buffer)
    : impl_(std::make_unique<Impl>()) {
  auto& ws = impl_->ws;
  if (receive_buffer > 0) {
    auto& socket = beast::get_lowest_layer(ws).socket();
    socket.open(tcp::v4());
    socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
  }
  beast::get_lowest_layer(ws).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  beast::get_lowest_layer(ws).expires_never();
  ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::pong) ++pongs;
  });
  ws.handshake("127.0.0.1", target);
}

WsClient::~WsClient() = default;

void WsClient::send(const std::string& text) {
  impl_->ws.text(true);
  impl_->ws.write(asio::buffer(text));
}

std::optional<WsMessage> WsClient::read(std::chrono::milliseconds timeout) {
  auto& ws = impl_->ws;
  auto& ioc = impl_->ioc;
  beast::flat_buffer buffer;
  beast::error_code ec;
  bool done = false;
  ws.async_read(buffer, [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  ioc.restart();
  ioc.run_for(timeout);
  if (!done) {
    // Timed out: cancel the read and let it finish, which leaves the stream unusable.
    beast::get_lowest_layer(ws).cancel();
    ioc.restart();
    ioc.run();
    closed_ = true;
    return std::nullopt;
  }
  if (ec) {
    closed_ = true;
    ended_with_error_ = true;
    return std::nullopt;
  }
  return WsMessage{beast::buffers_to_string(buffer.data()), ws.got_binary()};
}

std::optional<WsMessage> WsClient::read_until(const std::string& needle,
                                              std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_ && std::chrono::steady_clock::now() < deadline) {
    auto m = read(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!m) break;
    if (m->text.find(needle) != std::string::npos) return m;
    skipped.push_back(*m);
  }
  return std::nullopt;
}

void WsClient::ping() { impl_->ws.ping({}); }

void WsClient::drop(bool reset) {
  auto& socket = beast::get_lowest_layer(impl_->ws).socket();
  beast::error_code ec;
  if (reset) socket.set_option(asio::socket_base::linger(true, 0), ec);
  socket.close(ec);
  closed_ = true;
}

void WsClient::close_frame() {
  auto& ws = impl_->ws;
  auto& ioc = impl_->ioc;
  beast::error_code ec;
  ws.async_close(websocket::close_code::normal, [&](beast::error_code e) { ec = e; });
  ioc.restart();
  ioc.run_for(std::chrono::seconds(10));
  if (!ioc.stopped()) {
    beast::get_lowest_layer(ws).cancel();
    ioc.restart();
    ioc.run();
  }
  closed_ = true;
}

}  // namespace orderly::sim::testing
