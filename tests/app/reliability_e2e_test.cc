// Issue 18 over real processes (`orderly sim` + `orderly run` on loopback): a retried
// POST /api/trades never opens a second trade, whether the daemon was stopped (SIGSTOP), killed
// (kill -9) or its store's disk frozen or full between the request and the retry, judged from
// the simulator's orders; a damaged store file is refused at start; the configuration refuses
// an API anyone could use.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <set>
#include <thread>

#include "rig.h"

namespace orderly::testing {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;

const std::string kBin = orderly::testing::orderly_bin();
constexpr const char* kToken = "reliability-token-3d9e1b";

std::string trade_body(const std::string& symbol, const std::string& key,
                       const std::string& qty = "5") {
  return R"({"client_trade_id":")" + key + R"(","symbol":")" + symbol + R"(","qty":")" + qty +
         R"(","entry":{"type":"market"},"take_profit":{"percent":"2"}})";
}

class ReliabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rig_.add_sim().start();
    rig_.write_config();
  }

  Process& ready_daemon() { return rig_.ready_daemon(); }
  app::ApiReply call(const std::string& method, const std::string& target,
                     const std::string& body = "", std::int64_t timeout_ms = 15'000) {
    return rig_.call(method, target, body, timeout_ms);
  }
  // The daemon's trades that carry `key`.
  std::vector<json::object> trades_with_key(const std::string& key) {
    std::vector<json::object> out;
    const json::value list = rig_.get_json("/api/trades?limit=1000");
    if (!list.is_array()) return out;
    for (const auto& t : list.as_array()) {
      if (t.at("client_trade_id") == key.c_str()) out.push_back(t.as_object());
    }
    return out;
  }

  // Entry orders (buys) of `symbol` at the simulator, once the daemon has had time to submit.
  std::size_t broker_entries(const std::string& symbol) {
    std::size_t n = 0;
    for (const auto& o : rig_.sim().orders()) {
      if (o.symbol == symbol && o.side == Side::buy) ++n;
    }
    return n;
  }
  // Waits until the trade's entry reached the simulator, then counts the symbol's entries there.
  std::size_t entries_after_submission(std::int64_t trade_id, const std::string& symbol) {
    EXPECT_TRUE(eventually([&] {
      const json::value orders = rig_.get_json("/api/orders?trade_id=" + std::to_string(trade_id));
      if (!orders.is_array()) return false;
      for (const auto& o : orders.as_array()) {
        if (o.at("role") == "entry" && o.at("broker_order_id").is_string()) return true;
      }
      return false;
    })) << logs();
    return broker_entries(symbol);
  }
  std::string logs() { return rig_.logs(); }

  Rig rig_{"reliability", kToken};
};

// The client gives up on a request the frozen daemon has not answered; the daemon, resumed,
// still opens the trade; the retry with the same key gets that trade, and the broker holds one
// entry order.
TEST_F(ReliabilityTest, RetryAfterTheDaemonWasStoppedReturnsTheSameTrade) {
  Process& daemon = ready_daemon();
  daemon.signal(SIGSTOP);
  auto lost = call("POST", "/api/trades", trade_body("KO", "stop-retry-1"), 1000);
  EXPECT_EQ(lost.status, 0) << "the stopped daemon answered";
  daemon.signal(SIGCONT);

  std::vector<json::object> found;
  ASSERT_TRUE(eventually([&] { return !(found = trades_with_key("stop-retry-1")).empty(); }))
      << "the request the client gave up on was never handled\n" << logs();
  const std::int64_t id = found.front().at("id").as_int64();
  auto retry = call("POST", "/api/trades", trade_body("KO", "stop-retry-1"));
  EXPECT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(json::parse(retry.body).at("id").as_int64(), id);
  EXPECT_EQ(trades_with_key("stop-retry-1").size(), 1u);
  EXPECT_EQ(entries_after_submission(id, "KO"), 1u) << logs();
}

