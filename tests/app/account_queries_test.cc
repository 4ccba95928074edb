// The query interface each account exposes (server/account_queries.h) and the views over
// several accounts built on it (Api::read_accounts, server/accounts_view.h): domain objects in,
// each JSON shape rendered by the code the single-account routes use.
#include "server/account_queries.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "fake_engine.h"
#include "support/memory_store.h"
#include "server/accounts_view.h"
#include "server/api.h"

namespace orderly::server {
namespace {
namespace json = boost::json;

constexpr const char* kTrade = R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"}})";

// One account: an Api over a fake engine and an in-memory store.
struct Account {
  ManualClock clock;
  orderly::testing::MemoryStore store;
  orderly::testing::FakeEngine engine{store, clock};
  Api api{engine, store, "s3cret", clock};

  HttpResponse call(std::string method, std::string target, std::string body = "") {
    return api.handle({std::move(method), std::move(target), "Bearer s3cret", std::move(body)});
  }
  std::int64_t open() {
    return json::parse(call("POST", "/api/trades", kTrade).body).at("id").as_int64();
  }
};

HttpResponse read(const std::vector<AccountSource>& accounts, const std::string& target,
                  const std::vector<AccountAlert>& daemon_alerts = {}) {
  std::string route;
  return Api::read_accounts({"GET", target, "", ""}, accounts, daemon_alerts, route);
}

json::array list(const HttpResponse& r) { return json::parse(r.body).as_array(); }

// An account whose store cannot be read.
class BrokenQueries final : public AccountQueries {
 public:
  Status down() const { return Status::error(Status::Code::io_error, "disk gone"); }
  StatusOr<std::vector<TradeRecord>> trades(int, int) override { return down(); }
  StatusOr<std::optional<TradeRecord>> trade(TradeId) override { return down(); }
  StatusOr<std::vector<Order>> orders(const OrderFilter&) override { return down(); }
  StatusOr<std::optional<Order>> order(std::string_view) override { return down(); }
  StatusOr<std::optional<OrderAudit>> audit(std::string_view) override { return down(); }
  std::vector<PositionView> positions() override { return {}; }
  StatusOr<std::vector<AlertRow>> alerts(bool, int) override { return down(); }
  HealthReport health_report() override { return {}; }
  std::vector<OrderEvent> events_since(std::int64_t, int) override { return {}; }
};

TEST(AccountQueries, ATradeComesWithItsOrders) {
  Account a;
  a.open();
  a.open();
  auto trades = a.api.trades(100, 0);
  ASSERT_TRUE(trades.ok());
  ASSERT_EQ(trades->size(), 2u);
  for (const auto& t : *trades) {
    ASSERT_EQ(t.orders.size(), 1u);
    EXPECT_EQ(t.orders[0].trade_id, t.trade.id);
  }
  auto one = a.api.trade(2);
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->trade.id, 2);
  auto none = a.api.trade(9);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(AccountQueries, AnOrderIsFoundByItsLocalClientOrBrokerId) {
  Account a;
  a.open();
  Order o = **a.api.order("1");
  o.broker_order_id = "b-7f3";
  WriteBatch b;
  b.orders.push_back(o);
  ASSERT_TRUE(a.store.commit(b).ok());
  for (const std::string& ref : {std::string("1"), o.client_order_id, std::string("b-7f3")}) {
    auto found = a.api.order(ref);
    ASSERT_TRUE(found.ok() && found->has_value()) << ref;
    EXPECT_EQ((*found)->id, 1) << ref;
  }
  EXPECT_FALSE(a.api.order("2")->has_value());
  EXPECT_FALSE(a.api.order("nobody")->has_value());
  auto audit = a.api.audit(o.client_order_id);
  ASSERT_TRUE(audit.ok() && audit->has_value());
  EXPECT_EQ((*audit)->order.id, 1);
  ASSERT_EQ((*audit)->events.size(), 1u);
  EXPECT_EQ((*audit)->events[0].note, "trade opened");
  EXPECT_FALSE(a.api.audit("nobody")->has_value());
}

// A failing store cannot hold the alert about itself: it comes first, without an id.
TEST(AccountQueries, AlertsStartWithStoreFailingWhileTheStoreIsDamaged) {
  Account a;
  Alert table{.id = 4, .kind = AlertKind::stream_down, .subject = "stream", .message = "down",
              .raised_at = a.clock.now()};
  WriteBatch b;
  b.alerts.push_back(table);
  ASSERT_TRUE(a.store.commit(b).ok());
  auto rows = a.api.alerts(false, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].id, 4);
  EXPECT_EQ((*rows)[0].kind, "stream_down");
  EXPECT_EQ((*rows)[0].severity, AlertSeverity::warning);

