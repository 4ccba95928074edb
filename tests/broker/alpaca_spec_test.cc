// Alpaca as it really is (issue 16): the response examples of Alpaca's own OpenAPI description
// (tests/broker/data/alpaca_spec) are all read, and one element that cannot be read never hides
// the rest of a list.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "broker/alpaca/alpaca_broker.h"
#include "broker/alpaca/json.h"
#include "support/paths.h"

namespace orderly::alpaca {
namespace {

namespace json = boost::json;

// One example file: {"_source": ..., "<name>": <example>, ...}.
json::object spec_file(const std::string& name) {
  std::ifstream in(orderly::testing::source_dir() + "/tests/broker/data/alpaca_spec/" + name);
  std::stringstream text;
  text << in.rdbuf();
  json::value v = json::parse(text.str());
  json::object examples = v.as_object();
  examples.erase("_source");
  return examples;
}

std::string array_of(const json::object& examples) {
  json::array a;
  for (const auto& [name, example] : examples) a.push_back(example);
  return json::serialize(a);
}

TEST(AlpacaSpec, EveryOrderExampleIsReadAndAListingOfAllOfThemLosesNone) {
  const json::object examples = spec_file("order_examples.json");
  ASSERT_EQ(examples.size(), 5u);  // crypto, equity, IPO, multi-leg options, option
  for (const auto& [name, example] : examples) {
    std::vector<UnreadableItem> skipped;
    auto o = parse_order(json::serialize(example), &skipped);
    ASSERT_TRUE(o.ok()) << name << ": " << o.status().to_string();
    EXPECT_TRUE(skipped.empty()) << name;
    EXPECT_EQ(o->id, std::string(example.as_object().at("id").as_string())) << name;
  }
  auto listing = parse_orders(array_of(examples));
  ASSERT_TRUE(listing.ok()) << listing.status().to_string();
  EXPECT_EQ(listing->size(), 5u);
  EXPECT_TRUE(listing->unreadable.empty());
}

TEST(AlpacaSpec, TheMultiLegOptionsOrderKeepsItsLegsAndSaysItHasNoSide) {
  const json::object examples = spec_file("order_examples.json");
  auto o = parse_order(json::serialize(examples.at("MultilegOptionsOrderResponse")));
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->symbol, "");
  EXPECT_EQ(o->status, OrderState::filled);
  EXPECT_EQ(o->filled_avg_price, Decimal::must("1.28"));
  ASSERT_EQ(o->legs.size(), 2u);
  EXPECT_EQ(o->legs[0].symbol, "AAPL241213C00250000");
  EXPECT_EQ(o->legs[0].side, Side::buy);
  EXPECT_EQ(o->legs[1].side, Side::sell);
  EXPECT_EQ(o->legs[1].asset_class, "us_option");
  bool noted = false;
  for (const auto& n : o->parse_notes) noted |= n.find("no side") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(AlpacaSpec, CryptoOrderQuantities) {
  auto o = parse_order(json::serialize(spec_file("order_examples.json").at("CryptoOrderResponse")));
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->symbol, "ETH/USD");
  EXPECT_EQ(o->qty->str(), "0.02");
  EXPECT_EQ(o->asset_class, "crypto");
}

// Done-when of issue 16: a GET /v2/positions holding a crypto position with 16 fractional
// digits is read whole, with the other positions (it used to hide all of them: 0 of 4 read).
TEST(AlpacaSpec, ACryptoPositionWith16FractionalDigitsIsReadWholeWithTheOthers) {
  const json::object examples = spec_file("position_examples.json");
  auto listing = parse_positions(array_of(examples));
  ASSERT_TRUE(listing.ok()) << listing.status().to_string();
  EXPECT_TRUE(listing->unreadable.empty());
  ASSERT_EQ(listing->size(), 3u);
  bool crypto = false;
  for (const BrokerPosition& p : *listing) {
    // Alpaca names it BTCUSD; orderly names it as the pair's orders are (BTC/USD).
    if (p.symbol != "BTC/USD") continue;
    crypto = true;
    EXPECT_EQ(p.avg_entry_price.str(), "19660.5738784516887649");
    EXPECT_EQ(p.qty.str(), "1.0002997");
    EXPECT_EQ(p.qty_available, p.qty);
  }
  EXPECT_TRUE(crypto);
}

TEST(AlpacaSpec, AccountsActivityClockExamples) {
  const json::object accounts = spec_file("account_example.json");
  for (const auto& [name, example] : accounts) {
    auto a = parse_account(json::serialize(example));
    ASSERT_TRUE(a.ok()) << name << ": " << a.status().to_string();
    EXPECT_EQ(a->status, "ACTIVE");
  }
  auto a = parse_account(json::serialize(accounts.at("example-1")));
  EXPECT_EQ(a->cash.str(), "-23140.2");
  auto fills = parse_fill_activities(array_of(spec_file("activity_examples.json")));
  ASSERT_TRUE(fills.ok()) << fills.status().to_string();
  ASSERT_EQ(fills->size(), 1u);
  EXPECT_EQ((*fills)[0].id, "20220202135509981::2d7be4ff-d1f3-43e9-856a-0f5cf5c5088e");
  EXPECT_EQ((*fills)[0].price, Decimal::must("174.78"));
  EXPECT_EQ(fills->last_id, (*fills)[0].id);
  auto clock = parse_clock(json::serialize(spec_file("clock_calendar_examples.json").at("clock")));
  ASSERT_TRUE(clock.ok()) << clock.status().to_string();
  EXPECT_TRUE(clock->is_open);
}

// ---- one unreadable element never hides the rest ------------------------------------------

constexpr std::string_view kGoodOrder = R"({"id":"o-good","client_order_id":"c","symbol":"F",
  "side":"buy","type":"market","time_in_force":"day","qty":"1","filled_qty":"0","status":"new",
  "created_at":"2024-01-02T03:04:05Z"})";

