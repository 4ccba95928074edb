// The client-side guard under Alpaca's 200/minute: waits instead of sending into a 429, and
// honours the server's X-Ratelimit-* headers. Virtual clocks: no real sleeping.
#include "broker/alpaca/rate_limiter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <optional>

namespace orderly::alpaca {
namespace {

using namespace std::chrono_literals;

struct CountingTransport : HttpTransport {
  std::deque<HttpResponse> answers;
  int sent = 0;
  std::optional<std::int64_t> stated_limit;  // X-Ratelimit-Limit on every default answer
  TransportResult send(const HttpRequest&) override {
    ++sent;
    if (answers.empty()) {
      HttpResponse r{200, {}, "{}"};
      r.ratelimit_limit = stated_limit;
      return r;
    }
    HttpResponse r = answers.front();
    answers.pop_front();
    return r;
  }
};

struct VirtualTime {
  std::chrono::steady_clock::time_point steady{};
  std::int64_t unix_s = 1'800'000'000;
  std::chrono::milliseconds slept{0};
  void advance(std::chrono::milliseconds d) {
    steady += d;
    unix_s += std::chrono::duration_cast<std::chrono::seconds>(d).count();
    slept += d;
  }
};

std::unique_ptr<RateLimitedTransport> limited(std::shared_ptr<CountingTransport> inner,
                                              int per_min, VirtualTime& t) {
  return std::make_unique<RateLimitedTransport>(
      inner, per_min, [&t] { return t.steady; }, [&t] { return t.unix_s; },
      [&t](std::chrono::milliseconds d) { t.advance(d); });
}

TEST(RateLimitedTransport, WaitsForASlotInsteadOfExceedingTheWindow) {
  auto inner = std::make_shared<CountingTransport>();
  VirtualTime t;
  auto transport = limited(inner, 3, t);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(transport->send({"GET", "/v2/clock", {}, {}}).ok());
  EXPECT_EQ(t.slept, 0ms);
  ASSERT_TRUE(transport->send({"GET", "/v2/clock", {}, {}}).ok());
  EXPECT_EQ(inner->sent, 4);
  // The fourth request went out only once the first had left the one-minute window.
  EXPECT_GE(t.slept, 60'000ms);
  EXPECT_LE(t.slept, 60'001ms);
  EXPECT_EQ(transport->waited(), t.slept);
}

TEST(RateLimitedTransport, A429BlocksUntilTheServersReset) {
  auto inner = std::make_shared<CountingTransport>();
  VirtualTime t;
  HttpResponse limited429{429, {}, R"({"message":"rate limit exceeded"})"};
  limited429.ratelimit_remaining = 0;
  limited429.ratelimit_reset_s = t.unix_s + 7;
  inner->answers.push_back(limited429);
  auto transport = limited(inner, 200, t);
  auto first = transport->send({"GET", "/v2/clock", {}, {}});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.value().status, 429);  // passed through: AlpacaBroker classifies it
  ASSERT_TRUE(transport->send({"GET", "/v2/clock", {}, {}}).ok());
  EXPECT_EQ(t.slept, 7'000ms);
}

TEST(RateLimitedTransport, RemainingZeroOnASuccessAlsoWaitsAndA429WithoutResetPausesOneSecond) {
  auto inner = std::make_shared<CountingTransport>();
  VirtualTime t;
  HttpResponse last{200, {}, "{}"};
  last.ratelimit_remaining = 0;
  last.ratelimit_reset_s = t.unix_s + 2;
  inner->answers.push_back(last);
  inner->answers.push_back(HttpResponse{429, {}, "{}"});
  auto transport = limited(inner, 0, t);  // window off: only the server's word counts
  ASSERT_TRUE(transport->send({"GET", "/v2/account", {}, {}}).ok());
  ASSERT_TRUE(transport->send({"GET", "/v2/account", {}, {}}).ok());
  EXPECT_EQ(t.slept, 2'000ms);
  ASSERT_TRUE(transport->send({"GET", "/v2/account", {}, {}}).ok());
  EXPECT_EQ(t.slept, 3'000ms);
  EXPECT_EQ(inner->sent, 3);
}

// Issue 16: with 1,500 configured the client capped at 200 and then froze for up to a minute
// while the engine believed its calls were sent. The window is now the server's stated limit.
TEST(RateLimitedTransport, TheServersStatedLimitIsTheWindowNotAFixed200) {
  auto inner = std::make_shared<CountingTransport>();
  inner->stated_limit = 1000;
  VirtualTime t;
  auto transport = limited(inner, 1500, t);
  EXPECT_EQ(transport->limit_per_min(), 1500);  // the configured value until the server speaks
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(transport->send({"GET", "/v2/clock", {}, {}}).ok());
  EXPECT_EQ(transport->limit_per_min(), 1000);  // never above what the server allows
  EXPECT_EQ(t.slept, 0ms);
  ASSERT_TRUE(transport->send({"GET", "/v2/clock", {}, {}}).ok());
  EXPECT_GE(t.slept, 60'000ms);  // the 1,001st waits for the window, not for a 429
  EXPECT_EQ(inner->sent, 1001);
}

TEST(RateLimitedTransport, AServerAllowingMoreNeverPushesTheClientBelowTheConfiguredValue) {
  auto inner = std::make_shared<CountingTransport>();
  inner->stated_limit = 1000;
  VirtualTime t;
  auto transport = limited(inner, 1000, t);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(transport->send({"GET", "/v2/orders", {}, {}}).ok());
  EXPECT_EQ(t.slept, 0ms);  // 1,000 in one minute, as configured and allowed (was 200 then a stall)
  EXPECT_EQ(transport->limit_per_min(), 1000);
}

TEST(RateLimitedTransport, TransportErrorsPassThroughUntouched) {
  struct Failing : HttpTransport {
    TransportResult send(const HttpRequest&) override {
      return TransportError{true, "connection reset after the request was written"};
    }
  };
  VirtualTime t;
  RateLimitedTransport transport(
      std::make_shared<Failing>(), 10, [&t] { return t.steady; }, [&t] { return t.unix_s; },
      [&t](std::chrono::milliseconds d) { t.advance(d); });
  auto r = transport.send({"POST", "/v2/orders", {}, "{}"});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().maybe_sent);
}

}  // namespace
}  // namespace orderly::alpaca
