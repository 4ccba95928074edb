// AlpacaBroker + AlpacaStream against the real `orderly sim` over loopback HTTP and WebSocket,
// with and without the fault plan: every outcome must be classified as DESIGN.md requires.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "broker/alpaca/alpaca_broker.h"
#include "broker/alpaca/beast_transport.h"
#include "broker/alpaca/stream_client.h"
#include "fixtures.h"
#include "recording_handler.h"
#include "sim_server/sim_process.h"

namespace orderly::alpaca {
namespace {

using sim::testing::SimProcess;
using testing::RecordingHandler;

constexpr std::string_view kKey = "sim-it-key";
constexpr std::string_view kSecret = "sim-it-secret-value-0000";

class SimIntegration : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--key", std::string(kKey), "--secret", std::string(kSecret)};
    args.insert(args.end(), extra.begin(), extra.end());
    sim_ = std::make_unique<SimProcess>(args);
    ASSERT_NE(sim_->port(), 0) << "orderly sim did not start: " << sim_->stdout_text();
    url_ = "http://127.0.0.1:" + std::to_string(sim_->port());
    BeastTransportOptions o;
    o.base_url = url_;
    o.read_timeout_ms = 10'000;
    auto t = BeastTransport::create(o);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    transport_ = std::move(t.value());
    broker_ = std::make_unique<AlpacaBroker>(
        transport_, AlpacaConfig{url_, std::string(kKey), std::string(kSecret)});
    control("POST", "/sim/prices", R"({"STWD":"10.00","F":"12.00"})");
  }

  void control(const std::string& method, const std::string& target, const std::string& body) {
    auto r = transport_->send(HttpRequest{method, target,
                                          {{"APCA-API-KEY-ID", std::string(kKey)},
                                           {"APCA-API-SECRET-KEY", std::string(kSecret)},
                                           {"Content-Type", "application/json"}},
                                          body});
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_LT(r.value().status, 300) << target << ": " << r.value().body;
  }

  std::unique_ptr<AlpacaStream> stream() {
    StreamOptions o;
    o.base_url = url_;
    o.key_id = std::string(kKey);
    o.secret_key = std::string(kSecret);
    o.backoff_base_ms = 50;
    o.backoff_cap_ms = 500;
    auto s = AlpacaStream::create(o);
    EXPECT_TRUE(s.ok());
    return std::move(s.value());
  }

  OrderRequest market_buy(std::string cid, std::string qty = "37") {
    OrderRequest r;
    r.symbol = "STWD";
    r.side = Side::buy;
    r.type = OrderType::market;
    r.tif = TimeInForce::day;
    r.qty = Decimal::must(qty);
    r.client_order_id = std::move(cid);
    return r;
  }

  // Polls the order until its status satisfies `pred`.
  BrokerOrder wait_order(const std::string& id, OrderState want) {
    BrokerOrder last;
    RecordingHandler waiter;
    waiter.wait_for([&] {
      auto r = broker_->get_order(id);
      if (r.ok()) last = r.value();
      return r.ok() && r->status == want;
    });
    return last;
  }

  std::unique_ptr<SimProcess> sim_;
  std::string url_;
  std::shared_ptr<BeastTransport> transport_;
  std::unique_ptr<AlpacaBroker> broker_;
};

