// Load driver: order submissions per second that `orderly sim`'s server accepts over keep-alive
// HTTP on loopback, beside a trivial Beast echo server measured in the same run as the ceiling
// of this machine's HTTP stack. Both servers run one network thread; the driver runs one too.
//
//   sim_server_bench [--seconds S] [--connections N] [--server-threads T]
#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sim/server/sim_server.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// The reference: parses a request, answers a fixed JSON order, nothing else.
class EchoServer {
 public:
  EchoServer() : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(ioc_, accept(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~EchoServer() {
    ioc_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
      if (ec) co_return;
      socket.set_option(tcp::no_delay(true));
      asio::co_spawn(ioc_, serve(std::move(socket)), asio::detached);
    }
  }
  static asio::awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(stream, buffer, req, kNoThrow);
      if (ec) co_return;
      http::response<http::string_body> res{http::status::ok, req.version()};
      res.set(http::field::content_type, "application/json");
      res.body() = R"({"id":"61e69015-8549-4bfd-b9c3-01e75843f47d","status":"accepted"})";
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      std::tie(ec, n) = co_await http::async_write(stream, res, kNoThrow);
      if (ec) co_return;
    }
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

struct LoadResult {
  std::uint64_t ok = 0;
  std::uint64_t other = 0;
  std::uint64_t errors = 0;
  double seconds = 0;
  double per_second() const { return static_cast<double>(ok) / seconds; }
};

// `connections` keep-alive clients on one thread, each sending market buys back to back.
// With `orders` false each request is GET /v2/clock: the same transport and model round trip
// without creating state, which separates the server's cost from the model's order handling.
LoadResult drive(std::uint16_t port, int connections, double seconds, bool orders = true) {
  asio::io_context ioc;
  LoadResult result;
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  std::atomic<std::uint64_t> sequence{0};
  auto client = [&](int index) -> asio::awaitable<void> {
    beast::tcp_stream stream(ioc);
    auto [cec] = co_await stream.async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kNoThrow);
    if (cec) {
      ++result.errors;
      co_return;
    }
    stream.socket().set_option(tcp::no_delay(true));
    beast::flat_buffer buffer;
    while (std::chrono::steady_clock::now() < end) {
      http::request<http::string_body> req{orders ? http::verb::post : http::verb::get,
                                           orders ? "/v2/orders" : "/v2/clock", 11};
      req.set(http::field::host, "127.0.0.1");
      req.set(http::field::content_type, "application/json");
      req.set("APCA-API-KEY-ID", "bench");
      req.set("APCA-API-SECRET-KEY", "bench");
      if (orders) req.body() = R"({"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day","client_order_id":"bench-)" +
                   std::to_string(index) + "-" + std::to_string(sequence++) + "\"}";
      req.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, req, kNoThrow);
      if (wec) {
        ++result.errors;
        co_return;
      }
      http::response<http::string_body> res;
      auto [rec, rn] = co_await http::async_read(stream, buffer, res, kNoThrow);
      if (rec) {
        ++result.errors;
        co_return;
      }
      if (res.result_int() == 200) {
        ++result.ok;
      } else {
        if (result.other++ == 0) {
          std::fprintf(stderr, "first non-200 answer: %d %s\n", res.result_int(), res.body().c_str());
        }
      }
    }
  };
  for (int i = 0; i < connections; ++i) asio::co_spawn(ioc, client(i), asio::detached);
  ioc.run();
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

void print(const char* name, const LoadResult& r) {
  std::printf("%-28s %10.0f req/s  (%llu ok, %llu other, %llu errors in %.2f s)\n", name,
              r.per_second(), static_cast<unsigned long long>(r.ok),
              static_cast<unsigned long long>(r.other), static_cast<unsigned long long>(r.errors),
              r.seconds);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int connections = 8;
  int server_threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--connections")) connections = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--server-threads")) server_threads = std::atoi(argv[i + 1]);
  }

  LoadResult echo;
  {
    EchoServer server;
    echo = drive(server.port(), connections, seconds);
  }

  orderly::sim::SimServerOptions options;
  options.io_threads = server_threads;
  options.config.cash = orderly::Decimal::from_int(1'000'000'000);  // never out of buying power
  options.config.rate_limit_per_min = 0;                             // Alpaca's 200/min off
  auto sim = orderly::sim::SimServer::start(options);
  if (!sim.ok()) {
    std::fprintf(stderr, "sim server: %s\n", sim.status().message().c_str());
    return 1;
  }
  LoadResult clock = drive((*sim)->port(), connections, seconds, false);
  LoadResult orders = drive((*sim)->port(), connections, seconds);
  (*sim)->stop();

  std::printf("loopback, %d keep-alive connections, %d server thread(s), %u cores\n", connections,
              server_threads, std::thread::hardware_concurrency());
  print("beast echo (reference)", echo);
  print("orderly sim GET /v2/clock", clock);
  print("orderly sim POST /v2/orders", orders);
  std::printf("sim / echo: %.0f%%\n", 100.0 * orders.per_second() / echo.per_second());
  bool clean = orders.errors + orders.other + clock.errors + clock.other == 0;
  return clean ? 0 : 1;
}
