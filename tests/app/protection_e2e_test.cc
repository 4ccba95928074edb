// Principle 9 over real processes: `orderly sim` + `orderly run` on loopback. Each scenario
// ends with every filled position protected, judged from the simulator's side (its positions
// and open orders), and no trade `failed` after its entry filled.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rig.h"

namespace orderly::testing {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;

constexpr const char* kToken = "protection-e2e-token-71c3";

class ProtectionE2E : public SharedRigTest<ProtectionE2E> {
 protected:
  static void SetUpTestSuite() {
    // Grace 0: any moment a filled position spends without a working exit is raised, so the
    // scenarios can see the alert of a gap that orderly closes within milliseconds.
    start_shared("protection-e2e", kToken, {.extra = "[alerts]\nunprotected_grace_ms = 0\n"});
  }
  static bool protected_at_broker(const std::string& symbol, const std::string& expect_held) {
    return sim().protected_at(symbol, expect_held);
  }
  // Every trade of `ids` open, and `symbol`'s position `held` covered at the broker.
  static bool all_open_and_protected(const std::vector<std::int64_t>& ids,
                                     const std::string& symbol, const std::string& held) {
    for (std::int64_t id : ids) {
      if (rig_->trade_state(id) != "open") return false;
    }
    return protected_at_broker(symbol, held);
  }
  // Scaling in: `first` opened and protected (`held_first`), then `second`; both end open and
  // the position (`held_after`) protected.
  static void scale_in(const std::string& symbol, const std::string& first,
                       const std::string& held_first, const std::string& second,
                       const std::string& held_after) {
    set_price(symbol, "10.00");
    const std::int64_t a = rig_->open_trade(first);
    ASSERT_TRUE(eventually([&] { return protected_at_broker(symbol, held_first); }))
        << sim().open_orders_text(symbol) << rig_->logs();
    const std::int64_t b = rig_->open_trade(second);
    EXPECT_TRUE(eventually([&] {
      return all_open_and_protected({a, b}, symbol, held_after);
    })) << sim().open_orders_text(symbol)
        << rig_->logs();
  }
  // unprotected_position alerts ever raised for `symbol` (active or cleared).
  static int gaps_raised(const std::string& symbol) {
    return rig_->alerts("unprotected_position", symbol);
  }
};

std::string market_buy(const std::string& symbol, const std::string& qty,
                       const std::string& extra = "") {
  return R"({"symbol":")" + symbol + R"(","side":"buy","qty":")" + qty +
         R"(","entry":{"type":"market"},"take_profit":{"limit_price":"11.00"},)"
         R"("stop_loss":{"stop_price":"9.00"})" +
         extra + "}";
}

// A short entry at 10.00 with its exits on the other side.
std::string market_sell(const std::string& symbol, const std::string& qty) {
  return R"({"symbol":")" + symbol + R"(","side":"sell","qty":")" + qty +
         R"(","entry":{"type":"market"},"take_profit":{"limit_price":"9.00"},)"
         R"("stop_loss":{"stop_price":"11.00"}})";
}

// Issue 14: the second market entry was refused as a wash trade against our own take-profit and
// its trade failed. Both trades end open and protected.
TEST_F(ProtectionE2E, SecondMarketEntryBesideOurRestingTakeProfitEndsWithBothProtected) {
  scale_in("PRA", market_buy("PRA", "10"), "10", market_buy("PRA", "5"), "15");
}

// Issue 14, "opened at once": three entries on one symbol, none waiting for another's fill.
TEST_F(ProtectionE2E, EntriesOpenedAtOnceOnOneSymbolAllEndProtected) {
  set_price("PRD", "10.00");
  std::vector<std::int64_t> ids;
  for (const char* qty : {"4", "3", "2"}) ids.push_back(rig_->open_trade(market_buy("PRD", qty)));
  EXPECT_TRUE(eventually([&] { return all_open_and_protected(ids, "PRD", "9"); }))
      << sim().open_orders_text("PRD") << rig_->call("GET", "/api/trades").body << rig_->logs();
}