  a.store.set_fault("damaged file");
  rows = a.api.alerts(false, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].kind, "store_failing");
  EXPECT_FALSE((*rows)[0].id.has_value());
  EXPECT_EQ((*rows)[0].severity, AlertSeverity::critical);
  EXPECT_NE((*rows)[0].message.find("damaged file"), std::string::npos);
}

TEST(AccountQueries, HealthReportIsTheHealthAtTheClocksInstant) {
  Account a;
  a.clock.advance_ms(1500);
  a.api.set_market_source([] { return std::optional<Api::Market>(Api::Market{.is_open = true}); });
  HealthReport r = a.api.health_report();
  EXPECT_EQ(r.now, a.clock.now());
  EXPECT_EQ(r.health.status, HealthStatus::ok);
  ASSERT_TRUE(r.market.has_value());
  EXPECT_TRUE(r.market->is_open);
  // /healthz is that report rendered.
  EXPECT_EQ(a.call("GET", "/healthz").body, a.api.health_json());
}

// With one unnamed account the views are the single-account routes' own answers, byte for byte.
TEST(AccountViews, OneUnnamedAccountAnswersAsTheSingleAccountRoutes) {
  Account a;
  a.open();
  const std::vector<AccountSource> self{{"", &a.api}};
  for (const std::string target : {"/api/trades", "/api/trades/1", "/api/orders?symbol=STWD",
                                   "/api/orders/1", "/api/orders/1/audit", "/api/positions",
                                   "/api/alerts", "/api/trades/7", "/api/orders?state=bogus",
                                   "/api/nothing", "/api/close-all"}) {
    HttpResponse single = a.call("GET", target);
    HttpResponse merged = read(self, target);
    EXPECT_EQ(merged.status, single.status) << target;
    EXPECT_EQ(merged.body, single.body) << target;
  }
}

TEST(AccountViews, ListsMergeEveryAccountEachElementNamingIt) {
  Account alpha, beta;
  alpha.open();
  beta.open();
  beta.open();
  const std::vector<AccountSource> both{{"alpha", &alpha.api}, {"beta", &beta.api}};
  json::array trades = list(read(both, "/api/trades"));
  ASSERT_EQ(trades.size(), 3u);
  EXPECT_EQ(trades[0].at("account"), "alpha");
  EXPECT_EQ(trades[1].at("account"), "beta");
  // A trade's own orders do not repeat the account.
  EXPECT_FALSE(trades[0].at("orders").as_array()[0].as_object().contains("account"));
  // limit applies per account.
  EXPECT_EQ(list(read(both, "/api/orders?limit=1")).size(), 2u);
  json::array orders = list(read(both, "/api/orders"));
  ASSERT_EQ(orders.size(), 3u);
  EXPECT_EQ(orders[2].at("account"), "beta");
  // Apart from the tag, the element is what the account's own route answers.
  json::object own = list(beta.call("GET", "/api/orders"))[0].as_object();
  own["account"] = "beta";
  EXPECT_EQ(orders[1].as_object(), own);
}

TEST(AccountViews, OneAccountsStoreErrorAnswersForTheWholeList) {
  Account alpha;
  alpha.open();
  BrokenQueries broken;
  const std::vector<AccountSource> both{{"alpha", &alpha.api}, {"beta", &broken}};
  for (const std::string target : {"/api/trades", "/api/orders", "/api/alerts"}) {
    HttpResponse r = read(both, target);
    EXPECT_EQ(r.status, 503) << target;
    EXPECT_EQ(json::parse(r.body).at("error"), "store: disk gone") << target;
  }
  // A bad filter is bad for every account.
  EXPECT_EQ(read(both, "/api/orders?state=bogus").status, 400);
}

