// The trades Alpaca users place (issue 17) over real processes: `orderly sim` + `orderly run` on
// loopback. Each scenario is judged from the simulator's side: the orders it holds (type, prices,
// time in force) and its positions, covered by working exits where the trade asked for them.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "rig.h"

namespace orderly::testing {
namespace {
namespace json = boost::json;

constexpr const char* kToken = "orders-e2e-token-5d20a9";

class OrdersE2E : public SharedRigTest<OrdersE2E> {
 protected:
  static void SetUpTestSuite() {
    // Grace 0: a filled position without a working exit is raised at once, so a trade that
    // asked for no exits would be seen raising one if orderly still watched it.
    // One account serves every scenario of the suite, some twenty trades within ten seconds:
    // together they spend about 170 REST calls, and at Alpaca's 200 a minute a later test's
    // entry waited some 50 s for the window to roll (entries leave the last tenth of the budget
    // to protective work), longer than the test waits. The harness's reads of the simulator
    // take nothing from that window (X-Sim-Control). No scenario here is about the rate limit
    // (the engine's, the broker client's and the simulator's tests are), so the account's
    // minute is sized to the suite: 1000 calls at the simulator, a budget of 950.
    start_shared("orders-e2e", kToken,
                 {.broker_extra = "rate_limit_per_min = 950\n",
                  .extra = "[alerts]\nunprotected_grace_ms = 0\n",
                  .sim_args = {"--rate-limit", "1000"}});
  }
  // The simulator's open orders of `symbol` (legs nested), as JSON.
  static json::array open_orders(const std::string& symbol) {
    json::value v = sim().get_json("/v2/orders?status=open&nested=true&symbols=" + symbol);
    return v.is_array() ? v.as_array() : json::array{};
  }
  // How many orders the simulator has had of `symbol`, open or not.
  static std::size_t sim_orders_of(const std::string& symbol) {
    json::value all = sim().get_json("/v2/orders?status=all&limit=500&symbols=" + symbol);
    return all.is_array() ? all.as_array().size() : 0;
  }
  // The one open order of `symbol` (fails the test unless there is exactly one).
  static json::object only_open_order(const std::string& symbol) {
    json::array open = open_orders(symbol);
    EXPECT_EQ(open.size(), 1u) << json::serialize(open);
    return open.size() == 1 ? open[0].as_object() : json::object{};
  }
  static std::string field(const json::object& o, const char* key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) return "null";
    return v->is_string() ? std::string(v->as_string()) : json::serialize(*v);
  }
  // Each of `want`'s fields of `o` as expected, e.g. {"type", "stop"}.
  static void expect_fields(const json::object& o,
                            std::initializer_list<std::pair<const char*, const char*>> want) {
    for (const auto& [key, value] : want) {
      EXPECT_EQ(field(o, key), value) << key << " of " << json::serialize(o);
    }
  }
  // Each body (POST /api/trades) is answered 400 naming its rule.
  template <std::size_t N>
  static void expect_400s(const std::pair<const char*, const char*> (&cases)[N]) {
    for (const auto& [body, rule] : cases) {
      app::ApiReply r = rig_->call("POST", "/api/trades", body);
      EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
      EXPECT_NE(r.body.find(rule), std::string::npos) << body << " -> " << r.body;
    }
  }
  // Each body is answered 400 naming its rule; the simulator holds no order of `sim_symbol`.
  template <std::size_t N>
  static void expect_refused_before_the_broker(
      const std::pair<const char*, const char*> (&cases)[N], const std::string& sim_symbol) {
    expect_400s(cases);
    json::value all = sim().get_json("/v2/orders?status=all&symbols=" + sim_symbol);
    ASSERT_TRUE(all.is_array()) << json::serialize(all);
    EXPECT_TRUE(all.as_array().empty()) << json::serialize(all);
  }
  // The trade's orders are all at the broker (working or filled) and `symbol` is covered.
  static bool exits_working(const std::string& id, const char* symbol, const char* held) {
    const json::value v = rig_->get_json("/api/trades/" + id);
    if (!v.is_object() || !sim().protected_at(symbol, held)) return false;
    for (const auto& o : v.at("orders").as_array()) {
      const std::string state = field(o.as_object(), "state");
      if (state != "new" && state != "held" && state != "filled") return false;
    }
    return true;
  }
  // A market buy of `qty` at 10.00 whose OCO (11.00 / 9.00) works at the simulator (a modify
  // while the exits are still on their way is a 409 "ask again").
  static std::int64_t open_oco_working(const char* symbol, const char* qty) {
    set_price(symbol, "10.00");
    const std::int64_t t = rig_->open_trade(
        fmt::format(R"({{"symbol":"{}","qty":"{}","take_profit":{{"limit_price":"11.00"}},)"
                    R"("stop_loss":{{"stop_price":"9.00"}}}})",
                    symbol, qty));
    EXPECT_TRUE(eventually([&] { return exits_working(std::to_string(t), symbol, qty); }))
        << why(symbol);
    return t;
  }
  static std::string why(const std::string& symbol) {
    return sim().open_orders_text(symbol) + rig_->call("GET", "/api/orders?symbol=" + symbol).body +
           "\n" + rig_->logs();
  }
};

// A breakout: a buy stop above the market rests at the simulator until the price crosses it;
// then the position is covered by one OCO of the take-profit and the stop-loss.
TEST_F(OrdersE2E, StopEntryWaitsForTheBreakoutThenItsPositionIsProtected) {
  set_price("OEA", "10.00");
  const std::int64_t t = rig_->open_trade(
      R"({"symbol":"OEA","qty":"10","entry":{"type":"stop","stop_price":"10.50"},)"
      R"("take_profit":{"limit_price":"11.50"},"stop_loss":{"stop_price":"10.00"}})");
  ASSERT_TRUE(eventually([] { return open_orders("OEA").size() == 1; })) << why("OEA");
  expect_fields(only_open_order("OEA"),
                {{"type", "stop"}, {"stop_price", "10.50"}, {"time_in_force", "gtc"}});
  EXPECT_EQ(sim().held_and_covered("OEA").first, Decimal()) << "nothing bought before the break";

  set_price("OEA", "10.60");
  EXPECT_TRUE(eventually([&] {
    return sim().protected_at("OEA", "10") && rig_->trade_state(t) == "open";
  })) << why("OEA");
}

// A short opened by a stop-limit sell (a breakdown): the exits buy, one OCO above and below.
TEST_F(OrdersE2E, StopLimitShortEntryIsCoveredByBuySideExits) {
  set_price("OEB", "10.00");
  const std::int64_t t = rig_->open_trade(
      R"({"symbol":"OEB","side":"sell","qty":"5","tif":"day",)"
      R"("entry":{"type":"stop_limit","stop_price":"9.50","limit_price":"9.40"},)"
      R"("take_profit":{"limit_price":"8.50"},"stop_loss":{"stop_price":"10.00"}})");
  ASSERT_TRUE(eventually([] { return open_orders("OEB").size() == 1; })) << why("OEB");
  expect_fields(only_open_order("OEB"), {{"type", "stop_limit"}, {"side", "sell"},
                                         {"limit_price", "9.40"}, {"time_in_force", "day"}});

  set_price("OEB", "9.45");
  EXPECT_TRUE(eventually([&] {
    return sim().protected_at("OEB", "-5") && rig_->trade_state(t) == "open";
  })) << why("OEB");
  for (const auto& o : open_orders("OEB")) EXPECT_EQ(field(o.as_object(), "side"), "buy");
}

// $105 at $10.00 buys 10.5 shares: the stop-loss alone covers exactly what was bought, as the
// one simple day order Alpaca takes for a fractional position.
TEST_F(OrdersE2E, NotionalEntryIsProtectedForWhatItBought) {
  set_price("OEC", "10.00");
  const std::int64_t t = rig_->open_trade(
      R"({"symbol":"OEC","notional":"105","stop_loss":{"percent":"5"}})");
  ASSERT_TRUE(eventually([&] {
    return sim().protected_at("OEC", "10.5") && rig_->trade_state(t) == "open";
  })) << why("OEC");
  expect_fields(only_open_order("OEC"),
                {{"type", "stop"}, {"stop_price", "9.50"}, {"time_in_force", "day"}});
  const json::value trade = rig_->get_json("/api/trades/" + std::to_string(t));
  EXPECT_EQ(field(trade.as_object(), "notional"), "105") << json::serialize(trade);
  EXPECT_EQ(field(trade.as_object(), "qty"), "null") << json::serialize(trade);
}

// A short with a trailing stop (Alpaca's trailing_stop, exempt from the wash-trade check): the
// simulator trails it and covers the short when the price comes back up through it.
TEST_F(OrdersE2E, ShortWithATrailingStopIsCoveredWhenThePriceTurns) {
  set_price("OED", "20.00");
  const std::int64_t t = rig_->open_trade(
      R"({"symbol":"OED","side":"sell","qty":"5","stop_loss":{"trail_percent":"2"}})");
  ASSERT_TRUE(eventually([&] { return sim().protected_at("OED", "-5"); })) << why("OED");
  expect_fields(only_open_order("OED"),
                {{"type", "trailing_stop"}, {"side", "buy"}, {"trail_percent", "2"}});

  set_price("OED", "19.00");  // the trail follows down: stop 19.38
  set_price("OED", "19.50");  // through it: covered
  EXPECT_TRUE(eventually([&] {
    return sim().held_and_covered("OED").first == Decimal() && rig_->trade_state(t) == "closed";
  })) << why("OED");
}

// A take-profit alone rests as one sell limit; "exits": "none" leaves the position bare at the
// caller's request, and orderly does not report it as unprotected.
TEST_F(OrdersE2E, TakeProfitAloneAndNoExitsAtAll) {
  set_price("OEE", "10.00");
  set_price("OEF", "10.00");
  const std::int64_t tp_only =
      rig_->open_trade(R"({"symbol":"OEE","qty":"3","take_profit":{"limit_price":"10.50"}})");
  const std::int64_t bare = rig_->open_trade(R"({"symbol":"OEF","qty":"2","exits":"none"})");
  ASSERT_TRUE(eventually([&] {
    return sim().protected_at("OEE", "3") &&
           sim().held_and_covered("OEF").first == Decimal::from_int(2) &&
           rig_->trade_state(tp_only) == "open" && rig_->trade_state(bare) == "open";
  })) << why("OEE") << why("OEF");
  expect_fields(only_open_order("OEE"), {{"type", "limit"}, {"limit_price", "10.50"}});
  EXPECT_TRUE(open_orders("OEF").empty()) << why("OEF");
  EXPECT_EQ(rig_->alerts("unprotected_position", "OEF"), 0)
      << rig_->call("GET", "/api/alerts?all=true").body;
}

// What Alpaca would refuse is refused by orderly with the rule named; the simulator never sees it.
TEST_F(OrdersE2E, WhatAlpacaRefusesIsA400NamingTheRuleAndNeverReachesTheBroker) {
  set_price("OEG", "10.00");  // listed: its asset is read and allows all of these
  const std::pair<const char*, const char*> cases[] = {
      {R"({"symbol":"OEG","notional":"100","entry":{"type":"limit","limit_price":"10.00"},)"
       R"("take_profit":{"percent":"2"}})",
       "a notional entry must be a market order"},
      {R"({"symbol":"OEG","qty":"0.5","tif":"gtc","take_profit":{"percent":"2"}})",
       "fractional orders must be DAY orders"},
      {R"({"symbol":"OEG","qty":"2","extended_hours":true,"take_profit":{"percent":"2"}})",
       "extended_hours needs a limit entry with tif day"},
      {R"({"symbol":"OEG","qty":"2","take_profit":{"percent":"2"},)"
       R"("stop_loss":{"trail_percent":"1"}})",
       "trailing stop_loss cannot be combined with a take_profit"},
      {R"({"symbol":"OEG","qty":"2"})", "a trade needs a take_profit, a stop_loss or both"},
      {R"({"symbol":"OEG","side":"sell","qty":"0.5","stop_loss":{"percent":"2"}})",
       "Alpaca does not sell 0.5 shares short"},
  };
  expect_refused_before_the_broker(cases, "OEG");
}

// The CLI says the same trades: a stop-limit entry with its tif, and a trailing stop-loss.
TEST_F(OrdersE2E, TheCliOpensAStopLimitEntryAndATrailingStop) {
  set_price("OEH", "10.00");
  const RunResult r = run(rig_->cli(
      "trade open OEH --qty 4 --stop 10.50 --stop-limit 10.60 --tif day --sl trail:0.30"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("trade "), std::string::npos) << r.out;
  ASSERT_TRUE(eventually([] { return open_orders("OEH").size() == 1; })) << r.out << why("OEH");
  expect_fields(only_open_order("OEH"), {{"type", "stop_limit"}, {"stop_price", "10.50"},
                                         {"limit_price", "10.60"}, {"time_in_force", "day"}});
  set_price("OEH", "10.55");
  ASSERT_TRUE(eventually([] { return sim().protected_at("OEH", "4"); })) << why("OEH");
  const json::object exit = only_open_order("OEH");
  EXPECT_EQ(field(exit, "type"), "trailing_stop");
  EXPECT_EQ(Decimal::must(field(exit, "trail_price")), Decimal::must("0.30"));
}

// `trade cancel` cancels what has not filled: a resting entry goes, its trade ends canceled.
// With a position held it refuses (409, exit 1) and nothing changes at the broker; --flatten
// cancels the exits and sells at market.
TEST_F(OrdersE2E, CancelTakesWhatHasNotFilledAndRefusesAHeldPositionUnlessFlatten) {
  set_price("OEI", "10.00");
  set_price("OEJ", "10.00");
  const std::int64_t resting = rig_->open_trade(
      R"({"symbol":"OEI","qty":"5","entry":{"type":"limit","limit_price":"5.00"},)"
      R"("stop_loss":{"stop_price":"4.50"}})");
  const std::int64_t held = rig_->open_trade(
      R"({"symbol":"OEJ","qty":"3","take_profit":{"limit_price":"11.00"},)"
      R"("stop_loss":{"stop_price":"9.00"}})");
  ASSERT_TRUE(eventually([&] {
    return open_orders("OEI").size() == 1 && sim().protected_at("OEJ", "3");
  })) << why("OEI") << why("OEJ");

  RunResult r = run(rig_->cli("trade cancel " + std::to_string(resting)));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(eventually([&] {
    return open_orders("OEI").empty() && rig_->trade_state(resting) == "canceled";
  })) << why("OEI");

  r = run(rig_->cli("trade cancel " + std::to_string(held)));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("holds 3 OEJ"), std::string::npos) << r.err;
  EXPECT_TRUE(sim().protected_at("OEJ", "3")) << why("OEJ");
  EXPECT_EQ(rig_->trade_state(held), "open");

  r = run(rig_->cli("trade cancel " + std::to_string(held) + " --flatten"));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(eventually([&] {
    return sim().held_and_covered("OEJ").first == Decimal() && open_orders("OEJ").empty() &&
           rig_->trade_state(held) == "closed";
  })) << why("OEJ");
}

// `trade close` on a short: its buy-side exits canceled, then bought back at market.
TEST_F(OrdersE2E, CloseBuysBackAShort) {
  set_price("OEK", "10.00");
  const std::int64_t t = rig_->open_trade(
      R"({"symbol":"OEK","side":"sell","qty":"4","stop_loss":{"stop_price":"11.00"}})");
  ASSERT_TRUE(eventually([] { return sim().protected_at("OEK", "-4"); })) << why("OEK");
  const RunResult r = run(rig_->cli("trade close " + std::to_string(t)));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(eventually([&] {
    return sim().held_and_covered("OEK").first == Decimal() && open_orders("OEK").empty() &&
           rig_->trade_state(t) == "closed";
  })) << why("OEK");
}

// `close-all` asks for --yes, then flattens every open trade, long and short.
TEST_F(OrdersE2E, CloseAllFlattensEveryOpenTrade) {
  set_price("OEL", "10.00");
  set_price("OEM", "10.00");
  const std::int64_t a =
      rig_->open_trade(R"({"symbol":"OEL","qty":"2","take_profit":{"percent":"5"}})");
  const std::int64_t b = rig_->open_trade(
      R"({"symbol":"OEM","side":"sell","qty":"3","stop_loss":{"percent":"5"}})");
  ASSERT_TRUE(eventually([] {
    return sim().protected_at("OEL", "2") && sim().protected_at("OEM", "-3");
  })) << why("OEL") << why("OEM");
  RunResult r = run(rig_->cli("close-all"));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(sim().protected_at("OEL", "2"));
  r = run(rig_->cli("close-all --yes"));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(eventually([&] {
    return sim().held_and_covered("OEL").first == Decimal() &&
           sim().held_and_covered("OEM").first == Decimal() && open_orders("OEL").empty() &&
           open_orders("OEM").empty() && rig_->trade_state(a) == "closed" &&
           rig_->trade_state(b) == "closed";
  })) << why("OEL") << why("OEM");
}


// ---- crypto (issue 17 item 3) ----

// Every audit of orderly's orders of `symbol` (its events carry the broker's error bodies).
std::string audits_of(const Rig& rig, const std::string& encoded_symbol) {
  std::string all;
  json::value orders = rig.get_json("/api/orders?symbol=" + encoded_symbol);
  if (!orders.is_array() || orders.as_array().empty()) {
    return "no orders: " + json::serialize(orders);
  }
  for (const json::value& o : orders.as_array()) {
    const json::value& id = o.as_object().at("id");
    const std::string ref = id.is_string() ? std::string(id.as_string()) : json::serialize(id);
    all += rig.call("GET", "/api/orders/" + ref + "/audit").body + "\n";
  }
  return all;
}

// A crypto buy pays its 0.25% fee in coins: 0.01 BTC filled leaves 0.009975 in the position.
// The take-profit sells exactly that (an exit of 0.01 would be refused with 40310000
// `insufficient qty available`, the founding incident), fills, and leaves the account flat
// with no dust: the simulator's fee is the 0.25% orderly allows for (engine/crypto.h).
TEST_F(OrdersE2E, CryptoExitSellsWhatTheFeeLeftAndTheTradeEndsFlat) {
  set_price("BTC/USD", "60000.00");
  const std::int64_t t = rig_->open_trade(
      R"({"symbol":"BTC/USD","qty":"0.01","take_profit":{"limit_price":"61000.00"}})");
  ASSERT_TRUE(eventually([&] {
    return sim().protected_at("BTC/USD", "0.009975") && rig_->trade_state(t) == "open";
  })) << why("BTC%2FUSD");
  const json::object exit = only_open_order("BTCUSD");
  expect_fields(exit, {{"type", "limit"}, {"side", "sell"}, {"limit_price", "61000.00"},
                       {"time_in_force", "gtc"}, {"asset_class", "crypto"}});
  EXPECT_EQ(Decimal::must(field(exit, "qty")), Decimal::must("0.009975"));
  json::value entries = sim().get_json("/v2/orders?status=closed&symbols=BTCUSD");
  ASSERT_TRUE(entries.is_array() && entries.as_array().size() == 1u) << json::serialize(entries);
  const json::object entry = entries.as_array()[0].as_object();
  expect_fields(entry, {{"side", "buy"}, {"status", "filled"}, {"time_in_force", "gtc"}});
  EXPECT_EQ(Decimal::must(field(entry, "filled_qty")), Decimal::must("0.01"))
      << "the order filled 0.01; the position holds less";

  set_price("BTC/USD", "61000.00");
  EXPECT_TRUE(eventually([&] {
    return sim().call("GET", "/v2/positions/BTCUSD").status == 404 &&
           open_orders("BTCUSD").empty() && rig_->trade_state(t) == "closed";
  })) << why("BTC%2FUSD");
  const std::string audits = audits_of(*rig_, "BTC%2FUSD");
  EXPECT_NE(audits.find("exit for 0.009975000 held (crypto: one simple gtc order)"),
            std::string::npos)
      << audits;
  EXPECT_EQ(audits.find("40310000"), std::string::npos) << audits;
  EXPECT_EQ(audits.find("insufficient qty"), std::string::npos) << audits;
  // orderly's ledger counts what was received, so it ends flat beside the broker.
  json::value positions = rig_->get_json("/api/positions");
  ASSERT_TRUE(positions.is_array()) << json::serialize(positions);
  for (const json::value& p : positions.as_array()) {
    if (field(p.as_object(), "symbol") != "BTC/USD") continue;
    EXPECT_TRUE(Decimal::must(field(p.as_object(), "local_qty")).is_zero())
        << json::serialize(positions);
  }
}

// A crypto stop-loss is a stop_limit (Alpaca takes no plain stop for crypto), 1% of room below
// the stop, gtc, for what the position holds; when the price falls through it, it sells all.
TEST_F(OrdersE2E, CryptoStopLossIsAStopLimitForThePositionAndSellsItAll) {
  set_price("ETH/USD", "3000.00");
  const std::int64_t t = rig_->open_trade(
      R"({"symbol":"ETH/USD","qty":"0.5","take_profit":{"limit_price":"3300.00"},)"
      R"("stop_loss":{"stop_price":"2900.00"}})");
  ASSERT_TRUE(eventually([&] {
    return sim().protected_at("ETH/USD", "0.49875") && rig_->trade_state(t) == "open";
  })) << why("ETH%2FUSD");
  const json::object stop = only_open_order("ETHUSD");
  expect_fields(stop, {{"type", "stop_limit"}, {"side", "sell"}, {"stop_price", "2900.00"},
                       {"limit_price", "2871.00"}, {"time_in_force", "gtc"}});
  EXPECT_EQ(Decimal::must(field(stop, "qty")), Decimal::must("0.49875"));

  set_price("ETH/USD", "2890.00");
  EXPECT_TRUE(eventually([&] {
    return sim().call("GET", "/v2/positions/ETHUSD").status == 404 &&
           open_orders("ETHUSD").empty() && rig_->trade_state(t) == "closed";
  })) << why("ETH%2FUSD");
  const std::string audits = audits_of(*rig_, "ETH%2FUSD");
  EXPECT_EQ(audits.find("40310000"), std::string::npos) << audits;
}

// With both exits a crypto position still has one exit at a time (no OCO for crypto): the
// stop_limit rests until the broker's price reaches the take-profit; then the stop makes way for
// the take-profit limit, which fills, and the trade ends flat.
TEST_F(OrdersE2E, CryptoTakeProfitReplacesTheStopOnceThePriceReachesIt) {
  set_price("ETH/USD", "3000.00");
  const std::int64_t t = rig_->open_trade(
      R"({"symbol":"ETH/USD","qty":"0.2","take_profit":{"limit_price":"3300.00"},)"
      R"("stop_loss":{"percent":"5"}})");
  ASSERT_TRUE(eventually([&] { return sim().protected_at("ETH/USD", "0.1995"); }))
      << why("ETH%2FUSD");
  expect_fields(only_open_order("ETHUSD"), {{"type", "stop_limit"}, {"stop_price", "2850.00"}});

  set_price("ETH/USD", "3310.00");
  ASSERT_TRUE(eventually([&] {
    return sim().call("GET", "/v2/positions/ETHUSD").status == 404 &&
           open_orders("ETHUSD").empty() && rig_->trade_state(t) == "closed";
  })) << why("ETH%2FUSD");
  json::value closed = sim().get_json("/v2/orders?status=closed&symbols=ETHUSD&limit=3");
  ASSERT_TRUE(closed.is_array() && closed.as_array().size() == 3u) << json::serialize(closed);
  const json::object tp = closed.as_array()[0].as_object();  // newest first
  expect_fields(tp, {{"type", "limit"}, {"side", "sell"}, {"limit_price", "3300.00"},
                     {"status", "filled"}, {"time_in_force", "gtc"}});
  EXPECT_EQ(Decimal::must(field(tp, "filled_qty")), Decimal::must("0.1995"));
  expect_fields(closed.as_array()[1].as_object(), {{"type", "stop_limit"}, {"status", "canceled"}});
  const std::string audits = audits_of(*rig_, "ETH%2FUSD");
  EXPECT_NE(audits.find("reached the take-profit 3300.00: the stop makes way"), std::string::npos)
      << audits;
  EXPECT_EQ(audits.find("40310000"), std::string::npos) << audits;
}

// Alpaca's crypto rules are refused by orderly first, each named; the simulator sees nothing.
TEST_F(OrdersE2E, CryptoRulesAreRefusedBeforeTheBroker) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"symbol":"SOL/USD","qty":"1","tif":"day","take_profit":{"percent":"2"}})",
       "crypto takes tif gtc or ioc, not day"},
      {R"({"symbol":"SOL/USD","qty":"1","entry":{"type":"stop","stop_price":"160.00"},)"
       R"("take_profit":{"percent":"2"}})",
       "Alpaca takes no plain stop order for crypto"},
      {R"({"symbol":"SOL/USD","side":"sell","qty":"1","stop_loss":{"percent":"2"}})",
       "cannot be sold short"},
      {R"({"symbol":"SOL/USD","qty":"1","exits":"native","take_profit":{"limit_price":"160"},)"
       R"("stop_loss":{"stop_price":"140"}})",
       "native exits (bracket) are not taken for crypto"},
      {R"({"symbol":"SOL/USD","qty":"1","stop_loss":{"trail_percent":"2"}})",
       "no trailing stop for crypto"},
  };
  expect_refused_before_the_broker(cases, "SOLUSD");

  // The CLI takes the pair as Alpaca writes it; its tif defaults to gtc for crypto.
  set_price("SOL/USD", "150.00");
  RunResult r = run(rig_->cli("trade open SOL/USD --qty 0.5 --tp 160"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(eventually([] { return sim().protected_at("SOL/USD", "0.49875"); }))
      << why("SOL%2FUSD");
  r = run(rig_->cli("orders --symbol SOL/USD"));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("take_profit"), std::string::npos) << r.out;
}

