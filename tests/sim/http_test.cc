// Error bodies, bad input, auth, rate limit, fault plan, statistics, activities, determinism.
#include "sim_fixture.h"

namespace orderly::sim::testing {
namespace {

TEST_F(SimTest, BadInputGetsAlpacaStyleErrorsAndNeverApplies) {
  struct Case {
    std::string body;
    int status;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"{", 400, R"({"code":40010000,"message":"request body format is invalid"})"},
      {"[1,2]", 400, R"({"code":40010000,"message":"request body format is invalid"})"},
      {R"({"symbol":"AAPL","side":"buy","qty":true,"type":"market","time_in_force":"day"})", 400,
       R"({"code":40010000,"message":"request body format is invalid"})"},
      {R"({"symbol":5,"side":"buy","qty":"1","type":"market","time_in_force":"day"})", 400,
       R"({"code":40010000,"message":"request body format is invalid"})"},
      {R"({"side":"buy","qty":"1","type":"market","time_in_force":"day"})", 422,
       R"({"code":40010001,"message":"symbol is required"})"},
      {R"({"symbol":"AAPL","side":"up","qty":"1","type":"market","time_in_force":"day"})", 422,
       R"({"code":40010001,"message":"invalid side: up"})"},
      {R"({"symbol":"AAPL","side":"buy","type":"market","time_in_force":"day"})", 422,
       R"({"code":40010001,"message":"qty or notional is required"})"},
      {R"({"symbol":"AAPL","side":"buy","qty":"abc","type":"market","time_in_force":"day"})", 422,
       R"({"code":40010001,"message":"invalid qty \"abc\""})"},
      {R"({"symbol":"AAPL","side":"buy","qty":"-1","type":"market","time_in_force":"day"})", 422,
       R"({"code":40010001,"message":"qty must be > 0"})"},
      {R"({"symbol":"AAPL","side":"buy","qty":"1","type":"limit","time_in_force":"day"})", 422,
       R"({"code":40010001,"message":"limit_price is required"})"},
      {R"({"symbol":"AAPL","side":"buy","qty":"1","type":"limit","limit_price":"290.123","time_in_force":"day"})",
       422,
       R"({"code":42210000,"message":"invalid limit_price 290.123. sub-penny increment does not fulfill minimum pricing criteria"})"},
      {R"({"symbol":"AAPL","side":"buy","qty":"1","type":"stop","stop_price":"0.12345","time_in_force":"day"})",
       422,
       R"({"code":42210000,"message":"invalid stop_price 0.12345. sub-penny increment does not fulfill minimum pricing criteria"})"},
      {R"({"symbol":"NOPE","side":"buy","qty":"1","type":"market","time_in_force":"day"})", 422,
       R"({"code":42210000,"message":"asset \"NOPE\" not found"})"},
      {R"({"symbol":"AAPL","side":"buy","qty":"1","type":"market","time_in_force":"week"})", 422,
       R"({"code":40010001,"message":"invalid time_in_force: week"})"},
      {R"({"symbol":"AAPL","side":"buy","qty":"1.5","type":"limit","limit_price":"1.00","time_in_force":"gtc"})",
       422, R"({"code":42210000,"message":"fractional orders must be DAY orders"})"},
      {R"({"symbol":"AAPL","side":"buy","qty":"100000","type":"market","time_in_force":"day"})", 403,
       R"({"buying_power":"100000","code":40310000,"cost_basis":"23690000.00","message":"insufficient buying power"})"},
      {R"({"symbol":"AAPL","side":"buy","qty":"999999999999999999999999","type":"market","time_in_force":"day"})", 422,
       R"({"code":40010001,"message":"invalid qty \"999999999999999999999999\""})"},
  };
  for (const Case& c : cases) {
    Answer a = post("/v2/orders", c.body);
    EXPECT_EQ(a.status, c.status) << c.body;
    EXPECT_EQ(a.raw, c.expect) << c.body;
  }
  EXPECT_EQ(get("/v2/orders?status=all").body.as_array().size(), 0u);
  // Numbers are accepted for decimals (§1).
  EXPECT_EQ(post("/v2/orders", R"({"symbol":"AAPL","side":"buy","qty":2,"type":"limit","limit_price":225.5,"time_in_force":"day"})").str("limit_price"), "225.5");

  Answer route = get("/v2/nothing");
  EXPECT_EQ(route.status, 404);
  EXPECT_EQ(route.raw, R"({"code":40410000,"message":"endpoint not found"})");
  EXPECT_EQ(call("PUT", "/v2/orders").status, 405);
  EXPECT_EQ(get("/v2/orders/nope").raw, R"({"code":40410000,"message":"order not found"})");
  EXPECT_EQ(get("/v2/account/activities/NOPE").raw,
            R"({"code":40010001,"message":"invalid activity type: NOPE"})");
  EXPECT_EQ(patch("/v2/orders/nope", "{}").status, 404);
  EXPECT_EQ(patch("/v2/orders/nope", "{").status, 400);

  SimConfig small;
  small.rate_limit_per_min = 0;
  small.max_body_bytes = 64;
  reset(small);
  Answer big = post("/v2/orders", std::string(100, ' '));
  EXPECT_EQ(big.status, 400);
  EXPECT_EQ(big.raw, R"({"code":40010000,"message":"request body too large"})");
}