// kill -9 after the trade was recorded: the restarted daemon knows the key (it is stored).
TEST_F(ReliabilityTest, RetryAfterKill9ReturnsTheSameTrade) {
  Process& first = ready_daemon();
  auto opened = call("POST", "/api/trades", trade_body("KO", "kill-retry-1"));
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::int64_t id = json::parse(opened.body).at("id").as_int64();
  first.kill_hard();

  ready_daemon();
  auto retry = call("POST", "/api/trades", trade_body("KO", "kill-retry-1"));
  EXPECT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(json::parse(retry.body).at("id").as_int64(), id);
  auto changed = call("POST", "/api/trades", trade_body("KO", "kill-retry-1", "6"));
  EXPECT_EQ(changed.status, 409) << changed.body;
  EXPECT_EQ(trades_with_key("kill-retry-1").size(), 1u);
  EXPECT_EQ(entries_after_submission(id, "KO"), 1u) << logs();
}

// kill -9 while the request waits unanswered in the frozen daemon's socket: it dies with the
// process, and the retry on the restarted daemon opens the trade once.
TEST_F(ReliabilityTest, RequestLostWithAKilledDaemonIsOpenedOnceByTheRetry) {
  Process& first = ready_daemon();
  first.signal(SIGSTOP);
  auto lost = call("POST", "/api/trades", trade_body("KO", "kill-retry-2"), 1000);
  EXPECT_EQ(lost.status, 0) << "the stopped daemon answered";
  first.kill_hard();

  ready_daemon();
  auto retry = call("POST", "/api/trades", trade_body("KO", "kill-retry-2"));
  ASSERT_TRUE(retry.status == 201 || retry.status == 200) << retry.body;
  const std::int64_t id = json::parse(retry.body).at("id").as_int64();
  auto again = call("POST", "/api/trades", trade_body("KO", "kill-retry-2"));
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(trades_with_key("kill-retry-2").size(), 1u);
  EXPECT_EQ(entries_after_submission(id, "KO"), 1u) << logs();
}

// A strategy whose requests overlap (retries fired before the first answer): ten requests with
// one key at once open one trade; every answer names it (one 201, the rest 200).
TEST_F(ReliabilityTest, ConcurrentRequestsWithOneKeyOpenOneTrade) {
  ready_daemon();
  constexpr int kRequests = 10;
  std::vector<app::ApiReply> replies(kRequests);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back(
        [&, i] { replies[i] = call("POST", "/api/trades", trade_body("KO", "overlap-1")); });
  }
  for (auto& th : threads) th.join();
  std::set<std::int64_t> ids;
  int created = 0;
  for (const auto& r : replies) {
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.body;
    created += r.status == 201;
    ids.insert(json::parse(r.body).at("id").as_int64());
  }
  EXPECT_EQ(created, 1);
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(trades_with_key("overlap-1").size(), 1u);
  EXPECT_EQ(entries_after_submission(*ids.begin(), "KO"), 1u) << logs();
}

// The CLI sends a key of its own, and --client-trade-id names one.
TEST_F(ReliabilityTest, CliTradeOpenSendsAClientTradeId) {
  ready_daemon();
  auto cli = [&](const std::string& symbol) {
    return rig_.cli("trade open " + symbol + " --qty 3 --tp +2% --json");
  };
  auto made_up = run(cli("F"));
  ASSERT_EQ(made_up.exit_code, 0) << made_up.out << made_up.err;
  EXPECT_TRUE(json::parse(made_up.out).at("client_trade_id").as_string().starts_with("cli-"))
      << made_up.out;
  auto named = run(cli("KO --client-trade-id cli-named-7"));
  ASSERT_EQ(named.exit_code, 0) << named.out << named.err;
  auto repeat = run(cli("KO --client-trade-id cli-named-7"));
  ASSERT_EQ(repeat.exit_code, 0) << repeat.out << repeat.err;
  EXPECT_EQ(json::parse(repeat.out).at("id"), json::parse(named.out).at("id"));
  EXPECT_EQ(trades_with_key("cli-named-7").size(), 1u);
}

