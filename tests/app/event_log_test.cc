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

}  // namespace
}  // namespace orderly::app