TEST_F(SimIntegration, EveryCallWithoutFaults) {
  start();
  RecordingHandler h;
  auto s = stream();
  s->start(h);
  ASSERT_TRUE(h.wait_for([&] { return h.connected() >= 1; }));

  auto buy = broker_->submit_order(market_buy("it-buy-1"));
  ASSERT_TRUE(buy.ok()) << buy.error().describe();
  const std::string buy_id = buy->id;
  EXPECT_EQ(wait_order(buy_id, OrderState::filled).filled_qty, Decimal::must("37"));
  // The stream delivers the fill.
  ASSERT_TRUE(h.wait_for([&] {
    for (const auto& u : h.updates()) {
      if (u.event == "fill" && u.order.id == buy_id) return true;
    }
    return false;
  }));

  // The incident's take-profit: accepted, holding the shares.
  auto tp = broker_->submit_order(testing::stwd_take_profit("it-tp-1"));
  ASSERT_TRUE(tp.ok()) << tp.error().describe();
  auto by_id = broker_->get_order(tp->id);
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->client_order_id, "it-tp-1");
  auto by_cid = broker_->get_order_by_client_id("it-tp-1");
  ASSERT_TRUE(by_cid.ok()) << by_cid.error().describe();
  EXPECT_EQ(by_cid->id, tp->id);
  auto open = broker_->list_orders({});
  ASSERT_TRUE(open.ok()) << open.error().describe();
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ(open.value()[0].id, tp->id);

  auto positions = broker_->list_positions();
  ASSERT_TRUE(positions.ok()) << positions.error().describe();
  ASSERT_EQ(positions->size(), 1u);
  EXPECT_EQ(positions.value()[0].qty, Decimal::must("37"));
  EXPECT_EQ(positions.value()[0].qty_available, Decimal());

  // Retrying the TP under a new id is what the incident's platform did: 40310000 naming ours.
  auto again = broker_->submit_order(testing::stwd_take_profit("it-tp-2"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, BrokerError::Kind::rejected);
  EXPECT_EQ(again.error().code, 40310000);
  ASSERT_TRUE(again.error().insufficient_qty_error());
  EXPECT_EQ(again.error().insufficient_qty->related_orders, std::vector<std::string>{tp->id});
  // And the same id again is a duplicate, proving the first attempt exists.
  auto dup = broker_->submit_order(testing::stwd_take_profit("it-tp-1"));
  ASSERT_FALSE(dup.ok());
  EXPECT_TRUE(dup.error().duplicate_client_order_id()) << dup.error().describe();

  ASSERT_TRUE(broker_->cancel_order(tp->id).ok());
  EXPECT_EQ(wait_order(tp->id, OrderState::canceled).status, OrderState::canceled);
  auto missing = broker_->get_order("00000000-0000-0000-0000-000000000000");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.error().not_found());

  // Activities, one per page.
  for (int i = 2; i <= 3; ++i) {
    auto more = broker_->submit_order(market_buy("it-buy-" + std::to_string(i), "1"));
    ASSERT_TRUE(more.ok());
    wait_order(more->id, OrderState::filled);
  }
  ActivityQuery q;
  q.page_size = 1;
  std::vector<std::string> ids;
  for (int page = 0; page < 10; ++page) {
    auto r = broker_->fill_activities(q);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    for (const auto& a : r->activities) ids.push_back(a.id);
    if (!r->more || r->activities.empty()) break;
    q.page_token = r->activities.back().id;
  }
  EXPECT_EQ(ids.size(), 3u);

  auto account = broker_->get_account();
  ASSERT_TRUE(account.ok()) << account.error().describe();
  EXPECT_TRUE(broker_->get_clock().ok());
  auto all = broker_->cancel_all_orders();
  EXPECT_TRUE(all.ok()) << all.error().describe();
  s->stop();
}

TEST_F(SimIntegration, OneTransportServesSeveralThreadsAtOnce) {
  start({"--rate-limit", "0"});
  std::atomic<int> ok{0};
  std::vector<std::string> failures;
  std::mutex mutex;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto r = (i % 2 == 0) ? broker_->get_clock().ok()
                              : broker_->get_order_by_client_id("none-" + std::to_string(t)).error().not_found();
        if (r) {
          ++ok;
        } else {
          std::lock_guard lock(mutex);
          failures.push_back("thread " + std::to_string(t) + " call " + std::to_string(i));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_TRUE(failures.empty()) << failures.front();
}

TEST_F(SimIntegration, WrongSecretIsRefusedAndNeverEchoed) {
  start();
  AlpacaBroker wrong(transport_, AlpacaConfig{url_, std::string(kKey), "the-wrong-secret-123"});
  auto r = wrong.get_account();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::rejected);
  EXPECT_EQ(r.error().describe().find("the-wrong-secret-123"), std::string::npos);
  EXPECT_EQ(r.error().body.find("the-wrong-secret-123"), std::string::npos);
}

