#pragma once
// Test helpers: an exchange under a virtual clock, driven with plain HTTP-shaped calls.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "core/time.h"
#include "sim/exchange.h"

namespace orderly::sim::testing {

namespace json = boost::json;

struct Answer {
  int status = 0;
  json::value body;
  std::string raw;
  HttpReply reply;
  const json::object& obj() const { return body.as_object(); }
  std::string str(std::string_view key) const {
    const json::value* v = body.as_object().if_contains(key);
    if (!v || v->is_null()) return "null";
    if (v->is_string()) return std::string(v->as_string());
    return json::serialize(*v);
  }
};

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SimConfig c;
    c.rate_limit_per_min = 0;  // tests make many calls at one virtual instant
    reset(c);
  }

  void reset(SimConfig config) {
    config_ = config;
    ex_ = make_exchange(config_, clock_);
  }

  Answer call(std::string method, std::string target, std::string body = "",
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpCall c{std::move(method), std::move(target), std::move(headers), std::move(body)};
    Answer a;
    a.reply = ex_->handle(c);
    a.status = a.reply.status;
    a.raw = a.reply.body;
    if (!a.raw.empty()) a.body = json::parse(a.raw);
    return a;
  }
  Answer get(std::string target) { return call("GET", std::move(target)); }
  Answer post(std::string target, std::string body) {
    return call("POST", std::move(target), std::move(body));
  }
  Answer del(std::string target) { return call("DELETE", std::move(target)); }
  Answer patch(std::string target, std::string body) {
    return call("PATCH", std::move(target), std::move(body));
  }

  // Lets virtual time pass and the exchange act on it.
  void tick(std::int64_t ms = 10) {
    clock_.advance_ms(ms);
    ex_->advance(clock_.now());
  }

  std::vector<json::object> stream() {
    std::vector<json::object> out;
    for (auto& m : ex_->take_stream_messages(clock_.now())) {
      out.push_back(json::parse(m.json).as_object());
    }
    return out;
  }
  static std::string event_of(const json::object& m) {
    return std::string(m.at("data").at("event").as_string());
  }
  static std::string order_id_of(const json::object& m) {
    return std::string(m.at("data").at("order").at("id").as_string());
  }

  std::string order(std::string_view symbol, std::string_view side, std::string_view qty,
                    std::string_view extra = "") {
    std::string body = R"({"symbol":")" + std::string(symbol) + R"(","side":")" +
                       std::string(side) + R"(","qty":")" + std::string(qty) + "\"";
    if (extra.empty()) body += R"(,"type":"market","time_in_force":"day")";
    else body += "," + std::string(extra);
    return body + "}";
  }

  // Buys and fills `qty` shares at the current price.
  std::string buy_filled(std::string_view symbol, std::string_view qty) {
    Answer a = post("/v2/orders", order(symbol, "buy", qty));
    EXPECT_EQ(a.status, 200) << a.raw;
    tick();
    std::string id = a.str("id");
    EXPECT_EQ(get("/v2/orders/" + id).str("status"), "filled");
    return id;
  }

  // One order of every kind the simulator takes (F held long, shorting on): limit, OCO, bracket,
  // crypto, trailing stop, notional, a short sale. Their POST answers, each asserted 200.
  std::vector<Answer> place_every_kind() {
    const std::vector<std::string> bodies = {
        order("AAPL", "buy", "2", R"("type":"limit","limit_price":"150.00","time_in_force":"gtc")"),
        order("F", "sell", "5",
              R"("type":"limit","time_in_force":"gtc","order_class":"oco",)"
              R"("take_profit":{"limit_price":"12.00"},"stop_loss":{"stop_price":"9.00"})"),
        order("T", "buy", "3",
              R"("type":"market","time_in_force":"day","order_class":"bracket",)"
              R"("take_profit":{"limit_price":"30.00"},"stop_loss":{"stop_price":"20.00"})"),
        order("ETH/USD", "buy", "0.02", R"("type":"market","time_in_force":"gtc")"),
        order("F", "sell", "5",
              R"("type":"trailing_stop","trail_percent":"2","time_in_force":"gtc")"),
        R"({"symbol":"KO","side":"buy","notional":"500","type":"market","time_in_force":"day"})",
        order("PFE", "sell", "4"),
    };
    std::vector<Answer> out;
    for (const auto& b : bodies) {
      out.push_back(post("/v2/orders", b));
      EXPECT_EQ(out.back().status, 200) << b << " -> " << out.back().raw;
    }
    return out;
  }

  ManualClock clock_{Timestamp::from_ms(1'760'097'600'000)};  // 2025-10-10T12:00:00Z
  SimConfig config_;
  std::unique_ptr<Exchange> ex_;
};

// A paper margin account, as `orderly sim` runs by default: shorting on.
class ShortingSimTest : public SimTest {
 protected:
  void SetUp() override {
    SimConfig c;
    c.rate_limit_per_min = 0;
    c.shorting = true;
    reset(c);
  }
};

}  // namespace orderly::sim::testing