// A crypto pair's sizes are its asset's (GET /v2/assets/{symbol}: min_order_size,
// min_trade_increment, price_increment). orderly reads them from the broker and refuses what
// the broker would, the rule and the figures named, before anything is sent; a buy whose coins
// after the fee could not be sold again is refused too. The least buy it names is taken, and its
// exit, for what the fee left, works at the simulator.
TEST_F(OrdersE2E, CryptoSizesOfTheBrokersAssetAreRefusedFirst) {
  set_price("ETH/USD", "3000.00");
  const std::size_t before = sim_orders_of("ETHUSD");
  const std::pair<const char*, const char*> cases[] = {
      {R"({"symbol":"ETH/USD","qty":"0.0005","take_profit":{"limit_price":"3300.00"}})",
       "qty 0.0005 is below ETH/USD's minimum order size 0.001 (the broker's asset: "
       "min_order_size)"},
      {R"({"symbol":"ETH/USD","qty":"0.0010000001","take_profit":{"limit_price":"3300.00"}})",
       "qty 0.0010000001 is not a multiple of ETH/USD's quantity increment 0.000000001"},
      {R"({"symbol":"ETH/USD","qty":"0.001","take_profit":{"limit_price":"3300.00"}})",
       "qty 0.001 of ETH/USD leaves 0.000997500 after the fee of up to 0.25% taken in coins, "
       "below the minimum order size 0.001: its exits could not be placed (buy at least "
       "0.001002507, or send"},
  };
  expect_400s(cases);
  EXPECT_EQ(sim_orders_of("ETHUSD"), before) << "nothing reached the broker";

  // At 10,000 a coin the least buy is worth 10.03 USD, over Alpaca's least crypto order value
  // (a limit entry: orderly's last fill of the pair, at 3,300, would judge a market one).
  set_price("ETH/USD", "10000.00");
  const std::int64_t t = rig_->open_trade(
      R"({"symbol":"ETH/USD","qty":"0.001002507",)"
      R"("entry":{"type":"limit","limit_price":"10000.00"},)"
      R"("take_profit":{"limit_price":"11000.00"}})");
  ASSERT_TRUE(eventually([&] {
    return sim().protected_at("ETH/USD", "0.001") && rig_->trade_state(t) == "open";
  })) << why("ETH%2FUSD");
  EXPECT_EQ(Decimal::must(field(only_open_order("ETHUSD"), "qty")), Decimal::must("0.001"));
  set_price("ETH/USD", "11000.00");
  EXPECT_TRUE(eventually([&] { return rig_->trade_state(t) == "closed"; })) << why("ETH%2FUSD");
}

