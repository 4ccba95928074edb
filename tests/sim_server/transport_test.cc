// The server's transport behaviour in-process, in front of a scripted fake model.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fake_exchange.h"
#include "sim/server/sim_server.h"
#include "test_client.h"

namespace orderly::sim::testing {
namespace {

class TransportTest : public ::testing::Test {
 protected:
  void start(SimServerOptions options = {}) {
    state = std::make_shared<FakeState>();
    auto s = SimServer::start(std::move(options), std::make_unique<FakeExchange>(state));
    ASSERT_TRUE(s.ok()) << s.status().message();
    server = std::move(*s);
  }
  std::uint16_t port() const { return server->port(); }
  void queue_reply(HttpReply r) {
    std::lock_guard lock(state->mu);
    state->replies.push_back(std::move(r));
  }
  void push_stream(std::string json) {
    std::lock_guard lock(state->mu);
    state->pending_stream.push_back(std::move(json));
  }
  std::size_t calls() {
    std::lock_guard lock(state->mu);
    return state->calls.size();
  }

  std::shared_ptr<FakeState> state;
  std::unique_ptr<SimServer> server;
};

TEST_F(TransportTest, PassesTheRequestToTheModelAndItsReplyBack) {
  start();
  queue_reply(HttpReply{403, {{"X-Ratelimit-Limit", "200"}}, R"({"code":40310000})"});
  HttpClient c(port(), "KEY", "SECRET");
  auto r = c.post("/v2/orders?x=1", R"({"symbol":"STWD"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, R"({"code":40310000})");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.header("X-Ratelimit-Limit"), "200");
  std::lock_guard lock(state->mu);
  ASSERT_EQ(state->calls.size(), 1u);
  const HttpCall& call = state->calls[0];
  EXPECT_EQ(call.method, "POST");
  EXPECT_EQ(call.target, "/v2/orders?x=1");
  EXPECT_EQ(call.body, R"({"symbol":"STWD"})");
  bool saw_key = false;
  for (auto& [k, v] : call.headers) saw_key = saw_key || (k == "APCA-API-KEY-ID" && v == "KEY");
  EXPECT_TRUE(saw_key);
}

TEST_F(TransportTest, KeepAliveServesManyRequestsOnOneConnection) {
  start();
  HttpClient c(port());
  queue_reply(HttpReply{204, {}, ""});
  auto r = c.del("/v2/orders/abc");
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  for (int i = 0; i < 200; ++i) {
    auto g = c.get("/v2/account");
    ASSERT_EQ(g.status, 200) << i;
    EXPECT_EQ(g.body, "{\"ok\":true}");
  }
  EXPECT_EQ(calls(), 201u);
}

TEST_F(TransportTest, ManyConcurrentClients) {
  SimServerOptions options;
  options.io_threads = 2;
  start(options);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      HttpClient c(port());
      for (int i = 0; i < 50; ++i) ok += c.post("/v2/orders", "{}").status == 200;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16 * 50);
  EXPECT_EQ(calls(), 16u * 50u);
}

TEST_F(TransportTest, LostResponseClosesTheConnectionAfterApplyingTheRequest) {
  start();
  HttpReply lost{200, {}, R"({"id":"o1"})"};
  lost.fault = HttpFault::lose_response;
  queue_reply(lost);
  HttpClient c(port());
  auto r = c.post("/v2/orders", R"({"client_order_id":"c1"})");
  EXPECT_EQ(r.status, 0);  // no reply at all
  EXPECT_EQ(calls(), 1u);  // but the model got it
  c.connect();
  EXPECT_EQ(c.get("/v2/orders:by_client_order_id?client_order_id=c1").status, 200);
}

TEST_F(TransportTest, SlowReplyDoesNotHoldUpOtherConnections) {
  start();
  HttpReply slow{200, {}, R"({"slow":true})"};
  slow.delay_ms = 3000;
  queue_reply(slow);
  std::atomic<bool> slow_done{false};
  std::thread t([&] {
    HttpClient c(port());
    auto r = c.get("/v2/account");
    EXPECT_EQ(r.body, R"({"slow":true})");
    slow_done = true;
  });
  ASSERT_TRUE(eventually([&] { return calls() == 1; }));
  HttpClient fast(port());
  EXPECT_EQ(fast.get("/v2/clock").status, 200);
  EXPECT_FALSE(slow_done.load());  // answered while the slow one still waits
  t.join();
  EXPECT_TRUE(slow_done.load());
}

TEST_F(TransportTest, ControlRoutes) {
  start();
  HttpClient c(port());
  auto r = c.post("/sim/prices", R"({"STWD":"10.25","AAPL":190.5})");
  EXPECT_EQ(r.status, 200) << r.body;
  {
    std::lock_guard lock(state->mu);
    EXPECT_EQ(state->prices.at("STWD"), Decimal::must("10.25"));
    EXPECT_EQ(state->prices.at("AAPL"), Decimal::must("190.5"));
  }
  r = c.post("/sim/prices", R"({"STWD":"ten"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.json().as_object().contains("error")) << r.body;
  r = c.post("/sim/faults", R"({"nope":1})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json().at("error").as_string(), "fault plan needs \"rules\"");
  EXPECT_EQ(c.post("/sim/faults", R"({"rules":[]})").status, 200);
  r = c.get("/sim/stats");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"requests\":{}}");
  EXPECT_EQ(c.get("/sim/prices").status, 405);
  EXPECT_EQ(c.get("/sim/unknown").status, 404);
  EXPECT_EQ(calls(), 0u);  // control routes never reach Exchange::handle
}

TEST_F(TransportTest, OversizedBodyGets413) {
  SimServerOptions options;
  options.config.max_body_bytes = 1024;
  start(options);
  HttpClient c(port());
  auto r = c.post("/v2/orders", std::string(100'000, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.json().at("code").as_int64(), 41310000);
  EXPECT_EQ(calls(), 0u);
  HttpClient again(port());
  EXPECT_EQ(again.get("/v2/account").status, 200);
}

TEST_F(TransportTest, OversizedHeaderGets431) {
  start();
  auto r = raw_exchange(port(), "GET /v2/account HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                    std::string(100'000, 'a') + "\r\n\r\n");
  EXPECT_TRUE(r.received.starts_with("HTTP/1.1 431")) << r.received.substr(0, 100);
  EXPECT_TRUE(r.closed_by_server);
}

TEST_F(TransportTest, MalformedHttpGets400AndAClose) {
  start();
  for (const std::string& bytes :
       {std::string("GARBAGE\r\n\r\n"), std::string("GET /v2/account HTTP/9.9\r\n\r\n"),
        std::string("POST /v2/orders HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
        std::string("POST /v2/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n"),
        std::string("GET /v2/account HTTP/1.1\r\nBad Header\r\n\r\n"),
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)}) {
    auto r = raw_exchange(port(), bytes);
    EXPECT_TRUE(r.received.starts_with("HTTP/1.1 400")) << bytes << " -> " << r.received;
    EXPECT_TRUE(r.closed_by_server) << bytes;
  }
  EXPECT_EQ(calls(), 0u);
  HttpClient c(port());
  EXPECT_EQ(c.get("/v2/account").status, 200);
}

TEST_F(TransportTest, SlowClientIsCutAtTheReadTimeout) {
  SimServerOptions options;
  options.read_timeout_ms = 300;
  start(options);
  auto r = raw_exchange(port(), "GET /v2/acc", std::chrono::seconds(30));
  EXPECT_TRUE(r.closed_by_server);
  EXPECT_EQ(calls(), 0u);
}

TEST_F(TransportTest, StreamAuthListenAndBinaryUpdates) {
  SimServerOptions options;
  options.config.key_id = "KEY";
  options.config.secret_key = "SECRET";
  start(options);
  WsClient ws(port());
  push_stream(R"({"stream":"trade_updates","data":{"event":"before-listen"}})");
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(state->mu);
    return state->pending_stream.empty();
  }));
  int ticks = state->advances.load();
  ASSERT_TRUE(eventually([&] { return state->advances.load() > ticks + 1; }));  // fanned out
  ws.send(R"({"action":"listen","data":{"streams":["trade_updates"]}})");
  auto m = ws.read();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text, R"({"stream":"authorization","data":{"action":"listen","status":"unauthorized"}})");
  EXPECT_TRUE(m->binary);
  ws.send(R"({"action":"authenticate","data":{"key_id":"KEY","secret_key":"nope"}})");
  m = ws.read();
  ASSERT_TRUE(m);
  EXPECT_NE(m->text.find("unauthorized"), std::string::npos);
  ws.ping();
  ws.send(R"({"action":"authenticate","data":{"key_id":"KEY","secret_key":"SECRET"}})");
  m = ws.read();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text, R"({"stream":"authorization","data":{"action":"authenticate","status":"authorized"}})");
  EXPECT_GE(ws.pongs, 1);
  ws.send(R"({"action":"listen","data":{"streams":["trade_updates"]}})");
  m = ws.read();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text, R"({"stream":"listening","data":{"streams":["trade_updates"]}})");
  push_stream(R"({"stream":"trade_updates","data":{"event":"fill"}})");
  m = ws.read_until("fill");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->binary);
  for (auto& skipped : ws.skipped) EXPECT_EQ(skipped.text.find("before-listen"), std::string::npos);
}

