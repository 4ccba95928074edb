// Garbage in: every route answers a JSON error or a valid answer, never a crash or a hang.
#include "sim/rng.h"
#include "sim_fixture.h"

namespace orderly::sim::testing {
namespace {

TEST_F(SimTest, BadTargetsAreRefusedWithJson) {
  for (const char* target : {"no-slash", "/v2/orders?%zz", "", "/v2/orders/%00", "//", "/v2/orders/a/b/c"}) {
    Answer a = get(target);
    EXPECT_GE(a.status, 400) << target;
    EXPECT_TRUE(a.body.is_object()) << target;
  }
}

TEST_F(SimTest, RandomBodiesOnEveryRouteNeverCrash) {
  buy_filled("STWD", "37");
  const std::string seed_order = get("/v2/orders?status=all").body.as_array()[0].at("id").as_string().c_str();
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"POST", "/v2/orders"}, {"PATCH", "/v2/orders/" + seed_order}, {"POST", "/sim/prices"},
      {"POST", "/sim/faults"}, {"DELETE", "/v2/positions/STWD?qty=abc"}, {"GET", "/v2/orders?limit=-5"},
      {"GET", "/v2/account/activities/FILL?page_size=0"}};
  const std::vector<std::string> fragments = {
      R"("symbol":"STWD")", R"("side":"sell")", R"("side":"buy")", R"("qty":"37")", R"("qty":1e400)",
      R"("qty":-3)", R"("type":"limit")", R"("type":"stop_limit")", R"("limit_price":"0.0001")",
      R"("limit_price":{})", R"("time_in_force":"gtc")", R"("order_class":"bracket")",
      R"("order_class":"oco")", R"("take_profit":{"limit_price":"25"})", R"("stop_loss":[])",
      R"("stop_loss":{"stop_price":"1"})", R"("client_order_id":"x")", R"("notional":"5")",
      R"("extended_hours":"yes")", R"("rules":[{"on":"http","action":"status","status":503}])",
      R"("STWD":"21")"};
  Rng rng(42);
  for (int i = 0; i < 3000; ++i) {
    std::string body = "{";
    const int n = static_cast<int>(rng.below(6));
    for (int k = 0; k < n; ++k) body += (k ? "," : "") + fragments[rng.below(fragments.size())];
    body += "}";
    if (rng.below(10) == 0) body = body.substr(0, rng.below(body.size() + 1));
    const auto& [method, target] = routes[rng.below(routes.size())];
    HttpReply r = ex_->handle({method, target, {}, body});
    ASSERT_GE(r.status, 200) << body;
    ASSERT_LT(r.status, 600) << body;
    if (!r.body.empty()) {
      boost::system::error_code ec;
      json::parse(r.body, ec);
      ASSERT_FALSE(ec) << r.body;
    }
    if (i % 50 == 0) tick();
  }
  ex_->set_faults_json(R"({"rules":[]})");
  EXPECT_EQ(get("/v2/account").status, 200);
}

}  // namespace
}  // namespace orderly::sim::testing
