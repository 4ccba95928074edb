#pragma once
// Small synchronous HTTP/1.1 and WebSocket clients over loopback for the simulator's tests,
// plus a raw-socket helper for sending bytes no well-behaved client would send.

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace orderly::sim::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct HttpResult {
  int status = 0;  // 0: no response (connection closed or error)
  std::string body;
  http::response<http::string_body> raw;
  boost::json::value json() const {
    boost::json::error_code ec;
    auto v = boost::json::parse(body, ec);
    return ec ? boost::json::value() : v;
  }
};

// One keep-alive connection. Requests carry the given API keys when set.
class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::string key = "", std::string secret = "")
      : port_(port), stream_(ioc_), key_(std::move(key)), secret_(std::move(secret)) {
    connect();
  }

  void connect() {
    beast::error_code ec;
    stream_.socket().close(ec);
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
  }

  HttpResult request(http::verb method, const std::string& target, const std::string& body = "") {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!key_.empty()) req.set("APCA-API-KEY-ID", key_);
    if (!secret_.empty()) req.set("APCA-API-SECRET-KEY", secret_);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    req.keep_alive(true);
    HttpResult result;
    beast::error_code ec;
    stream_.expires_after(std::chrono::seconds(30));
    http::write(stream_, req, ec);
    if (ec) return result;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(stream_, buffer_, parser, ec);
    if (ec) return result;
    result.raw = parser.release();
    result.status = result.raw.result_int();
    result.body = result.raw.body();
    return result;
  }

  HttpResult get(const std::string& t) { return request(http::verb::get, t); }
  HttpResult post(const std::string& t, const std::string& b) {
    return request(http::verb::post, t, b);
  }
  HttpResult del(const std::string& t) { return request(http::verb::delete_, t); }

 private:
  std::uint16_t port_;
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string key_, secret_;
};

struct RawResult {
  std::string received;
  bool closed_by_server = false;  // false: our timeout ended the wait
};

// Sends raw bytes on a fresh connection and returns everything the server sends back before it
// closes (or the timeout passes).
inline RawResult raw_exchange(std::uint16_t port, const std::string& bytes,
                              std::chrono::seconds timeout = std::chrono::seconds(10)) {
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

struct WsMessage {
  std::string text;
  bool binary = false;
};

class WsClient {
 public:
  // `receive_buffer` > 0 shrinks this end's socket buffer, so a client that stops reading makes
  // the server's writes block soon.
  explicit WsClient(std::uint16_t port, const std::string& target = "/stream",
                    int receive_buffer = 0)
      : ws_(ioc_) {
    if (receive_buffer > 0) {
      auto& socket = beast::get_lowest_layer(ws_).socket();
      socket.open(tcp::v4());
      socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    }
    beast::get_lowest_layer(ws_).connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    beast::get_lowest_layer(ws_).expires_never();
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) ++pongs;
    });
    ws_.handshake("127.0.0.1", target);
  }

  void send(const std::string& text) {
    ws_.text(true);
    ws_.write(asio::buffer(text));
  }

  // The next message, or nullopt when the connection closes or nothing comes within `timeout`.
  std::optional<WsMessage> read(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    beast::flat_buffer buffer;
    beast::error_code ec;
    bool done = false;
    ws_.async_read(buffer, [&](beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    ioc_.restart();
    ioc_.run_for(timeout);
    if (!done) {
      // Timed out: cancel the read and let it finish, which leaves the stream unusable.
      beast::get_lowest_layer(ws_).cancel();
      ioc_.restart();
      ioc_.run();
      closed_ = true;
      return std::nullopt;
    }
    if (ec) {
      closed_ = true;
      last_error_ = ec;
      return std::nullopt;
    }
    return WsMessage{beast::buffers_to_string(buffer.data()), ws_.got_binary()};
  }

  // Reads until a message contains `needle`; messages before it are kept in `skipped`.
  std::optional<WsMessage> read_until(const std::string& needle,
                                      std::chrono::seconds timeout = std::chrono::seconds(15)) {
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

  void ping() { ws_.ping({}); }

  // Goes away without a close frame: FIN when `reset` is false, RST (SO_LINGER 0) when true.
  void drop(bool reset) {
    auto& socket = beast::get_lowest_layer(ws_).socket();
    beast::error_code ec;
    if (reset) socket.set_option(asio::socket_base::linger(true, 0), ec);
    socket.close(ec);
    closed_ = true;
  }

  // Sends a close frame and waits (bounded) for the server's close frame and its TCP close.
  void close_frame() {
    beast::error_code ec;
    ws_.async_close(websocket::close_code::normal, [&](beast::error_code e) { ec = e; });
    ioc_.restart();
    ioc_.run_for(std::chrono::seconds(10));
    if (!ioc_.stopped()) {
      beast::get_lowest_layer(ws_).cancel();
      ioc_.restart();
      ioc_.run();
    }
    closed_ = true;
  }
  bool closed() const { return closed_; }
  beast::error_code last_error() const { return last_error_; }

  std::vector<WsMessage> skipped;
  int pongs = 0;

 private:
  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
  bool closed_ = false;
  beast::error_code last_error_;
};

// Polls `pred` until it holds or the deadline passes (no timed assertions: deadlines are generous).
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds deadline = std::chrono::seconds(20)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace orderly::sim::testing