// Scaling in on the short side: the exits are buys, and a second short entry meets them.
TEST_F(ProtectionE2E, ShortEntriesScalingInEndProtected) {
  scale_in("PRE", market_sell("PRE", "10"), "-10", market_sell("PRE", "5"), "-15");
}

// Issue 14: a sell entry against a long our exits hold waited in `created` for minutes with no
// alert. Reversing is refused up front now; nothing reaches the broker, the long stays covered.
TEST_F(ProtectionE2E, ReversingASymbolWeHoldIsRefusedWith400) {
  set_price("PRF", "10.00");
  const std::int64_t a = rig_->open_trade(market_buy("PRF", "10"));
  ASSERT_TRUE(eventually([] { return protected_at_broker("PRF", "10"); })) << rig_->logs();
  const std::size_t orders_before = sim().orders().size();
  app::ApiReply r = rig_->call("POST", "/api/trades", market_sell("PRF", "5"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(sim().orders().size(), orders_before);
  EXPECT_TRUE(protected_at_broker("PRF", "10")) << sim().open_orders_text("PRF");
  EXPECT_EQ(rig_->trade_state(a), "open");
}

// Issue 14: `--tp +3% --exits native` on a market entry always ended `failed` (a bracket needs
// its prices). The exits now follow the fill as one OCO priced from it.
TEST_F(ProtectionE2E, NativePercentExitsOfAMarketEntryFollowTheFillAsAnOco) {
  set_price("PRG", "10.00");
  const std::int64_t t = rig_->open_trade(
      R"({"symbol":"PRG","side":"buy","qty":"10","entry":{"type":"market"},)"
      R"("take_profit":{"percent":"3"},"stop_loss":{"percent":"2"},"exits":"native"})");
  ASSERT_TRUE(eventually([&] {
    return protected_at_broker("PRG", "10") && rig_->trade_state(t) == "open";
  })) << sim().open_orders_text("PRG")
      << rig_->logs();
  // The legs of an OCO are listed as orders of their own (order_class oco).
  std::optional<Decimal> take_profit, stop;
  std::string seen;
  for (const auto& o : sim().orders()) {
    seen += o.raw + "\n";
    if (o.symbol != "PRG" || o.side != Side::sell || o.order_class != OrderClass::oco) continue;
    if (o.type == OrderType::limit) take_profit = o.limit_price;
    if (o.type == OrderType::stop) stop = o.stop_price;
  }
  const bool oco = take_profit == Decimal::must("10.30") && stop == Decimal::must("9.80");
  EXPECT_TRUE(oco) << seen;
}

// Emulated exits (one OCO) canceled by another client of the account are placed again.
TEST_F(ProtectionE2E, EmulatedExitsCanceledElsewhereArePlacedAgainAndTheGapWasRaised) {
  set_price("PRH", "10.00");
  const std::int64_t t = rig_->open_trade(market_buy("PRH", "10"));
  // Covered, and no gap left active to absorb the next one's alert.
  ASSERT_TRUE(eventually([] {
    return protected_at_broker("PRH", "10") &&
           rig_->alerts("unprotected_position", "PRH", true) == 0;
  })) << rig_->logs();
  const int before = gaps_raised("PRH");
  int canceled = 0;
  for (const auto& o : sim().orders()) {
    // Canceling one member of a group cancels the group.
    if (o.side == Side::sell && o.status && !is_terminal(*o.status)) {
      canceled += sim().call("DELETE", "/v2/orders/" + o.id).status / 100 == 2;
    }
  }
  ASSERT_GE(canceled, 1) << sim().open_orders_text("PRH");
  EXPECT_TRUE(eventually([&] {
    return gaps_raised("PRH") > before && protected_at_broker("PRH", "10") &&
           rig_->trade_state(t) == "open";
  })) << "gaps "
      << before << " -> " << gaps_raised("PRH") << ", " << sim().open_orders_text("PRH")
      << rig_->logs();
}

// Every order answer of the symbol lost after the simulator applied it, and its stream events
// dropped: orderly learns each outcome by lookup and by polling. One entry, one exit group,
// the position covered exactly once.
TEST_F(ProtectionE2E, LostAnswersAndDroppedEventsStillEndWithOneEntryAndOneExitGroup) {
  set_price("PRL", "10.00");
  const std::string faults =
      R"({"rules":[{"on":"http","action":"lose_response","p":1.0,"route":"POST /v2/orders",)"
      R"("symbol":"PRL"},{"on":"stream","action":"drop","p":1.0,"symbol":"PRL"}]})";
  ASSERT_EQ(sim().call("POST", "/sim/faults", faults).status, 200);
  const std::int64_t t = rig_->open_trade(market_buy("PRL", "10"));
  const bool covered = eventually([&] {
    auto [held, cover] = sim().held_and_covered("PRL");
    return held == Decimal::must("10") && cover == held && rig_->trade_state(t) == "open";
  });
  ASSERT_EQ(sim().call("POST", "/sim/faults", R"({"rules":[]})").status, 200);
  EXPECT_TRUE(covered) << sim().open_orders_text("PRL") << rig_->logs();
  const json::value stats = sim().get_json("/sim/stats");
  ASSERT_TRUE(stats.is_object());
  const json::value* lost = stats.at("faults").as_object().if_contains("lose_response");
  EXPECT_TRUE(lost && lost->to_number<int>() >= 2) << json::serialize(stats);  // entry and exit
  std::set<std::string> client_ids;
  int entries = 0;
  for (const auto& o : sim().orders()) {
    if (o.symbol != "PRL") continue;
    EXPECT_TRUE(client_ids.insert(o.client_order_id).second) << o.client_order_id;
    entries += o.side == Side::buy;
  }
  EXPECT_EQ(entries, 1) << sim().open_orders_text("PRL");
}

// Issue 14: an entry refused by Alpaca's wash-trade check against an order that is not ours
// (another client of the account rests a sell) is retried with backoff and named in an
// external_hold alert, never failed; once that order is gone the entry goes, its position is
// protected and the alert is cleared.
TEST_F(ProtectionE2E, EntryHeldByAnotherClientsOrderWaitsAlertsAndGoesWhenItIsGone) {
  set_price("PRW", "10.00");
  app::ApiReply other =
      sim().call("POST", "/v2/orders",
                 R"({"symbol":"PRW","side":"sell","qty":"1","type":"limit","limit_price":"10.50",)"
                 R"("time_in_force":"gtc","client_order_id":"another-client-1"})");
  ASSERT_EQ(other.status, 200) << other.body;
  const std::string other_id(json::parse(other.body).at("id").as_string());
  const std::int64_t t = rig_->open_trade(market_buy("PRW", "10"));
  ASSERT_TRUE(eventually([&] { return rig_->alerts("external_hold", "PRW", true) == 1; }))
      << rig_->call("GET", "/api/alerts").body << rig_->logs();
  EXPECT_NE(rig_->call("GET", "/api/alerts").body.find(other_id), std::string::npos);
  EXPECT_NE(rig_->trade_state(t), "failed");
  EXPECT_EQ(sim().call("DELETE", "/v2/orders/" + other_id).status / 100, 2);
  EXPECT_TRUE(eventually([&] {
    return protected_at_broker("PRW", "10") && rig_->trade_state(t) == "open";
  })) << sim().open_orders_text("PRW")
      << rig_->logs();
  // The entry went and the other order is gone: nothing holds the symbol any more.
  EXPECT_TRUE(eventually([&] { return rig_->alerts("external_hold", "PRW", true) == 0; }))
      << rig_->call("GET", "/api/alerts").body << "\n"
      << rig_->call("GET", "/healthz").body << "\n"
      << rig_->logs();
}

// A native bracket's take-profit leg canceled by another client of the account (here: a DELETE
// straight to the simulator): orderly raises unprotected_position and covers the position again.
TEST_F(ProtectionE2E, BracketLegCanceledElsewhereIsPlacedAgainAndTheGapWasRaised) {
  set_price("PRB", "10.00");
  const std::int64_t t = rig_->open_trade(market_buy("PRB", "10", R"(,"exits":"native")"));
  ASSERT_TRUE(eventually([] { return protected_at_broker("PRB", "10"); })) << rig_->logs();
  std::string leg_id;
  json::value open_orders = sim().get_json("/v2/orders?status=open&nested=true&symbols=PRB");
  ASSERT_TRUE(open_orders.is_array()) << json::serialize(open_orders);
  // The entry filled: its legs are open orders of their own (order_class bracket).
  for (const auto& o : open_orders.as_array()) {
    if (o.at("order_class") == "bracket" && o.at("type") == "limit") {
      leg_id = std::string(o.at("id").as_string());
    }
  }
  ASSERT_FALSE(leg_id.empty()) << json::serialize(open_orders);
  const int before = gaps_raised("PRB");
  EXPECT_EQ(sim().call("DELETE", "/v2/orders/" + leg_id).status / 100, 2);

  EXPECT_TRUE(eventually([&] {
    return gaps_raised("PRB") > before && protected_at_broker("PRB", "10") &&
           rig_->trade_state(t) == "open";
  })) << "gaps "
      << before << " -> " << gaps_raised("PRB") << ", " << sim().open_orders_text("PRB") << "trade "
      << rig_->trade_state(t) << "\n"
      << rig_->call("GET", "/api/alerts").body << "\n"
      << rig_->call("GET", "/api/orders?symbol=PRB").body;
}

// Refused up front with a 400 naming the problem; nothing reaches the broker.
TEST_F(ProtectionE2E, ExitsThatCouldNeverProtectAreRefusedWith400) {
  set_price("PRC", "12.00");  // listed (its asset is read first); the limit entry rests
  const std::string stop_above = R"({"symbol":"PRC","side":"buy","qty":"1",)"
                                 R"("entry":{"type":"limit","limit_price":"10.00"},)"
                                 R"("take_profit":{"limit_price":"11.00"},)"
                                 R"("stop_loss":{"stop_price":"10.50"}})";
  app::ApiReply r = rig_->call("POST", "/api/trades", stop_above);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("stop_loss 10.50 must be below the entry limit"), std::string::npos)
      << r.body;
  const std::string wide = R"({"symbol":"PRC","side":"buy","qty":"1",)"
                           R"("entry":{"type":"limit","limit_price":"10.00"},)"
                           R"("take_profit":{"limit_price":"30.00"}})";
  r = rig_->call("POST", "/api/trades", wide);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("allow_wide"), std::string::npos) << r.body;
  const std::string meant = wide.substr(0, wide.size() - 1) + R"(,"allow_wide":true})";
  r = rig_->call("POST", "/api/trades", meant);
  EXPECT_EQ(r.status, 201) << r.body;
}

