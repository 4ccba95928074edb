// The API over a real loopback socket: slow senders are cut, oversized bodies refused, the event
// stream delivers committed audit events, stop() finishes.
#include "server/http_server.h"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "app/api_client.h"
#include "fake_engine.h"
#include "support/memory_store.h"
#include "process.h"

namespace orderly::server {
namespace {

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Sends raw bytes and collects the answer until the connection closes or `until` shows up.
std::string exchange(std::uint16_t port, const std::string& request, const std::string& until) {
  int fd = connect_to(port);
  if (fd < 0) return "";
  ::send(fd, request.data(), request.size(), 0);
  std::string reply;
  orderly::testing::eventually([&] {
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) reply.append(buf, n);
    return n == 0 || reply.find(until) != std::string::npos;
  }, 20);
  ::close(fd);
  return reply;
}

constexpr const char* kToken = "tok3n-tok3n-tok3n";

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void start() {
    if (server) server->stop();
    options.port = 0;
    options.request_timeout_ms = 300;
    options.sse_poll_ms = 50;
    if (!custom_access) options.access.token = kToken;
    server = std::make_unique<HttpServer>(api, options);
    ASSERT_TRUE(server->start().ok());
    endpoint.port = server->port();
    endpoint.token = kToken;
  }
  // The status line's code of a raw GET with these extra header lines.
  int raw_status(const std::string& target, const std::string& headers) {
    std::string reply = exchange(
        server->port(),
        "GET " + target + " HTTP/1.1\r\n" + headers + "Connection: close\r\n\r\n", "\r\n\r\n");
    if (reply.size() < 12) return 0;
    return std::stoi(reply.substr(9, 3));
  }
  int status_of(const std::string& method, const std::string& target, std::string token,
                const std::string& body = "") {
    app::ApiEndpoint e = endpoint;
    e.token = std::move(token);
    auto r = app::api_call(e, method, target, body);
    return r.ok() ? r->status : 0;
  }
  bool custom_access = false;
  ManualClock clock;
  orderly::testing::MemoryStore store;
  orderly::testing::FakeEngine engine{store, clock};
  Api api{engine, store, kToken, clock};
  ServerOptions options;
  std::unique_ptr<HttpServer> server;
  app::ApiEndpoint endpoint;
};

TEST_F(HttpServerTest, SlowSenderIsDisconnected) {
  int fd = connect_to(server->port());
  ASSERT_GE(fd, 0);
  const char partial[] = "GET /api/orders HTTP/1.1\r\nHost: localhost\r\n";  // never finished
  ASSERT_GT(::send(fd, partial, sizeof partial - 1, 0), 0);
  bool closed = orderly::testing::eventually([&] {
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }, 20);
  EXPECT_TRUE(closed);
  ::close(fd);
  // The server still serves others.
  auto r = app::api_call(endpoint, "GET", "/healthz");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, OversizedBodyGets413Json) {
  auto r = app::api_call(endpoint, "POST", "/api/trades", std::string(options.max_body_bytes + 1, 'x'));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(boost::json::parse(r->body).as_object().contains("error"));
}

TEST_F(HttpServerTest, MalformedHttpGets400) {
  int fd = connect_to(server->port());
  ASSERT_GE(fd, 0);
  const char junk[] = "THIS IS NOT HTTP\r\n\r\n";
  ::send(fd, junk, sizeof junk - 1, 0);
  std::string reply;
  orderly::testing::eventually([&] {
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) reply.append(buf, n);
    return n == 0 || reply.find("}") != std::string::npos;
  }, 20);
  ::close(fd);
  EXPECT_NE(reply.find(" 400 "), std::string::npos) << reply;
}

TEST_F(HttpServerTest, EventStreamDeliversNewAuditEvents) {
  int fd = connect_to(server->port());
  ASSERT_GE(fd, 0);
  const std::string req = std::string("GET /api/events?token=") + kToken +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ::send(fd, req.data(), req.size(), 0);
  std::string got;
  auto read_some = [&] {
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) got.append(buf, n);
  };
  ASSERT_TRUE(orderly::testing::eventually([&] { read_some(); return got.find("event: health") != std::string::npos; }, 20)) << got;
  auto opened = app::api_call(endpoint, "POST", "/api/trades",
                              R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"}})");
  ASSERT_TRUE(opened.ok());
  ASSERT_EQ(opened->status, 201);
  EXPECT_TRUE(orderly::testing::eventually([&] { read_some(); return got.find("event: order_event") != std::string::npos; }, 20)) << got;
  EXPECT_NE(got.find("text/event-stream"), std::string::npos);
  ::close(fd);
  server->stop();
}

// Everything but /healthz and the dashboard's files needs the token, reads included.
TEST_F(HttpServerTest, EveryRouteButHealthzNeedsTheToken) {
  for (const char* target : {"/api/orders", "/api/trades", "/api/trades/1", "/api/positions",
                             "/api/alerts", "/api/orders/1/audit", "/metrics"}) {
    EXPECT_EQ(status_of("GET", target, ""), 401) << target;
    EXPECT_EQ(status_of("GET", target, "wrong-token-wrong-token"), 401) << target;
  }
  EXPECT_EQ(status_of("GET", "/api/orders", kToken), 200);
  EXPECT_EQ(status_of("GET", "/healthz", ""), 200);
  EXPECT_EQ(status_of("POST", "/api/trades", "", R"({"symbol":"STWD"})"), 401);
  if (find_asset("/") != nullptr) {
    EXPECT_EQ(status_of("GET", "/", ""), 200);
  }
  // Prometheus sends the token as a bearer token; the scheme is case-insensitive (RFC 7235).
  EXPECT_EQ(raw_status("/metrics", std::string("Host: 127.0.0.1:9\r\nAuthorization: bearer ") +
                                        kToken + "\r\n"),
            200);
  // A token in the query string counts only for the event stream (EventSource sends no headers).
  EXPECT_EQ(raw_status(std::string("/api/orders?token=") + kToken, "Host: 127.0.0.1\r\n"), 401);
}

