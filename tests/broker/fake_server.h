#pragma once
// A tiny loopback TCP server for transport tests: each accepted connection is handed to a script
// on the server thread. Scripts write raw HTTP so tests can send what a real server never would
// (truncated bodies, silence, garbage).

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace orderly::testing {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class FakeServer {
 public:
  using Script = std::function<void(tcp::socket& socket, FakeServer& server)>;

  explicit FakeServer(Script script) : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, script = std::move(script)] {
      while (!stopping_) {
        tcp::socket socket(ioc_);
        boost::system::error_code ec;
        acceptor_.accept(socket, ec);
        if (ec || stopping_) break;
        ++connections_;
        script(socket, *this);
      }
    });
  }

  ~FakeServer() {
    stopping_ = true;
    // Wake the blocking accept with one last connection.
    boost::system::error_code ec;
    asio::io_context ioc;
    tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }

  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }
  int requests() const { return requests_; }
  bool stopping() const { return stopping_; }

  // Reads one request (or returns false when the client went away).
  template <typename Stream>
  bool read_request(Stream& s, boost::beast::flat_buffer& buffer,
                    boost::beast::http::request<boost::beast::http::string_body>* out = nullptr) {
    boost::beast::http::request<boost::beast::http::string_body> req;
    boost::system::error_code ec;
    boost::beast::http::read(s, buffer, req, ec);
    if (ec) return false;
    ++requests_;
    {
      std::lock_guard lock(mutex_);
      last_target_ = std::string(req.target());
    }
    if (out) *out = std::move(req);
    return true;
  }
  std::string last_target() const {
    std::lock_guard lock(mutex_);
    return last_target_;
  }

  // Sleeps until the server stops (a peer that accepts and never answers).
  void hang() {
    while (!stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

 private:
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  mutable std::mutex mutex_;
  std::string last_target_;
};

// A loopback port nothing listens on (bound, then closed again): connecting there is refused.
inline std::uint16_t closed_loopback_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

inline std::string http_response(int status, std::string_view body,
                                 std::string_view extra_headers = "",
                                 std::string_view content_type = "application/json") {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
  if (!body.empty() || status != 204) {
    r += "Content-Type: " + std::string(content_type) + "\r\n";
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  r += std::string(extra_headers);
  r += "\r\n";
  r += body;
  return r;
}

// Serves one canned response per request on each connection (keep-alive) until the client closes.
inline FakeServer::Script serve(std::string response) {
  return [response](tcp::socket& socket, FakeServer& server) {
    boost::beast::flat_buffer buffer;
    while (server.read_request(socket, buffer)) {
      boost::system::error_code ec;
      asio::write(socket, asio::buffer(response), ec);
      if (ec) return;
    }
  };
}

}  // namespace orderly::testing
