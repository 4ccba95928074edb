// AlpacaBroker over the real Beast transport against a fake loopback server that misbehaves in
// every way the classification must survive.
#include "broker/alpaca/beast_transport.h"

#include <gtest/gtest.h>

#include "fixtures.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "broker/alpaca/alpaca_broker.h"
#include "fake_server.h"

namespace orderly::alpaca {
namespace {

using testing::FakeServer;
using testing::http_response;
using testing::serve;
using tcp = boost::asio::ip::tcp;

constexpr std::string_view kSecret = "tr4nsp0rt-secret-do-not-leak-42";

const std::string& kOrder = testing::kStwdOrderJson;


struct Client {
  std::shared_ptr<BeastTransport> transport;
  std::unique_ptr<AlpacaBroker> broker;
};

Client client(const std::string& url, std::int64_t read_timeout_ms = 5'000,
              std::string extra_ca = "") {
  BeastTransportOptions o;
  o.base_url = url;
  o.read_timeout_ms = read_timeout_ms;
  o.connect_timeout_ms = 5'000;
  o.max_body_bytes = 64 * 1024;
  o.extra_ca_file = std::move(extra_ca);
  auto t = BeastTransport::create(o);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  Client c;
  c.transport = std::move(t.value());
  c.broker = std::make_unique<AlpacaBroker>(
      c.transport, AlpacaConfig{url, "KEY-transport-test", std::string(kSecret)});
  return c;
}

void expect_clean(const BrokerError& e) {
  EXPECT_EQ(e.describe().find(kSecret), std::string::npos) << e.describe();
  EXPECT_EQ(e.body.find(kSecret), std::string::npos);
}

TEST(BeastTransport, SuccessSendsCredentialsAndReusesTheConnection) {
  std::string seen_key, seen_secret;
  FakeServer server([&](tcp::socket& socket, FakeServer& s) {
    boost::beast::flat_buffer buffer;
    boost::beast::http::request<boost::beast::http::string_body> req;
    while (s.read_request(socket, buffer, &req)) {
      seen_key = std::string(req["APCA-API-KEY-ID"]);
      seen_secret = std::string(req["APCA-API-SECRET-KEY"]);
      boost::asio::write(socket, boost::asio::buffer(http_response(
                                     200, kOrder, "X-Ratelimit-Remaining: 199\r\n")));
    }
  });
  auto c = client(server.url());
  for (int i = 0; i < 3; ++i) {
    auto r = c.broker->get_order("o1");
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(r->id, "o1");
  }
  EXPECT_EQ(server.connections(), 1);  // keep-alive
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(seen_key, "KEY-transport-test");
  EXPECT_EQ(seen_secret, kSecret);
  EXPECT_EQ(server.last_target(), "/v2/orders/o1?nested=true");
}

TEST(BeastTransport, RatelimitHeadersAreRead) {
  FakeServer server(serve(http_response(200, "{}", "X-Ratelimit-Limit: 200\r\nX-Ratelimit-Remaining: 7\r\nX-Ratelimit-Reset: 1679411617\r\n")));
  auto c = client(server.url());
  auto r = c.transport->send(HttpRequest{"GET", "/v2/clock", {}, ""});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().ratelimit_limit, 200);
  EXPECT_EQ(r.value().ratelimit_remaining, 7);
  EXPECT_EQ(r.value().ratelimit_reset_s, 1679411617);
}

TEST(BeastTransport, ServerClosingAnIdleConnectionIsReconnectedTransparently) {
  // Answers one request per connection, announcing keep-alive, then hangs up: the pooled
  // connection is dead before the next request and must be replaced without an error.
  FakeServer server([](tcp::socket& socket, FakeServer& s) {
    boost::beast::flat_buffer buffer;
    if (s.read_request(socket, buffer)) {
      boost::asio::write(socket, boost::asio::buffer(http_response(200, kOrder)));
    }
    socket.close();
  });
  auto c = client(server.url());
  for (int i = 0; i < 3; ++i) {
    // Let the close arrive before the next request (it is what the check looks for).
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto r = c.broker->get_order("o1");
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().describe();
  }
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.connections(), 3);
}