// The asset is read from the broker once per symbol. While it cannot be read, that symbol's
// trades are refused with 503 naming the failure (never taken unchecked), and the rest trade on;
// once the broker answers, the pair trades. A pair the broker does not list is a 400.
TEST_F(OrdersE2E, AnAssetThatCannotBeReadHoldsUpOnlyItsOwnPair) {
  set_price("DOGE/USD", "0.2000");  // the simulator lists a new pair, crypto
  set_price("OEQ", "10.00");
  ASSERT_EQ(sim().call("POST", "/sim/faults",
                       R"({"rules":[{"on":"http","action":"status","status":500,)"
                       R"("route":"GET /v2/assets/{symbol}","symbol":"DOGEUSD"}]})")
                .status,
            200);
  const std::string doge =
      R"({"symbol":"DOGE/USD","qty":"100","take_profit":{"limit_price":"0.2100"}})";
  app::ApiReply r = rig_->call("POST", "/api/trades", doge);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("could not read DOGE/USD's asset from the broker"), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("HTTP 500"), std::string::npos) << r.body;
  EXPECT_EQ(sim_orders_of("DOGEUSD"), 0u);
  const std::int64_t equity =
      rig_->open_trade(R"({"symbol":"OEQ","qty":"2","take_profit":{"limit_price":"11.00"}})");
  EXPECT_TRUE(eventually([] { return sim().protected_at("OEQ", "2"); })) << why("OEQ");
  EXPECT_EQ(rig_->trade_state(equity), "open");

  ASSERT_EQ(sim().call("POST", "/sim/faults", R"({"rules":[]})").status, 200);
  const std::int64_t t = rig_->open_trade(doge);
  EXPECT_TRUE(eventually([&] {
    return sim().protected_at("DOGE/USD", "99.75") && rig_->trade_state(t) == "open";
  })) << why("DOGE%2FUSD");
  r = rig_->call("POST", "/api/trades",
                 R"({"symbol":"XRP/USD","qty":"10","take_profit":{"limit_price":"0.6000"}})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("XRP/USD is not an asset at the broker"), std::string::npos) << r.body;
}