// A session close expires every day order at the simulator, so each of these tests has a
// simulator (and a daemon) of its own. Grace 0, as above: every gap is raised.
class SessionE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(rig_.start_all({.extra = "[alerts]\nunprotected_grace_ms = 0\n"})) << rig_.logs();
  }
  const Sim& sim() const { return rig_.sim(); }
  // A market buy of `qty` at 10.00 (TP 11, SL 9, `extra` fields), waited for until the
  // simulator holds the position with its exits. The trade's id.
  std::int64_t open_protected(const std::string& symbol, const std::string& qty,
                              const std::string& extra) {
    EXPECT_TRUE(sim().set_price(symbol, "10.00"));
    const std::int64_t t = rig_.open_trade(market_buy(symbol, qty, extra));
    // Covered at the broker, and orderly says so: an alert still active from before (a start
    // that had not yet heard its first sweep) would absorb the next gap's alert.
    EXPECT_TRUE(eventually([&] {
      return sim().protected_at(symbol, qty) &&
             rig_.alerts("unprotected_position", symbol, true) == 0;
    })) << sim().open_orders_text(symbol)
        << rig_.logs();
    return t;
  }
  // After an open: the position covered by live exits (none waits for a session), and no
  // unprotected_position alert of the symbol left active.
  void expect_live_exits(const std::string& symbol, const std::string& held) {
    EXPECT_TRUE(eventually([&] {
      return sim().protected_at(symbol, held) && none_queued(symbol) &&
             rig_.alerts("unprotected_position", symbol, true) == 0;
    })) << "after the open: "
        << sim().open_orders_text(symbol) << rig_.call("GET", "/api/alerts").body << "\n"
        << rig_.logs();
  }
  // Opens a protected trade, kills the daemon, closes the session (its day exits expire), starts
  // the daemon again: covered while closed, by live exits after the open; then the stop ends it.
  void expire_while_down(const std::string& symbol, const std::string& qty,
                         const std::string& extra) {
    const std::int64_t t = open_protected(symbol, qty, extra);
    ASSERT_FALSE(HasFailure());
    rig_.daemon().kill_hard();
    ASSERT_TRUE(sim().session("close"));
    ASSERT_FALSE(sim().protected_at(symbol, qty)) << "the close left the exits working";
    rig_.ready_daemon();
    EXPECT_TRUE(eventually([&] { return sim().protected_at(symbol, qty); }))
        << sim().open_orders_text(symbol) << rig_.logs();
    ASSERT_TRUE(sim().session("open"));
    expect_live_exits(symbol, qty);
    EXPECT_EQ(rig_.trade_state(t), "open");
    exit_at(symbol, "8.50", t);
  }
  // No order of `symbol` waits at the simulator for a session: the exits are live again.
  bool none_queued(const std::string& symbol) const {
    json::value open = sim().get_json("/v2/orders?status=open&symbols=" + symbol);
    if (!open.is_array()) return false;
    for (const auto& o : open.as_array()) {
      if (o.at("status") == "accepted") return false;
    }
    return true;
  }
  // Closes the session and opens it again. While closed the position must be covered again (a
  // gtc exit waits at the broker for the next session); after the open, by live exits. Every
  // gap was raised as unprotected_position, and none is left active.
  void close_and_open(const std::string& symbol, const std::string& held, std::int64_t trade) {
    const int before = rig_.alerts("unprotected_position", symbol);
    ASSERT_TRUE(sim().session("close"));
    EXPECT_TRUE(eventually([&] {
      return rig_.alerts("unprotected_position", symbol) > before &&
             sim().protected_at(symbol, held);
    })) << "while closed: gaps "
        << before << " -> " << rig_.alerts("unprotected_position", symbol) << ", "
        << sim().open_orders_text(symbol) << rig_.call("GET", "/api/orders?symbol=" + symbol).body
        << "\n"
        << rig_.logs();
    ASSERT_TRUE(sim().session("open"));
    expect_live_exits(symbol, held);
    EXPECT_EQ(rig_.trade_state(trade), "open");
  }

  // The price moves through an exit: the position is flat, nothing of ours stays open at the
  // broker, the trade is closed, and no alert about the symbol is left active (a fractional
  // position's stuck_order alert used to outlive it).
  void exit_at(const std::string& symbol, const std::string& price, std::int64_t trade) {
    ASSERT_TRUE(sim().set_price(symbol, price));
    EXPECT_TRUE(eventually([&] {
      const json::value open = sim().get_json("/v2/orders?status=open&symbols=" + symbol);
      return sim().held_and_covered(symbol).first.is_zero() && open.is_array() &&
             open.as_array().empty() && rig_.trade_state(trade) == "closed" &&
             rig_.alerts("", symbol, true) == 0;
    })) << sim().open_orders_text(symbol)
        << rig_.trade_state(trade) << "\n"
        << rig_.call("GET", "/api/alerts").body << "\n"
        << rig_.logs();
  }

  Rig rig_{"session-e2e", kToken};
};

