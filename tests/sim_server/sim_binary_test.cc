// The real `orderly sim` process over loopback: plain HTTP and WebSocket, as any client sees it.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

#include "sim_process.h"
#include "test_client.h"

namespace orderly::sim::testing {
namespace {

namespace json = boost::json;

std::string str(const json::value& v, std::string_view key) {
  if (!v.is_object()) return "";
  const json::value* f = v.as_object().if_contains(key);
  return f && f->is_string() ? std::string(f->as_string()) : "";
}

std::string order_body(const std::string& symbol, const std::string& side, const std::string& qty,
                       const std::string& coid, const std::string& limit = "") {
  json::object o{{"symbol", symbol}, {"qty", qty}, {"side", side},
                 {"type", limit.empty() ? "market" : "limit"}, {"time_in_force", "day"},
                 {"client_order_id", coid}};
  if (!limit.empty()) o["limit_price"] = limit;
  return json::serialize(o);
}

class SimBinaryTest : public ::testing::Test {
 protected:
  void launch(std::vector<std::string> args = {}) {
    sim = std::make_unique<SimProcess>(std::move(args));
    ASSERT_NE(sim->port(), 0) << "orderly sim did not print its port: " << sim->stdout_text();
  }
  std::uint16_t port() const { return sim->port(); }

  // Polls GET /v2/orders/{id} until its status is `status`.
  bool order_reaches(HttpClient& c, const std::string& id, const std::string& status) {
    return eventually([&] { return str(c.get("/v2/orders/" + id).json(), "status") == status; });
  }

  // Buys `qty` at market and waits for the fill; returns the order id.
  std::string buy_filled(HttpClient& c, const std::string& symbol, const std::string& qty,
                         const std::string& coid) {
    auto r = c.post("/v2/orders", order_body(symbol, "buy", qty, coid));
    EXPECT_EQ(r.status, 200) << r.body;
    std::string id = str(r.json(), "id");
    EXPECT_FALSE(id.empty()) << r.body;
    EXPECT_TRUE(order_reaches(c, id, "filled")) << c.get("/v2/orders/" + id).body;
    return id;
  }

  static void listen(WsClient& ws, const std::string& key = "k", const std::string& secret = "s") {
    ws.send(R"({"action":"authenticate","data":{"key_id":")" + key + R"(","secret_key":")" +
            secret + R"("}})");
    auto auth = ws.read();
    ASSERT_TRUE(auth);
    ASSERT_NE(auth->text.find("\"authorized\""), std::string::npos) << auth->text;
    ws.send(R"({"action":"listen","data":{"streams":["trade_updates"]}})");
    auto ack = ws.read_until("listening");
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->text, R"({"stream":"listening","data":{"streams":["trade_updates"]}})");
  }

  // The next trade_updates message for order `id` with event `event`.
  static std::optional<json::value> await_event(WsClient& ws, const std::string& id,
                                                const std::string& event, bool* binary = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      auto m = ws.read(std::chrono::seconds(20));
      if (!m) return std::nullopt;
      json::error_code ec;
      json::value v = json::parse(m->text, ec);
      if (ec || str(v, "stream") != "trade_updates") continue;
      const json::value& data = v.at("data");
      if (str(data, "event") == event && str(data.at("order"), "id") == id) {
        if (binary) *binary = m->binary;
        return v;
      }
    }
    return std::nullopt;
  }

  std::unique_ptr<SimProcess> sim;
};