TEST(AccountViews, OneObjectIsFoundInWhicheverAccountHoldsIt) {
  Account alpha, beta;
  alpha.open();
  beta.open();
  beta.open();
  const std::vector<AccountSource> both{{"alpha", &alpha.api}, {"beta", &beta.api}};
  // Local ids repeat across accounts.
  HttpResponse ambiguous = read(both, "/api/trades/1");
  EXPECT_EQ(ambiguous.status, 409);
  EXPECT_NE(ambiguous.body.find("found in several accounts (alpha, beta)"), std::string::npos);
  HttpResponse second = read(both, "/api/trades/2");
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(json::parse(second.body).at("account"), "beta");
  HttpResponse audit = read(both, "/api/orders/2/audit");
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_EQ(json::parse(audit.body).at("account"), "beta");
  EXPECT_EQ(json::parse(audit.body).at("order").at("account"), "beta");
  HttpResponse missing = read(both, "/api/orders/9");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(json::parse(missing.body).at("error"), "no order 9");
  // An account that cannot answer says so, rather than "not found".
  BrokenQueries broken;
  EXPECT_EQ(read({{"alpha", &alpha.api}, {"gamma", &broken}}, "/api/orders/9").status, 503);
  EXPECT_EQ(read({{"alpha", &alpha.api}, {"gamma", &broken}}, "/api/orders/1").status, 200);
}

TEST(AccountViews, TheDaemonsLeaseAlertsComeFirst) {
  Account alpha;
  AccountStatus lost{.name = "beta", .state = AccountState::standby, .leases_lost = 1,
                     .last_lost_at = alpha.clock.now(), .last_lost_reason = "renewal refused"};
  AccountStatus back = lost;
  back.name = "gamma";
  back.state = AccountState::active;
  back.since = alpha.clock.now().plus_ms(5000);
  AccountStatus never{.name = "alpha", .state = AccountState::active};
  auto daemon = lease_alerts({never, lost, back});
  ASSERT_EQ(daemon.size(), 2u);
  json::array alerts = list(read({{"alpha", &alpha.api}}, "/api/alerts", daemon));
  ASSERT_EQ(alerts.size(), 2u);
  const json::object& beta = alerts[0].as_object();
  EXPECT_EQ(beta.at("kind"), "lease_lost");
  EXPECT_EQ(beta.at("account"), "beta");
  EXPECT_TRUE(beta.at("id").is_null());
  EXPECT_TRUE(beta.at("active").as_bool());
  EXPECT_TRUE(beta.at("cleared_at").is_null());
  EXPECT_FALSE(beta.contains("severity"));
  EXPECT_FALSE(alerts[1].at("active").as_bool());  // gamma runs here again
  EXPECT_TRUE(alerts[1].at("cleared_at").is_string());
}

// ?account=NAME: the answer's object names the account; errors and a trade's orders do not.
TEST(AccountViews, AnAnswerForANamedAccountNamesIt) {
  Account a;
  HttpRequest post{"POST", "/api/trades", "Bearer s3cret", kTrade};
  json::object trade = json::parse(a.api.handle_for(post, "alpha").body).as_object();
  EXPECT_EQ(trade.at("account"), "alpha");
  EXPECT_FALSE(trade.at("orders").as_array()[0].as_object().contains("account"));
  HttpRequest bad{"POST", "/api/trades", "Bearer s3cret", "{}"};
  EXPECT_FALSE(json::parse(a.api.handle_for(bad, "alpha").body).as_object().contains("account"));
  HttpRequest health{"GET", "/healthz", "", ""};
  EXPECT_EQ(json::parse(a.api.handle_for(health, "alpha").body).at("account"), "alpha");
  HttpRequest closing{"POST", "/api/close-all", "Bearer s3cret", ""};
  EXPECT_EQ(json::parse(a.api.handle_for(closing, "alpha").body).at("account"), "alpha");
  EXPECT_FALSE(json::parse(a.call("GET", "/api/trades/1").body).as_object().contains("account"));
}

HealthReport report(std::int64_t open_orders, std::int64_t lag_ms, Timestamp last_sync) {
  HealthReport r;
  r.now = Timestamp::from_ms(1'760'000'100'000);
  r.health.stream_connected = true;
  r.health.open_orders = open_orders;
  r.health.sync_lag_ms = lag_ms;
  r.health.last_sync_at = last_sync;
  r.health.last_stream_event_at = last_sync;
  return r;
}