// Issue 14: a native bracket with tif day. Both legs expired at the close and the position was
// naked overnight while the trade read `open`.
TEST_F(SessionE2E, DayBracketLegsExpiredAtTheCloseAreReplacedAndTheGapRaised) {
  const std::int64_t t = open_protected("PSD", "10", R"(,"exits":"native","tif":"day")");
  ASSERT_FALSE(HasFailure());
  close_and_open("PSD", "10", t);
  // The exits in force now are gtc: the next close leaves them working.
  const int gaps = rig_.alerts("unprotected_position", "PSD");
  ASSERT_TRUE(sim().session("close"));
  EXPECT_TRUE(sim().protected_at("PSD", "10")) << sim().open_orders_text("PSD");
  ASSERT_TRUE(sim().session("open"));
  EXPECT_EQ(rig_.alerts("unprotected_position", "PSD"), gaps);
  exit_at("PSD", "11.50", t);  // the take-profit
}

// The daemon is killed, the session closes and expires the day exits while no orderly runs,
// and only then the daemon starts again: it finds the position uncovered and covers it.
TEST_F(SessionE2E, DayBracketExpiredWhileTheDaemonWasDownIsCoveredAfterTheRestart) {
  expire_while_down("PSH", "10", R"(,"exits":"native","tif":"day")");
}

