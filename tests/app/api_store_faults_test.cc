// The local API over a real loopback socket while its store misbehaves: frozen (every call waits,
// as on a filesystem that stopped answering) or refusing writes as the PostgreSQL store does once
// the account's lease is lost.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <condition_variable>
#include <future>
#include <mutex>

#include "app/api_client.h"
#include "fake_engine.h"
#include "support/memory_store.h"
#include "process.h"
#include "server/http_server.h"

namespace orderly::server {
namespace {

constexpr const char* kToken = "tok3n-tok3n-tok3n";
constexpr const char* kTrade = R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"}})";

// A MemoryStore whose every call waits while it is frozen, and whose commits can be refused.
class FaultyStore final : public Store {
 public:
  void freeze() {
    std::lock_guard lock(mu_);
    frozen_ = true;
  }
  void thaw() {
    {
      std::lock_guard lock(mu_);
      frozen_ = false;
    }
    cv_.notify_all();
  }
  int waiting() {
    std::lock_guard lock(mu_);
    return waiting_;
  }
  void refuse_commits(Status s) { refusal_ = std::move(s); }

  StatusOr<LoadedState> load() override { wait_thawed();
    return inner_.load(); }
  Status commit(const WriteBatch& batch) override {
    wait_thawed();
    return refusal_.ok() ? inner_.commit(batch) : refusal_;
  }
  StatusOr<std::optional<Order>> get_order(OrderId id) override {
    wait_thawed();
    return inner_.get_order(id);
  }
  StatusOr<std::optional<Order>> find_order_by_client_id(std::string_view cid) override {
    wait_thawed();
    return inner_.find_order_by_client_id(cid);
  }
  StatusOr<std::optional<Order>> find_order_by_broker_id(std::string_view bid) override {
    wait_thawed();
    return inner_.find_order_by_broker_id(bid);
  }
  StatusOr<std::vector<Order>> list_orders(const OrderFilter& f) override {
    wait_thawed();
    return inner_.list_orders(f);
  }
  StatusOr<std::optional<Trade>> get_trade(TradeId id) override {
    wait_thawed();
    return inner_.get_trade(id);
  }
  StatusOr<std::vector<Trade>> list_trades(int limit, int offset) override {
    wait_thawed();
    return inner_.list_trades(limit, offset);
  }
  StatusOr<std::vector<OrderEvent>> order_events(OrderId id) override {
    wait_thawed();
    return inner_.order_events(id);
  }
  StatusOr<std::vector<OrderEvent>> events_since(std::int64_t after, int limit) override {
    wait_thawed();
    return inner_.events_since(after, limit);
  }
  StatusOr<std::vector<Fill>> fills_for(OrderId id) override {
    wait_thawed();
    return inner_.fills_for(id);
  }
  StatusOr<std::vector<Alert>> list_alerts(bool active_only, int limit) override {
    wait_thawed();
    return inner_.list_alerts(active_only, limit);
  }
  StatusOr<std::vector<Position>> positions() override {
    wait_thawed();
    return inner_.positions();
  }

 private:
  void wait_thawed() {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.wait(lock, [&] { return !frozen_; });
    --waiting_;
  }

  orderly::testing::MemoryStore inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool frozen_ = false;
  int waiting_ = 0;
  Status refusal_;
};

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
  FaultyStore store;
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