TEST_F(SimBinaryTest, OrderLifecycleOverPlainHttp) {
  launch();
  HttpClient c(port(), "k", "s");
  ASSERT_EQ(c.post("/sim/prices", R"({"STWD":"10.25"})").status, 200);
  auto account = c.get("/v2/account");
  ASSERT_EQ(account.status, 200) << account.body;
  EXPECT_EQ(str(account.json(), "cash"), "100000");

  std::string id = buy_filled(c, "STWD", "37", "life-buy");
  auto by_coid = c.get("/v2/orders:by_client_order_id?client_order_id=life-buy");
  EXPECT_EQ(by_coid.status, 200);
  EXPECT_EQ(str(by_coid.json(), "id"), id);
  EXPECT_EQ(str(by_coid.json(), "filled_qty"), "37");

  auto rest = c.post("/v2/orders", order_body("STWD", "buy", "5", "life-rest", "5.00"));
  ASSERT_EQ(rest.status, 200) << rest.body;
  std::string rest_id = str(rest.json(), "id");
  auto open = c.get("/v2/orders?status=open");
  ASSERT_EQ(open.status, 200);
  json::value open_orders = open.json();
  ASSERT_TRUE(open_orders.is_array());
  bool listed = false;
  for (auto& o : open_orders.as_array()) listed = listed || str(o, "id") == rest_id;
  EXPECT_TRUE(listed) << open.body;
  EXPECT_EQ(c.del("/v2/orders/" + rest_id).status, 204);
  EXPECT_TRUE(order_reaches(c, rest_id, "canceled"));
  auto all = c.get("/v2/orders?status=all&limit=500");
  EXPECT_EQ(all.json().as_array().size(), 2u) << all.body;

  auto positions = c.get("/v2/positions");
  ASSERT_EQ(positions.status, 200);
  ASSERT_EQ(positions.json().as_array().size(), 1u) << positions.body;
  EXPECT_EQ(str(positions.json().as_array()[0], "symbol"), "STWD");
  EXPECT_EQ(str(positions.json().as_array()[0], "qty"), "37");

  auto fills = c.get("/v2/account/activities/FILL");
  ASSERT_EQ(fills.status, 200) << fills.body;
  ASSERT_FALSE(fills.json().as_array().empty());
  EXPECT_EQ(str(fills.json().as_array()[0], "order_id"), id);

  auto unknown = c.get("/v2/orders/00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.json().at("code").as_int64(), 40410000);
}

// The incident (seed/000): an entry of 37 STWD fills, its take-profit sell of 37 is accepted and
// holds the shares, and a second sell for the same shares is refused with 40310000 naming the TP.
TEST_F(SimBinaryTest, IncidentSecondSellIsRefusedNamingTheTakeProfit) {
  launch();
  HttpClient c(port(), "k", "s");
  ASSERT_EQ(c.post("/sim/prices", R"({"STWD":"10.25"})").status, 200);
  buy_filled(c, "STWD", "37", "inc-entry");

  auto tp = c.post("/v2/orders", order_body("STWD", "sell", "37", "inc-tp-1", "11.00"));
  ASSERT_EQ(tp.status, 200) << tp.body;
  std::string tp_id = str(tp.json(), "id");

  auto again = c.post("/v2/orders", order_body("STWD", "sell", "37", "inc-tp-2", "11.00"));
  ASSERT_EQ(again.status, 403) << again.body;
  json::value body = again.json();
  EXPECT_EQ(body.at("code").as_int64(), 40310000);
  EXPECT_EQ(str(body, "symbol"), "STWD");
  EXPECT_EQ(str(body, "available"), "0");
  EXPECT_EQ(str(body, "existing_qty"), "37");
  EXPECT_EQ(str(body, "held_for_orders"), "37");
  ASSERT_TRUE(body.as_object().contains("related_orders")) << again.body;
  const json::array& related = body.at("related_orders").as_array();
  ASSERT_EQ(related.size(), 1u);
  EXPECT_EQ(related[0].as_string(), tp_id);
  EXPECT_EQ(str(body, "message"), "insufficient qty available for order (requested: 37, available: 0)");

  auto stats = c.get("/sim/stats").json();
  EXPECT_GE(stats.at("errors_by_code").at("40310000").to_number<std::int64_t>(), 1);
}

TEST_F(SimBinaryTest, StreamDeliversNewAndFillInBinaryFrames) {
  launch();
  HttpClient c(port(), "k", "s");
  WsClient ws(port());
  listen(ws);
  ASSERT_EQ(c.post("/sim/prices", R"({"STWD":"10.25"})").status, 200);
  auto r = c.post("/v2/orders", order_body("STWD", "buy", "37", "ws-buy"));
  ASSERT_EQ(r.status, 200);
  std::string id = str(r.json(), "id");
  bool binary = false;
  ASSERT_TRUE(await_event(ws, id, "new", &binary));
  EXPECT_TRUE(binary);
  auto fill = await_event(ws, id, "fill", &binary);
  ASSERT_TRUE(fill);
  EXPECT_TRUE(binary);
  EXPECT_EQ(str(fill->at("data"), "qty"), "37");
  EXPECT_EQ(str(fill->at("data").at("order"), "status"), "filled");
}

TEST_F(SimBinaryTest, TextFramesFlag) {
  launch({"--text-frames"});
  HttpClient c(port());
  WsClient ws(port());
  listen(ws);
  auto r = c.post("/v2/orders", order_body("AAPL", "buy", "1", "txt-buy"));
  ASSERT_EQ(r.status, 200) << r.body;
  bool binary = true;
  ASSERT_TRUE(await_event(ws, str(r.json(), "id"), "fill", &binary));
  EXPECT_FALSE(binary);
}

TEST_F(SimBinaryTest, LostResponseClosesTheConnectionButTheOrderExists) {
  launch();
  HttpClient c(port());
  auto plan = c.post("/sim/faults",
                     R"({"rules":[{"on":"http","action":"lose_response","p":1.0,"route":"POST /v2/orders"}]})");
  ASSERT_EQ(plan.status, 200) << plan.body;
  auto lost = c.post("/v2/orders", order_body("AAPL", "buy", "1", "lost-1"));
  EXPECT_EQ(lost.status, 0) << "expected no reply, got " << lost.body;
  c.connect();
  auto found = c.get("/v2/orders:by_client_order_id?client_order_id=lost-1");
  EXPECT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(str(found.json(), "client_order_id"), "lost-1");
  auto stats = c.get("/sim/stats").json();
  EXPECT_GE(stats.at("faults").at("lose_response").to_number<std::int64_t>(), 1) << stats;
}

TEST_F(SimBinaryTest, InjectedStatusIsAnsweredAndCounted) {
  launch();
  HttpClient c(port());
  ASSERT_EQ(c.post("/sim/faults", R"({"rules":[{"on":"http","action":"status","p":1.0,"status":503,"route":"POST /v2/orders"}]})")
                .status,
            200);
  auto r = c.post("/v2/orders", order_body("AAPL", "buy", "1", "s503-1"));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(c.get("/v2/account").status, 200);  // other routes unaffected
  auto stats = c.get("/sim/stats").json();
  EXPECT_GE(stats.at("responses").at("503").to_number<std::int64_t>(), 1) << stats;
  EXPECT_GE(stats.at("requests").at("POST /v2/orders").to_number<std::int64_t>(), 1) << stats;
}

TEST_F(SimBinaryTest, StreamDropsFillsOfOneSymbol) {
  launch();
  HttpClient c(port());
  ASSERT_EQ(c.post("/sim/faults", R"({"rules":[{"on":"stream","action":"drop","p":1.0,"event":"fill","symbol":"STWD"}]})")
                .status,
            200);
  WsClient ws(port());
  listen(ws);
  auto stwd = c.post("/v2/orders", order_body("STWD", "buy", "37", "drop-stwd"));
  ASSERT_EQ(stwd.status, 200);
  std::string stwd_id = str(stwd.json(), "id");
  ASSERT_TRUE(order_reaches(c, stwd_id, "filled"));
  auto aapl = c.post("/v2/orders", order_body("AAPL", "buy", "1", "drop-aapl"));
  ASSERT_EQ(aapl.status, 200);
  // The AAPL fill comes after the STWD one would have: by then a STWD fill would have shown.
  ASSERT_TRUE(ws.read_until("drop-aapl\""));
  auto aapl_fill = await_event(ws, str(aapl.json(), "id"), "fill");
  ASSERT_TRUE(aapl_fill);
  for (auto& m : ws.skipped) {
    EXPECT_FALSE(m.text.find("\"fill\"") != std::string::npos &&
                 m.text.find(stwd_id) != std::string::npos)
        << m.text;
  }
}

TEST_F(SimBinaryTest, StreamDisconnectFault) {
  launch();
  HttpClient c(port());
  WsClient ws(port());
  listen(ws);
  ASSERT_EQ(c.post("/sim/faults", R"({"rules":[{"on":"stream","action":"disconnect","every_s":1}]})")
                .status,
            200);
  EXPECT_FALSE(ws.read(std::chrono::seconds(30)));
  EXPECT_TRUE(ws.ended_with_error()) << "expected the server to cut the stream";
}

// Issue 3: `orderly sim` died (SIGSEGV in ~array under ExchangeImpl::handle) once a daemon had
// opened 100-260 resting orders. A reply's JSON tree outlived the per-call arena it was built in;
// replies past the arena's stack buffer live in heap blocks that the arena frees at the end of the
// call, so the crash waited for GET /v2/orders replies big enough for blocks that glibc maps and
// unmaps. A fixed mmap threshold (no adaptive raise after the first unmap) makes every such block
// go back to the kernel, and perturbation scribbles the rest: any reply value that outlives its
// arena then faults on the first large listing instead of after hundreds of orders by chance.
TEST_F(SimBinaryTest, LargeListingsSurviveWhenFreedArenaBlocksAreUnmapped) {
  sim = std::make_unique<SimProcess>(
      std::vector<std::string>{"--rate-limit", "0"},
      std::vector<std::string>{"GLIBC_TUNABLES=glibc.malloc.mmap_threshold=16384:glibc.malloc.perturb=165"});
  ASSERT_NE(sim->port(), 0) << sim->stdout_text();
  HttpClient c(port(), "k", "s");
  ASSERT_EQ(c.post("/sim/prices", R"({"R00":"100","R01":"100","R02":"100"})").status, 200);
  constexpr int kOrders = 400;
  for (int i = 1; i <= kOrders; ++i) {
    const std::string symbol = "R0" + std::to_string(i % 3);
    json::object o{{"symbol", symbol}, {"qty", "1"}, {"side", "buy"}, {"type", "limit"},
                   {"limit_price", "1"}, {"time_in_force", "gtc"},
                   {"client_order_id", "big-" + std::to_string(i)}};
    if (i % 4 == 0) {  // OTO entries: nested listings carry their take-profit legs
      o["order_class"] = "oto";
      o["take_profit"] = json::object{{"limit_price", "150"}};
    }
    auto r = c.post("/v2/orders", json::serialize(o));
    ASSERT_EQ(r.status, 200) << "order " << i << ": " << r.body;
    // An invalid order too: error bodies are built outside the arena and must mix safely.
    if (i % 50 == 0) {
      EXPECT_EQ(c.post("/v2/orders", order_body(symbol, "sell", "5", "", "200")).status, 403);
    }
    if (i % 25 == 0) {
      for (const char* q : {"/v2/orders?status=open&limit=500&nested=true",
                            "/v2/orders?status=all&limit=500&direction=asc"}) {
        auto list = c.get(q);
        ASSERT_EQ(list.status, 200) << "after " << i << " orders, " << q;
        json::value v = list.json();
        ASSERT_TRUE(v.is_array()) << list.body.substr(0, 200);
        // Nested: the legs are inside their parents, so one row per order placed.
        if (std::string(q).find("nested") != std::string::npos) {
          EXPECT_EQ(v.as_array().size(), static_cast<std::size_t>(i));
        }
      }
    }
  }
  auto stats = c.get("/sim/stats");
  ASSERT_EQ(stats.status, 200) << "orderly sim died";
  EXPECT_EQ(stats.json().at("open_orders").to_number<int>(), kOrders + kOrders / 4);
}

TEST_F(SimBinaryTest, StatsShape) {
  launch();
  HttpClient c(port());
  c.get("/v2/account");
  auto r = c.get("/sim/stats");
  ASSERT_EQ(r.status, 200);
  json::value v = r.json();
  for (const char* key : {"requests", "responses", "errors_by_code", "faults"}) {
    ASSERT_TRUE(v.as_object().contains(key)) << key << " missing in " << r.body;
    EXPECT_TRUE(v.at(key).is_object()) << key;
  }
  EXPECT_GE(v.at("requests").at("GET /v2/account").to_number<std::int64_t>(), 1) << r.body;
  EXPECT_GE(v.at("responses").at("200").to_number<std::int64_t>(), 1) << r.body;
}

// A paper margin account shorts by default; --no-short refuses as a long-only account does: its
// account says shorting_enabled false, its assets stay shortable.
TEST_F(SimBinaryTest, ShortSalesByDefaultAndNoShortRefusesThem) {
  launch();
  HttpClient c(port(), "k", "s");
  auto shorted = c.post("/v2/orders", order_body("F", "sell", "3", "short-1"));
  ASSERT_EQ(shorted.status, 200) << shorted.body;
  EXPECT_EQ(str(shorted.json(), "position_intent"), "sell_to_open");
  ASSERT_TRUE(order_reaches(c, str(shorted.json(), "id"), "filled"));
  auto pos = c.get("/v2/positions/F").json();
  EXPECT_EQ(str(pos, "qty"), "-3");
  EXPECT_EQ(str(pos, "side"), "short");
  EXPECT_TRUE(c.get("/v2/account").json().at("shorting_enabled").as_bool());

  sim.reset();
  launch({"--no-short"});
  HttpClient d(port(), "k", "s");
  auto refused = d.post("/v2/orders", order_body("F", "sell", "3", "short-2"));
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.body, R"({"code":40310000,"message":"account is not allowed to short"})");
  EXPECT_FALSE(d.get("/v2/account").json().at("shorting_enabled").as_bool());
  // --no-short is the account's: the assets keep their own shortable flag.
  EXPECT_TRUE(d.get("/v2/assets/F").json().at("shortable").as_bool());
}

