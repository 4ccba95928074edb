// The daemon's event log: repetitive lines are said once per period, with a count of the rest;
// the last word on a stream or an alert is the truth.
#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "app/event_log.h"

namespace orderly::app {
namespace {

TEST(LogLimiter, OneLinePerKeyAndPeriodThenTheCountOfWhatWasHeldBack) {
  LogLimiter limiter(std::chrono::seconds(60));
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  int held = -1;
  EXPECT_TRUE(limiter.allow("refused STWD", t0, held));
  EXPECT_EQ(held, 0);
  for (int i = 1; i <= 40; ++i) {
    EXPECT_FALSE(limiter.allow("refused STWD", t0 + std::chrono::seconds(i), held));
  }
  EXPECT_TRUE(limiter.allow("refused AAPL", t0 + std::chrono::seconds(1), held))
      << "another subject is another line";
  EXPECT_EQ(held, 0);
  EXPECT_TRUE(limiter.allow("refused STWD", t0 + std::chrono::seconds(61), held));
  EXPECT_EQ(held, 40) << "the next line says how many were held back";
}


// The log's last word on the stream and on an alert is the truth: a flapping stream is limited
// to a line a minute, but a told drop always has its reconnection told; an alert raised again
// after a told clear is told even within the minute. Before, the reconnection within a minute of
// the first connection was held back and the log ended on "disconnected" about a working stream.
class EventLogLines : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_pattern("%v");
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  }
  void TearDown() override { spdlog::set_default_logger(previous_); }
  std::vector<std::string> lines() const {
    std::vector<std::string> v;
    std::istringstream in(out_.str());
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(EventLogLines, AToldDropAlwaysHasItsRecoveryTold) {
  EventLog log("");
  log.stream_connected();
  log.stream_disconnected("connect: refused");
  log.stream_disconnected("connect: refused");  // within the minute: held back
  log.stream_connected();
  EXPECT_EQ(lines(), (std::vector<std::string>{"trade_updates stream connected",
                                               "trade_updates stream disconnected: "
                                               "connect: refused",
                                               "trade_updates stream connected"}));
}

TEST_F(EventLogLines, AnAlertRaisedAgainAfterItsClearIsTold) {
  EventLog log("");
  Alert a;
  a.id = 1;
  a.kind = AlertKind::broker_unreachable;
  a.subject = "broker";
  a.message = "connection refused";
  a.raised_at = Timestamp{1'000'000'000};
  auto commit = [&](const Alert& x) {
    WriteBatch b;
    b.alerts.push_back(x);
    log.committed(b);
  };
  commit(a);
  a.cleared_at = Timestamp{2'000'000'000};
  commit(a);
  Alert again = a;
  again.id = 2;
  again.cleared_at.reset();
  commit(again);
  const auto v = lines();
  ASSERT_EQ(v.size(), 3u) << out_.str();
  EXPECT_NE(v[0].find("ALERT raised (critical) broker_unreachable broker"), std::string::npos);
  EXPECT_NE(v[1].find("alert cleared: broker_unreachable broker (active 1.0 s)"),
            std::string::npos);
  EXPECT_NE(v[2].find("ALERT raised (critical) broker_unreachable broker"), std::string::npos);
}

// An alert raised and cleared ten times a second for a minute (the engine's stuck_order on a
// symbol whose exits were canceled elsewhere, by hand: 569 lines in a minute) is told twice, said
// to flap once, and held back; a minute on, the log tells where it settled, with the count.
TEST_F(EventLogLines, AFlappingAlertIsToldTwiceThenHeldBackAndSettled) {
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  EventLog log("", [&] { return now; });
  Alert a;
  a.kind = AlertKind::stuck_order;
  a.subject = "F";
  a.message = "5 exits placed within a minute all ended";
  auto commit = [&](const Alert& x) {
    WriteBatch b;
    b.alerts.push_back(x);
    log.committed(b);
  };
  for (int i = 1; i <= 600; ++i) {  // a minute, a flap every 100 ms
    a.id = i;
    a.raised_at = Timestamp{i * 100'000'000LL};
    a.cleared_at.reset();
    commit(a);
    now += std::chrono::milliseconds(50);
    if (i == 600) break;  // it ends raised
    a.cleared_at = Timestamp{i * 100'000'000LL + 50'000'000};
    commit(a);
    now += std::chrono::milliseconds(50);
  }
  const auto during = lines();
  ASSERT_EQ(during.size(), 5u) << out_.str();
  EXPECT_NE(during[2].find("ALERT raised (critical) stuck_order F"), std::string::npos);
  EXPECT_NE(during[4].find("ALERT stuck_order F flaps"), std::string::npos) << during[4];
  log.tick();  // still within the minute of the second told raise
  EXPECT_EQ(lines().size(), 5u);
  now += std::chrono::seconds(60);
  log.tick();
  const auto after = lines();
  ASSERT_EQ(after.size(), 6u) << out_.str();
  EXPECT_NE(after[5].find("ALERT raised (critical) stuck_order F"), std::string::npos);
  EXPECT_NE(after[5].find("(598 raises held back in the last minute)"), std::string::npos)
      << after[5];
  a.cleared_at = Timestamp{601 * 100'000'000LL};
  commit(a);  // its clear is told: the log's last word is the truth
  ASSERT_EQ(lines().size(), 7u) << out_.str();
  EXPECT_NE(lines()[6].find("alert cleared: stuck_order F"), std::string::npos);
}

// Every error event of an order was logged "broker refused ...": also a POST whose answer never
// came (the entry may be live at the broker) and one that was never sent. Only a 4xx answer is
// a refusal; an unknown outcome is said as such; what was not sent is the broker_unreachable
// line's to tell.
TEST_F(EventLogLines, OnlyABrokersAnswerIsCalledARefusal) {
  EventLog log("");
  auto commit = [&](const std::string& symbol, OrderState from, OrderState to,
                    const std::string& note, const std::string& payload = "") {
    WriteBatch b;
    Order o;
    o.id = static_cast<OrderId>(b.orders.size() + 1);
    o.symbol = symbol;
    o.qty = Decimal::must("1");
    o.client_order_id = "ol-x-1-e0";
    b.orders.push_back(o);
    OrderEvent e;
    e.order_id = o.id;
    e.source = EventSource::error;
    e.from = from;
    e.to = to;
    e.note = note;
    e.payload = payload;
    b.events.push_back(e);
    log.committed(b);
  };
  commit("RST", OrderState::submitting, OrderState::unknown,
         "outcome unknown, look up by client id: unknown_outcome: POST /v2/orders: reading the "
         "response: Connection reset by peer");
  commit("DOWN", OrderState::submitting, OrderState::created,
         "not_sent: POST /v2/orders: connecting to 127.0.0.1:1: Connection refused");
  commit("LATE", OrderState::accepted, OrderState::accepted,
         "late error reply ignored: rejected (HTTP 422, code 42210000): invalid");
  commit("BAD", OrderState::submitting, OrderState::submit_failed,
         "refused: rejected (HTTP 422, code 42210000): asset \"BAD\" not found");
  commit("HELD", OrderState::submitting, OrderState::created,
         "40310000 insufficient qty: available 0, held_for_orders 1, related 1; checking who "
         "holds the shares",
         R"({"code":40310000,"message":"insufficient qty available for order"})");
  const auto v = lines();
  ASSERT_EQ(v.size(), 3u) << out_.str();
  EXPECT_EQ(v[0].find("refused"), std::string::npos) << v[0];
  EXPECT_NE(v[0].find("outcome of entry buy 1 RST (order 1, ol-x-1-e0) unknown"),
            std::string::npos)
      << v[0];
  EXPECT_NE(v[1].find("broker refused entry buy 1 BAD"), std::string::npos) << v[1];
  EXPECT_NE(v[2].find("broker refused entry buy 1 HELD"), std::string::npos) << v[2];
}

}  // namespace
}  // namespace orderly::app