// The same for a fractional position's one day exit.
TEST_F(SessionE2E, FractionalExitExpiredWhileTheDaemonWasDownIsPlacedAfterTheRestart) {
  expire_while_down("PSK", "0.5", R"(,"tif":"day")");
}

// A trade opened after the close (a strategy firing overnight): the entry waits at the broker,
// fills at the open at the price of the moment, and its position is covered like any other.
TEST_F(SessionE2E, EntryOpenedWhileClosedFillsAtTheOpenAndIsProtected) {
  ASSERT_TRUE(sim().set_price("PSJ", "10.00"));
  ASSERT_TRUE(sim().session("close"));
  const std::int64_t t = rig_.open_trade(market_buy("PSJ", "10", R"(,"tif":"day")"));
  EXPECT_TRUE(eventually([&] {
    const json::value open = sim().get_json("/v2/orders?status=open&symbols=PSJ");
    return open.is_array() && open.as_array().size() == 1 &&
           open.as_array()[0].at("status") == "accepted";
  })) << sim().open_orders_text("PSJ")
      << rig_.logs();
  EXPECT_TRUE(sim().held_and_covered("PSJ").first.is_zero());
  ASSERT_TRUE(sim().set_price("PSJ", "10.20"));
  ASSERT_TRUE(sim().session("open"));
  expect_live_exits("PSJ", "10");
  EXPECT_EQ(rig_.trade_state(t), "open");
  exit_at("PSJ", "8.50", t);  // the stop
}

