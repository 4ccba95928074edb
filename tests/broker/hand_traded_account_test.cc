// An account that also trades options and crypto by hand, and a broker that sometimes sends what
// cannot be read (issue 16): the engine keeps syncing, sweeping and reconciling, counts and raises
// what it skipped, and follows the account's stated rate limit. The production AlpacaBroker over
// the in-process simulator, virtual time.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <map>

#include "broker/alpaca/alpaca_broker.h"
#include "broker/alpaca/rate_limiter.h"
#include "runtime/runtime.h"
#include "sim/exchange.h"
#include "sim/inprocess/inprocess_broker.h"
#include "store/open.h"
#include "store/store.h"

namespace orderly {
namespace {

namespace json = boost::json;

// Alpaca's own multi-leg options example (tests/broker/data/alpaca_spec/order_examples.json),
// shortened to the fields that make it unusual.
constexpr std::string_view kOptionsOrder = R"({"asset_class":"","asset_id":"",
 "client_order_id":"646b1fe6-b212-4f54-94c6-429e7bcdee04",
 "created_at":"2024-12-10T16:15:53.677230742Z","filled_avg_price":"1.28","filled_qty":"1",
 "id":"83f37e9f-6b1f-49ed-8fc6-3e6af716323f",
 "legs":[{"asset_class":"us_option","client_order_id":"cc8cc104",
   "created_at":"2024-12-10T16:15:53.677230742Z","filled_qty":"3",
   "id":"df4ff24a-c58a-4e37-8b9f-ef32b83a11f2","order_class":"mleg","order_type":"",
   "position_intent":"buy_to_open","qty":"3","ratio_qty":"3","side":"buy","status":"filled",
   "symbol":"AAPL241213C00250000","time_in_force":"day","type":""}],
 "limit_price":"10","order_class":"mleg","order_type":"limit","qty":"1","side":"","status":"new",
 "symbol":"","time_in_force":"day","type":"limit","updated_at":"2024-12-10T16:15:53.725139688Z"})";
constexpr std::string_view kUnreadableOrder = R"({"id":"bad-order-1","side":"sideways",
 "status":"new","created_at":"2024-12-10T16:15:53Z"})";
constexpr std::string_view kCryptoPosition = R"({"asset_class":"crypto","symbol":"BTCUSD",
 "qty":"1.0002997","qty_available":"1.0002997","avg_entry_price":"19660.5738784516887649",
 "side":"long","current_price":"19723.6"})";

// The simulator, plus what a hand-traded account holds: on every order page an options order and
// one that cannot be read, on every positions answer a crypto position. Optionally it states a
// per-minute limit in X-Ratelimit-Limit, as Alpaca does.
class HandTradedAccount final : public alpaca::HttpTransport {
 public:
  explicit HandTradedAccount(sim::Exchange& exchange) : inner_(exchange) {}

  alpaca::TransportResult send(const alpaca::HttpRequest& request) override {
    alpaca::TransportResult r = inner_.send(request);
    if (!r.ok()) return r;
    alpaca::HttpResponse& response = r.value();
    if (request.method == "GET" && request.target.starts_with("/v2/orders?")) {
      ++order_pages;
      if (hand_traded && response.status == 200) {
        prepend(response.body, {kOptionsOrder, kUnreadableOrder});
      }
    } else if (request.method == "GET" && request.target == "/v2/positions") {
      if (hand_traded && response.status == 200) prepend(response.body, {kCryptoPosition});
    } else if (request.target.starts_with("/v2/account/activities")) {
      ++activity_pages;
      if (clock) activity_at.push_back(clock->now());
    } else if (request.method == "POST" && request.target == "/v2/orders") {
      ++submits;
      if (clock) last_submit_at = clock->now();
    }
    if (stated_limit) {
      response.headers.emplace_back("X-Ratelimit-Limit", std::to_string(*stated_limit));
      response.read_ratelimit_headers();
    }
    return r;
  }

  int order_pages = 0;
  int activity_pages = 0;
  int submits = 0;
  const Clock* clock = nullptr;       // when set: the times below are recorded
  std::vector<Timestamp> activity_at;  // each fill catch-up call
  Timestamp last_submit_at;
  bool hand_traded = true;
  std::optional<int> stated_limit;

 private:
  static void prepend(std::string& body, std::initializer_list<std::string_view> extra) {
    json::array page = json::parse(body).as_array();
    json::array out;
    for (std::string_view e : extra) out.push_back(json::parse(e));
    for (auto& v : page) out.push_back(std::move(v));
    body = json::serialize(out);
  }

  sim::InProcessTransport inner_;
};

