// The WebSocket stream client against a fake loopback WebSocket server.
#include "broker/alpaca/stream_client.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <boost/beast/websocket.hpp>

#include "fake_server.h"
#include "recording_handler.h"

namespace orderly::alpaca {
namespace {

using testing::FakeServer;
using testing::RecordingHandler;
using tcp = boost::asio::ip::tcp;
namespace websocket = boost::beast::websocket;

constexpr std::string_view kKey = "stream-key-id-000";
constexpr std::string_view kSecret = "stream-secret-never-shown-9876";

const std::string kFill = R"({"stream":"trade_updates","data":{"event":"fill","execution_id":"e1",
 "order":{"id":"o1","client_order_id":"c1","symbol":"STWD","side":"sell","type":"limit",
 "time_in_force":"gtc","qty":"37","filled_qty":"37","filled_avg_price":"10.50","status":"filled",
 "created_at":"2024-01-02T03:04:05Z","updated_at":"2024-01-02T03:05:05Z"},
 "position_qty":"0","price":"10.50","qty":"37","timestamp":"2024-01-02T03:05:05.123-05:00"}})";

enum class Mode { serve_then_close, serve_then_linger, refuse_auth, go_silent };

// Speaks the Alpaca stream protocol: authenticate, listen, then the scripted behaviour.
FakeServer::Script stream_server(Mode mode) {
  return [mode](tcp::socket& socket, FakeServer& server) {
    websocket::stream<tcp::socket&> ws(socket);
    boost::system::error_code ec;
    ws.accept(ec);
    if (ec) return;
    boost::beast::flat_buffer buffer;
    ws.read(buffer, ec);
    if (ec) return;
    const std::string auth = boost::beast::buffers_to_string(buffer.data());
    const bool good = auth.find(std::string(kSecret)) != std::string::npos &&
                      auth.find(std::string(kKey)) != std::string::npos &&
                      mode != Mode::refuse_auth;
    ws.text(true);
    if (!good) {
      ws.write(boost::asio::buffer(std::string(
                   R"({"stream":"authorization","data":{"action":"authenticate","message":"access key verification failed","status":"unauthorized"}})")),
               ec);
      ws.close(websocket::close_code::policy_error, ec);
      return;
    }
    ws.write(boost::asio::buffer(std::string(
                 R"({"stream":"authorization","data":{"status":"authorized","action":"authenticate"}})")),
             ec);
    buffer.clear();
    ws.read(buffer, ec);
    if (ec) return;
    ws.write(boost::asio::buffer(std::string(
                 R"({"stream":"listening","data":{"streams":["trade_updates"]}})")),
             ec);
    if (mode == Mode::go_silent && server.connections() == 1) {
      // No frames and no pongs (nothing reads the pings) until the client gives up on us.
      while (!server.stopping()) {
        pollfd p{socket.native_handle(), POLLRDHUP, 0};
        if (::poll(&p, 1, 10) > 0) return;
      }
      return;
    }
    ws.binary(true);  // the paper stream's binary frames
    ws.write(boost::asio::buffer(kFill), ec);
    const char heartbeat = '\x01';
    ws.write(boost::asio::buffer(&heartbeat, 1), ec);
    ws.text(true);
    ws.write(boost::asio::buffer(std::string("{not json")), ec);
    ws.write(boost::asio::buffer(kFill), ec);
    if (mode == Mode::serve_then_close) {
      ws.close(websocket::close_code::going_away, ec);
      return;
    }
    for (;;) {  // answer pings until the client leaves
      buffer.clear();
      ws.read(buffer, ec);
      if (ec) return;
    }
  };
}

std::unique_ptr<AlpacaStream> make_stream(const FakeServer& server, std::int64_t idle_ms = 10'000) {
  StreamOptions o;
  o.base_url = server.url();
  o.key_id = std::string(kKey);
  o.secret_key = std::string(kSecret);
  o.idle_timeout_ms = idle_ms;
  o.backoff_base_ms = 50;
  o.backoff_cap_ms = 200;
  o.backoff_floor_ms = 20;
  auto s = AlpacaStream::create(o);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return std::move(s.value());
}