TEST_F(TransportTest, TextFramesOption) {
  SimServerOptions options;
  options.text_frames = true;
  start(options);
  WsClient ws(port());
  ws.send(R"({"action":"authenticate","data":{"key_id":"a","secret_key":"b"}})");
  ws.send(R"({"action":"listen","data":{"streams":["trade_updates"]}})");
  ASSERT_TRUE(ws.read_until("listening"));
  push_stream(R"({"stream":"trade_updates","data":{"event":"new"}})");
  auto m = ws.read_until("\"new\"");
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->binary);
}

TEST_F(TransportTest, FaultPlanDisconnectCutsStreamClients) {
  start();
  WsClient ws(port());
  ws.send(R"({"action":"authenticate","data":{"key_id":"a","secret_key":"b"}})");
  ws.send(R"({"action":"listen","data":{"streams":["trade_updates"]}})");
  ASSERT_TRUE(ws.read_until("listening"));
  {
    std::lock_guard lock(state->mu);
    state->disconnect_once = true;
  }
  EXPECT_FALSE(ws.read(std::chrono::seconds(20)));
  EXPECT_TRUE(ws.closed());
  EXPECT_TRUE(ws.ended_with_error());  // closed, not timed out
  WsClient again(port());  // a reconnect works
  again.send(R"({"action":"authenticate","data":{"key_id":"a","secret_key":"b"}})");
  EXPECT_TRUE(again.read_until("authorized"));
}

