// Short selling on a paper margin account, crypto pairs, and the shapes of Alpaca's answers
// (401 on refused keys, account fields, activity ids, rate limit per key).
#include <regex>

#include "sim_fixture.h"

namespace orderly::sim::testing {
namespace {

class ShortTest : public ShortingSimTest {
 protected:
  std::string status_of(const std::string& id) { return get("/v2/orders/" + id).str("status"); }
};

TEST_F(ShortTest, SellWithoutPositionOpensAShort) {
  Answer a = post("/v2/orders", order("F", "sell", "10"));
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.str("position_intent"), "sell_to_open");
  tick();
  EXPECT_EQ(status_of(a.str("id")), "filled");
  Answer p = get("/v2/positions/F");
  EXPECT_EQ(p.str("qty"), "-10");
  EXPECT_EQ(p.str("side"), "short");
  EXPECT_EQ(p.str("avg_entry_price"), "10.5");
  EXPECT_EQ(p.str("market_value"), "-105.00");
  EXPECT_EQ(p.str("cost_basis"), "-105.00");
  EXPECT_EQ(p.str("qty_available"), "-10");
  ex_->set_prices({{"F", Decimal::must("10.00")}});
  EXPECT_EQ(get("/v2/positions/F").str("unrealized_pl"), "5.00")
      << "a short gains as the price falls";
  Answer acct = get("/v2/account");
  EXPECT_EQ(acct.str("short_market_value"), "-100.00");
  EXPECT_EQ(acct.str("cash"), "100105.00");
  EXPECT_EQ(acct.str("equity"), "100005.00");
  EXPECT_EQ(acct.str("buying_power"), "99905.00") << "the short uses buying power as a buy would";
  EXPECT_EQ(acct.str("shorting_enabled"), "true");
}

TEST_F(ShortTest, CoverWithinTheShortThenFlat) {
  post("/v2/orders", order("F", "sell", "10"));
  tick();
  Answer cover_tp =
      post("/v2/orders",
           order("F", "buy", "6", R"("type":"limit","limit_price":"9.00","time_in_force":"gtc")"));
  ASSERT_EQ(cover_tp.status, 200) << cover_tp.raw;
  EXPECT_EQ(cover_tp.str("position_intent"), "buy_to_close");
  EXPECT_EQ(get("/v2/positions/F").str("qty_available"), "-4");
  // Covering more than the short leaves uncovered is refused: one order never flips a position.
  Answer flip =
      post("/v2/orders",
           order("F", "buy", "5", R"("type":"limit","limit_price":"8.00","time_in_force":"gtc")"));
  EXPECT_EQ(flip.status, 403);
  EXPECT_EQ(flip.raw,
            R"({"available":"4","code":40310000,"existing_qty":"10","held_for_orders":"6",)"
            R"x("message":"insufficient qty available for order (requested: 5, available: 4)",)x"
            R"("related_orders":[")" +
                cover_tp.str("id") + R"("],"symbol":"F"})");
  ASSERT_EQ(
      post("/v2/orders",
           order("F", "buy", "4", R"("type":"limit","limit_price":"8.00","time_in_force":"gtc")"))
          .status,
      200);
  tick();
  ex_->set_prices({{"F", Decimal::must("7.50")}});
  EXPECT_EQ(get("/v2/positions/F").status, 404) << "covered in full";
  EXPECT_EQ(get("/v2/account").str("short_market_value"), "0");
}

TEST_F(ShortTest, ALongIsNeverFlippedToAShortInOneOrder) {
  buy_filled("F", "5");
  Answer flip = post("/v2/orders", order("F", "sell", "8"));
  EXPECT_EQ(flip.status, 403);
  EXPECT_EQ(flip.str("message"),
            "insufficient qty available for order (requested: 8, available: 5)");
}

TEST_F(ShortTest, ShortBracketHasBuyExits) {
  Answer b = post(
      "/v2/orders",
      order(
          "F", "sell", "5",
          R"("type":"market","time_in_force":"gtc","order_class":"bracket",)"
          R"("take_profit":{"limit_price":"9.00"},"stop_loss":{"stop_price":"12.00"})"));
  ASSERT_EQ(b.status, 200) << b.raw;
  tick();
  ASSERT_EQ(status_of(b.str("id")), "filled");
  EXPECT_EQ(get("/v2/positions/F").str("qty_available"), "0") << "the exits hold the whole short";
  ex_->set_prices({{"F", Decimal::must("12.10")}});
  EXPECT_EQ(get("/v2/positions/F").status, 404) << "the stop-loss covered";
}