// A copy of a real store file with page headers overwritten: `orderly run` refuses it, naming
// the file and how to restore, instead of starting on half its state.
TEST_F(ReliabilityTest, DamagedStoreFileIsRefusedAtStart) {
  Process& first = ready_daemon();
  // One symbol each: a buy next to our own working sell exit would be a potential wash trade.
  for (const char* symbol : {"KO", "F", "INTC"}) {
    auto r = call("POST", "/api/trades", trade_body(symbol, std::string("fill-") + symbol));
    ASSERT_EQ(r.status, 201) << r.body;
  }
  ASSERT_EQ(first.stop(), 0) << logs();  // a clean stop checkpoints the WAL into the file

  const fs::path damaged = rig_.dir / "damaged.db";
  fs::copy_file(rig_.dir / "orderly.db", damaged);
  const auto size = fs::file_size(damaged);
  constexpr std::uintmax_t kPage = 4096;
  ASSERT_GE(size, 6 * kPage);
  {
    // Eight bytes of the b-tree page header of pages 2-6: 40 bytes in all.
    std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
    for (std::uintmax_t page = 1; page <= 5; ++page) {
      for (std::uintmax_t b = 0; b < 8; ++b) {
        f.seekg(static_cast<std::streamoff>(page * kPage + b));
        char c = 0;
        f.read(&c, 1);
        f.seekp(static_cast<std::streamoff>(page * kPage + b));
        c = static_cast<char>(c ^ 0x5a);
        f.write(&c, 1);
      }
    }
  }
  rig_.write_config({.store_url = "sqlite:" + damaged.string()});
  Process& second = rig_.start_daemon();
  ASSERT_TRUE(eventually([&] { return !second.running(); }, 60)) << second.log();
  EXPECT_EQ(second.exit_code(), 3) << second.log();
  const std::string log = second.log();
  EXPECT_NE(log.find(damaged.string()), std::string::npos) << log;
  EXPECT_NE(log.find("integrity check failed"), std::string::npos) << log;
  EXPECT_NE(log.find(".recover"), std::string::npos) << log;
  EXPECT_TRUE(second.log().find("API listening") == std::string::npos) << log;
}

// Configurations that would let anyone in stop `orderly run` with exit 2 and a clear message.
TEST_F(ReliabilityTest, OpenApiConfigurationsAreRefusedAtStart) {
  struct Case {
    std::string api;
    std::string message;
  };
  const Case cases[] = {
      {"[api]\nlisten = \"127.0.0.1:" + std::to_string(rig_.api_port) + "\"\ntoken = \"short\"\n",
       "at least 16"},
      {"[api]\nlisten = \"0.0.0.0:" + std::to_string(rig_.api_port) + "\"\n", "token"},
      {"[api]\nlisten = \"0.0.0.0:" + std::to_string(rig_.api_port) + "\"\ntoken = \"" + kToken +
           "\"\npublic_reads = true\n",
       "loopback"},
  };
  for (const auto& c : cases) {
    const std::string path = (rig_.dir / "open.toml").string();
    std::ofstream(path) << "[store]\nurl = \"sqlite:" << (rig_.dir / "open.db").string() << "\"\n"
                        << c.api;
    auto r = run(kBin + " run --config " + path);
    EXPECT_EQ(r.exit_code, 2) << c.api << r.out << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.api << r.err;
  }
}

// A filesystem of the test's own, a loop-mounted ext4 image (no reserved blocks), that can be
// frozen (fsfreeze: every write blocks until it is thawed, as on a stalled disk) or filled
// (ENOSPC). Needs root, mkfs.ext4 and a loop device: `why` says what was missing.
class TestDisk {
 public:
  explicit TestDisk(const fs::path& dir) : image_(dir / "disk.img"), mount_(dir / "disk") {
    if (::geteuid() != 0) {
      why = "not root (mount and fsfreeze need it)";
      return;
    }
    fs::create_directories(mount_);
    RunResult r =
        run("truncate -s 64M " + image_.string() + " && mkfs.ext4 -q -F -m 0 " + image_.string() +
            " && mount -o loop " + image_.string() + " " + mount_.string());
    if (r.exit_code != 0) {
      why = "cannot mount a loop ext4 image: " + r.err;
      return;
    }
    mounted_ = true;
  }
  // Thawed first: a process blocked on a frozen filesystem ignores even SIGKILL. The daemon may
  // still hold the store open: the unmount is lazy.
  ~TestDisk() {
    if (!mounted_) return;
    thaw();
    run("umount -l " + mount_.string());
  }
  TestDisk(const TestDisk&) = delete;
  TestDisk& operator=(const TestDisk&) = delete;

