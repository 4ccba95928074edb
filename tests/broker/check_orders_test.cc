// `orderly check-orders` as a user runs it: real binary, real simulator, credentials from the
// environment. Exit codes: 0 all found, 1 some not found or unreadable, 3 broker unreachable.
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/alpaca/alpaca_broker.h"
#include "broker/alpaca/beast_transport.h"
#include "fake_server.h"
#include "sim_server/sim_process.h"

namespace orderly::alpaca {
namespace {

constexpr std::string_view kSecret = "check-orders-secret-abcdef";

struct CliRun {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

CliRun run_orderly(std::vector<std::string> args, const std::string& base_url) {
  std::vector<std::string> argv_s = {orderly::testing::orderly_bin()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = {"APCA_API_KEY_ID=check-key",
                                    "APCA_API_SECRET_KEY=" + std::string(kSecret),
                                    "APCA_API_BASE_URL=" + base_url, "PATH=/usr/bin:/bin"};
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  pid_t pid = -1;
  CliRun run;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (spawned != 0) {
    close(fds[0]);
    return run;
  }
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) run.out.append(buf, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

TEST(CheckOrders, ReportsStatusFillsAndUnknownIds) {
  sim::testing::SimProcess sim({"--key", "check-key", "--secret", std::string(kSecret)});
  ASSERT_NE(sim.port(), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(sim.port());
  auto transport = BeastTransport::create({url});
  ASSERT_TRUE(transport.ok());
  std::shared_ptr<HttpTransport> t = std::move(transport.value());
  const HttpHeaders auth = {{"APCA-API-KEY-ID", "check-key"},
                            {"APCA-API-SECRET-KEY", std::string(kSecret)}};
  ASSERT_TRUE(t->send({"POST", "/sim/prices", auth, R"({"STWD":"10.00"})"}).ok());
  AlpacaBroker broker(t, AlpacaConfig{url, "check-key", std::string(kSecret)});
  OrderRequest buy;
  buy.symbol = "STWD";
  buy.qty = Decimal::must("37");
  buy.client_order_id = "check-1";
  auto order = broker.submit_order(buy);
  ASSERT_TRUE(order.ok()) << order.error().describe();
  for (int i = 0; i < 2000; ++i) {
    auto o = broker.get_order(order->id);
    if (o.ok() && o->status == OrderState::filled) break;
    usleep(5'000);
  }

  CliRun found = run_orderly({"check-orders", order->id}, url);
  EXPECT_EQ(found.exit_code, 0) << found.out;
  EXPECT_NE(found.out.find(order->id + "  filled  filled 37/37 @ 10"), std::string::npos)
      << found.out;
  EXPECT_NE(found.out.find("STWD buy"), std::string::npos);

  const std::string unknown = "11111111-2222-3333-4444-555555555555";
  CliRun some = run_orderly({"check-orders", order->id, unknown}, url);
  EXPECT_EQ(some.exit_code, 1) << some.out;
  EXPECT_NE(some.out.find(unknown + "  not found"), std::string::npos) << some.out;

  CliRun json = run_orderly({"check-orders", "--json", order->id, unknown}, url);
  EXPECT_EQ(json.exit_code, 1);
  EXPECT_NE(json.out.find(R"("status":"filled")"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find(R"("filled_qty":"37")"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find(R"("found":false,"error":"not found")"), std::string::npos) << json.out;

  for (const CliRun* r : {&found, &some, &json}) {
    EXPECT_EQ(r->out.find(kSecret), std::string::npos) << r->out;
  }
}

TEST(CheckOrders, UnreachableBrokerExitsThree) {
  const std::uint16_t port = testing::closed_loopback_port();
  CliRun r = run_orderly({"check-orders", "some-id"}, "http://127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_NE(r.out.find("not_sent"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(kSecret), std::string::npos) << r.out;
}

// Issue 16: an answer that arrived but cannot be read is not "broker unreachable" (exit 3).
TEST(CheckOrders, AnUnreadableAnswerExitsOneAndSaysSo) {
  testing::FakeServer server(testing::serve(testing::http_response(
      200, R"({"id":"odd-1","side":"buy","status":"new","created_at":"yesterday"})")));
  CliRun r = run_orderly({"check-orders", "odd-1"}, server.url());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("unreadable answer from the broker: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("created_at"), std::string::npos) << r.out;  // what could not be read
  EXPECT_EQ(r.out.find(kSecret), std::string::npos) << r.out;

  CliRun json = run_orderly({"check-orders", "--json", "odd-1"}, server.url());
  EXPECT_EQ(json.exit_code, 1) << json.out;
  EXPECT_NE(json.out.find(R"("error":"unreadable answer from the broker: )"), std::string::npos)
      << json.out;
}

// Alpaca's own multi-leg options example: its side is "" (the legs carry theirs). It was printed
// "buy", the side an order without one is read with.
TEST(CheckOrders, AnOptionsOrderShowsItsLegsNotASide) {
  const std::string example =
      R"({"id":"83f37e9f-6b1f-49ed-8fc6-3e6af716323f","client_order_id":"646b1fe6",)"
      R"("created_at":"2024-12-10T16:15:53.677230742Z","updated_at":"2024-12-10T16:15:53.7Z",)"
      R"("symbol":"","asset_class":"","side":"","order_class":"mleg","type":"limit",)"
      R"("order_type":"limit","limit_price":"10","qty":"1","filled_qty":"0","status":"new",)"
      R"("time_in_force":"day","legs":[)"
      R"({"id":"l1","client_order_id":"c1","created_at":"2024-12-10T16:15:53Z","side":"buy",)"
      R"("symbol":"AAPL241213C00250000","qty":"3","filled_qty":"0","status":"new",)"
      R"("order_class":"mleg","type":"","time_in_force":"day","asset_class":"us_option"},)"
      R"({"id":"l2","client_order_id":"c2","created_at":"2024-12-10T16:15:53Z","side":"sell",)"
      R"("symbol":"AAPL241213C00260000","qty":"1","filled_qty":"0","status":"new",)"
      R"("order_class":"mleg","type":"","time_in_force":"day","asset_class":"us_option"}]})";
  testing::FakeServer server(testing::serve(testing::http_response(200, example)));
  CliRun r = run_orderly({"check-orders", "83f37e9f-6b1f-49ed-8fc6-3e6af716323f"}, server.url());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("mleg: buy 3 AAPL241213C00250000, sell 1 AAPL241213C00260000"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find(" buy  updated"), std::string::npos) << r.out;
  CliRun json = run_orderly({"check-orders", "--json", "83f37e9f-6b1f-49ed-8fc6-3e6af716323f"},
                            server.url());
  EXPECT_NE(json.out.find(R"("side":"")"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find(R"("symbol":"AAPL241213C00260000","side":"sell","qty":"1")"),
            std::string::npos)
      << json.out;
}

TEST(CheckOrders, ClearTextToARemoteHostIsAUsageError) {
  CliRun r = run_orderly({"check-orders", "some-id"}, "http://example.com");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("refusing clear-text"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace orderly::alpaca