// An equity's asset says what Alpaca refuses of its orders (GET /v2/assets/{symbol}:
// tradable, status, fractionable, shortable, borrow_status, attributes), as the simulator
// serves and enforces them (POST /sim/assets). orderly reads the asset once and refuses each
// first, the rule and the symbol named; the simulator holds no order of them. What the asset
// allows is taken and protected.
TEST_F(OrdersE2E, AnEquitysAssetRulesAreRefusedBeforeTheBroker) {
  const auto symbols = {"OAT", "OAI", "OAF", "OAS", "OAH", "OAE"};
  for (const char* symbol : symbols) set_price(symbol, "20.00");
  ASSERT_EQ(sim()
                .call("POST", "/sim/assets",
                      R"({"OAT":{"tradable":false},"OAI":{"status":"inactive"},)"
                      R"("OAF":{"fractionable":false},"OAS":{"shortable":false},)"
                      R"("OAH":{"borrow_status":"hard_to_borrow"},)"
                      R"("OAE":{"fractional_eh_enabled":false}})")
                .status,
            200);
  const std::pair<const char*, const char*> cases[] = {
      {R"({"symbol":"OAT","qty":"2","take_profit":{"percent":"2"}})",
       "OAT is not tradable at the broker (its asset: tradable false, status active; Alpaca: "
       "asset "},
      {R"({"symbol":"OAI","qty":"2","take_profit":{"percent":"2"}})",
       "OAI is not tradable at the broker (its asset: tradable true, status inactive"},
      {R"({"symbol":"OAF","qty":"0.5","tif":"day","take_profit":{"percent":"2"}})",
       "OAF is not fractionable at the broker (its asset: fractionable false), so a fractional "
       "qty 0.5 entry is refused there"},
      {R"({"symbol":"OAF","notional":"100","tif":"day","take_profit":{"percent":"2"}})",
       "a notional 100 USD entry is refused there"},
      {R"({"symbol":"OAS","side":"sell","qty":"3","stop_loss":{"percent":"2"}})",
       "OAS cannot be sold short at the broker (its asset: shortable false)"},
      {R"({"symbol":"OAH","side":"sell","qty":"3","tif":"day","stop_loss":{"percent":"2"}})",
       "only against a locate, which orderly does not take"},
      {R"({"symbol":"OAH","qty":"3","take_profit":{"percent":"2"}})",
       "OAH is hard to borrow at the broker (its asset: borrow_status hard_to_borrow), and Alpaca "
       "takes only day orders on it"},
      {R"({"symbol":"OAH","qty":"3","take_profit":{"percent":"2"}})", "this entry is tif gtc"},
      {R"({"symbol":"OAH","qty":"3","tif":"day","take_profit":{"percent":"2"}})",
       "this trade's exits would be gtc"},
      {R"({"symbol":"OAE","qty":"0.5","tif":"day","extended_hours":true,)"
       R"("entry":{"type":"limit","limit_price":"20.00"},"take_profit":{"limit_price":"21.00"}})",
       "OAE takes no fractional orders in extended hours at the broker"},
  };
  expect_400s(cases);
  for (const char* symbol : symbols) {
    EXPECT_EQ(sim_orders_of(symbol), 0u) << symbol << " reached the broker";
  }
  set_price("OAD", "20.00");
  const app::ApiReply dollar = rig_->call("POST", "/api/trades",
                                          R"({"symbol":"OAD","notional":"0.50","tif":"day",)"
                                          R"("take_profit":{"percent":"2"}})");
  EXPECT_EQ(dollar.status, 400) << dollar.body;
  EXPECT_NE(dollar.body.find("notional amount must be >= 1.00"), std::string::npos) << dollar.body;

  // Whole shares of the asset that is not fractionable, and a day trade of the hard-to-borrow
  // asset whose exits are its day bracket: taken, protected, and closed at their take-profits
  // (so that the suite's later trades do not share the rate budget with them).
  const std::int64_t f =
      rig_->open_trade(R"({"symbol":"OAF","qty":"2","take_profit":{"limit_price":"21.00"}})");
  const std::int64_t h = rig_->open_trade(
      R"({"symbol":"OAH","qty":"4","tif":"day","exits":"native",)"
      R"("take_profit":{"limit_price":"21.00"},"stop_loss":{"stop_price":"19.00"}})");
  EXPECT_TRUE(eventually([&] {
    return sim().protected_at("OAF", "2") && sim().protected_at("OAH", "4");
  })) << why("OAF")
      << why("OAH");
  set_price("OAF", "21.00");
  set_price("OAH", "21.00");
  EXPECT_TRUE(eventually([&] {
    return rig_->trade_state(f) == "closed" && rig_->trade_state(h) == "closed";
  })) << why("OAF")
      << why("OAH");
}

