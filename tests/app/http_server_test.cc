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
#include "memory_store.h"
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

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options.port = 0;
    options.request_timeout_ms = 300;
    options.sse_poll_ms = 50;
    server = std::make_unique<HttpServer>(api, options);
    ASSERT_TRUE(server->start().is_ok());
    endpoint.port = server->port();
    endpoint.token = "tok3n";
  }
  ManualClock clock;
  orderly::testing::MemoryStore store;
  orderly::testing::FakeEngine engine{store, clock};
  Api api{engine, store, "tok3n", clock};
  ServerOptions options;
  std::unique_ptr<HttpServer> server;
  app::ApiEndpoint endpoint;
};

TEST_F(HttpServerTest, SlowSenderIsDisconnected) {
  int fd = connect_to(server->port());
  ASSERT_GE(fd, 0);
  const char partial[] = "GET /api/orders HTTP/1.1\r\nHost: x\r\n";  // never finished
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
  const char req[] = "GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n";
  ::send(fd, req, sizeof req - 1, 0);
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

}  // namespace
}  // namespace orderly::server