TEST_F(ShortTest, OpeningOrdersTheOtherWayAreRefusedWhileOneIsOpen) {
  Answer s = post(
      "/v2/orders",
      order("F", "sell", "5", R"("type":"limit","limit_price":"11.00","time_in_force":"gtc")"));
  ASSERT_EQ(s.status, 200) << s.raw;
  Answer b =
      post("/v2/orders",
           order("F", "buy", "5", R"("type":"limit","limit_price":"9.00","time_in_force":"gtc")"));
  EXPECT_EQ(
      b.raw,
      R"({"code":40310000,"message":"cannot open a long buy while a short sell order is open"})");
}

TEST_F(ShortTest, FractionalAndCryptoShortsAreRefused) {
  EXPECT_EQ(post("/v2/orders", order("F", "sell", "0.5")).raw,
            R"({"code":40310000,"message":"fractional orders cannot be sold short"})");
  Answer c = post("/v2/orders",
                  order("BTC/USD", "sell", "0.1", R"("type":"market","time_in_force":"gtc")"));
  EXPECT_EQ(c.status, 403);
  EXPECT_EQ(c.str("message"),
            "insufficient qty available for order (requested: 0.1, available: 0)");
}

TEST_F(ShortTest, ClosePositionOfAShortBuys) {
  post("/v2/orders", order("F", "sell", "4"));
  tick();
  Answer close = del("/v2/positions/F");
  ASSERT_EQ(close.status, 200) << close.raw;
  EXPECT_EQ(close.str("side"), "buy");
  EXPECT_EQ(close.str("qty"), "4");
  tick();
  EXPECT_EQ(get("/v2/positions/F").status, 404);
}

TEST_F(SimTest, ShortingIsOffUnlessConfigured) {
  EXPECT_EQ(post("/v2/orders", order("F", "sell", "1")).raw,
            R"({"code":40310000,"message":"account is not allowed to short"})");
  EXPECT_EQ(get("/v2/account").str("shorting_enabled"), "false");
  // The asset keeps its own flag: the account says it may not short (Alpaca's assets are the
  // same for every account).
  EXPECT_EQ(get("/v2/assets/F").str("shortable"), "true");
}

// ---- crypto ----

TEST_F(SimTest, CryptoBuyPaysItsFeeInCoinsAndTradesWhileEquitiesAreClosed) {
  ex_->session(SessionEvent::close);
  Answer a = post("/v2/orders",
                  order("BTC/USD", "buy", "0.01", R"("type":"market","time_in_force":"gtc")"));
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.str("asset_class"), "crypto");
  EXPECT_EQ(a.str("symbol"), "BTC/USD");
  tick();
  Answer o = get("/v2/orders/" + a.str("id"));
  EXPECT_EQ(o.str("status"), "filled") << "crypto trades 24/7";
  EXPECT_EQ(o.str("filled_qty"), "0.01");
  Answer p = get("/v2/positions/BTCUSD");
  ASSERT_EQ(p.status, 200) << p.raw;
  EXPECT_EQ(p.str("symbol"), "BTCUSD");
  EXPECT_EQ(p.str("asset_class"), "crypto");
  EXPECT_EQ(p.str("qty"), "0.009975000") << "0.25% of the coins went to the fee";
  EXPECT_EQ(get("/v2/positions/BTC%2FUSD").str("qty"), "0.009975000");
  EXPECT_EQ(get("/v2/positions/BTC/USD").status, 404) << "an unencoded slash is another route";
  // Selling what was bought is more than what was received.
  Answer too_much = post(
      "/v2/orders", order("BTC/USD", "sell", "0.01", R"("type":"market","time_in_force":"gtc")"));
  EXPECT_EQ(too_much.status, 403);
  Answer all =
      post("/v2/orders", order("BTCUSD", "sell", "0.009975",
                               R"("type":"limit","limit_price":"60000.00","time_in_force":"gtc")"));
  ASSERT_EQ(all.status, 200) << all.raw;
  EXPECT_EQ(all.str("symbol"), "BTC/USD");
  tick();
  EXPECT_EQ(get("/v2/positions/BTCUSD").status, 404);
  EXPECT_EQ(get("/v2/account").str("cash"), "99997.00")
      << "-600.00, then 598.50 less its 1.49625 fee";
}

