#include "app/webhook.h"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "support/memory_store.h"
#include "process.h"

namespace orderly::app {
namespace {

// A loopback HTTP endpoint that records request bodies and answers 200 (or 500 for the first
// `fail_first` requests).
class Receiver {
 public:
  explicit Receiver(int fail_first = 0) : fail_left_(fail_first) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 8);
    thread_ = std::thread([this] { loop(); });
  }
  ~Receiver() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }

 private:
  void loop() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string data;
      char buf[4096];
      for (;;) {
        auto head_end = data.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          auto cl = data.find("Content-Length: ");
          if (cl == std::string::npos) cl = data.find("content-length: ");
          std::size_t length = cl == std::string::npos ? 0 : std::stoul(data.substr(cl + 16));
          if (data.size() >= head_end + 4 + length) {
            std::lock_guard lock(mu_);
            bool fail = fail_left_ > 0;
            if (fail) {
              --fail_left_;
            } else {
              bodies_.push_back(data.substr(head_end + 4, length));
            }
            std::string reply = std::string("HTTP/1.1 ") + (fail ? "500 Oops" : "200 OK") +
                                "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            ::send(c, reply.data(), reply.size(), 0);
            break;
          }
        }
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        data.append(buf, n);
      }
      ::close(c);
    }
  }
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  int fail_left_;
  std::vector<std::string> bodies_;
};

Alert alert(std::int64_t id, AlertKind kind, std::string subject, bool cleared) {
  Alert a;
  a.id = id;
  a.kind = kind;
  a.subject = std::move(subject);
  a.message = "drift";
  a.raised_at = Timestamp::from_ms(1'760'000'000'000);
  if (cleared) a.cleared_at = Timestamp::from_ms(1'760'000'060'000);
  return a;
}

void put(Store& store, const Alert& a) {
  WriteBatch b;
  b.alerts.push_back(a);
  ASSERT_TRUE(store.commit(b).ok());
}

// A webhook to `receiver`'s /hook, started.
StatusOr<std::unique_ptr<AlertWebhook>> started_hook(Store& store, const Receiver& receiver,
                                                     const WebhookOptions& options) {
  auto hook = AlertWebhook::create(
      store, "http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook", options);
  if (hook.ok()) (*hook)->start();
  return hook;
}

TEST(AlertWebhook, PostsRaisedThenClearedAndRetriesFailures) {
  Receiver receiver(/*fail_first=*/1);
  orderly::testing::MemoryStore store;
  put(store, alert(1, AlertKind::stream_down, "stream", false));  // before start: not re-sent
  WebhookOptions options;
  options.poll_ms = 20;
  options.backoff_base_ms = 10;
  auto hook = started_hook(store, receiver, options);
  ASSERT_TRUE(hook.ok()) << hook.status().message();
  put(store, alert(2, AlertKind::reconciliation_mismatch, "F", false));
  ASSERT_TRUE(orderly::testing::eventually([&] { return receiver.bodies().size() >= 1; }, 20));
  put(store, alert(2, AlertKind::reconciliation_mismatch, "F", true));
  ASSERT_TRUE(orderly::testing::eventually([&] { return receiver.bodies().size() >= 2; }, 20));
  (*hook)->stop();
  auto bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_NE(bodies[0].find("\"event\":\"raised\""), std::string::npos) << bodies[0];
  EXPECT_NE(bodies[0].find("reconciliation_mismatch"), std::string::npos) << bodies[0];
  EXPECT_NE(bodies[1].find("\"event\":\"cleared\""), std::string::npos) << bodies[1];
  for (const auto& b : bodies) EXPECT_EQ(b.find("stream_down"), std::string::npos);
  EXPECT_EQ((*hook)->sent(), 2);
}

// An alert raised and cleared again and again (the engine's stuck_order on a symbol, by hand
// 437 times in a minute) was two POSTs each: it is sent twice a period, then its latest state
// once the period has passed, with the count of what was held back.
TEST(AlertWebhook, AFlappingAlertIsSentTwiceThenItsStateWithTheCount) {
  Receiver receiver(/*fail_first=*/0);
  orderly::testing::MemoryStore store;
  WebhookOptions options;
  options.poll_ms = 20;
  options.flap_period_ms = 400;
  auto hook = started_hook(store, receiver, options);
  ASSERT_TRUE(hook.ok()) << hook.status().message();
  for (int id = 1; id <= 30; ++id) {
    put(store, alert(id, AlertKind::stuck_order, "F", false));
    put(store, alert(id, AlertKind::stuck_order, "F", true));
  }
  put(store, alert(40, AlertKind::stream_down, "stream", false));  // another alert goes through
  ASSERT_TRUE(orderly::testing::eventually([&] { return receiver.bodies().size() >= 6; }, 20));
  (*hook)->stop();
  const auto bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 6u);
  int stuck = 0, stream = 0;
  for (const auto& b : bodies) {
    stuck += b.find("stuck_order") != std::string::npos;
    stream += b.find("stream_down") != std::string::npos;
  }
  EXPECT_EQ(stuck, 5) << "raised and cleared twice, then the state it settled in";
  EXPECT_EQ(stream, 1);
  EXPECT_NE(bodies.back().find("\"event\":\"cleared\""), std::string::npos) << bodies.back();
  EXPECT_NE(bodies.back().find("\"held_back\":28"), std::string::npos) << bodies.back();
  EXPECT_NE(bodies.back().find("\"id\":30"), std::string::npos) << bodies.back();
}

TEST(AlertWebhook, NamesItsAccountWhenOneIsSet) {
  Receiver receiver(/*fail_first=*/0);
  orderly::testing::MemoryStore store;
  WebhookOptions options;
  options.poll_ms = 20;
  options.account = "growth";
  auto hook = started_hook(store, receiver, options);
  ASSERT_TRUE(hook.ok()) << hook.status().message();
  put(store, alert(3, AlertKind::stream_down, "stream", false));
  ASSERT_TRUE(orderly::testing::eventually([&] { return receiver.bodies().size() >= 1; }, 20));
  (*hook)->stop();
  EXPECT_NE(receiver.bodies()[0].find("\"account\":\"growth\""), std::string::npos)
      << receiver.bodies()[0];
}

TEST(AlertWebhook, RefusesABadUrl) {
  orderly::testing::MemoryStore store;
  EXPECT_FALSE(AlertWebhook::create(store, "ftp://x/y").ok());
  EXPECT_FALSE(AlertWebhook::create(store, "not a url").ok());
  EXPECT_FALSE(AlertWebhook::create(store, "http://example.com/hook").ok());  // clear text off loopback
}

}  // namespace
}  // namespace orderly::app
