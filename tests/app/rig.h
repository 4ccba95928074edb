#pragma once
// The real-process rig of the end-to-end tests: `orderly sim` (one per account), a config,
// `orderly run` instances and the CLI over loopback, in a temporary directory. The simulator is
// read as the broker's side of a test: its orders, positions, and the qty its open exits cover.

#include <boost/json.hpp>

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "app/api_client.h"
#include "broker/alpaca/transport.h"
#include "broker/broker.h"
#include "core/decimal.h"
#include "process.h"

namespace orderly::testing {

// One `orderly sim` on a free loopback port; `name` is its account under [[accounts]]. With
// `require_keys` it refuses any key pair but its own (a key sent to the wrong account).
struct Sim {
  std::string name;
  std::string key = "PKRIGKEYID01";
  std::string secret = "RIGSECRETVALUE01";
  bool require_keys = false;
  std::vector<std::string> args;  // more `orderly sim` arguments (e.g. "--no-short")
  std::uint16_t port = free_port();
  std::filesystem::path log;
  std::unique_ptr<Process> process;
  mutable std::shared_ptr<alpaca::HttpTransport> control;  // see harness()

  // Starts (or starts again after kill_hard) the simulator; `faults` is a fault plan's JSON.
  void start(const std::string& faults = "");
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port); }
  // A /sim/* control call, or a /v2 call as another client of the account: with X-Sim-Control,
  // so it takes nothing from the daemon's rate budget. Status 0: unreachable.
  app::ApiReply call(const std::string& method, const std::string& target,
                     const std::string& body = "") const;
  boost::json::value get_json(const std::string& target) const;  // null when not JSON

  bool set_price(const std::string& symbol, const std::string& price) const;
  // POST /sim/session: "close" expires every day order (legs included), "open" opens again.
  bool session(const std::string& event) const;
  // Every order the simulator holds for these keys, read through the real Alpaca client (as the
  // harness: outside the daemon's rate budget).
  std::vector<BrokerOrder> orders() const;
  // `symbol`'s position (0 when none) and the qty its open orders on the other side would close
  // (an OCO or bracket counted once, a held leg counted by its active sibling).
  std::pair<Decimal, Decimal> held_and_covered(const std::string& symbol) const;
  // The same for every symbol with a position or an open order, from two reads.
  std::map<std::string, std::pair<Decimal, Decimal>> cover() const;
  // The position is `expect_held` and every share of it has a working exit.
  bool protected_at(const std::string& symbol, const std::string& expect_held) const;
  // The open orders of `symbol` (nested legs), for failure messages.
  std::string open_orders_text(const std::string& symbol) const;
  // The transport of every call above (made on first use).
  std::shared_ptr<alpaca::HttpTransport> harness() const;
};

// What write_config() puts beside the defaults ([sync] polls every 200 ms, 500 ms when idle, so
// tests see a missed event soon).
struct RigConfig {
  std::string store_url;   // empty: sqlite:<dir>/orderly.db
  std::string broker_extra;  // more [broker] lines (a single-account config)
  std::string sync_extra;  // more [sync] lines
  std::string extra;       // whole sections, after [sync]
  bool accounts = false;   // every sim as an [[accounts]] entry rather than sims[0] as [broker]
  bool fast_sync = true;   // false: the daemon's own poll intervals (1 s, 10 s while idle)
  std::vector<std::string> sim_args;  // start_all's simulator: more arguments
};

class Rig {
 public:
  Rig(const std::string& tag, std::string token);
  ~Rig();  // resumes stopped daemons, stops them and the sims; keeps the directory on failure
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  // A simulator not started yet (sims[0] serves a single-account config).
  Sim& add_sim(Sim s = {});
  Sim& sim(std::size_t i = 0) { return sims[i]; }
  const Sim& sim(std::size_t i = 0) const { return sims[i]; }
  void write_config(const RigConfig& c = {});
  // One sim, the config, and a ready daemon; false when it is not ready (the caller asserts).
  bool start_all(const RigConfig& c = {});

  Process& start_daemon();  // `orderly run --config`; logs to run-<n>.log
  // Starts a daemon and waits (60 s at most) until /healthz answers 200.
  Process& ready_daemon();
  bool healthy() const;
  Process& daemon() { return *daemons.back(); }

  app::ApiEndpoint api(std::int64_t timeout_ms = 15'000) const;
  // The daemon's API; status 0 (and the reason in `body`) when it could not be reached.
  app::ApiReply call(const std::string& method, const std::string& target,
                     const std::string& body = "", std::int64_t timeout_ms = 15'000) const;
  boost::json::value get_json(const std::string& target) const;  // null when not JSON
  // POST /api/trades expecting 201: the trade's id (0 and a test failure otherwise).
  std::int64_t open_trade(const std::string& body) const;
  std::string trade_state(std::int64_t id) const;
  std::map<std::int64_t, std::string> trade_states() const;  // every trade's, by id
  // Alerts of `kind` (empty: any) about `subject` ever raised (active or cleared);
  // `active_only`: still on.
  int alerts(const std::string& kind, const std::string& subject, bool active_only = false) const;

  std::string cli(const std::string& args) const;  // `orderly <args> --config <config>`
  std::string logs() const;                        // every daemon's log, and a stopped sim's
  void expect_no_secrets_logged() const;           // keys, secrets and the token

  std::filesystem::path dir;
  std::string token;
  std::uint16_t api_port = free_port();
  std::string config;
  std::deque<Sim> sims;  // a deque: references to a sim stay valid as others are added
  std::vector<std::unique_ptr<Process>> daemons;
};

// One simulator and daemon shared by every test of a suite (real processes are slow to start):
// `Suite` names the suite so each gets its own rig, started by its SetUpTestSuite with
// start_shared().
template <typename Suite>
class SharedRigTest : public ::testing::Test {
 protected:
  static void start_shared(const std::string& name, const std::string& token,
                           const RigConfig& c) {
    rig_ = new Rig(name, token);
    ready_ = rig_->start_all(c);
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(rig_->daemon().stop(), 0) << rig_->logs();
    delete rig_;
    rig_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(ready_) << "daemon did not become ready\n" << rig_->logs(); }

  static const Sim& sim() { return rig_->sim(); }
  static void set_price(const std::string& symbol, const std::string& price) {
    ASSERT_TRUE(sim().set_price(symbol, price));
  }

  static inline Rig* rig_ = nullptr;
  static inline bool ready_ = false;
};

}  // namespace orderly::testing