// A crypto notional, or a limit entry's qty at its limit, is refused under Alpaca's least crypto
// order value (10 USD, which no asset states), and a notional off the cent, the figures named;
// the simulator holds no order of the pair.
TEST_F(OrdersE2E, ACryptoEntryUnderTheLeastOrderValueIsRefusedFirst) {
  set_price("SOL/USD", "150.00");
  const std::size_t before = sim_orders_of("SOLUSD");
  const std::pair<const char*, const char*> cases[] = {
      {R"({"symbol":"SOL/USD","notional":"5","take_profit":{"percent":"2"}})",
       "notional 5 of SOL/USD is below Alpaca's least crypto order value, 10 USD (the broker "
       "answers "},
      {R"({"symbol":"SOL/USD","notional":"12.345","take_profit":{"percent":"2"}})",
       "notional 12.345 of SOL/USD is not in whole cents"},
      {R"({"symbol":"SOL/USD","qty":"0.03","entry":{"type":"limit","limit_price":"150.00"},)"
       R"("take_profit":{"percent":"2"}})",
       "qty 0.03 of SOL/USD at its limit 150.00 is worth 4.50 USD, below Alpaca's least crypto "
       "order value, 10 USD"},
  };
  expect_400s(cases);
  EXPECT_EQ(sim_orders_of("SOLUSD"), before) << "nothing reached the broker";
}

// A stop_limit entry can fill at its stop: a stop-loss between its stop and its limit, which
// a percent take-profit resolved at the stop would cross, is refused when the trade is opened
// (before, the trade was taken and its OCO refused by the broker at the fill). A limit entry's
// mixed pair is judged at its limit.
TEST_F(OrdersE2E, AMixedPairThatCrossesAtTheEntrysPriceIsRefusedAtCreation) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"symbol":"OER","qty":"3","tif":"day",)"
       R"("entry":{"type":"stop_limit","stop_price":"10.00","limit_price":"10.20"},)"
       R"("take_profit":{"percent":"0.5"},"stop_loss":{"stop_price":"10.06"}})",
       "stop_loss 10.06 must be below the entry stop 10.00 for a buy: the stop_limit entry can "
       "fill at its stop, where the stop-loss is already crossed; its take_profit 0.5% resolves "
       "to 10.05 there, across the stop-loss"},
      {R"({"symbol":"OER","qty":"3","entry":{"type":"limit","limit_price":"10.00"},)"
       R"("take_profit":{"percent":"2"},"stop_loss":{"stop_price":"10.00"}})",
       "stop_loss 10.00 must be below the entry limit 10.00 for a buy"},
      {R"({"symbol":"OER","side":"sell","qty":"3","entry":{"type":"limit","limit_price":"10.00"},)"
       R"("take_profit":{"limit_price":"10.10"},"stop_loss":{"percent":"1"}})",
       "take_profit 10.10 must be below the entry limit 10.00 for a sell"},
  };
  expect_refused_before_the_broker(cases, "OER");
}

// A market entry has no price before its fill, so a mixed pair (one target a price, the other a
// percent of the fill) can only be judged once filled. Given a take-profit the fill has already
// passed, the pair crosses there: the OCO orderly sends is refused by the broker, named in an
// order_parked alert, and the position raises unprotected_position (README "Trade rules"),
// until the trader moves a target (`trade modify`) or closes it.
TEST_F(OrdersE2E, AMarketEntrysMixedPairThatCrossesAtTheFillIsRaised) {
  set_price("OET", "10.00");
  const std::int64_t t = rig_->open_trade(
      R"({"symbol":"OET","qty":"2","take_profit":{"limit_price":"9.50"},)"
      R"("stop_loss":{"percent":"2"}})");
  std::string alerts;
  EXPECT_TRUE(eventually([&] {
    alerts = rig_->call("GET", "/api/alerts").body;
    return alerts.find("OET exit refused by the broker") != std::string::npos &&
           alerts.find("take_profit.limit_price must be above stop_loss.stop_price") !=
               std::string::npos;
  })) << alerts << why("OET");
  EXPECT_EQ(rig_->trade_state(t), "open");
  EXPECT_FALSE(sim().protected_at("OET", "2")) << why("OET");
  // The way out: `trade close` sells the position at market.
  const RunResult r = run(rig_->cli("trade close " + std::to_string(t)));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(eventually([&] {
    return sim().held_and_covered("OET").first == Decimal() && rig_->trade_state(t) == "closed";
  })) << why("OET");
}

