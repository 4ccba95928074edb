#pragma once
// Small synchronous HTTP/1.1 and WebSocket clients over loopback for the simulator's tests,
// plus a raw-socket helper for sending bytes no well-behaved client would send. Boost.Beast
// stays in test_client.cc: compiled once, not in every test file that drives the simulator.

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace orderly::sim::testing {

struct HttpResult {
  int status = 0;  // 0: no response (connection closed or error)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The value of header `name` (any case), empty when absent.
  std::string header(const std::string& name) const;
  boost::json::value json() const {
    boost::json::error_code ec;
    auto v = boost::json::parse(body, ec);
    return ec ? boost::json::value() : v;
  }
};

// One keep-alive connection. Requests carry the given API keys when set.
class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::string key = "", std::string secret = "");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void connect();
  // `method`: GET, POST, DELETE, PATCH...
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "");
  HttpResult get(const std::string& t) { return request("GET", t); }
  HttpResult post(const std::string& t, const std::string& b) { return request("POST", t, b); }
  HttpResult del(const std::string& t) { return request("DELETE", t); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct RawResult {
  std::string received;
  bool closed_by_server = false;  // false: our timeout ended the wait
};

// Sends raw bytes on a fresh connection and returns everything the server sends back before it
// closes (or the timeout passes).
RawResult raw_exchange(std::uint16_t port, const std::string& bytes,
                       std::chrono::seconds timeout = std::chrono::seconds(10));

struct WsMessage {
  std::string text;
  bool binary = false;
};

class WsClient {
 public:
  // `receive_buffer` > 0 shrinks this end's socket buffer, so a client that stops reading makes
  // the server's writes block soon.
  explicit WsClient(std::uint16_t port, const std::string& target = "/stream",
                    int receive_buffer = 0);
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  void send(const std::string& text);
  // The next message, or nullopt when the connection closes or nothing comes within `timeout`.
  std::optional<WsMessage> read(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads until a message contains `needle`; messages before it are kept in `skipped`.
  std::optional<WsMessage> read_until(const std::string& needle,
                                      std::chrono::seconds timeout = std::chrono::seconds(15));
  void ping();
  // Goes away without a close frame: FIN when `reset` is false, RST (SO_LINGER 0) when true.
  void drop(bool reset);
  // Sends a close frame and waits (bounded) for the server's close frame and its TCP close.
  void close_frame();
  bool closed() const { return closed_; }
  // The connection ended with an error (the server cut it), not a timeout of ours.
  bool ended_with_error() const { return ended_with_error_; }

  std::vector<WsMessage> skipped;
  int pongs = 0;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool closed_ = false;
  bool ended_with_error_ = false;
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