// The session control route: a close expires day orders now, an open sends queued ones.
TEST_F(SimBinaryTest, SessionCloseExpiresDayOrdersOverHttp) {
  launch();
  HttpClient c(port(), "k", "s");
  auto day = c.post("/v2/orders", order_body("F", "buy", "1", "day-1", "1.00"));
  ASSERT_EQ(day.status, 200) << day.body;
  const std::string id = str(day.json(), "id");
  ASSERT_TRUE(order_reaches(c, id, "new"));
  auto closed = c.post("/sim/session", R"({"event":"close"})");
  ASSERT_EQ(closed.status, 200) << closed.body;
  EXPECT_FALSE(closed.json().at("is_open").as_bool());
  EXPECT_FALSE(c.get("/v2/clock").json().at("is_open").as_bool());
  EXPECT_EQ(str(c.get("/v2/orders/" + id).json(), "status"), "expired");
  auto queued = c.post("/v2/orders", order_body("F", "buy", "1", "queued-1"));
  ASSERT_EQ(queued.status, 200) << queued.body;
  EXPECT_EQ(str(c.get("/v2/orders/" + str(queued.json(), "id")).json(), "status"), "accepted");
  ASSERT_EQ(c.post("/sim/session", R"({"event":"open"})").status, 200);
  EXPECT_TRUE(order_reaches(c, str(queued.json(), "id"), "filled"));
}