// `trade modify` moves an OCO's take-profit and stop. Alpaca replaces both (PATCH
// /v2/orders/{id}): at every read of the simulator during the change the position is covered,
// and the new prices are the broker's. What would cross the market is refused with the rule
// named; the moved stop is the one that works; a closed trade's exits no longer change.
TEST_F(OrdersE2E, ModifyReplacesTheExitsAtTheBrokerAndNeverUncoversThePosition) {
  const std::int64_t t = open_oco_working("OEN", "6");
  const std::string id = std::to_string(t);

  RunResult r = run(rig_->cli("trade modify " + id + " --sl 10.20"));
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("stop_loss 10.20 must be below the market 10"), std::string::npos) << r.err;

  r = run(rig_->cli("trade modify " + id + " --tp 11.40 --sl 9.60"));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("exits modified: take-profit 11.40, stop 9.60"), std::string::npos)
      << r.out;
  int uncovered_reads = 0;
  const auto prices_are = [&](const char* tp, const char* sl) {
    if (!sim().protected_at("OEN", "6")) ++uncovered_reads;
    const json::array open = open_orders("OEN");
    if (open.size() != 1) return false;
    const json::object& oco = open[0].as_object();
    const json::value* legs = oco.if_contains("legs");
    return field(oco, "limit_price") == tp && legs && legs->is_array() &&
           legs->as_array().size() == 1 &&
           field(legs->as_array()[0].as_object(), "stop_price") == sl;
  };
  EXPECT_TRUE(eventually([&] { return prices_are("11.40", "9.60"); })) << why("OEN");
  EXPECT_EQ(uncovered_reads, 0) << "a read of the simulator found the position uncovered";

  set_price("OEN", "9.55");  // through the new stop, not the old one
  EXPECT_TRUE(eventually([&] {
    return sim().held_and_covered("OEN").first == Decimal() && rig_->trade_state(t) == "closed";
  })) << why("OEN");
  r = run(rig_->cli("trade modify " + id + " --sl 9.00"));
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("is closed: its exits can no longer change"), std::string::npos) << r.err;
}

// The broker refuses a modify's replaces (422, for a reason orderly could not check first): the
// PATCH was taken (202) before the broker answered, so the trade's view is where the refusal
// shows. Its targets go back to the exits that work, its note names the refusal, the refused
// replacement is in its orders as submit_failed, and the simulator's OCO is the old one.
TEST_F(OrdersE2E, ARefusedModifyShowsTheExitsThatWorkAndTheRefusal) {
  const std::int64_t t = open_oco_working("OEO", "4");
  const std::string id = std::to_string(t);
  ASSERT_EQ(sim().call("POST", "/sim/faults",
                       R"({"rules":[{"on":"http","action":"status","status":422,)"
                       R"("route":"PATCH /v2/orders/{id}"}]})")
                .status,
            200);
  app::ApiReply r = rig_->call("PATCH", "/api/trades/" + id,
                               R"({"take_profit":{"limit_price":"11.50"},)"
                               R"("stop_loss":{"stop_price":"9.60"}})");
  EXPECT_EQ(r.status, 202) << r.body;
  json::object trade;
  EXPECT_TRUE(eventually([&] {
    const json::value v = rig_->get_json("/api/trades/" + id);
    if (!v.is_object()) return false;
    trade = v.as_object();
    return field(trade, "note").find("refused by the broker") != std::string::npos &&
           field(trade.at("stop_loss").as_object(), "stop_price") == "9.00";
  })) << json::serialize(trade) << why("OEO");
  EXPECT_EQ(field(trade.at("take_profit").as_object(), "limit_price"), "11.00");
  EXPECT_NE(field(trade, "note").find("working take-profit 11.00, stop 9.00"), std::string::npos)
      << field(trade, "note");
  int refused = 0;
  for (const auto& o : trade.at("orders").as_array()) {
    refused += field(o.as_object(), "state") == "submit_failed" ? 1 : 0;
  }
  EXPECT_GE(refused, 1) << json::serialize(trade);
  const json::object oco = only_open_order("OEO");
  expect_fields(oco, {{"limit_price", "11.00"}});
  ASSERT_EQ(sim().call("POST", "/sim/faults", R"({"rules":[]})").status, 200);
  EXPECT_TRUE(sim().protected_at("OEO", "4")) << why("OEO");
}

// ---- a long-only account (`orderly sim --no-short`) ----

class OrdersNoShortE2E : public SharedRigTest<OrdersNoShortE2E> {
 protected:
  static void SetUpTestSuite() {
    // Positions read every second, so that a long bought by another client is seen at once.
    start_shared("orders-no-short-e2e", kToken,
                 {.sync_extra = "positions_interval_ms = 1000\n", .sim_args = {"--no-short"}});
  }
  static std::size_t sim_orders_of(const std::string& symbol) {
    json::value all = sim().get_json("/v2/orders?status=all&limit=500&symbols=" + symbol);
    return all.is_array() ? all.as_array().size() : 0;
  }
  static bool broker_long_seen(const std::string& symbol, const char* qty) {
    const json::value v = rig_->get_json("/api/positions");
    if (!v.is_array()) return false;
    for (const json::value& p : v.as_array()) {
      const json::object& o = p.as_object();
      if (o.at("symbol") == symbol.c_str() && o.at("broker_qty").is_string() &&
          Decimal::must(std::string_view(o.at("broker_qty").as_string())) == Decimal::must(qty)) {
        return true;
      }
    }
    return false;
  }
};

// The account says shorting_enabled false; its assets stay shortable. A sell entry that would
// open a short is refused by orderly naming the rule, through the API and the CLI, and the
// simulator never sees it; while the account cannot be read it is a 503 (never taken unchecked).
// A buy trades on; a sell that a long at the broker covers is no short, and is taken.
TEST_F(OrdersNoShortE2E, AShortIsRefusedFirstOnALongOnlyAccount) {
  set_price("ONS", "20.00");
  set_price("ONL", "20.00");
  const json::value account = sim().get_json("/v2/account");
  ASSERT_TRUE(account.is_object()) << json::serialize(account);
  EXPECT_EQ(account.at("shorting_enabled"), false);
  EXPECT_EQ(sim().get_json("/v2/assets/ONS").at("shortable"), true);
  const std::string short_ons =
      R"({"symbol":"ONS","side":"sell","qty":"3","stop_loss":{"stop_price":"21.00"}})";

  ASSERT_EQ(sim().call("POST", "/sim/faults",
                       R"({"rules":[{"on":"http","action":"status","status":500,)"
                       R"("route":"GET /v2/account"}]})")
                .status,
            200);
  app::ApiReply r = rig_->call("POST", "/api/trades", short_ons);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("could not read the account from the broker"), std::string::npos)
      << r.body;
  ASSERT_EQ(sim().call("POST", "/sim/faults", R"({"rules":[]})").status, 200);

  r = rig_->call("POST", "/api/trades", short_ons);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("the account may not sell short (the broker's account: "
                        "shorting_enabled false"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("this sell entry of 3 ONS opens a short"), std::string::npos) << r.body;
  const RunResult cli = run(rig_->cli("trade open ONS --qty 3 --side sell --sl 21.00"));
  EXPECT_EQ(cli.exit_code, 2) << cli.out << cli.err;  // a refused request
  EXPECT_NE(cli.err.find("(Alpaca: account is not allowed to short)"), std::string::npos)
      << cli.err;
  EXPECT_EQ(sim_orders_of("ONS"), 0u) << "nothing reached the broker";

  const std::int64_t buy =
      rig_->open_trade(R"({"symbol":"ONS","qty":"2","take_profit":{"limit_price":"21.00"}})");
  EXPECT_TRUE(eventually([] { return sim().protected_at("ONS", "2"); }))
      << sim().open_orders_text("ONS") << rig_->logs();
  EXPECT_EQ(rig_->trade_state(buy), "open");

  // Another client of the account buys 5 ONL; orderly's sell of 3 closes part of that long.
  ASSERT_EQ(sim().call("POST", "/v2/orders",
                       R"({"symbol":"ONL","qty":"5","side":"buy","type":"market",)"
                       R"("time_in_force":"day"})")
                .status,
            200);
  ASSERT_TRUE(eventually([] { return broker_long_seen("ONL", "5"); }))
      << rig_->call("GET", "/api/positions").body;
  const std::int64_t sell =
      rig_->open_trade(R"({"symbol":"ONL","side":"sell","qty":"3","exits":"none"})");
  EXPECT_NE(sell, 0);
  EXPECT_TRUE(eventually([] {
    return sim().held_and_covered("ONL").first == Decimal::from_int(2);
  })) << sim().open_orders_text("ONL") << rig_->logs();
}