TEST_F(SimIntegration, LostResponseIsUnknownAndTheOrderIsFoundByClientId) {
  start({"--faults",
         R"({"rules":[{"on":"http","action":"lose_response","p":1.0,"route":"POST /v2/orders"}]})"});
  auto r = broker_->submit_order(market_buy("it-lost-1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::unknown_outcome) << r.error().describe();
  auto found = broker_->get_order_by_client_id("it-lost-1");
  ASSERT_TRUE(found.ok()) << found.error().describe();
  EXPECT_EQ(found->symbol, "STWD");
}

TEST_F(SimIntegration, ServerErrorAndRateLimitAreUnknownOutcomes) {
  start({"--faults",
         R"({"rules":[{"on":"http","action":"status","p":1.0,"status":503,"route":"POST /v2/orders"}]})"});
  auto r = broker_->submit_order(market_buy("it-503"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::unknown_outcome);
  EXPECT_EQ(r.error().http_status, 503);

  control("POST", "/sim/faults",
          R"({"rules":[{"on":"http","action":"status","p":1.0,"status":429,"route":"GET /v2/account"}]})");
  auto limited = broker_->get_account();
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.error().kind, BrokerError::Kind::unknown_outcome);
  EXPECT_EQ(limited.error().http_status, 429);
  EXPECT_TRUE(limited.error().retry_after_ms.has_value());
}

TEST_F(SimIntegration, RealRateLimitGives429WithRetryAfter) {
  start({"--rate-limit", "5"});
  std::optional<BrokerError> limited;
  for (int i = 0; i < 20 && !limited; ++i) {
    auto r = broker_->get_clock();
    if (!r.ok()) limited = r.error();
  }
  ASSERT_TRUE(limited.has_value());
  EXPECT_EQ(limited->http_status, 429);
  EXPECT_EQ(limited->kind, BrokerError::Kind::unknown_outcome);
  ASSERT_TRUE(limited->retry_after_ms.has_value());
  EXPECT_LE(*limited->retry_after_ms, 61'000);
}

TEST_F(SimIntegration, StreamFaultsDropDuplicateDisconnect) {
  start({"--faults", R"({"rules":[
      {"on":"stream","action":"drop","p":1.0,"event":"fill","symbol":"F"},
      {"on":"stream","action":"duplicate","p":1.0,"symbol":"STWD"},
      {"on":"stream","action":"disconnect","every_s":1}]})"});
  RecordingHandler h;
  auto s = stream();
  s->start(h);
  ASSERT_TRUE(h.wait_for([&] { return h.connected() >= 1; }));
  OrderRequest f = market_buy("it-f-1", "2");
  f.symbol = "F";
  // Submit until the stream was up while it happened (disconnects cut events at random times).
  auto fb = broker_->submit_order(f);
  ASSERT_TRUE(fb.ok()) << fb.error().describe();
  wait_order(fb->id, OrderState::filled);

  // The disconnect rule: on_disconnected then a fresh on_connected.
  ASSERT_TRUE(h.wait_for([&] { return h.connected() >= 3 && h.disconnected() >= 2; }));
  const int connected_before = h.connected();
  auto sb = broker_->submit_order(market_buy("it-dup-1", "1"));
  ASSERT_TRUE(sb.ok());
  wait_order(sb->id, OrderState::filled);
  // Duplicated events arrive twice (unless a disconnect swallowed this one; then retry once).
  auto count_fills = [&](const std::string& id) {
    int n = 0;
    for (const auto& u : h.updates()) n += (u.order.id == id && u.event == "fill") ? 1 : 0;
    return n;
  };
  bool duplicated = h.wait_for([&] { return count_fills(sb->id) >= 2; }, std::chrono::seconds(3));
  if (!duplicated) {
    auto sb2 = broker_->submit_order(market_buy("it-dup-2", "1"));
    ASSERT_TRUE(sb2.ok());
    duplicated = h.wait_for([&] { return count_fills(sb2->id) >= 2; }, std::chrono::seconds(3));
  }
  EXPECT_TRUE(duplicated);
  EXPECT_GE(h.connected(), connected_before);
  // The dropped fill never came, but the activity feed has it.
  EXPECT_EQ(count_fills(fb->id), 0);
  auto acts = broker_->fill_activities({});
  ASSERT_TRUE(acts.ok());
  bool in_feed = false;
  for (const auto& a : acts->activities) in_feed |= a.order_id == fb->id;
  EXPECT_TRUE(in_feed);
  s->stop();
}

}  // namespace
}  // namespace orderly::alpaca