TEST_F(TransportTest, SlowStreamClientIsDisconnectedNotBuffered) {
  SimServerOptions options;
  options.max_stream_queue = 8;
  start(options);
  WsClient ws(port());
  ws.send(R"({"action":"authenticate","data":{"key_id":"a","secret_key":"b"}})");
  ws.send(R"({"action":"listen","data":{"streams":["trade_updates"]}})");
  ASSERT_TRUE(ws.read_until("listening"));
  // ~50 MB that the client does not read: far beyond socket buffers plus 8 queued messages.
  std::string big = R"({"stream":"trade_updates","data":{"pad":")" + std::string(60'000, 'p') +
                    "\"}}";
  for (int i = 0; i < 800; ++i) push_stream(big);
  push_stream(R"({"stream":"trade_updates","data":{"event":"last"}})");
  // Reading now drains what the kernel buffered, then meets the close: "last" never arrives.
  EXPECT_FALSE(ws.read_until("\"last\"", std::chrono::seconds(60)));
  EXPECT_TRUE(ws.closed());
}

TEST_F(TransportTest, StreamUpgradeElsewhereIs404) {
  start();
  EXPECT_THROW(WsClient(port(), "/v2/orders"), boost::system::system_error);
}

TEST_F(TransportTest, StopClosesOpenConnections) {
  start();
  HttpClient c(port());
  EXPECT_EQ(c.get("/v2/account").status, 200);
  WsClient ws(port());
  server->stop();
  EXPECT_FALSE(ws.read(std::chrono::seconds(20)));
  EXPECT_TRUE(ws.ended_with_error());
  EXPECT_EQ(c.get("/v2/account").status, 0);
}

TEST(SimServerStart, RefusesABadAddressAndABadFaultPlan) {
  auto state = std::make_shared<FakeState>();
  SimServerOptions options;
  options.host = "not-an-ip";
  EXPECT_FALSE(SimServer::start(options, std::make_unique<FakeExchange>(state)).ok());
  options.host = "127.0.0.1";
  options.faults_json = "{}";
  auto s = SimServer::start(options, std::make_unique<FakeExchange>(state));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("fault plan"), std::string::npos);
}

}  // namespace
}  // namespace orderly::sim::testing