struct Account {
  // `client_window` > 0 puts the production rate limiter in front, on virtual time: every wait
  // inside it is added to `client_waited` (and to its clock) instead of being slept.
  explicit Account(int client_window = 0) : exchange(sim::make_exchange(config(), clock)) {
    exchange->set_prices({{"STWD", Decimal::must("10.00")}, {"F", Decimal::must("12.00")}});
    transport = std::make_shared<HandTradedAccount>(*exchange);
    std::shared_ptr<alpaca::HttpTransport> front = transport;
    if (client_window > 0) {
      front = std::make_shared<alpaca::RateLimitedTransport>(
          transport, client_window,
          [this] {
            return std::chrono::steady_clock::time_point(
                std::chrono::milliseconds(clock.now().ms() + client_waited.count()));
          },
          [this] { return (clock.now().ms() + client_waited.count()) / 1000; },
          [this](std::chrono::milliseconds d) { client_waited += d; });
    }
    broker = std::make_unique<alpaca::AlpacaBroker>(
        front, alpaca::AlpacaConfig{"inprocess://sim", "k", "s"}, &clock);
    auto opened = open_store("sqlite::memory:", "hand");
    EXPECT_TRUE(opened.ok()) << opened.status().to_string();
    store = std::move(opened.value());
    options.engine.account_identity = "hand";
  }
  static sim::SimConfig config() {
    sim::SimConfig c;
    c.rate_limit_per_min = 0;  // the engine's own budget is what is measured here
    return c;
  }

  void start() {
    stream = std::make_unique<sim::InProcessStream>(*exchange);
    runtime = std::make_unique<SimulationRuntime>(*store, *broker, clock, options,
                                                  [this](Timestamp now) {
                                                    exchange->advance(now);
                                                    stream->pump(now);
                                                  });
    ASSERT_TRUE(runtime->start().ok());
    stream->start(*runtime);
  }

  TradeSpec trade(std::string symbol) {
    TradeSpec s;
    s.symbol = std::move(symbol);
    s.qty = Decimal::must("5");
    s.tif = TimeInForce::day;
    s.take_profit.percent = Decimal::must("2");
    return s;
  }

  bool alert(AlertKind kind, std::string_view subject_part) const {
    for (const Alert& a : runtime->engine().active_alerts()) {
      if (a.kind == kind && a.subject.find(subject_part) != std::string::npos) return true;
    }
    return false;
  }

  ManualClock clock;
  std::chrono::milliseconds client_waited{0};
  std::unique_ptr<sim::Exchange> exchange;
  std::shared_ptr<HandTradedAccount> transport;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Store> store;
  RuntimeOptions options;
  std::unique_ptr<sim::InProcessStream> stream;
  std::unique_ptr<SimulationRuntime> runtime;
};