TEST(AlpacaUnreadable, AnUnreadableOrderIsSkippedKeptRawAndReportedWithItsId) {
  const std::string bad_json =
      R"({"id":"o-bad","side":"sideways","status":"new","created_at":"2024-01-02T03:04:05Z"})";
  const std::string good(kGoodOrder);
  const std::string page = "[" + good + "," + bad_json + ",42," + good + "]";
  auto listing = parse_orders(page);
  ASSERT_TRUE(listing.ok()) << listing.status().to_string();
  EXPECT_EQ(listing->size(), 2u);
  EXPECT_EQ(listing->elements, 4u);
  ASSERT_EQ(listing->unreadable.size(), 2u);
  const UnreadableItem& bad = listing->unreadable[0];
  EXPECT_EQ(bad.kind, "order");
  EXPECT_EQ(bad.id, "o-bad");
  EXPECT_NE(bad.raw.find("sideways"), std::string::npos);
  EXPECT_NE(bad.reason.find("unknown side"), std::string::npos);
  EXPECT_EQ(listing->unreadable[1].raw, "42");
  EXPECT_EQ(listing->unreadable[1].id, "");
}

TEST(AlpacaUnreadable, AnUnreadableLegIsReportedAndItsParentKept) {
  const std::string parent =
      R"({"id":"p","side":"buy","status":"new","created_at":"2024-01-02T03:04:05Z",
    "order_class":"bracket","legs":[{"id":"leg-bad"},)" +
      std::string(kGoodOrder) + "]}";
  std::vector<UnreadableItem> skipped;
  auto o = parse_order(parent, &skipped);
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  ASSERT_EQ(o->legs.size(), 1u);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].kind, "leg");
  EXPECT_EQ(skipped[0].id, "leg-bad");
}

TEST(AlpacaUnreadable, HugeRawPayloadsAreBounded) {
  const std::string page =
      R"([{"id":"big","side":"up","pad":")" + std::string(20'000, 'x') + R"("}])";
  auto listing = parse_orders(page);
  ASSERT_TRUE(listing.ok());
  ASSERT_EQ(listing->unreadable.size(), 1u);
  EXPECT_EQ(listing->unreadable[0].raw.size(), UnreadableItem::kMaxRaw);
}

