// The local API over a real loopback socket while its store misbehaves: frozen (every call waits,
// as on a filesystem that stopped answering) or refusing writes as the PostgreSQL store does once
// the account's lease is lost.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <future>

#include "app/api_client.h"
#include "fake_engine.h"
#include "support/freezable_store.h"
#include "process.h"
#include "server/http_server.h"

namespace orderly::server {
namespace {

constexpr const char* kToken = "tok3n-tok3n-tok3n";
constexpr const char* kTrade = R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"}})";

class ApiStoreFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    options.port = 0;
    options.access.token = kToken;
    options.read_deadline_ms = 300;
    server = std::make_unique<HttpServer>(api, options);
    ASSERT_TRUE(server->start().ok());
    endpoint.port = server->port();
    endpoint.token = kToken;
  }
  void TearDown() override {
    store.thaw();
    server->stop();
  }
  StatusOr<app::ApiReply> call(const std::string& method, const std::string& target,
                                  const std::string& body = "") {
    return app::api_call(endpoint, method, target, body);
  }

  ManualClock clock;
  orderly::testing::FreezableStore store{orderly::testing::FreezableStore::Freezes::every_call};
  orderly::testing::FakeEngine engine{store, clock};
  Api api{engine, store, kToken, clock};
  ServerOptions options;
  std::unique_ptr<HttpServer> server;
  app::ApiEndpoint endpoint;
};

// With the store frozen, readers that wait on it held the server's 4 IO threads and then nothing
// answered, /healthz included. They now wait on handler threads: /healthz answers, and a read
// answers 503 "store busy" after its deadline instead of hanging.
TEST_F(ApiStoreFaults, AFrozenStoreDoesNotSilenceTheApi) {
  ASSERT_EQ(call("POST", "/api/trades", kTrade)->status, 201);
  store.freeze();
  // More stuck readers than the server has IO threads (4), each on its own connection.
  std::vector<std::future<StatusOr<app::ApiReply>>> stuck;
  for (int i = 0; i < 6; ++i) {
    stuck.push_back(std::async(std::launch::async, [&] { return call("GET", "/api/trades"); }));
  }
  ASSERT_TRUE(orderly::testing::eventually([&] { return store.waiting() >= 6; }, 20));
  auto health = call("GET", "/healthz");
  ASSERT_TRUE(health.ok()) << health.status().message();
  EXPECT_EQ(health->status, 200) << health->body;
  for (const char* target : {"/api/orders", "/api/alerts", "/api/orders/1/audit"}) {
    auto r = call("GET", target);
    ASSERT_TRUE(r.ok()) << target << ": " << r.status().message();
    EXPECT_EQ(r->status, 503) << target << ": " << r->body;
    EXPECT_NE(r->body.find("store busy"), std::string::npos) << r->body;
  }
  for (auto& f : stuck) {
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->status, 503) << r->body;
  }
  store.thaw();
  auto after = call("GET", "/api/trades");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 200) << after->body;
}

// A write the store refuses because the account's lease is lost answered 409, the code of an
// idempotency mismatch: a client would have "fixed" its request. It is 503 naming the lease: the
// account cannot trade here now.
TEST_F(ApiStoreFaults, ALostLeaseIs503NamingTheLease) {
  ASSERT_EQ(call("POST", "/api/trades", kTrade)->status, 201);
  store.refuse_commits(Status::error(
      Status::Code::conflict, "account 7f3a: lease (token 4) is not held; refusing to write"));
  auto opened = call("POST", "/api/trades", kTrade);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(opened->status, 503) << opened->body;
  const std::string error(boost::json::parse(opened->body).as_object().at("error").as_string());
  EXPECT_NE(error.find("lease is lost"), std::string::npos) << error;
  auto canceled = call("DELETE", "/api/trades/1");
  ASSERT_TRUE(canceled.ok());
  EXPECT_EQ(canceled->status, 503) << canceled->body;
  // The idempotency mismatch keeps its 409.
  store.refuse_commits(Status::success());
  auto keyed = call("POST", "/api/trades",
                    R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"},)"
                    R"("client_trade_id":"k1"})");
  ASSERT_EQ(keyed->status, 201) << keyed->body;
  auto changed = call("POST", "/api/trades",
                      R"({"symbol":"STWD","qty":"38","take_profit":{"percent":"2"},)"
                      R"("client_trade_id":"k1"})");
  EXPECT_EQ(changed->status, 409) << changed->body;
}

}  // namespace
}  // namespace orderly::server