// Only the part of a sell entry below zero is a short. A long another client bought is sold
// out by orderly on the long-only account, in steps (3, a fractional 0.5, the last 1.5), each
// taken the moment it is asked (the broker's position is read before any refusal); a sell
// beyond what is held is refused naming how far below zero it goes, through the API and the
// CLI, and the simulator never sees it.
TEST_F(OrdersNoShortE2E, ASellWithinAHeldLongIsTakenOnlyThePartBelowZeroIsRefused) {
  set_price("ONH", "20.00");
  ASSERT_EQ(sim().call("POST", "/v2/orders",
                       R"({"symbol":"ONH","qty":"5","side":"buy","type":"market",)"
                       R"("time_in_force":"day"})")
                .status,
            200);
  const auto onh_held = [](const char* qty) {
    return eventually([qty] { return sim().held_and_covered("ONH").first == Decimal::must(qty); });
  };
  ASSERT_TRUE(onh_held("5"));
  const auto sell = [](const char* qty, const char* tif) {
    return rig_->call("POST", "/api/trades",
                      std::string(R"({"symbol":"ONH","side":"sell","exits":"none","qty":")") +
                          qty + R"(","tif":")" + tif + R"("})");
  };
  app::ApiReply r = sell("3", "gtc");
  EXPECT_EQ(r.status, 201) << r.body;
  ASSERT_TRUE(onh_held("2")) << sim().open_orders_text("ONH") << rig_->logs();

  r = sell("4", "gtc");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("this sell entry of 4 ONH goes 2 below the long of 2 the account holds: "
                        "that part would open a short; sell at most 2 (Alpaca: account is not "
                        "allowed to short)"),
            std::string::npos)
      << r.body;
  const RunResult cli = run(rig_->cli("trade open ONH --qty 4 --side sell --exits none"));
  EXPECT_EQ(cli.exit_code, 2) << cli.out << cli.err;
  EXPECT_NE(cli.err.find("goes 2 below the long of 2"), std::string::npos) << cli.err;
  EXPECT_EQ(sim_orders_of("ONH"), 2u) << "the other client's buy and our sell of 3";

  // A fractional sell within the long closes part of it (no fractional short). Right after a
  // fill of ours the long is known again at the next positions read: until then 503, nothing
  // sent.
  ASSERT_TRUE(eventually([] { return broker_long_seen("ONH", "2"); }))
      << rig_->call("GET", "/api/positions").body;
  const auto sell_once_known = [&](const char* qty) {
    eventually([&] { return (r = sell(qty, "day")).status != 503; });
    return r;
  };
  r = sell_once_known("0.5");
  EXPECT_EQ(r.status, 201) << r.body;
  ASSERT_TRUE(onh_held("1.5")) << sim().open_orders_text("ONH") << rig_->logs();
  r = sell_once_known("1.5");
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(onh_held("0")) << sim().open_orders_text("ONH") << rig_->logs();
  EXPECT_EQ(sim_orders_of("ONH"), 4u);
}

// A long the engine saw at its last positions read, sold since by another client: a sell entry
// is judged on the broker's position read now, not on that read. Of ONX (shortable, on the
// long-only account) and ONY (an asset that cannot be sold short) the sell is refused naming
// the rule, and the simulator never sees it; taken on the engine's read, it went to the broker
// as a short, which refused it, and the trade failed.
TEST_F(OrdersNoShortE2E, ALongSoldSinceTheLastPositionsReadCoversNoSell) {
  const auto symbols = {"ONX", "ONY"};
  for (const char* symbol : symbols) set_price(symbol, "20.00");
  ASSERT_EQ(sim().call("POST", "/sim/assets", R"({"ONY":{"shortable":false}})").status, 200);
  const auto other_client = [](const char* symbol, const char* side) {
    return sim().call("POST", "/v2/orders",
                      fmt::format(R"({{"symbol":"{}","qty":"5","side":"{}","type":"market",)"
                                  R"("time_in_force":"day"}})",
                                  symbol, side));
  };
  for (const char* symbol : symbols) ASSERT_EQ(other_client(symbol, "buy").status, 200);
  ASSERT_TRUE(
      eventually([] { return broker_long_seen("ONX", "5") && broker_long_seen("ONY", "5"); }))
      << rig_->call("GET", "/api/positions").body;
  // Sold within the second the engine's read shows both longs still (positions every second).
  for (const char* symbol : symbols) ASSERT_EQ(other_client(symbol, "sell").status, 200);
  ASSERT_TRUE(eventually([] {
    return sim().held_and_covered("ONX").first == Decimal() &&
           sim().held_and_covered("ONY").first == Decimal();
  }));
  app::ApiReply r = rig_->call("POST", "/api/trades",
                               R"({"symbol":"ONX","side":"sell","qty":"3","exits":"none"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("this sell entry of 3 ONX opens a short: no long position of the account "
                        "covers it (Alpaca: account is not allowed to short)"),
            std::string::npos)
      << r.body;
  r = rig_->call("POST", "/api/trades",
                 R"({"symbol":"ONY","side":"sell","qty":"3","exits":"none"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("ONY cannot be sold short at the broker (its asset: shortable false)"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(sim_orders_of("ONX"), 2u) << "the other client's buy and sell alone";
  EXPECT_EQ(sim_orders_of("ONY"), 2u) << "the other client's buy and sell alone";
}

// ---- a crypto market entry's value, on a daemon of its own ----

// Its own daemon: OrdersE2E's trades spend most of that daemon's first minute of REST budget,
// and entries wait for the budget once what is left of it is kept for exits and catch-ups.
class OrdersCryptoValueE2E : public SharedRigTest<OrdersCryptoValueE2E> {
 protected:
  static void SetUpTestSuite() { start_shared("orders-crypto-value-e2e", kToken, {}); }
  static std::size_t sim_orders_of(const std::string& symbol) {
    json::value all = sim().get_json("/v2/orders?status=all&limit=500&symbols=" + symbol);
    return all.is_array() ? all.as_array().size() : 0;
  }
};