TEST(AlpacaUnreadable, EmptyStringsNullsAndUnknownStatusesAreToleratedNotFatal) {
  auto o = parse_order(R"({"id":"e","client_order_id":"","symbol":"BTC/USD","side":"sell",
    "type":"","order_type":"","time_in_force":"","order_class":"","qty":"0.000123456789012345",
    "filled_qty":"","filled_avg_price":"","limit_price":null,"status":"something_new",
    "created_at":"2024-01-02T03:04:05Z","updated_at":"","filled_at":"","legs":[]})");
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->qty->str(), "0.000123456789012345");
  EXPECT_EQ(o->filled_qty, Decimal());
  EXPECT_FALSE(o->filled_avg_price.has_value());
  EXPECT_FALSE(o->status.has_value());
  EXPECT_EQ(o->updated_at, o->created_at);
}

TEST(AlpacaUnreadable, AnActivityPageEndingInUnreadableElementsStillNamesItsLastId) {
  auto fills = parse_fill_activities(R"([{"id":"20240102030405000::a","order_id":"o","symbol":"F",
    "side":"buy","qty":"1","price":"2","transaction_time":"2024-01-02T03:04:05Z"},
    {"id":"20240102030406000::b","side":"buy","qty":"x"}])");
  ASSERT_TRUE(fills.ok());
  EXPECT_EQ(fills->size(), 1u);
  EXPECT_EQ(fills->elements, 2u);
  EXPECT_EQ(fills->last_id, "20240102030406000::b");
}

// ---- through AlpacaBroker -------------------------------------------------------------------

struct OneAnswer : HttpTransport {
  HttpResponse answer;
  TransportResult send(const HttpRequest&) override { return answer; }
};

AlpacaBroker broker_answering(int status, std::string body, HttpHeaders headers = {}) {
  auto t = std::make_shared<OneAnswer>();
  t->answer.status = status;
  t->answer.body = std::move(body);
  t->answer.headers = std::move(headers);
  t->answer.read_ratelimit_headers();
  return AlpacaBroker(t, AlpacaConfig{"http://127.0.0.1:1", "k", "s"});
}

TEST(AlpacaUnreadable, ListPositionsReturnsTheReadableOnesAndReportsTheOther) {
  const json::object examples = spec_file("position_examples.json");
  json::array page;
  for (const auto& [name, example] : examples) page.push_back(example);
  page.push_back(json::parse(R"({"symbol":"ODD","qty":"1e3"})"));
  AlpacaBroker broker = broker_answering(200, json::serialize(page));
  auto r = broker.list_positions();
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->size(), 3u);
  ASSERT_EQ(r.unreadable().size(), 1u);
  EXPECT_EQ(r.unreadable()[0].kind, "position");
  EXPECT_NE(r.unreadable()[0].raw.find("ODD"), std::string::npos);
}

TEST(AlpacaUnreadable, AnAnswerThatArrivedButCannotBeReadIsItsOwnKind) {
  AlpacaBroker broker = broker_answering(200, R"({"id":"x","side":"buy"})");
  auto r = broker.get_order("x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::unreadable);
  EXPECT_EQ(r.error().http_status, 200);
  EXPECT_NE(r.error().describe().find("unreadable answer to GET"), std::string::npos)
      << r.error().describe();
}

TEST(AlpacaUnreadable, TheBrokerLearnsTheStatedRateLimitFromAnyAnswer) {
  AlpacaBroker silent = broker_answering(200, "[]");
  ASSERT_TRUE(silent.list_positions().ok());
  EXPECT_FALSE(silent.stated_rate_limit().has_value());
  AlpacaBroker stated = broker_answering(
      404, R"({"code":40410000,"message":"order not found"})",
      {{"X-Ratelimit-Limit", "1000"},
       {"X-Ratelimit-Remaining", "999"},
       {"X-Ratelimit-Reset", "1"}});
  ASSERT_FALSE(stated.get_order("nope").ok());
  EXPECT_EQ(stated.stated_rate_limit(), 1000);
}

}  // namespace
}  // namespace orderly::alpaca