TEST(AccountViews, CombinedHealthAddsCountsAndKeepsTheWorst) {
  HealthReport a = report(2, 100, Timestamp::from_ms(1'760'000'099'000));
  HealthReport b = report(3, 900, Timestamp::from_ms(1'760'000'090'000));
  b.health.broker_reachable = false;
  b.health.store_ok = false;
  b.health.store_error = "disk full";
  HealthReport all = combine_health({a, b});
  EXPECT_TRUE(all.health.stream_connected);
  EXPECT_EQ(all.health.open_orders, 5);
  EXPECT_EQ(all.health.rest_budget_per_minute, 380);
  EXPECT_EQ(all.health.sync_lag_ms, 900);
  EXPECT_EQ(all.health.last_sync_at, b.health.last_sync_at);                  // the oldest sync
  EXPECT_EQ(all.health.last_stream_event_at, a.health.last_stream_event_at);  // the latest event
  EXPECT_FALSE(all.health.broker_reachable);
  EXPECT_FALSE(all.health.store_ok);
  EXPECT_EQ(all.health.store_error, "disk full");
  b.health.stream_connected = false;
  EXPECT_FALSE(combine_health({a, b}).health.stream_connected);
  HealthReport none = combine_health({});
  EXPECT_FALSE(none.health.stream_connected);
  EXPECT_EQ(none.health.rest_budget_per_minute, 0);
  EXPECT_FALSE(none.health.last_sync_at.has_value());
}

TEST(AccountViews, TheDaemonIsDownOnlyWhenNoAccountItShouldRunCanTrade) {
  Account alpha;
  auto running = std::shared_ptr<AccountQueries>(&alpha.api, [](AccountQueries*) {});
  AccountStatus active{.name = "alpha", .state = AccountState::active};
  AccountStatus standby{.name = "beta", .state = AccountState::standby};
  AccountStatus failed{.name = "gamma", .state = AccountState::failed, .detail = "keys refused"};

  HttpResponse ok = daemon_health({{active, running}, {standby, nullptr}});
  EXPECT_EQ(ok.status, 200);
  json::object h = json::parse(ok.body).as_object();
  EXPECT_EQ(h.at("status"), "ok");  // a standby is another instance's to run
  ASSERT_EQ(h.at("accounts").as_array().size(), 2u);
  EXPECT_EQ(h.at("accounts").as_array()[0].at("health"), json::parse(alpha.api.health_json()));
  EXPECT_EQ(h.at("accounts").as_array()[1].at("health").at("state"), "standby");
  EXPECT_EQ(h.at("open_orders"), alpha.api.health_report().health.open_orders);

  json::object degraded =
      json::parse(daemon_health({{active, running}, {failed, nullptr}}).body).as_object();
  EXPECT_EQ(degraded.at("status"), "degraded");
  EXPECT_EQ(degraded.at("reasons").as_array()[0], "account gamma: failed: keys refused");

  HttpResponse down = daemon_health({{standby, nullptr}, {failed, nullptr}});
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(json::parse(down.body).at("status"), "down");
  EXPECT_TRUE(json::parse(down.body).at("now").is_null());
}

TEST(AccountViews, TheAccountsListAsksNoEngine) {
  AccountStatus s{.name = "alpha", .store_account = "a1", .state = AccountState::active,
                  .leases_acquired = 1};
  json::array list = json::parse(accounts_json({s})).as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("name"), "alpha");
  EXPECT_EQ(list[0].at("state"), "active");
  EXPECT_TRUE(list[0].at("health").is_null());
}

TEST(AccountViews, AFeedEventNamesItsAccountAndItsSeqThere) {
  OrderEvent e{.seq = 41, .order_id = 3, .payload = "{}"};
  json::object o = json::parse(feed_event_json(e, "beta")).as_object();
  EXPECT_EQ(o.at("account"), "beta");
  EXPECT_EQ(o.at("account_seq"), 41);
  EXPECT_FALSE(o.contains("payload"));
}

}  // namespace
}  // namespace orderly::server