// Emulated exits go as one gtc OCO whatever the trade's tif: a close leaves them working.
TEST_F(SessionE2E, EmulatedExitsOfADayTradeOutliveTheClose) {
  const std::int64_t t = open_protected("PSE", "10", R"(,"tif":"day")");
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(sim().session("close"));  // the simulator expires day orders before it answers
  EXPECT_TRUE(sim().protected_at("PSE", "10")) << sim().open_orders_text("PSE");
  ASSERT_TRUE(sim().session("open"));
  EXPECT_TRUE(sim().protected_at("PSE", "10")) << sim().open_orders_text("PSE");
  EXPECT_EQ(rig_.trade_state(t), "open");
}

// Issue 14: a 0.5-share entry filled and both exits were refused (fractional orders must be
// simple day orders). Now the entry is a day order, the position gets one simple day exit, and
// that exit is placed again each time a close expires it.
TEST_F(SessionE2E, HalfShareEntryGetsOneSimpleDayExitRenewedAcrossTheClose) {
  const std::int64_t t = open_protected("PSF", "0.5", R"(,"tif":"day")");
  ASSERT_FALSE(HasFailure());
  const json::value open = sim().get_json("/v2/orders?status=open&nested=true&symbols=PSF");
  ASSERT_TRUE(open.is_array());
  ASSERT_EQ(open.as_array().size(), 1u) << json::serialize(open);
  const json::value& exit = open.as_array()[0];
  EXPECT_EQ(exit.at("qty"), "0.5") << json::serialize(exit);
  EXPECT_EQ(exit.at("time_in_force"), "day") << json::serialize(exit);
  EXPECT_TRUE(exit.at("order_class") == "" || exit.at("order_class") == "simple")
      << json::serialize(exit);
  EXPECT_EQ(exit.at("type"), "stop") << "the stop-loss is the one exit" << json::serialize(exit);
  // The entry went as a fractional day market order and nothing was refused.
  for (const auto& o : sim().orders()) {
    if (o.side == Side::buy) {
      EXPECT_EQ(o.tif, TimeInForce::day);
    }
  }
  EXPECT_EQ(sim().get_json("/sim/stats").at("errors_by_code").as_object().size(), 0u)
      << json::serialize(sim().get_json("/sim/stats"));
  close_and_open("PSF", "0.5", t);
  exit_at("PSF", "8.50", t);  // the stop
}

