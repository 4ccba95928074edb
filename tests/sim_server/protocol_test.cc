#include "sim/server/protocol.h"

#include <gtest/gtest.h>

namespace orderly::sim::server {
namespace {

TEST(ParsePrices, AcceptsStringsAndNumbersExactly) {
  auto p = parse_prices(R"({"STWD":"10.25","AAPL":190.5,"F":12,"X":0.0001})");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->at("STWD"), Decimal::must("10.25"));
  EXPECT_EQ(p->at("AAPL"), Decimal::must("190.5"));
  EXPECT_EQ(p->at("F"), Decimal::must("12"));
  EXPECT_EQ(p->at("X"), Decimal::must("0.0001"));
}

TEST(ParsePrices, RefusesBadInput) {
  for (const char* body : {"", "not json", "[]", R"({"A":"abc"})", R"({"A":-1})", R"({"A":"0"})",
                           R"({"A":null})", R"({"A":true})", R"({"":"1"})", R"({"A":{"p":1}})",
                           R"({"A":"1e3"})", R"({"A":"1.1234567891234567891"})"}) {
    auto p = parse_prices(body);
    EXPECT_FALSE(p.ok()) << body;
    EXPECT_FALSE(p.status().message().empty());
  }
}

TEST(StreamProtocol, OpenSimulatorAuthorizesAnyKeysThenListens) {
  SimConfig config;
  StreamClientState state;
  auto r = handle_stream_message(
      R"({"action":"authenticate","data":{"key_id":"k","secret_key":"s"}})", config, state);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], R"({"stream":"authorization","data":{"action":"authenticate","status":"authorized"}})");
  EXPECT_TRUE(state.authorized);
  r = handle_stream_message(R"({"action":"listen","data":{"streams":["trade_updates"]}})", config,
                            state);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], R"({"stream":"listening","data":{"streams":["trade_updates"]}})");
  EXPECT_TRUE(state.listening);
  r = handle_stream_message(R"({"action":"listen","data":{"streams":[]}})", config, state);
  EXPECT_EQ(r[0], R"({"stream":"listening","data":{"streams":[]}})");
  EXPECT_FALSE(state.listening);
}

TEST(StreamProtocol, ListenBeforeAuthIsUnauthorized) {
  SimConfig config;
  StreamClientState state;
  auto r = handle_stream_message(R"({"action":"listen","data":{"streams":["trade_updates"]}})",
                                 config, state);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], R"({"stream":"authorization","data":{"action":"listen","status":"unauthorized"}})");
  EXPECT_FALSE(state.listening);
}

TEST(StreamProtocol, WrongKeysAreRefusedWithoutEchoingThem) {
  SimConfig config;
  config.key_id = "KEY";
  config.secret_key = "SECRET";
  StreamClientState state;
  auto r = handle_stream_message(
      R"({"action":"authenticate","data":{"key_id":"KEY","secret_key":"guess-123"}})", config,
      state);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].find("\"status\":\"unauthorized\""), std::string::npos);
  EXPECT_NE(r[0].find("access key verification failed"), std::string::npos);
  EXPECT_EQ(r[0].find("guess-123"), std::string::npos);
  EXPECT_FALSE(state.authorized);
  r = handle_stream_message(R"({"action":"authenticate","data":{}})", config, state);
  EXPECT_NE(r[0].find("must provide key_id and secret_key"), std::string::npos);
  r = handle_stream_message(
      R"({"action":"authenticate","data":{"key_id":"KEY","secret_key":"SECRET"}})", config, state);
  EXPECT_NE(r[0].find("\"status\":\"authorized\""), std::string::npos);
  EXPECT_TRUE(state.authorized);
}

TEST(StreamProtocol, GarbageGetsAnErrorNotACrash) {
  SimConfig config;
  StreamClientState state;
  for (const char* text : {"", "{", "[]", "42", R"({"action":7})", R"({"action":"dance"})",
                           R"({"action":"listen","data":"x"})", R"({"action":"authenticate"})"}) {
    auto r = handle_stream_message(text, config, state);
    ASSERT_EQ(r.size(), 1u) << text;
    EXPECT_FALSE(r[0].empty());
  }
}

}  // namespace
}  // namespace orderly::sim::server