TEST_F(HttpServerTest, EventStreamAndItsReplayNeedTheToken) {
  auto opened = app::api_call(endpoint, "POST", "/api/trades",
                              R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"}})");
  ASSERT_TRUE(opened.ok());
  ASSERT_EQ(opened->status, 201);
  for (const std::string headers :
       {"Host: 127.0.0.1\r\n", "Host: 127.0.0.1\r\nLast-Event-ID: 0\r\n"}) {
    const std::uint16_t port = server->port();
    std::string reply = exchange(port, "GET /api/events HTTP/1.1\r\n" + headers + "\r\n", "}");
    EXPECT_NE(reply.find(" 401 "), std::string::npos) << reply;
    EXPECT_EQ(reply.find("order_event"), std::string::npos) << reply;
    reply = exchange(port, "GET /api/events?token=nope HTTP/1.1\r\n" + headers + "\r\n", "}");
    EXPECT_NE(reply.find(" 401 "), std::string::npos) << reply;
  }
  // With the token (header or ?token=) the history replays from Last-Event-ID.
  std::string replay = exchange(server->port(),
                                std::string("GET /api/events HTTP/1.1\r\nHost: localhost\r\n"
                                            "Authorization: Bearer ") + kToken +
                                    "\r\nLast-Event-ID: 0\r\n\r\n",
                                "event: order_event");
  EXPECT_NE(replay.find("event: order_event"), std::string::npos) << replay;
}

TEST_F(HttpServerTest, PublicReadsOpenGetsButNotMutations) {
  custom_access = true;
  options.access = AccessPolicy{kToken, true, {}};
  start();
  EXPECT_EQ(status_of("GET", "/api/orders", ""), 200);
  EXPECT_EQ(status_of("GET", "/metrics", ""), 200);
  EXPECT_EQ(status_of("POST", "/api/trades", "", R"({"symbol":"STWD"})"), 401);
  EXPECT_EQ(status_of("POST", "/api/reconcile", ""), 401);
}

TEST_F(HttpServerTest, NoConfiguredTokenLeavesOnlyHealthz) {
  custom_access = true;
  options.access = AccessPolicy{};
  start();
  EXPECT_EQ(status_of("GET", "/healthz", ""), 200);
  EXPECT_EQ(status_of("GET", "/api/orders", ""), 403);
  EXPECT_EQ(status_of("GET", "/api/orders", kToken), 403);
  EXPECT_EQ(status_of("POST", "/api/trades", kToken, "{}"), 403);
}

// A web page that rebinds its own name to 127.0.0.1 still sends its own name as Host.
TEST_F(HttpServerTest, ForeignHostGets421) {
  custom_access = true;
  options.access = AccessPolicy{kToken, false, {"orderly.lan", "Box.Example:8930"}};
  start();
  const std::string auth = std::string("Authorization: Bearer ") + kToken + "\r\n";
  for (const char* host : {"evil.example", "evil.example:8930", "127.0.0.1.evil.example",
                           "10.0.0.7", "[::2]:80", "localhost.evil", "128.0.0.1"}) {
    EXPECT_EQ(raw_status("/api/orders", "Host: " + std::string(host) + "\r\n" + auth), 421) << host;
    EXPECT_EQ(raw_status("/healthz", "Host: " + std::string(host) + "\r\n"), 421) << host;
  }
  EXPECT_EQ(raw_status("/healthz", ""), 421);  // no Host at all
  for (const char* host : {"127.0.0.1", "127.0.0.1:8930", "127.9.8.7", "localhost", "LOCALHOST:1",
                           "[::1]", "[::1]:8930", "orderly.lan", "ORDERLY.lan:80", "box.example"}) {
    EXPECT_EQ(raw_status("/api/orders", "Host: " + std::string(host) + "\r\n" + auth), 200) << host;
  }
  std::string events = exchange(server->port(),
                                std::string("GET /api/events?token=") + kToken +
                                    " HTTP/1.1\r\nHost: evil.example\r\n\r\n",
                                "}");
  EXPECT_NE(events.find(" 421 "), std::string::npos) << events;
}

TEST_F(HttpServerTest, IdempotencyKeyHeaderReachesTheApi) {
  const std::string body = R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"}})";
  const std::string request = std::string("POST /api/trades HTTP/1.1\r\nHost: 127.0.0.1\r\n") +
                              "Authorization: Bearer " + kToken +
                              "\r\nIdempotency-Key: idem-42\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) +
                              "\r\nConnection: close\r\n\r\n" + body;
  std::string first = exchange(server->port(), request, "}]}");
  std::string second = exchange(server->port(), request, "}]}");
  EXPECT_NE(first.find(" 201 "), std::string::npos) << first;
  EXPECT_NE(second.find(" 200 "), std::string::npos) << second;
  EXPECT_NE(second.find("\"client_trade_id\":\"idem-42\""), std::string::npos) << second;
  auto list = app::api_call(endpoint, "GET", "/api/trades");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(boost::json::parse(list->body).as_array().size(), 1u);
}

}  // namespace
}  // namespace orderly::server