TEST(AlpacaStream, DeliversTextAndBinaryFramesSkipsHeartbeatsReportsMalformed) {
  FakeServer server(stream_server(Mode::serve_then_linger));
  RecordingHandler h;
  auto stream = make_stream(server);
  stream->start(h);
  ASSERT_TRUE(h.wait_for([&] { return h.updates().size() >= 2 && h.malformed() >= 1; }));
  stream->stop();
  auto updates = h.updates();
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].event, "fill");
  EXPECT_EQ(updates[0].order.status, OrderState::filled);
  EXPECT_EQ(updates[0].qty, Decimal::must("37"));
  EXPECT_EQ(updates[0].timestamp, *parse_rfc3339("2024-01-02T08:05:05.123Z"));
  EXPECT_EQ(h.malformed(), 1);
  EXPECT_EQ(h.connected(), 1);
}

TEST(AlpacaStream, ReconnectsAndSignalsEveryResubscription) {
  FakeServer server(stream_server(Mode::serve_then_close));
  RecordingHandler h;
  auto stream = make_stream(server);
  stream->start(h);
  ASSERT_TRUE(h.wait_for([&] { return h.connected() >= 3; }));
  stream->stop();
  EXPECT_GE(h.disconnected(), 2);
  EXPECT_GE(h.updates().size(), 4u);
  for (const auto& reason : h.reasons()) {
    EXPECT_EQ(reason.find(kSecret), std::string::npos) << reason;
  }
}

TEST(AlpacaStream, AuthFailureIsReportedAndRetriedWithBackoff) {
  FakeServer server(stream_server(Mode::refuse_auth));
  RecordingHandler h;
  auto stream = make_stream(server);
  stream->start(h);
  ASSERT_TRUE(h.wait_for([&] { return h.disconnected() >= 2; }));
  stream->stop();
  EXPECT_EQ(h.connected(), 0);
  const auto reasons = h.reasons();
  ASSERT_FALSE(reasons.empty());
  EXPECT_NE(reasons[0].find("authentication failed: access key verification failed"),
            std::string::npos)
      << reasons[0];
  for (const auto& reason : reasons) EXPECT_EQ(reason.find(kSecret), std::string::npos);
}

TEST(AlpacaStream, SilenceIsDetectedAndTheClientReconnects) {
  FakeServer server(stream_server(Mode::go_silent));
  RecordingHandler h;
  auto stream = make_stream(server, /*idle_ms=*/300);
  stream->start(h);
  ASSERT_TRUE(h.wait_for([&] { return h.connected() >= 2; }));
  stream->stop();
  const auto reasons = h.reasons();
  ASSERT_FALSE(reasons.empty());
  EXPECT_NE(reasons[0].find("no frame or pong"), std::string::npos) << reasons[0];
}

TEST(AlpacaStream, StopWhileConnectingToNothingReturns) {
  const std::uint16_t port = testing::closed_loopback_port();
  StreamOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(port);
  o.backoff_base_ms = 10'000;  // stop() must interrupt the backoff wait
  auto s = AlpacaStream::create(o);
  ASSERT_TRUE(s.ok());
  RecordingHandler h;
  s.value()->start(h);
  ASSERT_TRUE(h.wait_for([&] { return h.disconnected() >= 1; }));
  s.value()->stop();
  EXPECT_EQ(h.connected(), 0);
}

TEST(AlpacaStream, ClearTextToARemoteHostIsRefused) {
  StreamOptions o;
  o.base_url = "http://paper-api.alpaca.markets";
  EXPECT_FALSE(AlpacaStream::create(o).ok());
  o.base_url = "https://paper-api.alpaca.markets";
  EXPECT_TRUE(AlpacaStream::create(o).ok());
}

TEST(AlpacaStream, BackoffIsExponentialJitteredAndBounded) {
  StreamOptions o;
  o.backoff_base_ms = 500;
  o.backoff_cap_ms = 30'000;
  o.backoff_floor_ms = 100;
  EXPECT_EQ(reconnect_delay_ms(o, 0, 0.0), 100);
  EXPECT_EQ(reconnect_delay_ms(o, 0, 0.5), 350);
  EXPECT_EQ(reconnect_delay_ms(o, 3, 0.5), 100 + 2'000);
  EXPECT_EQ(reconnect_delay_ms(o, 40, 0.999999), 100 + 29'999);
  EXPECT_LE(reconnect_delay_ms(o, 1'000, 1.0), 100 + 30'000);
}

}  // namespace
}  // namespace orderly::alpaca