TEST(BeastTransport, StatusClasses) {
  struct Case {
    int status;
    std::string body;
    std::string headers;
    BrokerError::Kind kind;
  };
  const Case cases[] = {
      {403, R"J({"available":"0","code":40310000,"existing_qty":"37","held_for_orders":"37","message":"insufficient qty available for order (requested: 37, available: 0)","related_orders":["tp-1"],"symbol":"STWD"})J", "", BrokerError::Kind::rejected},
      {404, R"({"code":40410000,"message":"order not found"})", "", BrokerError::Kind::rejected},
      {422, R"({"code":40010001,"message":"client_order_id must be unique"})", "", BrokerError::Kind::rejected},
      {429, R"({"message":"rate limit exceeded"})", "X-Ratelimit-Limit: 200\r\nX-Ratelimit-Remaining: 0\r\nX-Ratelimit-Reset: 4102444800\r\n", BrokerError::Kind::unknown_outcome},
      {500, R"({"code":50010000,"message":"internal server error"})", "", BrokerError::Kind::unknown_outcome},
      {503, "", "", BrokerError::Kind::unknown_outcome},
  };
  for (const auto& k : cases) {
    FakeServer server(serve(http_response(k.status, k.body, k.headers)));
    auto c = client(server.url());
    auto r = c.broker->submit_order(testing::stwd_take_profit());
    ASSERT_FALSE(r.ok()) << k.status;
    const auto& e = r.error();
    EXPECT_EQ(e.kind, k.kind) << k.status;
    EXPECT_EQ(e.http_status, k.status);
    expect_clean(e);
    if (k.status == 403) {
      ASSERT_TRUE(e.insufficient_qty_error());
      EXPECT_EQ(e.insufficient_qty->related_orders, std::vector<std::string>{"tp-1"});
    }
    if (k.status == 404) {
      EXPECT_TRUE(e.not_found());
    }
    if (k.status == 422) {
      EXPECT_TRUE(e.duplicate_client_order_id());
    }
    if (k.status == 429) {
      ASSERT_TRUE(e.retry_after_ms.has_value());
      EXPECT_GT(*e.retry_after_ms, 0);
    }
  }
}

TEST(BeastTransport, NoContentAndMultiStatus) {
  {
    FakeServer server(serve(http_response(204, "")));
    auto c = client(server.url());
    EXPECT_TRUE(c.broker->cancel_order("o1").ok());
  }
  {
    FakeServer server(serve(http_response(207, R"([{"id":"a","status":200},{"id":"b","status":500,"body":{"message":"Failed to cancel order"}}])")));
    auto c = client(server.url());
    auto r = c.broker->cancel_all_orders();
    ASSERT_TRUE(r.ok()) << r.error().describe();
    ASSERT_EQ(r.value().size(), 2u);
    EXPECT_EQ(r.value()[1].http_status, 500);
  }
}

TEST(BeastTransport, MalformedSuccessBodies) {
  const std::pair<std::string, std::string> bodies[] = {
      {R"({"id":"o1","status":"acc)", "application/json"},          // broken JSON
      {"<html><body>Bad gateway</body></html>", "text/html"},       // wrong content type
      {"", "application/json"},                                     // empty
  };
  for (const auto& [body, type] : bodies) {
    FakeServer server(serve(http_response(200, body, "", type)));
    auto c = client(server.url());
    auto r = c.broker->submit_order(testing::stwd_take_profit());
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, BrokerError::Kind::unreadable) << body;
    EXPECT_NE(r.error().message.find("unreadable answer"), std::string::npos);
  }
  // A 4xx in HTML is still a definitive no; the body is kept for the audit.
  FakeServer html(serve(http_response(403, "<html>Forbidden</html>", "", "text/html")));
  auto c = client(html.url());
  auto r = c.broker->get_account();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::rejected);
  EXPECT_EQ(r.error().body, "<html>Forbidden</html>");
}

TEST(BeastTransport, TruncatedBodyIsUnknownOutcomeAndNotResent) {
  FakeServer server([](tcp::socket& socket, FakeServer& s) {
    boost::beast::flat_buffer buffer;
    if (!s.read_request(socket, buffer)) return;
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":\"o1\"";
    boost::asio::write(socket, boost::asio::buffer(head));
    socket.close();
  });
  auto c = client(server.url());
  auto r = c.broker->submit_order(testing::stwd_take_profit());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::unknown_outcome);
  EXPECT_NE(r.error().message.find("before a complete response"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(server.requests(), 1);
}

TEST(BeastTransport, ClosedWithoutAnswerIsUnknownOutcomeAndNotResent) {
  // What `lose_response` does: the request was read (and applied), the reply never comes.
  FakeServer server([](tcp::socket& socket, FakeServer& s) {
    boost::beast::flat_buffer buffer;
    if (s.read_request(socket, buffer)) socket.close();
  });
  auto c = client(server.url());
  auto r = c.broker->submit_order(testing::stwd_take_profit());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::unknown_outcome);
  EXPECT_EQ(server.requests(), 1);
}

