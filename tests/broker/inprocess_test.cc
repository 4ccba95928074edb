// The production AlpacaBroker and stream parsing over the in-process simulator, under a manual
// clock: what the demo and the deterministic simulation run.
#include "sim/inprocess/inprocess_broker.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "broker/account_cache.h"
#include "broker/alpaca/alpaca_broker.h"
#include "broker/asset_cache.h"
#include "broker/outside_calls.h"
#include "fixtures.h"
#include "recording_handler.h"

namespace orderly::sim {
namespace {

class InProcess : public ::testing::Test {
 protected:
  InProcess() : exchange_(sim::make_exchange(sim::SimConfig{}, clock_)),
                broker_(make_inprocess_broker(*exchange_, clock_)), stream_(*exchange_) {
    exchange_->set_prices({{"STWD", Decimal::must("10.00")}});
  }

  void step(std::int64_t ms = 10) {
    clock_.advance_ms(ms);
    exchange_->advance(clock_.now());
    stream_.pump(clock_.now());
  }

  OrderRequest market_buy(std::string cid) {
    OrderRequest r;
    r.symbol = "STWD";
    r.qty = Decimal::must("37");
    r.client_order_id = std::move(cid);
    return r;
  }

  ManualClock clock_;
  std::unique_ptr<sim::Exchange> exchange_;
  std::unique_ptr<Broker> broker_;
  InProcessStream stream_;
  testing::RecordingHandler handler_;
};

TEST_F(InProcess, SubmitFillAndStreamThroughTheRealParser) {
  stream_.start(handler_);
  EXPECT_EQ(handler_.connected(), 1);
  auto r = broker_->submit_order(market_buy("ip-1"));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  for (int i = 0; i < 10; ++i) step();
  auto o = broker_->get_order(r->id);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->status, OrderState::filled);
  bool fill = false;
  for (const auto& u : handler_.updates()) fill |= u.event == "fill" && u.order.id == r->id;
  EXPECT_TRUE(fill);
  EXPECT_EQ(handler_.malformed(), 0);
  auto tp = broker_->submit_order(testing::stwd_take_profit("ip-tp"));
  ASSERT_TRUE(tp.ok()) << tp.error().describe();
  auto again = broker_->submit_order(testing::stwd_take_profit("ip-tp-2"));
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().insufficient_qty_error());
}

