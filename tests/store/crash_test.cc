// A writer killed with SIGKILL at a random moment, several times over, never leaves an order
// without its audit trail: after reopening, every order has its creation event, its state is the
// `to` of its last event, its version counts its events, seq has no gap, and every batch the
// child acknowledged (after commit() returned) is there. Runs against every backend.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>

#include "backends.h"
#include "fixtures.h"
#include "store/open.h"
#include "store/store.h"

namespace orderly::testing {
namespace {

constexpr const char* kAccount = "crash";

OrderState next_state(OrderState s) {
  switch (s) {
    case OrderState::created: return OrderState::submitting;
    case OrderState::submitting: return OrderState::new_;
    case OrderState::new_: return OrderState::partially_filled;
    default: return OrderState::filled;
  }
}

// The child: commits batches forever, one byte on `progress_fd` per acknowledged batch. Each
// batch creates one trade + order + creation event and moves up to three open orders one step.
[[noreturn]] void writer(const std::string& url, int progress_fd, std::uint64_t seed) {
  auto opened = open_store(url, kAccount);
  if (!opened.ok()) _exit(2);
  Store& store = **opened;
  auto st = store.load();
  if (!st.ok()) _exit(3);
  std::vector<Order> open = st->open_orders;  // also the finished orders of open trades
  std::erase_if(open, [](const Order& o) { return is_terminal(o.state); });
  OrderId next_id = st->max_order_id + 1;
  std::mt19937_64 rng(seed);
  for (;;) {
    WriteBatch b = create_batch(next_id, next_id);
    std::vector<Order> created = b.orders;
    ++next_id;
    std::vector<std::size_t> moved;
    for (int k = 0; k < 3 && !open.empty(); ++k) {
      const std::size_t i = rng() % open.size();
      if (std::find(moved.begin(), moved.end(), i) != moved.end()) continue;
      Order& o = open[i];
      const OrderState from = o.state;
      o.state = next_state(from);
      if (o.state == OrderState::partially_filled) o.filled_qty = D("4");
      if (o.state == OrderState::filled) o.filled_qty = o.qty;
      o.version++;
      b.orders.push_back(o);
      b.events.push_back(event_for(o, from));
      b.events.back().payload = std::string(rng() % 2000, 'p');
      moved.push_back(i);
    }
    if (!store.commit(b).ok()) _exit(4);
    std::erase_if(open, [](const Order& o) { return is_terminal(o.state); });
    open.insert(open.end(), created.begin(), created.end());
    const char ack = 'x';
    if (write(progress_fd, &ack, 1) != 1) _exit(5);
  }
}

class CrashTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CrashTest, KilledWriterLeavesNoOrderWithoutItsAuditTrail) {
  std::string skip;
  const std::string url = store_backend(GetParam()).fresh_url(&skip);
  if (url.empty()) GTEST_SKIP() << GetParam() << ": " << skip;
  {
    auto init = open_store(url, kAccount);  // create the schema before the first child races
    ASSERT_TRUE(init.ok()) << init.status().to_string();
  }
  std::mt19937_64 rng(20261124);
  std::size_t acknowledged = 0;
  for (int round = 0; round < 6; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      writer(url, fds[1], rng());
    }
    close(fds[1]);
    // Let it acknowledge a random number of batches, then kill it a random moment later:
    // mid-batch, mid-commit or mid-fsync, wherever it happens to be.
    const int wanted = 1 + static_cast<int>(rng() % 40);
    int got = 0;
    char buf[64];
    while (got < wanted) {
      const ssize_t n = read(fds[0], buf, std::min<std::size_t>(sizeof buf, wanted - got));
      if (n <= 0) break;
      got += static_cast<int>(n);
    }
    for (std::uint64_t spin = rng() % 200000; spin > 0; --spin) asm volatile("" ::: "memory");
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    // Acks already in the pipe were sent after their commit returned: count them too.
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) got += static_cast<int>(n);
    close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer exited by itself with status "
                                     << WEXITSTATUS(status) << " in round " << round;
    ASSERT_GE(got, wanted) << "round " << round;
    acknowledged += static_cast<std::size_t>(got);
  }

  auto opened = open_store(url, kAccount);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  Store& store = **opened;
  std::vector<OrderEvent> events;
  for (std::int64_t after = 0;;) {
    auto page = store.events_since(after, 1000);
    ASSERT_TRUE(page.ok()) << page.status().to_string();
    if (page->empty()) break;
    events.insert(events.end(), page->begin(), page->end());
    after = page->back().seq;
  }
  std::vector<Order> orders;
  for (int offset = 0;; offset += 1000) {
    auto page = store.list_orders({.limit = 1000, .offset = offset});
    ASSERT_TRUE(page.ok()) << page.status().to_string();
    if (page->empty()) break;
    orders.insert(orders.end(), page->begin(), page->end());
  }
  ASSERT_GE(orders.size(), acknowledged) << "an acknowledged batch was lost";

  std::map<OrderId, std::vector<const OrderEvent*>> trail;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i > 0) {
      ASSERT_EQ(events[i].seq, events[i - 1].seq + 1) << "gap in order_events.seq";
    }
    trail[events[i].order_id].push_back(&events[i]);
  }
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().seq, 1);
  for (const Order& o : orders) {
    const auto& t = trail[o.id];
    ASSERT_FALSE(t.empty()) << "order " << o.id << " has no audit event";
    EXPECT_FALSE(t.front()->from.has_value()) << "order " << o.id;
    EXPECT_EQ(t.front()->to, OrderState::created) << "order " << o.id;
    EXPECT_EQ(t.back()->to, o.state) << "order " << o.id << " row and audit trail disagree";
    EXPECT_EQ(static_cast<std::int64_t>(t.size()), o.version) << "order " << o.id;
    for (std::size_t k = 1; k < t.size(); ++k) EXPECT_EQ(t[k]->from, t[k - 1]->to);
  }
  EXPECT_EQ(trail.size(), orders.size()) << "an audit event names an order that is not stored";
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashTest, ::testing::ValuesIn(store_backend_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace orderly::testing