  bool ok() const { return mounted_; }
  const fs::path& path() const { return mount_; }
  bool freeze() { return frozen_ = run("fsfreeze -f " + mount_.string()).exit_code == 0; }
  bool thaw() {
    if (!frozen_) return true;
    frozen_ = run("fsfreeze -u " + mount_.string()).exit_code != 0;
    return !frozen_;
  }
  // Fills every free block (dd stops at ENOSPC); free() gives them back.
  bool fill() {
    // Megabytes first, then the blocks left over.
    run("dd if=/dev/zero of=" + filler().string() + " bs=1M status=none");
    run("dd if=/dev/zero of=" + filler().string() + " bs=4k oflag=append conv=notrunc status=none");
    return fs::space(mount_).available < 16 * 1024;
  }
  void free() { fs::remove(filler()); }

  std::string why;

 private:
  fs::path filler() const { return mount_ / "filler"; }
  fs::path image_, mount_;
  bool mounted_ = false;
  bool frozen_ = false;
};

// The store on a disk of its own. The disk is a member of the derived fixture, so it is thawed
// and unmounted before the rig stops the daemon.
class StoreDiskTest : public ReliabilityTest {
 protected:
  void SetUp() override {
    ReliabilityTest::SetUp();
    if (!disk_.ok()) GTEST_SKIP() << disk_.why;
    rig_.write_config({.store_url = "sqlite:" + (disk_.path() / "orderly.db").string()});
  }
  // The trades carrying `key` settle to one (any request still in the daemon is answered by
  // then); a repeat answers 200 with it; the broker holds one entry for it.
  void expect_one_trade_and_one_entry(const std::string& symbol, const std::string& key) {
    app::ApiReply retry = call("POST", "/api/trades", trade_body(symbol, key));
    ASSERT_TRUE(retry.status == 201 || retry.status == 200) << retry.body << logs();
    std::printf("retry once the disk is back: %d (%s)\n", retry.status,
                retry.status == 200 ? "the request given up on was kept" : "opened now");
    const std::int64_t id = json::parse(retry.body).at("id").as_int64();
    app::ApiReply again = call("POST", "/api/trades", trade_body(symbol, key));
    EXPECT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(json::parse(again.body).at("id").as_int64(), id) << again.body;
    EXPECT_EQ(trades_with_key(key).size(), 1u) << rig_.call("GET", "/api/trades").body;
    EXPECT_EQ(entries_after_submission(id, symbol), 1u) << logs();
  }

  TestDisk disk_{rig_.dir};
};

// Issue 18 item 1, the frozen disk: the store blocks on a write, the client gives up on its
// request and retries while the disk is still frozen (that one is given up on too), and again
// once it is thawed. One trade, one entry at the broker.
TEST_F(StoreDiskTest, RetriesAcrossAFrozenDiskOpenOneTrade) {
  ready_daemon();
  ASSERT_TRUE(disk_.freeze());
  app::ApiReply lost = call("POST", "/api/trades", trade_body("KO", "frozen-1"), 1000);
  EXPECT_EQ(lost.status, 0) << "answered with the store's disk frozen: " << lost.body;
  app::ApiReply lost_again = call("POST", "/api/trades", trade_body("KO", "frozen-1"), 1000);
  EXPECT_EQ(lost_again.status, 0) << "answered with the store's disk frozen: " << lost_again.body;
  ASSERT_TRUE(disk_.thaw());
  expect_one_trade_and_one_entry("KO", "frozen-1");
}

// The store's disk full (ENOSPC) when the request comes: refused or kept, never doubled by the
// retry once there is room again.
TEST_F(StoreDiskTest, RetryAfterTheDiskWasFullOpensOneTrade) {
  ready_daemon();
  ASSERT_TRUE(disk_.fill());
  app::ApiReply full = call("POST", "/api/trades", trade_body("KO", "full-1"));
  // Refused naming the full disk, unless the write found room in what the store already held.
  EXPECT_TRUE(full.status == 201 ||
              (full.status >= 500 && full.body.find("disk is full") != std::string::npos))
      << full.status << " " << full.body;
  std::printf("POST /api/trades with the store's disk full: %d\n", full.status);
  disk_.free();
  expect_one_trade_and_one_entry("KO", "full-1");
}

}  // namespace
}  // namespace orderly::testing