TEST_F(SimBinaryTest, WrongKeysAreRefusedOnRestAndStream) {
  launch({"--key", "KEY1", "--secret", "SECRET1"});
  EXPECT_EQ(sim->stdout_text().find("SECRET1"), std::string::npos);
  HttpClient wrong(port(), "KEY1", "guess");
  auto r = wrong.get("/v2/account");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.body, R"({"code":40110000,"message":"request is not authorized"})");
  HttpClient none(port());
  EXPECT_EQ(none.get("/v2/account").status, 401);
  HttpClient right(port(), "KEY1", "SECRET1");
  EXPECT_EQ(right.get("/v2/account").status, 200);

  WsClient ws(port());
  ws.send(R"({"action":"authenticate","data":{"key_id":"KEY1","secret_key":"guess"}})");
  auto m = ws.read();
  ASSERT_TRUE(m);
  EXPECT_NE(m->text.find("\"unauthorized\""), std::string::npos) << m->text;
}

TEST_F(SimBinaryTest, BadInputGetsClearErrors) {
  launch();
  auto raw = raw_exchange(port(), "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_TRUE(raw.received.starts_with("HTTP/1.1 400")) << raw.received;
  HttpClient c(port());
  auto big = c.post("/v2/orders", std::string(2 << 20, ' '));
  EXPECT_EQ(big.status, 413);
  HttpClient c2(port());
  auto bad = c2.post("/v2/orders", "{not json");
  EXPECT_GE(bad.status, 400);
  EXPECT_LT(bad.status, 500);
  EXPECT_TRUE(bad.json().is_object()) << bad.body;
  auto prices = c2.post("/sim/prices", R"({"STWD":"abc"})");
  EXPECT_EQ(prices.status, 400);
  EXPECT_TRUE(prices.json().as_object().contains("error"));
  auto faults = c2.post("/sim/faults", "{bad");
  EXPECT_EQ(faults.status, 400);
  EXPECT_TRUE(faults.json().as_object().contains("error"));
  EXPECT_EQ(c2.get("/v2/account").status, 200);  // still serving
}

TEST_F(SimBinaryTest, SigtermExitsZero) {
  launch();
  HttpClient c(port());
  WsClient ws(port());
  EXPECT_EQ(c.get("/v2/account").status, 200);
  EXPECT_EQ(sim->signal_and_wait(SIGTERM), 0);
}

TEST_F(SimBinaryTest, SigintExitsZero) {
  launch();
  EXPECT_EQ(sim->signal_and_wait(SIGINT), 0);
}

// Issue 3: `orderly sim` died (SIGSEGV in StreamSession::cut under serve_stream, or glibc's
// "corrupted double-linked list") whenever a trade_updates client went away: a daemon stopped by
// SIGTERM, a client that vanished, one that closed politely, or the fault plan's own cut. Each
// case disconnects many listening clients, some while events are being fanned out to them, and
// then asks the same process for REST and for a new stream client's events. malloc perturbation
// turns a use of a freed session into a crash on the spot instead of after many disconnects.
class StreamDisconnectTest : public SimBinaryTest, public ::testing::WithParamInterface<int> {
 protected:
  void launch_sim(std::vector<std::string> args = {}) {
    args.insert(args.end(), {"--threads", std::to_string(GetParam()), "--rate-limit", "0", "--cash",
                            "1000000000"});
    sim = std::make_unique<SimProcess>(
        std::move(args), std::vector<std::string>{"GLIBC_TUNABLES=glibc.malloc.perturb=165"});
    ASSERT_NE(sim->port(), 0) << sim->stdout_text();
    HttpClient c(port());
    ASSERT_EQ(c.post("/sim/prices", R"({"AAPL":"190.10","STWD":"10.25"})").status, 200);
  }

  // Market orders in a loop on their own connection, so the pump has events for every client.
  void start_burst() {
    if (burst_.joinable()) return;
    burst_ = std::thread([this] {
      try {
        HttpClient c(port(), "k", "s");
        for (int i = 0; !stop_burst_.load(); ++i) {
          auto body = order_body(i % 2 ? "AAPL" : "STWD", "buy", "1", "burst-" + std::to_string(i));
          if (c.post("/v2/orders", body).status == 0) c.connect();
        }
      } catch (const std::exception&) {
        // The sim is gone; the checks after the burst say so.
      }
    });
  }
  void stop_burst() {
    stop_burst_ = true;
    if (burst_.joinable()) burst_.join();
  }
  void TearDown() override { stop_burst(); }

  // The process is still up and still serves REST and a new stream client's events.
  void expect_still_serving() {
    stop_burst();
    ASSERT_TRUE(sim->alive()) << "orderly sim died: " << sim->exit_status();
    HttpClient c(port(), "k", "s");
    auto account = c.get("/v2/account");
    ASSERT_EQ(account.status, 200) << account.body;
    WsClient ws(port());
    listen(ws);
    auto r = c.post("/v2/orders", order_body("STWD", "buy", "3", "after-disconnects"));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(await_event(ws, str(r.json(), "id"), "fill"));
    EXPECT_TRUE(sim->alive()) << "orderly sim died: " << sim->exit_status();
  }

  // A client that says authenticate and listen without waiting for the replies, as a daemon
  // does; nullptr (and a failure naming the sim's fate) when the sim no longer accepts.
  std::unique_ptr<WsClient> listening_client() {
    try {
      auto ws = std::make_unique<WsClient>(port());
      ws->send(R"({"action":"authenticate","data":{"key_id":"k","secret_key":"s"}})");
      ws->send(R"({"action":"listen","data":{"streams":["trade_updates"]}})");
      return ws;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "stream client could not connect (" << e.what()
                    << "); orderly sim: " << (sim->alive() ? "running" : sim->exit_status());
      return nullptr;
    }
  }

  // `rounds` times, while events are fanned out: 20 clients listen, then all go away at once.
  template <class Leave>
  void listen_and_leave(int rounds, Leave leave) {
    start_burst();
    for (int round = 0; round < rounds && sim->alive(); ++round) {
      std::vector<std::unique_ptr<WsClient>> clients;
      for (int i = 0; i < 20; ++i) {
        clients.push_back(listening_client());
        if (!clients.back()) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      for (std::size_t i = 0; i < clients.size(); ++i) leave(*clients[i], i);
    }
  }

  std::thread burst_;
  std::atomic<bool> stop_burst_{false};
};

TEST_P(StreamDisconnectTest, ClientVanishesWithoutCloseFrame) {
  launch_sim();
  listen_and_leave(30, [](WsClient& ws, std::size_t) { ws.drop(false); });
  expect_still_serving();
}

TEST_P(StreamDisconnectTest, ClientResetsTheConnection) {
  launch_sim();
  listen_and_leave(30, [](WsClient& ws, std::size_t) { ws.drop(true); });
  expect_still_serving();
}

TEST_P(StreamDisconnectTest, ClientSendsCloseFrame) {
  launch_sim();
  listen_and_leave(10, [](WsClient& ws, std::size_t) { ws.close_frame(); });
  expect_still_serving();
}

// Events keep coming while clients that never read them (a daemon shutting down) go away in
// every way at once: the sim is writing to them, or about to, when their connections end.
TEST_P(StreamDisconnectTest, ClientsLeaveDuringAnEventBurst) {
  launch_sim();
  listen_and_leave(30, [](WsClient& ws, std::size_t i) {
    if (i % 7 == 6) ws.close_frame();
    else ws.drop(i % 3 == 2);
  });
  expect_still_serving();
}

TEST_P(StreamDisconnectTest, FaultPlanCutsListeningClients) {
  launch_sim({"--faults", R"({"rules":[{"on":"stream","action":"disconnect","every_s":1}]})"});
  start_burst();
  for (int round = 0; round < 4 && sim->alive(); ++round) {
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < 4; ++i) {
      clients.push_back(std::make_unique<WsClient>(port()));
      listen(*clients.back());
    }
    for (auto& ws : clients) {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (ws->read(std::chrono::seconds(30)) && std::chrono::steady_clock::now() < deadline) {
      }
      EXPECT_TRUE(ws->ended_with_error()) << "expected the fault plan to cut the stream";
    }
  }
  HttpClient c(port());
  ASSERT_EQ(c.post("/sim/faults", R"({"rules":[]})").status, 200);
  expect_still_serving();
}

INSTANTIATE_TEST_SUITE_P(Threads, StreamDisconnectTest, ::testing::Values(1, 4),
                         [](const auto& info) { return "threads" + std::to_string(info.param); });

TEST(SimCommand, RefusesBadArguments) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--key", "only-key"}, {"--cash", "lots"}, {"--faults", "{bad"},
        {"--faults", "@/nonexistent/plan.json"}}) {
    SimProcess p(args);
    EXPECT_EQ(p.port(), 0);
    EXPECT_EQ(p.signal_and_wait(0), 2) << args[0];
  }
}

}  // namespace
}  // namespace orderly::sim::testing