// A fractional qty with a gtc time in force can never be protected at Alpaca: refused up front.
TEST_F(SessionE2E, HalfShareGtcEntryIsRefusedWith400) {
  // Without a tif a fractional entry is a day order (issue 17): gtc is asked for explicitly.
  app::ApiReply r = rig_.call("POST", "/api/trades", market_buy("PSG", "0.5", R"(,"tif":"gtc")"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("fractional"), std::string::npos) << r.body;
  EXPECT_TRUE(sim().orders().empty());
}

// The burst takes the daemon's whole REST budget for a minute: a simulator and daemon of its
// own, polling at the daemon's own intervals as a deployment would.
class BurstE2E : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(rig_.start_all({.fast_sync = false})) << rig_.logs(); }
  const Sim& sim() const { return rig_.sim(); }

  Rig rig_{"burst-e2e", kToken};
};

// Over `symbols` (one trade each), from the simulator's orders: the longest time from an
// entry's fill to the arrival of that position's first exit (a sell), and the most entries
// (buys) that arrived in such a window.
std::pair<std::int64_t, long> fill_to_exit(const Sim& sim,
                                           const std::vector<std::string>& symbols) {
  const std::vector<BrokerOrder> orders = sim.orders();
  std::vector<Timestamp> entries;
  for (const auto& o : orders) {
    if (o.side == Side::buy && o.submitted_at) entries.push_back(*o.submitted_at);
  }
  std::int64_t longest_ms = 0;
  long most = 0;
  for (const auto& symbol : symbols) {
    std::optional<Timestamp> filled, exit;
    for (const auto& o : orders) {
      if (o.symbol != symbol) continue;
      if (o.side == Side::buy) filled = o.filled_at;
      if (o.side == Side::sell && o.submitted_at && (!exit || *o.submitted_at < *exit)) {
        exit = o.submitted_at;
      }
    }
    if (!filled || !exit) continue;
    longest_ms = std::max(longest_ms, exit->ms_since(*filled));
    most = std::max(most, std::count_if(entries.begin(), entries.end(),
                                        [&](Timestamp e) { return *filled < e && e < *exit; }));
  }
  return {longest_ms, most};
}

// Issue 14: with many trades opened at once, new entries took the REST budget ahead of the exits
// of positions already filled. 100 trades at once (one symbol each; 200 orders, more than the
// 190/min budget, so the last entries wait up to a minute): all end open and protected. The
// longest fill -> exit seen at the broker is printed, not asserted.
TEST_F(BurstE2E, HundredTradesAtOnceAllEndProtected) {
  constexpr int kBurst = 100;
  std::vector<std::string> symbols;
  std::string prices = "{";
  for (int i = 0; i < kBurst; ++i) {
    symbols.push_back("PB" + std::string(1, static_cast<char>('A' + i / 26)) +
                      std::string(1, static_cast<char>('A' + i % 26)));
    prices += (i ? ",\"" : "\"") + symbols.back() + "\":\"10.00\"";
  }
  ASSERT_EQ(sim().call("POST", "/sim/prices", prices + "}").status, 200);
  std::vector<std::int64_t> ids;
  for (const auto& symbol : symbols) ids.push_back(rig_.open_trade(market_buy(symbol, "3")));
  auto done = [&] {
    auto cover = sim().cover();
    auto states = rig_.trade_states();
    for (std::size_t i = 0; i < ids.size(); ++i) {
      auto [held, covered] = cover[symbols[i]];
      if (held != Decimal::must("3") || covered < held || states[ids[i]] != "open") return false;
    }
    return true;
  };
  // Generous: about 60 s for 200 orders at 190/min, the sync's reads beside them.
  EXPECT_TRUE(eventually(done, 400)) << rig_.call("GET", "/api/trades").body << rig_.logs();
  auto [longest_ms, most] = fill_to_exit(sim(), symbols);
  std::printf(
      "%d trades at once: longest fill -> exit at the broker %lld ms; most entries sent "
      "in such a window %ld\n",
      kBurst, static_cast<long long>(longest_ms), most);
}

}  // namespace
}  // namespace orderly::testing