// Done-when of issue 16: an options order on a sweep page leaves sync running.
TEST(HandTradedAccount, AnOptionsOrderAndAnUnreadableOneOnEverySweepPageLeaveSyncRunning) {
  Account a;
  a.start();
  auto trade = a.runtime->open_trade(a.trade("STWD"));
  ASSERT_TRUE(trade.ok()) << trade.status().to_string();
  a.runtime->run_for(60'000);
  const int pages_first_minute = a.transport->order_pages;
  a.exchange->set_prices({{"STWD", Decimal::must("10.30")}});  // the take-profit fills
  a.runtime->run_for(60'000);

  EXPECT_GT(pages_first_minute, 0);
  EXPECT_GT(a.transport->order_pages, pages_first_minute) << "the sweep went on";
  bool closed = false;
  for (const Trade& t : a.runtime->engine().trades()) {
    closed |= t.id == trade->id && t.state == TradeState::closed;
  }
  EXPECT_TRUE(closed) << "entry filled, take-profit placed and filled at the simulator";
  const Health h = a.runtime->health();
  ASSERT_TRUE(h.last_sync_at.has_value());
  EXPECT_LE(h.sync_lag_ms, 2 * a.options.engine.poll_interval_ms + 1000);
  EXPECT_FALSE(a.alert(AlertKind::sync_lag, ""));
  // The options order is someone else's, read as such: no alert names it.
  EXPECT_FALSE(a.alert(AlertKind::unreadable_broker_data, "83f37e9f"));
  // The unreadable one is counted on every page, raised once, with its payload kept.
  EXPECT_TRUE(a.alert(AlertKind::unreadable_broker_data, "order bad-order-1"));
  int raised = 0;
  for (const Alert& al : a.runtime->engine().active_alerts()) {
    if (al.kind != AlertKind::unreadable_broker_data) continue;
    ++raised;
    EXPECT_NE(al.message.find("sideways"), std::string::npos) << al.message;
  }
  EXPECT_EQ(raised, 1);
  EXPECT_GE(a.runtime->engine().metrics().broker_unreadable, 2);
  EXPECT_NE(a.runtime->metrics_text().find("orderly_broker_unreadable_total"), std::string::npos);
  // Reconcile reads the same pages and positions (with the crypto one) and finishes.
  ReconcileReport report = a.runtime->reconcile(false);
  EXPECT_TRUE(report.status.ok()) << report.status.to_string();
}

// Issue 15: every alert clears when its cause is gone. An unreadable element stays raised while
// the broker keeps sending it, and clears ten minutes after it last did (it never cleared).
TEST(HandTradedAccount, AnUnreadableElementsAlertClearsTenMinutesAfterItWasLastSent) {
  Account a;
  a.start();
  a.runtime->run_for(60'000);
  ASSERT_TRUE(a.alert(AlertKind::unreadable_broker_data, "order bad-order-1"));
  a.runtime->run_for(11 * 60'000);
  EXPECT_TRUE(a.alert(AlertKind::unreadable_broker_data, "order bad-order-1")) << "still sent";
  a.transport->hand_traded = false;  // the hand-traded orders and position are gone
  a.runtime->run_for(9 * 60'000);
  EXPECT_TRUE(a.alert(AlertKind::unreadable_broker_data, "order bad-order-1"));
  a.runtime->run_for(2 * 60'000);
  EXPECT_FALSE(a.alert(AlertKind::unreadable_broker_data, "order bad-order-1"));
}

TEST(HandTradedAccount, AnUnreadableStreamMessageIsCountedAndLooksForFillsAtOnce) {
  Account a;
  a.start();
  a.runtime->run_for(30'000);
  const int before = a.transport->activity_pages;
  const std::int64_t counted = a.runtime->engine().metrics().broker_unreadable;
  a.runtime->on_malformed(R"({"stream":"trade_updates","data":{"event":"fill","order":{"id":7}}})",
                          "message.data.order.id: expected a string");
  a.runtime->settle();  // no virtual time passes
  EXPECT_EQ(a.transport->activity_pages, before + 1) << "a fill catch-up ran immediately";
  EXPECT_EQ(a.runtime->engine().metrics().broker_unreadable, counted + 1);
  EXPECT_TRUE(a.alert(AlertKind::unreadable_broker_data, "trade_updates message"));
}

// Issue 16: with rate_limit_per_min = 1000 and an account allowing it, 1,000 trades' entries
// reach the broker within a minute and a half, and the client never holds back a call the engine
// counted as sent (it used to cap at 200 and then stall for up to 59 s).
TEST(HandTradedAccount, AThousandEntriesReachTheBrokerAndNoneWaitsInTheClient) {
  Account a(/*client_window=*/1000);
  a.transport->hand_traded = false;
  a.transport->stated_limit = 1000;
  a.options.engine.rate_limit_per_min = 1000;
  std::map<std::string, Decimal> prices;
  for (int i = 0; i < 1000; ++i) prices["S" + std::to_string(i)] = Decimal::must("10.00");
  a.exchange->set_prices(prices);
  a.start();
  for (int i = 0; i < 1000; ++i) {
    TradeSpec s = a.trade("S" + std::to_string(i));
    s.qty = Decimal::must("1");
    s.exits = ExitMode::native;  // one bracket order per trade
    s.take_profit = PriceTarget{Decimal::must("10.50"), std::nullopt};
    s.stop_loss = PriceTarget{Decimal::must("9.50"), std::nullopt};
    auto opened = a.runtime->open_trade(s);
    ASSERT_TRUE(opened.ok()) << i << ": " << opened.status().to_string();
  }
  a.transport->clock = &a.clock;
  const Timestamp burst_at = a.clock.now();
  a.runtime->run_for(90'000, 1'000);
  EXPECT_EQ(a.transport->submits, 1000) << "every entry reached the broker";
  EXPECT_EQ(a.client_waited.count(), 0) << "no call the engine released waited in the client";
  EXPECT_LE(a.runtime->health().rest_calls_last_minute, 1000);
  // Issue 20: the sync never pauses: a fill catch-up at least every 2 poll intervals from the
  // burst's start to its last entry (it used to be absent for up to 58 s).
  const Timestamp done_at = a.transport->last_submit_at;
  std::int64_t gap = 0;
  Timestamp last = burst_at;
  for (Timestamp t : a.transport->activity_at) {
    if (t > done_at) break;
    gap = std::max(gap, t.ms_since(last));
    last = t;
  }
  gap = std::max(gap, done_at.ms_since(last));
  EXPECT_LE(gap, 2 * a.options.engine.poll_interval_ms) << "the sync paused during the burst";
  EXPECT_LE(done_at.ms_since(burst_at), 70'000) << "issue 20: 1,000 entries in at most 70 s";
  std::printf("[ burst ] 1,000 entries at 1,000/min: all at the broker after %lld ms; max gap "
              "between catch-ups %lld ms (bound %lld)\n",
              static_cast<long long>(done_at.ms_since(burst_at)), static_cast<long long>(gap),
              static_cast<long long>(2 * a.options.engine.poll_interval_ms));
}

// The engine's budget and the client agree: the account's stated limit caps the configured one,
// and never lowers it when the server allows more.
std::int64_t budget_with(int configured, int stated) {
  Account a;
  a.options.engine.rate_limit_per_min = configured;
  a.transport->stated_limit = stated;
  a.start();
  a.runtime->run_for(1'000);
  return a.runtime->health().rest_budget_per_minute;
}

TEST(HandTradedAccount, TheEngineBudgetsToTheLimitTheAccountStates) {
  EXPECT_EQ(budget_with(1500, 1000), 1000);  // never above what the server allows
  EXPECT_EQ(budget_with(150, 1000), 150);    // the configured value when the server allows it
}

}  // namespace
}  // namespace orderly