TEST_F(SimTest, CryptoFeeRateIsConfigurable) {
  SimConfig c;
  c.rate_limit_per_min = 0;
  c.crypto_fee_rate = Decimal::must("0.0015");  // Alpaca's first-tier maker fee
  reset(c);
  Answer a = post("/v2/orders",
                  order("ETH/USD", "buy", "2", R"("type":"market","time_in_force":"gtc")"));
  ASSERT_EQ(a.status, 200) << a.raw;
  tick();
  EXPECT_EQ(get("/v2/orders/" + a.str("id")).str("filled_qty"), "2");
  EXPECT_EQ(get("/v2/positions/ETHUSD").str("qty"), "1.997000000")
      << "0.15% of 2 ETH went to the fee";
  Answer sell = post("/v2/orders", order("ETH/USD", "sell", "1.997",
                                         R"("type":"market","time_in_force":"gtc")"));
  ASSERT_EQ(sell.status, 200) << sell.raw;
  tick();
  EXPECT_EQ(get("/v2/positions/ETHUSD").status, 404) << "what was received sells in full";
  // -6000.00 for the coins, then 1.997 * 3000 = 5991.00 less its 8.9865 fee, in whole cents.
  EXPECT_EQ(get("/v2/account").str("cash"), "99982.01");
  c.crypto_fee_rate = Decimal();
  reset(c);
  post("/v2/orders", order("BTC/USD", "buy", "0.5", R"("type":"market","time_in_force":"gtc")"));
  tick();
  EXPECT_EQ(get("/v2/positions/BTCUSD").str("qty"), "0.500000000")
      << "no fee: the position is the fill";
}

TEST_F(SimTest, CryptoRules) {
  auto refuse = [&](std::string extra) {
    return post("/v2/orders", order("ETH/USD", "buy", "0.5", extra)).raw;
  };
  EXPECT_EQ(refuse(R"("type":"market","time_in_force":"day")"),
            R"({"code":40010001,"message":"invalid time_in_force for crypto order"})");
  EXPECT_EQ(refuse(R"("type":"stop","stop_price":"3100.00","time_in_force":"gtc")"),
            R"({"code":40010001,"message":"invalid order type for crypto order"})");
  EXPECT_EQ(refuse(R"("type":"trailing_stop","trail_percent":"2","time_in_force":"gtc")"),
            R"({"code":40010001,"message":"invalid order type for crypto order"})");
  EXPECT_EQ(
      refuse(
          R"("type":"limit","limit_price":"2900.00","time_in_force":"gtc","order_class":"oto",)"
          R"("stop_loss":{"stop_price":"2800.00"})"),
      R"({"code":40010001,"message":"invalid order class for crypto order"})");
  EXPECT_EQ(
      post("/v2/orders", order("ETH/USD", "buy", "0.123456789",
                               R"("type":"limit","limit_price":"2900.00","time_in_force":"gtc")"))
          .status,
      200);
  EXPECT_EQ(
      post(
          "/v2/orders",
          order(
              "ETH/USD", "buy", "0.1",
              R"("type":"stop_limit","stop_price":"3100.00","limit_price":"3110.00",)"
              R"("time_in_force":"ioc")"))
          .status,
      200);
  Answer asset = get("/v2/assets/ETHUSD");
  EXPECT_EQ(asset.str("class"), "crypto");
  EXPECT_EQ(asset.str("symbol"), "ETH/USD");
}

// Each pair's asset states its sizes (crypto only), and orders below or between them are refused:
// under min_order_size with Alpaca's 403 wording, a sell as well as a buy.
TEST_F(SimTest, CryptoAssetSizesAreServedAndEnforced) {
  Answer asset = get("/v2/assets/BTCUSD");
  EXPECT_EQ(asset.str("min_order_size"), "0.0001");
  EXPECT_EQ(asset.str("min_trade_increment"), "0.000000001");
  EXPECT_EQ(asset.str("price_increment"), "0.01");
  EXPECT_EQ(get("/v2/assets/SOLUSD").str("min_order_size"), "0.01");
  EXPECT_EQ(get("/v2/assets/AAPL").str("min_order_size"), "null") << "crypto only";
  const std::string gtc_market = R"("type":"market","time_in_force":"gtc")";
  Answer small = post("/v2/orders", order("BTC/USD", "buy", "0.00009", gtc_market));
  EXPECT_EQ(small.status, 403);
  EXPECT_EQ(small.raw,
            R"({"code":40310000,"message":"order qty must be >= minimal qty of order 0.0001"})");
  Answer odd = post("/v2/orders", order("BTC/USD", "buy", "0.0001000001", gtc_market));
  EXPECT_EQ(odd.status, 422) << odd.raw;
  EXPECT_EQ(post("/v2/orders", order("BTC/USD", "buy", "0.0001", gtc_market)).status, 200)
      << "the minimum itself is taken";
  tick();
  // The position holds 0.0001 less the 0.25% fee: below the minimum, it cannot be sold.
  Answer dust = post("/v2/orders", order("BTC/USD", "sell", "0.00009975", gtc_market));
  EXPECT_EQ(dust.status, 403) << dust.raw;
}