TEST_F(SimTest, AuthRefusesAMissingOrWrongKeyPairWithoutEchoingIt) {
  SimConfig c;
  c.rate_limit_per_min = 0;
  c.key_id = "PKTEST";
  c.secret_key = "s3cret-value";
  reset(c);
  Answer none = get("/v2/account");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.raw, R"({"code":40110000,"message":"request is not authorized"})");
  Answer wrong = call("GET", "/v2/account", "", {{"APCA-API-KEY-ID", "PKTEST"}, {"APCA-API-SECRET-KEY", "guess"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.raw.find("s3cret"), std::string::npos);
  Answer right = call("GET", "/v2/account", "", {{"apca-api-key-id", "PKTEST"}, {"APCA-API-SECRET-KEY", "s3cret-value"}});
  EXPECT_EQ(right.status, 200);
  EXPECT_TRUE(ex_->check_credentials("PKTEST", "s3cret-value"));
  EXPECT_FALSE(ex_->check_credentials("PKTEST", "nope"));
  EXPECT_EQ(ex_->stats_json().find("s3cret"), std::string::npos);
}

TEST_F(SimTest, RateLimitAnswers429WithHeadersAndResetsAfterTheWindow) {
  SimConfig c;
  c.rate_limit_per_min = 3;
  reset(c);
  auto hdr = [](const Answer& a, std::string_view name) {
    for (const auto& [k, v] : a.reply.headers) {
      if (k == name) return v;
    }
    return std::string("missing");
  };
  for (int i = 0; i < 3; ++i) {
    Answer a = get("/v2/account");
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(hdr(a, "X-Ratelimit-Remaining"), std::to_string(2 - i));
    EXPECT_EQ(hdr(a, "X-Ratelimit-Limit"), "3");
  }
  Answer over = get("/v2/account");
  EXPECT_EQ(over.status, 429);
  EXPECT_EQ(over.raw, R"({"code":42910000,"message":"rate limit exceeded"})");
  EXPECT_EQ(hdr(over, "X-Ratelimit-Reset"), std::to_string(clock_.now().ns / 1'000'000'000 + 60));
  clock_.advance_ms(60'000);
  EXPECT_EQ(get("/v2/account").status, 200);
}

TEST_F(SimTest, FaultPlanStreamDropOfSellFillsReproducesTheIncident) {
  ASSERT_EQ(ex_->set_faults_json(R"({"rules":[{"on":"stream","action":"drop","p":1.0,"event":"fill","side":"sell","symbol":"STWD"}]})"), "");
  buy_filled("STWD", "37");
  Answer tp = post("/v2/orders", order("STWD", "sell", "37", R"("type":"limit","time_in_force":"gtc","limit_price":"20.50")"));
  tick();
  ex_->set_prices({{"STWD", Decimal::must("20.60")}});
  std::vector<std::string> seen;
  for (const auto& m : stream()) seen.push_back(event_of(m) + ":" + std::string(m.at("data").at("order").at("side").as_string()));
  EXPECT_EQ(seen, (std::vector<std::string>{"new:buy", "fill:buy", "new:sell"}));
  EXPECT_EQ(get("/v2/orders/" + tp.str("id")).str("status"), "filled");  // REST knows the truth
  EXPECT_NE(ex_->stats_json().find(R"("faults":{"drop":1})"), std::string::npos) << ex_->stats_json();
}

TEST_F(SimTest, FaultPlanDuplicateDelayReorderAndDisconnect) {
  ASSERT_EQ(ex_->set_faults_json(R"({"rules":[{"on":"stream","action":"duplicate","p":1,"event":"new"}]})"), "");
  post("/v2/orders", order("F", "buy", "1"));
  tick();
  auto msgs = stream();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(json::serialize(msgs[0]), json::serialize(msgs[1]));  // same execution_id: a true duplicate

  ASSERT_EQ(ex_->set_faults_json(R"({"rules":[{"on":"stream","action":"delay","p":1,"delay_ms":500,"event":"new"}]})"), "");
  post("/v2/orders", order("F", "buy", "1"));
  tick();
  msgs = stream();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(event_of(msgs[0]), "fill");
  clock_.advance_ms(500);
  msgs = stream();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(event_of(msgs[0]), "new");

  ASSERT_EQ(ex_->set_faults_json(R"({"rules":[{"on":"stream","action":"reorder","p":1,"event":"new"}]})"), "");
  post("/v2/orders", order("F", "buy", "1"));
  tick();
  msgs = stream();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(event_of(msgs[0]), "fill");
  EXPECT_EQ(event_of(msgs[1]), "new");

  ASSERT_EQ(ex_->set_faults_json(R"({"rules":[{"on":"stream","action":"disconnect","every_s":30}]})"), "");
  EXPECT_FALSE(ex_->stream_disconnect_due(clock_.now()));
  clock_.advance_ms(29'000);
  EXPECT_FALSE(ex_->stream_disconnect_due(clock_.now()));
  clock_.advance_ms(1'000);
  EXPECT_TRUE(ex_->stream_disconnect_due(clock_.now()));
  EXPECT_FALSE(ex_->stream_disconnect_due(clock_.now()));
  const std::string stats = ex_->stats_json();
  EXPECT_NE(stats.find(R"("faults":{"delay":1,"disconnect":1,"duplicate":1,"reorder":1})"), std::string::npos) << stats;
}

TEST_F(SimTest, FaultPlanHttpStatusSlowAndLostResponse) {
  ASSERT_EQ(ex_->set_faults_json(R"({"rules":[{"on":"http","action":"status","p":1,"status":503,"route":"POST /v2/orders"}]})"), "");
  Answer a = post("/v2/orders", order("F", "buy", "1", R"("type":"market","time_in_force":"day","client_order_id":"c1")"));
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.raw, R"({"code":50310000,"message":"service unavailable"})");
  EXPECT_EQ(get("/v2/orders:by_client_order_id?client_order_id=c1").status, 404);  // not applied

  ASSERT_EQ(ex_->set_faults_json(R"({"rules":[{"on":"http","action":"lose_response","p":1,"route":"POST /v2/orders"},{"on":"http","action":"slow","p":1,"delay_ms":2000,"route":"GET /v2/orders/{id}"}]})"), "");
  Answer lost = post("/v2/orders", order("F", "buy", "1", R"("type":"market","time_in_force":"day","client_order_id":"c2")"));
  EXPECT_EQ(lost.reply.fault, HttpFault::lose_response);
  Answer found = get("/v2/orders:by_client_order_id?client_order_id=c2");
  EXPECT_EQ(found.status, 200);  // applied
  EXPECT_EQ(found.reply.delay_ms, 0);
  Answer slow = get("/v2/orders/" + found.str("id"));
  EXPECT_EQ(slow.reply.delay_ms, 2000);
  EXPECT_EQ(slow.status, 200);
  const std::string stats = ex_->stats_json();
  EXPECT_NE(stats.find(R"("faults":{"lose_response":1,"slow":1,"status":1})"), std::string::npos) << stats;
  EXPECT_NE(stats.find(R"("GET /v2/orders/{id}":1)"), std::string::npos) << stats;
  EXPECT_NE(stats.find(R"("503":1)"), std::string::npos) << stats;
  EXPECT_NE(stats.find(R"("50310000":1)"), std::string::npos) << stats;
}

TEST_F(SimTest, BadFaultPlansAreRefusedWithAReason) {
  EXPECT_NE(ex_->set_faults_json("nope"), "");
  EXPECT_NE(ex_->set_faults_json(R"({"rules":[{"on":"stream","action":"explode"}]})").find("unknown action"), std::string::npos);
  EXPECT_NE(ex_->set_faults_json(R"({"rules":[{"on":"stream","action":"drop","p":1.5}]})").find("[0, 1]"), std::string::npos);
  EXPECT_NE(ex_->set_faults_json(R"({"rules":[{"on":"http","action":"drop"}]})"), "");
  EXPECT_NE(ex_->set_faults_json(R"({"rules":[{"on":"http","action":"status","p":1}]})"), "");
  EXPECT_NE(ex_->set_faults_json(R"({"rules":[{"on":"stream","action":"delay","p":1}]})"), "");
  EXPECT_NE(ex_->set_faults_json(R"({"rules":[{"on":"stream","action":"drop","colour":"red"}]})"), "");
  EXPECT_EQ(ex_->set_faults_json(R"({"rules":[{"on":"stream","action":"duplicate|reorder","p":0.1}]})"), "");
  Answer a = post("/sim/faults", R"({"rules":[{"on":"stream","action":"drop","p":-1}]})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.str("code"), "40010000");
}

TEST_F(SimTest, FillActivitiesPageByTokenInBothDirections) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(buy_filled("F", "1"));
    clock_.advance_ms(1000);
  }
  std::vector<std::string> seen;
  std::string token;
  for (int page = 0; page < 5; ++page) {
    Answer a = get("/v2/account/activities/FILL?direction=asc&page_size=2" +
                   (token.empty() ? std::string() : "&page_token=" + token));
    ASSERT_EQ(a.status, 200) << a.raw;
    if (a.body.as_array().empty()) break;
    for (const auto& act : a.body.as_array()) {
      seen.push_back(std::string(act.at("order_id").as_string()));
      token = std::string(act.at("id").as_string());
      EXPECT_EQ(act.at("activity_type").as_string(), "FILL");
      EXPECT_EQ(act.at("order_status").as_string(), "filled");
      EXPECT_EQ(act.at("cum_qty").as_string(), "1");
      EXPECT_EQ(act.at("leaves_qty").as_string(), "0");
    }
  }
  EXPECT_EQ(seen, ids);
  Answer desc = get("/v2/account/activities?activity_types=FILL&page_size=2");
  ASSERT_EQ(desc.body.as_array().size(), 2u);
  EXPECT_EQ(desc.body.as_array()[0].at("order_id").as_string(), ids[4]);
  Answer next = get("/v2/account/activities?activity_types=FILL&page_size=2&page_token=" +
                    std::string(desc.body.as_array()[1].at("id").as_string()));
  ASSERT_EQ(next.body.as_array().size(), 2u);
  EXPECT_EQ(next.body.as_array()[0].at("order_id").as_string(), ids[2]);
  Answer after = get("/v2/account/activities/FILL?direction=asc&after=" +
                     std::string(desc.body.as_array()[1].at("transaction_time").as_string()));
  ASSERT_EQ(after.body.as_array().size(), 1u);
  EXPECT_EQ(after.body.as_array()[0].at("order_id").as_string(), ids[4]);
  EXPECT_EQ(get("/v2/account/activities?activity_types=DIV").body.as_array().size(), 0u);
}

// One seed, the same calls under the same clock: the same bytes, faults and random walk included.
std::string run_script(std::uint64_t seed) {
  ManualClock clock(Timestamp::from_ms(1'760'097'600'000));
  SimConfig c;
  c.seed = seed;
  c.tick_ms = 100;
  c.partial_fills = true;
  c.rate_limit_per_min = 0;
  auto ex = make_exchange(c, clock);
  ex->set_faults_json(R"({"rules":[{"on":"stream","action":"duplicate|reorder|drop","p":0.2},{"on":"http","action":"lose_response","p":0.3}]})");
  std::string out;
  for (int i = 0; i < 40; ++i) {
    const bool sell = i % 3 == 2;
    std::string body = std::string(R"({"symbol":")") + (i % 2 ? "AAPL" : "F") + R"(","side":")" +
                       (sell ? "sell" : "buy") + R"(","qty":")" + std::to_string(1 + i % 7) +
                       R"(","type":"market","time_in_force":"day"})";
    HttpReply r = ex->handle({"POST", "/v2/orders", {}, body});
    out += std::to_string(r.status) + r.body + (r.fault == HttpFault::lose_response ? "L" : "") + "\n";
    clock.advance_ms(250);
    ex->advance(clock.now());
    for (auto& m : ex->take_stream_messages(clock.now())) out += m.json + "\n";
  }
  out += ex->handle({"GET", "/v2/positions", {}, ""}).body;
  out += ex->handle({"GET", "/v2/account/activities/FILL", {}, ""}).body;
  out += ex->stats_json();
  return out;
}

TEST(SimDeterminism, SameSeedSameBytesOtherSeedOtherIds) {
  const std::string a = run_script(7);
  const std::string b = run_script(7);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, run_script(8));
  EXPECT_NE(a.find("partial_fill"), std::string::npos);
}

}  // namespace
}  // namespace orderly::sim::testing