TEST_F(InProcess, LostResponseIsMaybeSent) {
  ASSERT_EQ(exchange_->set_faults_json(
                R"({"rules":[{"on":"http","action":"lose_response","p":1.0,"route":"POST /v2/orders"}]})"),
            "");
  auto r = broker_->submit_order(market_buy("ip-lost"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::unknown_outcome);
  auto found = broker_->get_order_by_client_id("ip-lost");
  ASSERT_TRUE(found.ok()) << found.error().describe();
}

TEST_F(InProcess, DisconnectFaultSignalsDisconnectedThenConnected) {
  ASSERT_EQ(exchange_->set_faults_json(R"({"rules":[{"on":"stream","action":"disconnect","every_s":1}]})"),
            "");
  stream_.start(handler_);
  for (int i = 0; i < 250; ++i) step();
  EXPECT_GE(handler_.disconnected(), 1);
  EXPECT_EQ(handler_.connected(), handler_.disconnected() + 1);
}

// A pair's asset carries its sizes (crypto only); an unknown symbol is a 404 the caller can tell
// from a failure. The cache keeps an answer for an hour and never keeps a failure: while the
// broker fails, a kept pair is still answered and a new one fails; once it answers, that one is
// read.
TEST_F(InProcess, AssetsAreReadOnceAnHourAndFailuresAreNotKept) {
  AssetCache cache(*broker_, clock_);
  auto btc = cache.get("BTC/USD");
  ASSERT_TRUE(btc.ok()) << btc.error().describe();
  EXPECT_EQ(btc->symbol, "BTC/USD");
  EXPECT_EQ(btc->asset_class, "crypto");
  EXPECT_TRUE(btc->tradable);
  EXPECT_EQ(btc->min_order_size, Decimal::must("0.0001"));
  EXPECT_EQ(btc->min_trade_increment, Decimal::must("0.000000001"));
  EXPECT_EQ(btc->price_increment, Decimal::must("0.01"));
  auto stwd = cache.get("STWD");
  ASSERT_TRUE(stwd.ok()) << stwd.error().describe();
  EXPECT_FALSE(stwd->min_order_size.has_value()) << "an equity has no sizes";
  auto none = cache.get("XRP/USD");
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(none.error().not_found()) << none.error().describe();

  ASSERT_EQ(exchange_->set_faults_json(R"({"rules":[{"on":"http","action":"status",)"
                                       R"("status":500,"route":"GET /v2/assets/{symbol}"}]})"),
            "");
  EXPECT_TRUE(cache.get("BTC/USD").ok()) << "kept";
  auto eth = cache.get("ETH/USD");
  ASSERT_FALSE(eth.ok());
  EXPECT_EQ(eth.error().http_status, 500);
  clock_.advance_ms(AssetCache::kKeepMs);
  EXPECT_FALSE(cache.get("BTC/USD").ok()) << "an hour old: asked again";
  ASSERT_EQ(exchange_->set_faults_json(R"({"rules":[]})"), "");
  EXPECT_TRUE(cache.get("ETH/USD").ok()) << "the failure was not kept";
}

// An equity's first miss reads every active equity in one call (a burst of new symbols costs
// one call); a symbol the list lacks is read alone; while the list fails, equities are read one
// by one, and the list is asked for again a minute on.
TEST_F(InProcess, EquitiesAreReadInOneListCall) {
  auto calls = [&](const char* route) -> std::uint64_t {
    const auto stats = boost::json::parse(exchange_->stats_json());
    const auto* n = stats.at("requests").as_object().if_contains(route);
    return n ? n->to_number<std::uint64_t>() : 0;
  };
  AssetCache cache(*broker_, clock_);
  for (const char* s : {"STWD", "AAPL", "F", "T", "KO"}) ASSERT_TRUE(cache.get(s).ok()) << s;
  EXPECT_EQ(calls("GET /v2/assets"), 1u);
  EXPECT_EQ(calls("GET /v2/assets/{symbol}"), 0u);
  exchange_->set_prices({{"NEWCO", Decimal::must("5.00")}});
  ASSERT_TRUE(cache.get("NEWCO").ok()) << "listed since: read alone";
  EXPECT_TRUE(cache.get("NOPE").error().not_found());
  EXPECT_EQ(calls("GET /v2/assets/{symbol}"), 2u);
  EXPECT_EQ(calls("GET /v2/assets"), 1u) << "the list is kept for the hour";

  AssetCache failing(*broker_, clock_);
  ASSERT_EQ(exchange_->set_faults_json(R"({"rules":[{"on":"http","action":"status",)"
                                       R"("status":500,"route":"GET /v2/assets"}]})"),
            "");
  ASSERT_TRUE(failing.get("AAPL").ok()) << "read alone while the list fails";
  ASSERT_TRUE(failing.get("KO").ok());
  EXPECT_EQ(calls("GET /v2/assets"), 2u) << "a failed list is not asked for again at once";
  ASSERT_EQ(exchange_->set_faults_json(R"({"rules":[]})"), "");
  clock_.advance_ms(AssetCache::kListRetryMs);
  ASSERT_TRUE(failing.get("F").ok());
  EXPECT_EQ(calls("GET /v2/assets"), 3u);
}

// The account is read once and kept ten minutes; a caller asking for a fresher answer gets a
// new read; a failure is not kept. Every read beside the engine goes through a CountedBroker,
// which counts it in the minute the engine's budget shares (Engine::set_outside_calls).
TEST_F(InProcess, TheAccountIsKeptTenMinutesAndEveryReadIsCounted) {
  auto calls = [&] {
    const auto stats = boost::json::parse(exchange_->stats_json());
    const auto* n = stats.at("requests").as_object().if_contains("GET /v2/account");
    return n ? n->to_number<std::uint64_t>() : 0;
  };
  OutsideCalls outside;
  CountedBroker counted(*broker_, outside, clock_);
  AccountCache cache(counted, clock_);
  AccountCache::Answer a = cache.get();
  ASSERT_TRUE(a.account.has_value()) << a.error;
  EXPECT_EQ(a.account->shorting_enabled, false) << "in process, shorting is off unless set";
  EXPECT_EQ(a.read_at, clock_.now());
  clock_.advance_ms(40'000);
  EXPECT_EQ(cache.get().read_at, a.read_at) << "kept";
  EXPECT_EQ(calls(), 1u);
  EXPECT_EQ(outside.last_minute(clock_.now()), 1);
  const AccountCache::Answer fresh = cache.get(30'000);
  EXPECT_EQ(fresh.read_at, clock_.now()) << "40 s old: read again for a 30 s answer";
  EXPECT_EQ(calls(), 2u);
  EXPECT_EQ(outside.last_minute(clock_.now()), 2);

  ASSERT_EQ(exchange_->set_faults_json(R"({"rules":[{"on":"http","action":"status",)"
                                       R"("status":500,"route":"GET /v2/account"}]})"),
            "");
  clock_.advance_ms(AccountCache::kKeepMs + 1);
  AccountCache::Answer failed = cache.get();
  EXPECT_FALSE(failed.account.has_value());
  EXPECT_NE(failed.error.find("HTTP 500"), std::string::npos) << failed.error;
  EXPECT_EQ(outside.last_minute(clock_.now()), 1) << "the first two left the minute";
  ASSERT_EQ(exchange_->set_faults_json(R"({"rules":[]})"), "");
  EXPECT_TRUE(cache.get().account.has_value()) << "the failure was not kept";
  EXPECT_EQ(calls(), 4u);
}

// Reads beside the engine stop where the broker's minute keeps a tenth of its limit for the
// engine's protective work: past it a read is not sent and says so with the figures, unless
// the minute renews within CountedBroker::kMaxWaitMs (then it waits and goes). The engine's own
// calls are not held by it.
TEST(OutsideReads, StopShortOfWhatTheMinuteKeepsForProtectiveWork) {
  ManualClock clock;
  sim::SimConfig config;
  config.rate_limit_per_min = 20;  // a tenth kept: 2
  auto exchange = sim::make_exchange(config, clock);
  auto broker = make_inprocess_broker(*exchange, clock);
  OutsideCalls outside;
  std::vector<std::int64_t> slept;
  auto* alpaca = dynamic_cast<alpaca::AlpacaBroker*>(broker.get());
  ASSERT_NE(alpaca, nullptr);
  CountedBroker counted(
      *broker, outside, clock, [alpaca] { return alpaca->rate_room(); },
      [&](std::chrono::milliseconds ms) {
        slept.push_back(ms.count());
        clock.advance_ms(ms.count());
      });
  for (int i = 0; i < 17; ++i) ASSERT_TRUE(broker->get_clock().ok()) << "the engine's calls";
  ASSERT_TRUE(counted.get_clock().ok()) << "3 left: one more read";
  auto refused = counted.get_clock();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, BrokerError::Kind::not_sent);
  EXPECT_NE(refused.error().message.find(
                "the account's REST calls for this minute are spent (the broker's last answer: 2 "
                "of 20 left, the last 2 kept for protective work: exits, stops, cancels, "
                "lookups); the minute renews in "),
            std::string::npos)
      << refused.error().message;
  EXPECT_EQ(counted.refused(), 1);
  EXPECT_EQ(outside.last_minute(clock.now()), 1) << "a read not sent is not counted";
  EXPECT_TRUE(slept.empty()) << "the minute renews too late to wait for";
  EXPECT_TRUE(broker->get_clock().ok()) << "the engine's calls go on";

  clock.advance_ms(59'000);  // the minute renews within kMaxWaitMs: the read waits for it
  EXPECT_TRUE(counted.get_clock().ok());
  EXPECT_FALSE(slept.empty());
  std::int64_t waited = 0;
  for (std::int64_t ms : slept) waited += ms;
  EXPECT_LE(waited, CountedBroker::kMaxWaitMs);
}

// A read the broker never received (the daemon up before the broker, or the broker down: the
// connection refused) is not in the broker's minute, so not in the one the daemon reports
// either (/healthz's rest_calls_last_minute was one above the broker's after such a start).
TEST(OutsideReads, AReadRefusedAtConnectIsNotCounted) {
  // A loopback port nothing listens on: bound, then let go.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  auto down = alpaca::make_alpaca_broker(alpaca::AlpacaConfig{
      "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), "k", "s"});
  ASSERT_TRUE(down.ok()) << down.status().message();

  ManualClock clock;
  auto exchange = sim::make_exchange(sim::SimConfig{}, clock);
  auto up = make_inprocess_broker(*exchange, clock);
  OutsideCalls outside;
  CountedBroker reaching(*up, outside, clock);
  CountedBroker refused(**down, outside, clock);
  ASSERT_TRUE(reaching.get_clock().ok());
  auto r = refused.get_account();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::not_sent) << r.error().describe();
  EXPECT_EQ(outside.last_minute(clock.now()), 1) << "the read that reached the broker stays";
  ASSERT_TRUE(reaching.get_account().ok());
  EXPECT_EQ(outside.last_minute(clock.now()), 2);
}

// The broker, its asset reads slowed: concurrent callers of one symbol overlap.
class SlowAssets final : public Broker {
 public:
  explicit SlowAssets(Broker& inner) : inner_(inner) {}
  BrokerResult<AssetRules> get_asset(std::string_view symbol) override {
    ++reads;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return inner_.get_asset(symbol);
  }
  BrokerResult<BrokerOrder> submit_order(const OrderRequest& r) override {
    return inner_.submit_order(r);
  }
  BrokerResult<BrokerOrder> get_order(std::string_view id) override {
    return inner_.get_order(id);
  }
  BrokerResult<BrokerOrder> get_order_by_client_id(std::string_view id) override {
    return inner_.get_order_by_client_id(id);
  }
  BrokerResult<std::vector<BrokerOrder>> list_orders(const ListOrdersQuery& q) override {
    return inner_.list_orders(q);
  }
  BrokerResult<Unit> cancel_order(std::string_view id) override { return inner_.cancel_order(id); }
  BrokerResult<std::vector<CancelResult>> cancel_all_orders() override {
    return inner_.cancel_all_orders();
  }
  BrokerResult<BrokerOrder> replace_order(std::string_view id, const ReplaceRequest& r) override {
    return inner_.replace_order(id, r);
  }
  BrokerResult<std::vector<BrokerPosition>> list_positions() override {
    return inner_.list_positions();
  }
  BrokerResult<Account> get_account() override { return inner_.get_account(); }
  BrokerResult<ActivityPage> fill_activities(const ActivityQuery& q) override {
    return inner_.fill_activities(q);
  }
  BrokerResult<MarketClock> get_clock() override { return inner_.get_clock(); }
  std::atomic<int> reads{0};

 private:
  Broker& inner_;
};

// One read per symbol: callers asking while it is read wait for that read and share its answer.
TEST_F(InProcess, ConcurrentAskersOfOneAssetShareOneRead) {
  SlowAssets slow(*broker_);
  AssetCache cache(slow, clock_);
  std::vector<std::thread> askers;
  std::atomic<int> answered{0};
  for (int i = 0; i < 4; ++i) {
    askers.emplace_back([&] {
      if (cache.get("BTC/USD").ok()) ++answered;
    });
  }
  for (std::thread& t : askers) t.join();
  EXPECT_EQ(answered.load(), 4);
  EXPECT_EQ(slow.reads.load(), 1);
  EXPECT_TRUE(cache.get("BTC/USD").ok());
  EXPECT_EQ(slow.reads.load(), 1) << "kept";
}

}  // namespace
}  // namespace orderly::sim