TEST_F(SimTest, SessionCloseLeavesCryptoOrdersAlone) {
  Answer gtc =
      post("/v2/orders", order("BTC/USD", "buy", "0.01",
                               R"("type":"limit","limit_price":"50000.00","time_in_force":"gtc")"));
  tick();
  ex_->session(SessionEvent::close);
  EXPECT_EQ(get("/v2/orders/" + gtc.str("id")).str("status"), "new");
  ex_->set_prices({{"BTC/USD", Decimal::must("49000.00")}});
  EXPECT_EQ(get("/v2/orders/" + gtc.str("id")).str("status"), "filled");
}

// ---- answers ----

TEST_F(SimTest, RefusedKeysGet401AsAtAlpaca) {
  SimConfig c;
  c.rate_limit_per_min = 0;
  c.key_id = "PK";
  c.secret_key = "SK";
  reset(c);
  Answer a =
      call("GET", "/v2/orders", "", {{"APCA-API-KEY-ID", "PK"}, {"APCA-API-SECRET-KEY", "no"}});
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(a.raw, R"({"code":40110000,"message":"request is not authorized"})");
}

TEST_F(SimTest, AccountCarriesTheCurrentSpecificationsFields) {
  Answer a = get("/v2/account");
  for (const char* key :
       {"balance_asof", "intraday_adjustments", "pending_reg_taf_fees", "effective_buying_power",
        "position_market_value", "crypto_status", "options_trading_level", "options_approved_level",
        "short_market_value"}) {
    EXPECT_TRUE(a.obj().contains(key)) << key;
  }
  EXPECT_EQ(a.str("balance_asof"), "2025-10-09");
  EXPECT_FALSE(a.obj().contains("pattern_day_trader")) << "removed on 2026-07-06";
}

TEST_F(SimTest, FillActivityIdsHaveAlpacasShapeAndSortByTime) {
  post("/v2/orders", order("F", "buy", "1"));
  post("/v2/orders", order("T", "buy", "1"));
  tick();  // both fill in the same millisecond
  clock_.advance_ms(5);
  buy_filled("F", "2");
  Answer acts = get("/v2/account/activities/FILL?direction=asc");
  ASSERT_EQ(acts.body.as_array().size(), 3u);
  std::vector<std::string> ids;
  const std::regex shape(
      "^[0-9]{17}::[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
  for (const auto& act : acts.body.as_array()) {
    ids.emplace_back(act.at("id").as_string());
    EXPECT_TRUE(std::regex_match(ids.back(), shape)) << ids.back();
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(ids[0].substr(0, 17), "20251010120000010");
  EXPECT_LT(ids[0], ids[1]) << "the same millisecond still sorts by execution";
}

TEST_F(SimTest, RateLimitIsCountedPerKey) {
  SimConfig c;
  c.rate_limit_per_min = 2;
  reset(c);
  auto as = [&](const char* key) {
    return call("GET", "/v2/account", "", {{"APCA-API-KEY-ID", key}, {"APCA-API-SECRET-KEY", "x"}});
  };
  EXPECT_EQ(as("A").status, 200);
  EXPECT_EQ(as("A").status, 200);
  EXPECT_EQ(as("A").status, 429);
  Answer b = as("B");
  EXPECT_EQ(b.status, 200);
  bool remaining = false;
  for (const auto& [k, v] : b.reply.headers) remaining |= k == "X-Ratelimit-Remaining" && v == "1";
  EXPECT_TRUE(remaining);
}

}  // namespace
}  // namespace orderly::sim::testing