TEST(BeastTransport, HugeBodyIsRefused) {
  const std::string huge(200 * 1024, ' ');  // over the 64 KiB test limit
  FakeServer server(serve(http_response(200, "[" + huge + "]")));
  auto c = client(server.url());
  auto r = c.broker->list_orders({});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::unknown_outcome);
  EXPECT_NE(r.error().message.find("limit"), std::string::npos) << r.error().message;
}

TEST(BeastTransport, SilentServerHitsTheReadTimeout) {
  FakeServer server([](tcp::socket& socket, FakeServer& s) {
    boost::beast::flat_buffer buffer;
    if (s.read_request(socket, buffer)) s.hang();
  });
  auto c = client(server.url(), /*read_timeout_ms=*/300);
  auto r = c.broker->submit_order(testing::stwd_take_profit());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::unknown_outcome);
  EXPECT_NE(r.error().message.find("read timeout"), std::string::npos) << r.error().message;
}

TEST(BeastTransport, ClosedPortIsNotSent) {
  const std::uint16_t port = testing::closed_loopback_port();
  auto c = client("http://127.0.0.1:" + std::to_string(port));
  auto r = c.broker->submit_order(testing::stwd_take_profit());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::not_sent);
  expect_clean(r.error());
}

TEST(BeastTransport, ClearTextToARemoteHostIsRefusedBeforeConnecting) {
  for (const char* url : {"http://paper-api.alpaca.markets", "http://10.0.0.1:8080",
                          "ws://example.com/stream", "ftp://127.0.0.1", "not a url"}) {
    BeastTransportOptions o;
    o.base_url = url;
    auto t = BeastTransport::create(o);
    EXPECT_FALSE(t.ok()) << url;
  }
  BeastTransportOptions o;
  o.base_url = "http://paper-api.alpaca.markets";
  auto t = BeastTransport::create(o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("refusing clear-text"), std::string::npos);
  auto b = make_alpaca_broker(AlpacaConfig{"http://paper-api.alpaca.markets", "k", "s"});
  EXPECT_FALSE(b.ok());
  for (const char* url : {"http://127.0.0.1:1", "http://localhost:9", "http://[::1]:9",
                          "https://paper-api.alpaca.markets", "https://api.alpaca.markets/"}) {
    o.base_url = url;
    EXPECT_TRUE(BeastTransport::create(o).ok()) << url;
  }
}

// ---- TLS -------------------------------------------------------------------------------------

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("orderly-tls-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
        "-addext subjectAltName=DNS:localhost -keyout " + (dir_ / "key.pem").string() +
        " -out " + (dir_ / "cert.pem").string() + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl CLI not available";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A TLS server that answers one request per connection.
  std::unique_ptr<FakeServer> tls_server() {
    auto ctx = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
    ctx->use_certificate_chain_file((dir_ / "cert.pem").string());
    ctx->use_private_key_file((dir_ / "key.pem").string(), boost::asio::ssl::context::pem);
    return std::make_unique<FakeServer>([ctx](tcp::socket& socket, FakeServer& s) {
      boost::asio::ssl::stream<tcp::socket&> tls(socket, *ctx);
      boost::system::error_code ec;
      tls.handshake(boost::asio::ssl::stream_base::server, ec);
      if (ec) return;
      boost::beast::flat_buffer buffer;
      if (s.read_request(tls, buffer)) {
        boost::asio::write(tls, boost::asio::buffer(http_response(200, kOrder, "Connection: close\r\n")), ec);
      }
      tls.shutdown(ec);
    });
  }

  std::filesystem::path dir_;
};

TEST_F(TlsTest, SelfSignedCertificateIsRefused) {
  auto server = tls_server();
  auto c = client("https://localhost:" + std::to_string(server->port()));
  auto r = c.broker->get_order("o1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::not_sent);
  EXPECT_NE(r.error().message.find("certificate verification failed"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(server->requests(), 0);
  expect_clean(r.error());
}

TEST_F(TlsTest, TrustedCertificateWithTheRightNameWorks) {
  auto server = tls_server();
  auto c = client("https://localhost:" + std::to_string(server->port()), 5'000,
                  (dir_ / "cert.pem").string());
  auto r = c.broker->get_order("o1");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->id, "o1");
}

TEST_F(TlsTest, TrustedCertificateForAnotherNameIsRefused) {
  auto server = tls_server();
  // The certificate names "localhost" only; 127.0.0.1 is not in it.
  auto c = client("https://127.0.0.1:" + std::to_string(server->port()), 5'000,
                  (dir_ / "cert.pem").string());
  auto r = c.broker->get_order("o1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, BrokerError::Kind::not_sent);
  EXPECT_NE(r.error().message.find("certificate verification failed"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(server->requests(), 0);
}

}  // namespace
}  // namespace orderly::alpaca