// orderly reads no market data: a crypto market entry by qty is judged at a price it knows of the
// pair (here its own fill of it, seconds old): under 10 USD it is refused with the figures and
// the simulator never sees it. A pair of which orderly knows no price is left to the broker,
// which refuses it (403 "cost basis must be >= minimal amount of order 10"): the trade fails.
TEST_F(OrdersCryptoValueE2E, AMarketEntryUnderTheLeastValueIsRefusedAtAPriceOrderlyKnows) {
  set_price("AVAX/USD", "20.00");
  set_price("LINK/USD", "20.00");
  ASSERT_EQ(sim().call("POST", "/sim/assets",
                       R"({"AVAX/USD":{"min_order_value":"10"},)"
                       R"("LINK/USD":{"min_order_value":"10"}})")
                .status,
            200);
  const std::int64_t t = rig_->open_trade(
      R"({"symbol":"AVAX/USD","qty":"1","take_profit":{"limit_price":"21.00"}})");
  ASSERT_TRUE(eventually([&] { return sim().protected_at("AVAX/USD", "0.9975"); }))
      << audits_of(*rig_, "AVAX%2FUSD") << rig_->logs();
  const std::size_t before = sim_orders_of("AVAXUSD");
  const app::ApiReply r = rig_->call(
      "POST", "/api/trades",
      R"({"symbol":"AVAX/USD","qty":"0.2","take_profit":{"limit_price":"21.00"}})");
  EXPECT_EQ(r.status, 400) << r.body;
  // Judged at orderly's fill of the pair, or at the broker's price in a positions read since.
  EXPECT_NE(r.body.find("qty 0.2 of AVAX/USD at about 20.00 ("), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("is worth 4.00 USD, below Alpaca's least crypto order value, 10 USD"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(sim_orders_of("AVAXUSD"), before) << "nothing reached the broker";

  const std::int64_t unknown = rig_->open_trade(
      R"({"symbol":"LINK/USD","qty":"0.2","take_profit":{"limit_price":"21.00"}})");
  EXPECT_TRUE(eventually([&] { return rig_->trade_state(unknown) == "failed"; }))
      << audits_of(*rig_, "LINK%2FUSD");
  EXPECT_EQ(sim_orders_of("LINKUSD"), 0u) << "the broker refused it: no order";
  EXPECT_NE(audits_of(*rig_, "LINK%2FUSD").find("cost basis must be >= minimal amount of order"),
            std::string::npos);
  set_price("AVAX/USD", "21.00");  // the first trade ends at its take-profit
  EXPECT_TRUE(eventually([&] { return rig_->trade_state(t) == "closed"; }))
      << audits_of(*rig_, "AVAX%2FUSD") << rig_->logs();
}

// ---- a pair whose price increment is coarser than the cent (`orderly sim --price-increment`) ----

// Alpaca's docs show "price_increment": "1" for BTC/USD: every price of a BTC/USD order must be a
// whole dollar. Its own daemon, so that the asset is read with that increment.
class OrdersCoarseIncrementE2E : public SharedRigTest<OrdersCoarseIncrementE2E> {
 protected:
  static void SetUpTestSuite() {
    start_shared("orders-coarse-increment-e2e", kToken,
                 {.sim_args = {"--price-increment", "BTC/USD=1"}});
  }
  static json::array orders(const std::string& status) {
    json::value v = sim().get_json("/v2/orders?status=" + status + "&symbols=BTCUSD&limit=10");
    return v.is_array() ? v.as_array() : json::array{};
  }
  static Decimal price(const json::object& o, const char* key) {
    const json::value* v = o.if_contains(key);
    return v && v->is_string() ? Decimal::must(std::string_view(v->as_string())) : Decimal();
  }
  // The one open order at the simulator, a stop_limit sell working (status new). The cover
  // check counts an order the simulator has taken (`accepted`) as working; its `new` may come
  // a moment later.
  static json::object working_stop() {
    EXPECT_TRUE(eventually([] {
      const json::array open = orders("open");
      return open.size() == 1u && open[0].as_object().at("status") == "new";
    })) << why();
    json::array open = orders("open");
    EXPECT_EQ(open.size(), 1u) << json::serialize(open);
    if (open.size() != 1u) return {};
    const json::object o = open[0].as_object();
    EXPECT_EQ(o.at("type"), "stop_limit") << json::serialize(o);
    EXPECT_EQ(o.at("status"), "new") << json::serialize(o);
    return o;
  }
  static std::string why() { return sim().open_orders_text("BTC%2FUSD") + rig_->logs(); }
  // 0.01 BTC filled, 0.009975 received after the fee: covered at the broker, the trade open.
  static bool covered_and_open(std::int64_t t) {
    return sim().protected_at("BTC/USD", "0.009975") && rig_->trade_state(t) == "open";
  }
};

// A market buy with percent exits: they are priced at its fill (60024.00), on the pair's
// increment, away from the market: the stop at 59123 (1.5% under is 59123.64), its limit at
// 58531 (1% under the stop is 58531.77), the take-profit at 61225 (2% over is 61224.48). On the
// cent they would be refused, and the coins would stand without an exit.
TEST_F(OrdersCoarseIncrementE2E, PercentExitsOfAMarketBuyWorkAtTheBrokerOnWholeDollars) {
  set_price("BTC/USD", "60024.00");
  const std::int64_t t =
      rig_->open_trade(R"({"symbol":"BTC/USD","qty":"0.01","take_profit":{"percent":"2"},)"
                       R"("stop_loss":{"percent":"1.5"}})");
  ASSERT_TRUE(eventually([&] { return covered_and_open(t); })) << why();
  const json::object stop = working_stop();
  EXPECT_EQ(price(stop, "stop_price"), Decimal::must("59123")) << json::serialize(stop);
  EXPECT_EQ(price(stop, "limit_price"), Decimal::must("58531")) << json::serialize(stop);

  set_price("BTC/USD", "61300.00");
  ASSERT_TRUE(eventually([&] {
    return sim().call("GET", "/v2/positions/BTCUSD").status == 404 && orders("open").empty() &&
           rig_->trade_state(t) == "closed";
  })) << why();
  const json::object tp = orders("closed")[0].as_object();  // newest first
  EXPECT_EQ(tp.at("type"), "limit") << json::serialize(tp);
  EXPECT_EQ(tp.at("status"), "filled") << json::serialize(tp);
  EXPECT_EQ(price(tp, "limit_price"), Decimal::must("61225")) << json::serialize(tp);
  const std::string audits = audits_of(*rig_, "BTC%2FUSD");
  EXPECT_EQ(audits.find("price_increment"), std::string::npos) << "nothing was refused\n" << audits;
}

// The increment is kept with the trade: a limit buy that fills while the daemon is down gets
// its percent exits on whole dollars from the daemon started again.
TEST_F(OrdersCoarseIncrementE2E, TheIncrementSurvivesARestartBeforeTheFill) {
  set_price("BTC/USD", "60024.00");
  const std::int64_t t = rig_->open_trade(
      R"({"symbol":"BTC/USD","qty":"0.01","entry":{"type":"limit","limit_price":"59999"},)"
      R"("take_profit":{"percent":"2"},"stop_loss":{"percent":"1.5"}})");
  ASSERT_TRUE(eventually([&] { return orders("open").size() == 1u; })) << why();
  ASSERT_EQ(rig_->daemon().stop(), 0) << rig_->logs();
  set_price("BTC/USD", "59999.00");  // fills at its limit: exits from 59999
  ASSERT_TRUE(eventually([&] { return orders("open").empty(); })) << why();
  rig_->ready_daemon();
  ASSERT_TRUE(eventually([&] { return covered_and_open(t); })) << why();
  // 59999 * 0.985 = 59099.015 -> 59099; 1% under it, 58508.01 -> 58508.
  const json::object stop = working_stop();
  EXPECT_EQ(price(stop, "stop_price"), Decimal::must("59099")) << json::serialize(stop);
  EXPECT_EQ(price(stop, "limit_price"), Decimal::must("58508")) << json::serialize(stop);
  set_price("BTC/USD", "59000.00");  // the stop sells it all
  EXPECT_TRUE(eventually([&] { return rig_->trade_state(t) == "closed"; })) << why();
}

}  // namespace
}  // namespace orderly::testing
