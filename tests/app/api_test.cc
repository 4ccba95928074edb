// The local API's routes, called directly (no socket) over a fake engine and an in-memory store.
#include "server/api.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "fake_engine.h"
#include "support/memory_store.h"

namespace orderly::server {
namespace {
namespace json = boost::json;

class ApiTest : public ::testing::Test {
 protected:
  ManualClock clock;
  orderly::testing::MemoryStore store;
  orderly::testing::FakeEngine engine{store, clock};
  Api api{engine, store, "s3cret", clock};

  HttpResponse call(std::string method, std::string target, std::string body = "",
                    std::string auth = "Bearer s3cret") {
    return api.handle({std::move(method), std::move(target), std::move(auth), std::move(body)});
  }
  static json::value parse(const HttpResponse& r) { return json::parse(r.body); }
  std::size_t trade_count() { return parse(call("GET", "/api/trades")).as_array().size(); }
  static std::string error_of(const HttpResponse& r) {
    return std::string(json::parse(r.body).at("error").as_string());
  }
};

constexpr const char* kTrade =
    R"({"symbol":"STWD","side":"buy","qty":"37","entry":{"type":"limit","limit_price":"10.05"},)"
    R"("take_profit":{"limit_price":"10.50"},"stop_loss":{"percent":"1"},"exits":"emulated"})";

TEST_F(ApiTest, OpenTradeAnswers201WithTheTradeAndItsOrders) {
  auto r = call("POST", "/api/trades", kTrade);
  ASSERT_EQ(r.status, 201) << r.body;
  auto t = parse(r).as_object();
  EXPECT_EQ(t.at("id").as_int64(), 1);
  EXPECT_EQ(t.at("symbol").as_string(), "STWD");
  EXPECT_EQ(t.at("state").as_string(), "pending");
  const auto& orders = t.at("orders").as_array();
  ASSERT_EQ(orders.size(), 1u);
  const auto& o = orders[0].as_object();
  for (const char* key : {"id", "trade_id", "role", "symbol", "side", "type", "qty", "limit_price",
                          "stop_price", "state", "client_order_id", "broker_order_id",
                          "filled_qty", "filled_avg_price", "attempts", "updated_at"}) {
    EXPECT_TRUE(o.contains(key)) << key;
  }
  EXPECT_EQ(o.at("qty").as_string(), "37");
  EXPECT_EQ(o.at("limit_price").as_string(), "10.05");
  EXPECT_TRUE(o.at("stop_price").is_null());
  EXPECT_TRUE(o.at("broker_order_id").is_null());
  EXPECT_EQ(o.at("state").as_string(), "created");
  EXPECT_EQ(o.at("filled_qty").as_string(), "0");
  EXPECT_EQ(o.at("role").as_string(), "entry");
}

TEST_F(ApiTest, MutatingCallsNeedTheToken) {
  EXPECT_EQ(call("POST", "/api/trades", kTrade, "").status, 401);
  EXPECT_EQ(call("POST", "/api/trades", kTrade, "Bearer wrong").status, 401);
  EXPECT_EQ(call("POST", "/api/trades", kTrade, "s3cret").status, 401);
  EXPECT_EQ(call("DELETE", "/api/trades/1", "", "").status, 401);
  EXPECT_EQ(call("POST", "/api/reconcile", "", "").status, 401);
  auto list = call("GET", "/api/trades");
  EXPECT_EQ(parse(list).as_array().size(), 0u);  // nothing was recorded
}

TEST_F(ApiTest, EmptyConfiguredTokenRefusesEveryMutation) {
  Api open_api{engine, store, "", clock};
  auto r = open_api.handle({"POST", "/api/trades", "Bearer ", kTrade});
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(error_of(r).find("token"), std::string::npos);
  EXPECT_EQ(open_api.handle({"GET", "/api/orders", "", ""}).status, 200);  // reads stay open
}

// A client_trade_id names one trade for good: the repeat answers 200 with it, never a second.
TEST_F(ApiTest, RepeatedClientTradeIdAnswers200WithTheSameTrade) {
  const std::string keyed =
      std::string(kTrade).insert(1, R"("client_trade_id":"strat-1:2026-12-03.a_b",)");
  auto first = call("POST", "/api/trades", keyed);
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(parse(first).at("client_trade_id").as_string(), "strat-1:2026-12-03.a_b");
  auto again = call("POST", "/api/trades", keyed);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(parse(again).at("id"), parse(first).at("id"));
  EXPECT_EQ(parse(again).at("orders").as_array().size(), 1u);
  // The same request written differently (decimal scale, key order) is the same trade.
  auto reordered = call("POST", "/api/trades",
                        R"({"client_trade_id":"strat-1:2026-12-03.a_b","qty":"37.00",)"
                        R"("symbol":"STWD",)"
                        R"("side":"buy","entry":{"type":"limit","limit_price":"10.050"},)"
                        R"("take_profit":{"limit_price":"10.5"},"stop_loss":{"percent":"1"}})");
  EXPECT_EQ(reordered.status, 200) << reordered.body;
  EXPECT_EQ(parse(call("GET", "/api/trades")).as_array().size(), 1u);
  EXPECT_EQ(trade_count(), 1u);
}

TEST_F(ApiTest, ClientTradeIdWithADifferentBodyIs409) {
  auto first =
      call("POST", "/api/trades", std::string(kTrade).insert(1, R"("client_trade_id":"k1",)"));
  ASSERT_EQ(first.status, 201) << first.body;
  std::string other =
      R"({"client_trade_id":"k1","symbol":"STWD","qty":"38","take_profit":{"percent":"2"}})";
  auto r = call("POST", "/api/trades", other);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(error_of(r).find("already names trade 1"), std::string::npos) << r.body;
  EXPECT_EQ(trade_count(), 1u);
  // Another key is another trade.
  auto another =
      call("POST", "/api/trades", std::string(kTrade).insert(1, R"("client_trade_id":"k2",)"));
  EXPECT_EQ(another.status, 201) << another.body;
}

TEST_F(ApiTest, IdempotencyKeyHeaderIsAnAliasOfClientTradeId) {
  auto post = [&](std::string body, std::string key) {
    HttpRequest req{"POST", "/api/trades", "Bearer s3cret", std::move(body)};
    req.idempotency_key = std::move(key);
    return api.handle(req);
  };
  auto first = post(kTrade, "hdr-7");
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(parse(first).at("client_trade_id").as_string(), "hdr-7");
  // The header and the body name the same key: the same trade.
  auto again = post(std::string(kTrade).insert(1, R"("client_trade_id":"hdr-7",)"), "");
  EXPECT_EQ(again.status, 200) << again.body;
  auto clash = post(std::string(kTrade).insert(1, R"("client_trade_id":"hdr-8",)"), "hdr-7");
  EXPECT_EQ(clash.status, 400) << clash.body;
  EXPECT_EQ(post(kTrade, "bad key!").status, 400);
  EXPECT_EQ(trade_count(), 1u);
}

TEST_F(ApiTest, MalformedClientTradeIdsGet400) {
  auto keyed = [](const std::string& key) {
    return std::string(kTrade).insert(1, "\"client_trade_id\":\"" + key + "\",");
  };
  const std::vector<std::string> bad = {"", std::string(65, 'a'), "a b", "a/b", "é", "a\\u0000"};
  for (const std::string& key : bad) {
    auto r = call("POST", "/api/trades", keyed(key));
    EXPECT_EQ(r.status, 400) << key << " " << r.body;
  }
  auto r = call("POST", "/api/trades", std::string(kTrade).insert(1, R"("client_trade_id":7,)"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(call("POST", "/api/trades", keyed(std::string(64, 'z'))).status, 201);
  EXPECT_EQ(trade_count(), 1u);
}

// A read that found the store damaged is never reported as store_ok.
TEST_F(ApiTest, StoreFaultMakesHealthzUnhealthy) {
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  store.set_fault("sqlite:/x/orderly.db: listing orders: database disk image is malformed");
  auto h = call("GET", "/healthz");
  EXPECT_EQ(h.status, 503);
  EXPECT_FALSE(parse(h).at("store_ok").as_bool());
  EXPECT_NE(parse(h).at("store_error").as_string().find("malformed"), std::string::npos);
  EXPECT_NE(api.health_json().find("\"store_ok\":false"), std::string::npos);
}

TEST_F(ApiTest, BadTradeBodiesGetClear400s) {
  struct Case {
    std::string body;
    std::string expect;
  };
  std::vector<Case> cases = {
      {"{not json", "not valid JSON"},
      {"[1,2]", "must be a JSON object"},
      {R"({"side":"buy","qty":"1","take_profit":{"percent":"2"}})", "missing field 'symbol'"},
      {R"({"symbol":"STWD","take_profit":{"percent":"2"}})", "missing field 'qty'"},
      {R"({"symbol":"STWD","qty":37,"take_profit":{"percent":"2"}})", "decimal string"},
      {R"({"symbol":"STWD","qty":"3x7","take_profit":{"percent":"2"}})", "not a decimal"},
      {R"({"symbol":"STWD","qty":"37"})", "a trade needs a take_profit, a stop_loss or both"},
      {R"({"symbol":"STWD","qty":"37","notional":"100","take_profit":{"percent":"2"}})",
       "'qty' or 'notional', not both"},
      {R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"},)"
       R"("entry":{"type":"trailing_stop"}})",
       "'entry.type'"},
      {R"({"symbol":"STWD","qty":"37","stop_loss":{"trail_percent":"1","percent":"1"}})",
       "exactly one of 'stop_price', 'percent', 'trail_percent' or 'trail_price'"},
      {R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"},"extended_hours":"yes"})",
       "'extended_hours' must be true or false"},
      {R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"},"tif":"week"})", "'tif'"},
      {R"({"symbol":"STWD","qty":"37","take_profit":{}})", "exactly one of"},
      {R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2","limit_price":"1"}})", "exactly one of"},
      {R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"},"side":"hold"})", "'side'"},
      {R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"},"exits":"magic"})", "'exits'"},
      {R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"},"entry":{"type":"limit"}})", "entry.limit_price"},
      {R"({"symbol":"STWD","qty":"37","take_profit":{"percent":"2"},"qtty":"1"})", "unknown field 'qtty'"},
      {R"({"symbol":["STWD"],"qty":"37","take_profit":{"percent":"2"}})", "must be a string"},
      {R"({"symbol":"STWD","qty":"37","take_profit":"2"})", "must be an object"},
  };
  for (const auto& c : cases) {
    auto r = call("POST", "/api/trades", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_NE(error_of(r).find(c.expect), std::string::npos) << c.body << " -> " << r.body;
  }
  // validate() from core: a non-positive quantity is refused before anything is recorded.
  auto r = call("POST", "/api/trades", R"({"symbol":"STWD","qty":"-1","take_profit":{"percent":"2"}})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(parse(call("GET", "/api/trades")).as_array().size(), 0u);
}

TEST_F(ApiTest, OrdersListFiltersAndLookupByAnyId) {
  ASSERT_EQ(call("POST", "/api/trades", kTrade).status, 201);
  ASSERT_EQ(call("POST", "/api/trades",
                 R"({"symbol":"EPD","qty":"25","take_profit":{"percent":"2"}})").status, 201);
  EXPECT_EQ(parse(call("GET", "/api/orders")).as_array().size(), 2u);
  EXPECT_EQ(parse(call("GET", "/api/orders?symbol=EPD")).as_array().size(), 1u);
  EXPECT_EQ(parse(call("GET", "/api/orders?trade_id=1")).as_array().size(), 1u);
  EXPECT_EQ(parse(call("GET", "/api/orders?state=created&open=true")).as_array().size(), 2u);
  EXPECT_EQ(parse(call("GET", "/api/orders?state=filled")).as_array().size(), 0u);
  EXPECT_EQ(call("GET", "/api/orders?state=bogus").status, 400);
  EXPECT_EQ(call("GET", "/api/orders?trade_id=x").status, 400);
  EXPECT_EQ(call("GET", "/api/orders?limit=-3").status, 400);

  auto by_id = parse(call("GET", "/api/orders/1")).as_object();
  std::string cid(by_id.at("client_order_id").as_string());
  EXPECT_EQ(parse(call("GET", "/api/orders/" + cid)).at("id").as_int64(), 1);
  EXPECT_EQ(call("GET", "/api/orders/999").status, 404);
  EXPECT_EQ(call("GET", "/api/orders/no-such-order").status, 404);

  auto audit = parse(call("GET", "/api/orders/" + cid + "/audit")).as_object();
  EXPECT_EQ(audit.at("order").at("id").as_int64(), 1);
  const auto& events = audit.at("events").as_array();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("source").as_string(), "intent");
  EXPECT_EQ(events[0].at("to").as_string(), "created");
  EXPECT_EQ(events[0].at("note").as_string(), "trade opened");
}

TEST_F(ApiTest, TradesGetAndCancel) {
  ASSERT_EQ(call("POST", "/api/trades", kTrade).status, 201);
  EXPECT_EQ(parse(call("GET", "/api/trades/1")).at("symbol").as_string(), "STWD");
  EXPECT_EQ(call("GET", "/api/trades/2").status, 404);
  EXPECT_EQ(call("GET", "/api/trades/abc").status, 400);
  // Without ?flatten=true only what has not filled is canceled: nothing is sold.
  auto r = call("DELETE", "/api/trades/1");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(engine.entry_canceled, std::vector<TradeId>{1});
  EXPECT_TRUE(engine.canceled.empty());
  r = call("DELETE", "/api/trades/1?flatten=true");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(parse(r).at("state").as_string(), "closing");
  EXPECT_EQ(engine.canceled, std::vector<TradeId>{1});
  EXPECT_EQ(call("DELETE", "/api/trades/1?flatten=maybe").status, 400);
  EXPECT_EQ(call("DELETE", "/api/trades/7").status, 404);
  r = call("POST", "/api/close-all", "");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(engine.close_alls, 1);
}

// PATCH /api/trades/ID: an object changes an exit's target, null removes the exit, an absent
// key keeps it; the body is read with POST's shapes and refused with the field named.
TEST_F(ApiTest, ModifyTradeChangesItsExits) {
  ASSERT_EQ(call("POST", "/api/trades", kTrade).status, 201);
  EXPECT_EQ(call("PATCH", "/api/trades/1", R"({"stop_loss":{"stop_price":"9.90"}})", "").status,
            401);
  auto r = call("PATCH", "/api/trades/1",
                R"({"take_profit":{"limit_price":"10.80"},"stop_loss":{"stop_price":"9.90"}})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(parse(r).at("take_profit").at("limit_price").as_string(), "10.80");
  EXPECT_EQ(parse(r).at("stop_loss").at("stop_price").as_string(), "9.90");
  r = call("PATCH", "/api/trades/1", R"({"take_profit":null})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_TRUE(parse(r).at("take_profit").is_null());
  ASSERT_EQ(engine.modified.size(), 2u);
  EXPECT_TRUE(engine.modified[1].second.remove_take_profit);
  EXPECT_FALSE(engine.modified[1].second.stop_loss.has_value());
  struct Bad {
    const char* body;
    const char* error;
  };
  for (const Bad& b :
       {Bad{"{}", "give 'take_profit' and/or 'stop_loss'"},
        Bad{R"({"qty":"3"})", "unknown field 'qty'"},
        Bad{R"({"stop_loss":{"stop_price":9.9}})", "'stop_loss.stop_price' must be a decimal"},
        Bad{R"({"stop_loss":{"stop_price":"9.9","percent":"1"}})", "exactly one of"},
        Bad{"[", "body is not valid JSON"}}) {
    r = call("PATCH", "/api/trades/1", b.body);
    EXPECT_EQ(r.status, 400) << b.body;
    EXPECT_NE(error_of(r).find(b.error), std::string::npos) << error_of(r);
  }
  EXPECT_EQ(engine.modified.size(), 2u) << "nothing reached the engine";
  EXPECT_EQ(call("PATCH", "/api/trades/7", R"({"take_profit":null})").status, 404);
  EXPECT_EQ(call("PATCH", "/api/trades/x", R"({"take_profit":null})").status, 400);
  Trade closed = **store.get_trade(1);
  closed.state = TradeState::closed;
  WriteBatch b;
  b.trades.push_back(closed);
  ASSERT_TRUE(store.commit(b).ok());
  r = call("PATCH", "/api/trades/1", R"({"take_profit":null})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_of(r), "trade 1 is closed: its exits can no longer change");
}

TEST_F(ApiTest, PositionsLocalBesideBroker) {
  engine.position_views.push_back({"STWD", Decimal::must("0"), Decimal::must("37"), Decimal::must("37")});
  engine.position_views.push_back({"EPD", Decimal::must("25"), std::nullopt, Decimal::must("0")});
  auto p = parse(call("GET", "/api/positions")).as_array();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].at("symbol").as_string(), "STWD");
  EXPECT_EQ(p[0].at("local_qty").as_string(), "0");
  EXPECT_EQ(p[0].at("broker_qty").as_string(), "37");
  EXPECT_EQ(p[0].at("drift").as_string(), "37");
  EXPECT_TRUE(p[1].at("broker_qty").is_null());
}

// A sell entry that would open a short, on an account whose shorting_enabled is false, is
// refused naming the rule; a long position (the broker's here) that covers it is no short. A
// kept answer serves ten minutes, but a refusal stands only on one at most 30 s old: an older
// "false" is read again first. An account that cannot be read is a 503, not a silent accept.
TEST_F(ApiTest, AShortOnAnAccountThatMayNotShortIsRefusedOnAFreshAnswer) {
  std::optional<bool> shorting = false;  // the broker's now
  bool readable = true;
  std::optional<bool> kept;  // as last read
  Timestamp kept_at = clock.now();
  std::vector<std::int64_t> asked;  // the max_age_ms of each ask
  int reads = 0;
  api.set_account_source([&](std::int64_t max_age_ms) {
    asked.push_back(max_age_ms);
    if (clock.now().ms_since(kept_at) > max_age_ms || reads == 0) {
      if (!readable) {
        return Api::AccountAnswer{false, {}, clock.now(), "unknown_outcome (HTTP 500)"};
      }
      ++reads;
      kept = shorting;
      kept_at = clock.now();
    }
    return Api::AccountAnswer{true, kept, kept_at, {}};
  });
  const std::string short_f =
      R"({"symbol":"F","side":"sell","qty":"3","stop_loss":{"percent":"2"}})";
  HttpResponse r = call("POST", "/api/trades", short_f);
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r),
            "the account may not sell short (the broker's account: shorting_enabled false, read "
            "0 s ago), and this sell entry of 3 F opens a short: no long position of the account "
            "covers it (Alpaca: account is not allowed to short); nothing was sent");
  EXPECT_EQ(trade_count(), 0u);
  EXPECT_EQ(call("POST", "/api/trades", kTrade).status, 201) << "a buy is no short";

  engine.position_views.push_back({"F", Decimal(), Decimal::must("5"), Decimal::must("5")});
  EXPECT_EQ(call("POST", "/api/trades", short_f).status, 201) << "the broker's long covers it";
  engine.position_views.clear();

  clock.advance_ms(40'000);  // the kept "false" is 40 s old: read again before refusing
  shorting = true;
  asked.clear();
  EXPECT_EQ(call("POST", "/api/trades", short_f).status, 201);
  EXPECT_EQ(asked, (std::vector<std::int64_t>{Api::kAccountKeepMs, Api::kRefusalAccountAgeMs}));
  EXPECT_EQ(reads, 2);
  clock.advance_ms(5 * 60'000);
  EXPECT_EQ(call("POST", "/api/trades", short_f).status, 201) << "a kept true serves";
  EXPECT_EQ(reads, 2);

  clock.advance_ms(Api::kAccountKeepMs);
  readable = false;
  r = call("POST", "/api/trades", short_f);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(error_of(r).find("could not read the account from the broker (unknown_outcome "
                             "(HTTP 500)): whether it may sell short is unknown"),
            std::string::npos)
      << r.body;
}

// Only the part of a sell entry that goes below zero is a short: a sell within the long the
// broker's position read now shows is taken on a long-only account; one beyond it is refused
// naming how far below zero it goes. A long orderly's own fills or the engine's last read show
// is not taken for one: the broker's read decides, as the engine's judges a fractional sell.
TEST_F(ApiTest, ASellWithinAHeldLongIsNoShortOnlyThePartBelowZeroIs) {
  api.set_account_source([&](std::int64_t) {
    return Api::AccountAnswer{true, false, clock.now(), {}};
  });
  Api::PositionAnswer broker_now{true, Decimal(), {}};
  int position_reads = 0;
  api.set_position_source([&](const std::string& symbol) {
    ++position_reads;
    EXPECT_EQ(symbol, "F");
    return broker_now;
  });
  const auto sell = [&](const char* qty) {
    return call("POST", "/api/trades",
                std::string(R"({"symbol":"F","side":"sell","qty":")") + qty +
                    R"(","exits":"none"})");
  };
  engine.position_views.push_back({"F", Decimal::must("5"), Decimal::must("5"), Decimal()});
  HttpResponse r = sell("5");
  EXPECT_EQ(r.status, 400) << "orderly's long of 5, sold since: the broker holds none";
  EXPECT_NE(error_of(r).find("this sell entry of 5 F opens a short: no long position of the "
                             "account covers it"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(position_reads, 1) << "the broker's position is read, whatever the engine knows";
  engine.position_views.clear();

  r = sell("3");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(position_reads, 2);
  EXPECT_NE(error_of(r).find("this sell entry of 3 F opens a short: no long position of the "
                             "account covers it"),
            std::string::npos)
      << r.body;

  broker_now.qty = Decimal::must("5");  // a long bought since the engine read positions
  EXPECT_EQ(sell("3").status, 201) << "the broker's long, read now, covers it";
  EXPECT_EQ(sell("5").status, 201);
  r = sell("8");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r),
            "the account may not sell short (the broker's account: shorting_enabled false, read "
            "0 s ago), and this sell entry of 8 F goes 3 below the long of 5 the account holds: "
            "that part would open a short; sell at most 5 (Alpaca: account is not allowed to "
            "short); nothing was sent");

  broker_now = Api::PositionAnswer{false, Decimal(), "unknown_outcome (HTTP 500)"};
  r = sell("3");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(error_of(r).find("could not read F's position from the broker (unknown_outcome "
                             "(HTTP 500))"),
            std::string::npos)
      << r.body;
}

// A sell within a held long is not refused for the asset's rules of shorts (shortable false),
// as the broker's position read now says. A long only orderly's own fills or the engine's last
// read show (an exit of ours, or another client, sold it since) is not taken for one: the
// broker would open a short it refuses, and the trade would fail. While the broker's position
// cannot be read, 503: whether the sell is a short is unknown.
TEST_F(ApiTest, ASellWithinAHeldLongIsNoShortOfItsAsset) {
  AssetRules gme;
  gme.symbol = "GME";
  gme.asset_class = "us_equity";
  gme.status = "active";
  gme.shortable = false;
  api.set_asset_source([&](const std::string&) { return Api::AssetAnswer{gme, false, {}}; });
  Api::PositionAnswer broker_now{true, Decimal(), {}};
  api.set_position_source([&](const std::string&) { return broker_now; });
  const std::string sell = R"({"symbol":"GME","side":"sell","qty":"4","exits":"none"})";
  HttpResponse r = call("POST", "/api/trades", sell);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(error_of(r).find("GME cannot be sold short"), std::string::npos) << r.body;
  broker_now.qty = Decimal::must("4");
  EXPECT_EQ(call("POST", "/api/trades", sell).status, 201) << "the broker's long, read now";
  broker_now.qty = Decimal();
  engine.position_views.push_back({"GME", Decimal::must("10"), Decimal::must("10"), Decimal()});
  r = call("POST", "/api/trades", sell);
  EXPECT_EQ(r.status, 400) << "orderly's long of 10, gone at the broker: " << r.body;
  EXPECT_NE(error_of(r).find("GME cannot be sold short"), std::string::npos) << r.body;

  broker_now = Api::PositionAnswer{false, Decimal(), "unknown_outcome (HTTP 500)"};
  r = call("POST", "/api/trades", sell);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(error_of(r),
            "could not read GME's position from the broker (unknown_outcome (HTTP 500)): "
            "whether a long still covers this sell entry of 4 GME is unknown (orderly's fills "
            "and its last read of the broker show 10, and either may be behind); without one: "
            "GME cannot be sold short at the broker (its asset: shortable false), and a sell "
            "entry opens a short (Alpaca: asset \"GME\" cannot be sold short); nothing was "
            "sent, try again");
  EXPECT_EQ(trade_count(), 1u) << "the one sell the broker's long covered";
}

// BTC/USD's asset with Alpaca's older example increment, the dollar.
AssetRules btc_priced_to_the_dollar() {
  AssetRules btc;
  btc.symbol = "BTC/USD";
  btc.asset_class = "crypto";
  btc.status = "active";
  btc.price_increment = Decimal::must("1");
  return btc;
}

// The engine reads no assets: a crypto trade takes its pair's price_increment from the API's
// asset read, so that percent exits priced at the fill are on it; an equity's has none. The
// trade's JSON shows the increment it keeps, and no field where it keeps none.
TEST_F(ApiTest, ACryptoTradeKeepsItsPairsPriceIncrement) {
  const AssetRules btc = btc_priced_to_the_dollar();
  AssetRules stwd;
  stwd.symbol = "STWD";
  stwd.asset_class = "us_equity";
  stwd.status = "active";
  api.set_asset_source([&](const std::string& symbol) {
    return Api::AssetAnswer{symbol == "BTC/USD" ? btc : stwd, false, {}};
  });
  HttpResponse r = call("POST", "/api/trades",
                        R"({"symbol":"BTC/USD","qty":"0.01","take_profit":{"percent":"2"},)"
                        R"("stop_loss":{"percent":"1.5"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(call("POST", "/api/trades", kTrade).status, 201);
  auto pair = store.get_trade(1);
  auto equity = store.get_trade(2);
  ASSERT_TRUE(pair.ok() && pair->has_value() && equity.ok() && equity->has_value());
  EXPECT_EQ((*pair)->spec.price_increment, Decimal::must("1"));
  EXPECT_EQ((*equity)->spec.price_increment, std::nullopt);

  EXPECT_EQ(parse(r).at("price_increment"), "1") << r.body;
  EXPECT_EQ(parse(call("GET", "/api/trades/1")).at("price_increment"), "1");
  EXPECT_FALSE(parse(call("GET", "/api/trades/2")).as_object().contains("price_increment"));
  const json::value list = parse(call("GET", "/api/trades"));
  for (const json::value& t : list.as_array()) {
    const json::value* inc = t.as_object().if_contains("price_increment");
    EXPECT_EQ(inc != nullptr, t.at("symbol") == "BTC/USD") << json::serialize(t);
    if (inc != nullptr) {
      EXPECT_EQ(*inc, "1");
    }
  }
}

// A pair's trade opened before schema 4 keeps no increment: a modify reads the pair's asset and
// hands its increment to the engine, which prices the new exits to it and keeps it (the
// engine's side: EngineModify.AModifyOfAPairsTradeWithoutAnIncrementPricesToThePairs). A trade
// that keeps one hands on its own.
TEST_F(ApiTest, AModifyOfAPairsTradeWithoutAnIncrementBringsTheAssets) {
  const AssetRules btc = btc_priced_to_the_dollar();
  api.set_asset_source([&](const std::string&) { return Api::AssetAnswer{btc, false, {}}; });
  ASSERT_EQ(call("POST", "/api/trades",
                 R"({"symbol":"BTC/USD","qty":"0.01","stop_loss":{"stop_price":"58000"}})")
                .status,
            201);
  Trade old = **store.get_trade(1);
  old.spec.price_increment.reset();  // as opened before schema 4
  WriteBatch b;
  b.trades.push_back(old);
  ASSERT_TRUE(store.commit(b).ok());
  HttpResponse r = call("PATCH", "/api/trades/1", R"({"stop_loss":{"stop_price":"59000"}})");
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(engine.modified.size(), 1u);
  EXPECT_EQ(engine.modified[0].second.price_increment, Decimal::must("1"));
  // An exit price off the pair's increment is refused, as at open.
  r = call("PATCH", "/api/trades/1", R"({"stop_loss":{"stop_price":"59000.50"}})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(engine.modified.size(), 1u);
}

// orderly reads no market data: a crypto market entry by qty is judged at the broker's price in
// its positions or orderly's own latest fill of the pair, the later of the two, while at most a
// minute old; with neither it is taken (the broker judges it).
TEST_F(ApiTest, ACryptoMarketEntryUnderTenDollarsIsRefusedAtAPriceOrderlyKnows) {
  const std::string small = R"({"symbol":"ETH/USD","qty":"0.002","tif":"gtc",)"
                            R"("take_profit":{"limit_price":"3300.00"}})";
  EXPECT_EQ(call("POST", "/api/trades", small).status, 201) << "no price known: the broker judges";

  PositionView p;
  p.symbol = "ETH/USD";
  p.current_price = Decimal::must("3000.00");
  p.priced_at = clock.now();
  engine.position_views.push_back(p);
  clock.advance_ms(10'000);
  HttpResponse r = call("POST", "/api/trades", small);
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r),
            "qty 0.002 of ETH/USD at about 3000.00 (the broker's price in its positions, 10 s "
            "old) is worth 6.00 USD, below Alpaca's least crypto order value, 10 USD (the broker "
            "answers \"cost basis must be >= minimal amount of order 10\"; it is not in the "
            "asset)");
  EXPECT_EQ(call("POST", "/api/trades",
                 R"({"symbol":"ETH/USD","qty":"0.004","tif":"gtc",)"
                 R"("take_profit":{"limit_price":"3300.00"}})")
                .status,
            201)
      << "12 USD";

  // A fill of ours, later than the positions read, is the price judged at.
  Order filled;
  filled.id = 100;
  filled.trade_id = 1;
  filled.client_order_id = "fill-of-ours";
  filled.symbol = "ETH/USD";
  filled.qty = filled.filled_qty = Decimal::must("0.1");
  filled.filled_avg_price = Decimal::must("6000.00");
  filled.state = OrderState::filled;
  filled.broker_updated_at = filled.created_at = filled.updated_at = clock.now();
  WriteBatch b;
  b.orders.push_back(filled);
  ASSERT_TRUE(store.commit(b).ok());
  clock.advance_ms(5'000);
  EXPECT_EQ(call("POST", "/api/trades", small).status, 201) << "12 USD at 6000.00";
  r = call("POST", "/api/trades",
           R"({"symbol":"ETH/USD","qty":"0.001","tif":"gtc",)"
           R"("take_profit":{"limit_price":"3300.00"}})");
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_NE(error_of(r).find("at about 6000.00 (orderly's fill of fill-of-ours, 5 s old)"),
            std::string::npos)
      << r.body;

  clock.advance_ms(Api::kPriceMaxAgeMs);  // both over a minute old
  EXPECT_EQ(call("POST", "/api/trades", small).status, 201);
}

TEST_F(ApiTest, AlertsHealthMetricsReconcile) {
  WriteBatch b;
  Alert a;
  a.id = 1;
  a.kind = AlertKind::reconciliation_mismatch;
  a.subject = "STWD";
  a.message = "local 0, broker 37";
  b.alerts.push_back(a);
  ASSERT_TRUE(store.commit(b).ok());
  auto alerts = parse(call("GET", "/api/alerts?active=true")).as_array();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].at("kind").as_string(), "reconciliation_mismatch");

  auto h = call("GET", "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_TRUE(parse(h).at("stream_connected").as_bool());
  EXPECT_TRUE(parse(h).at("store_ok").as_bool());

  auto rec = call("POST", "/api/reconcile", R"({"fix":false})");
  EXPECT_EQ(rec.status, 200) << rec.body;
  EXPECT_EQ(parse(rec).at("position_mismatches").as_int64(), 1);
  EXPECT_EQ(call("POST", "/api/reconcile", R"({"fix":"yes"})").status, 400);

  auto m = call("GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.content_type.rfind("text/plain", 0), 0u);
  EXPECT_NE(m.body.find("orderly_submissions_total 3"), std::string::npos);
  EXPECT_NE(m.body.find("orderly_http_requests_total{route=\"GET /healthz\",code=\"200\"} 1"),
            std::string::npos)
      << m.body;
}

TEST_F(ApiTest, UnknownRoute404WrongMethod405BothJson) {
  auto r = call("GET", "/api/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(error_of(r).empty());
  r = call("PUT", "/api/trades");
  EXPECT_EQ(r.status, 405);
  EXPECT_FALSE(error_of(r).empty());
  r = call("POST", "/api/orders");
  EXPECT_EQ(r.status, 405);
  r = call("DELETE", "/healthz");
  EXPECT_EQ(r.status, 405);
}

// The route table keeps what the if-chain answered: Allow lists a path's methods in order, a
// path with several methods is counted under the path alone, one with a single method under it.
TEST_F(ApiTest, WrongMethodsGetTheirAllowListAndAreCountedByPath) {
  auto allow_of = [](const HttpResponse& r) {
    for (const auto& [k, v] : r.headers) {
      if (k == "Allow") return v;
    }
    return std::string();
  };
  struct Case {
    const char* method;
    const char* target;
    const char* allow;
  };
  for (const Case& c : {Case{"PUT", "/api/trades", "GET, POST"},
                        Case{"PUT", "/api/trades/3", "GET, DELETE, PATCH"},
                        Case{"POST", "/api/orders/7/audit", "GET"},
                        Case{"DELETE", "/api/reconcile", "POST"},
                        Case{"POST", "/", "GET, HEAD"}}) {
    auto r = call(c.method, c.target);
    EXPECT_EQ(r.status, 405) << c.target;
    EXPECT_EQ(allow_of(r), c.allow) << c.target;
  }
  EXPECT_EQ(call("GET", "/api/trades/1/orders").status, 404);
  EXPECT_EQ(call("GET", "/api/orders/7/audit/x").status, 404);
  EXPECT_EQ(call("GET", "/api").status, 404);
  const std::string m = call("GET", "/metrics").body;
  for (const char* line : {"route=\"/api/trades\",code=\"405\"} 1",
                           "route=\"/api/trades/ID\",code=\"405\"} 1",
                           "route=\"GET /api/orders/ID/audit\",code=\"405\"} 1",
                           "route=\"POST /api/reconcile\",code=\"405\"} 1",
                           "route=\"unmatched\",code=\"404\"} 3"}) {
    EXPECT_NE(m.find(line), std::string::npos) << line << "\n" << m;
  }
}

TEST_F(ApiTest, ServesTheEmbeddedDashboard) {
  auto r = call("GET", "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type.rfind("text/html", 0), 0u);
  EXPECT_NE(r.body.find("orderly"), std::string::npos);
  EXPECT_EQ(call("GET", "/app.js").status, 200);
}

}  // namespace
}  // namespace orderly::server
