#include "broker/alpaca/stream_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <algorithm>
#include <atomic>
#include <functional>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/alpaca/config.h"
#include "broker/alpaca/endpoint.h"
#include "broker/alpaca/json.h"
#include "broker/alpaca/stream_dispatch.h"
#include "broker/alpaca/tls.h"

namespace orderly::alpaca {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using asio::awaitable;

std::int64_t reconnect_delay_ms(const StreamOptions& o, int failures, double uniform01) {
  const int shift = std::clamp(failures, 0, 30);
  const double ceiling =
      std::min<double>(static_cast<double>(o.backoff_cap_ms),
                       static_cast<double>(o.backoff_base_ms) * static_cast<double>(1LL << shift));
  return o.backoff_floor_ms + static_cast<std::int64_t>(ceiling * std::clamp(uniform01, 0.0, 1.0));
}

struct AlpacaStream::Impl {
  StreamOptions options;
  Endpoint endpoint;
  std::shared_ptr<ssl::context> tls_context;
  AlpacaConfig secrets;  // for redacting reasons

  asio::io_context ioc;
  std::optional<asio::steady_timer> backoff_timer;
  bool prompted = false;  // io thread only: reconnect_now() cut the current backoff short
  std::function<void()> close_current;  // io thread only
  std::atomic<bool> stopping{false};
  std::thread thread;
  TradeUpdateHandler* handler = nullptr;
  std::mt19937_64 rng;

  std::string why(std::string_view what, const error_code& ec) const {
    if (ec == beast::error::timeout) {
      return fmt::format("{}: no frame or pong for {} ms", what, options.idle_timeout_ms);
    }
    if (ec == websocket::error::closed) return fmt::format("{}: closed by the server", what);
    return fmt::format("{}: {}", what, ec.message());
  }

  // Reads one frame, ignoring heartbeats; returns the dispatch result or an error reason.
  template <typename WS>
  awaitable<FrameResult> read_frame(WS& ws, beast::flat_buffer& buffer, std::string& reason) {
    error_code ec;
    for (;;) {
      buffer.clear();
      co_await ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        reason = why("read", ec);
        co_return FrameResult{FrameKind::other, {}};
      }
      const auto data = buffer.cdata();
      std::string_view payload(static_cast<const char*>(data.data()), data.size());
      FrameResult r = dispatch_stream_frame(payload, *handler);
      if (r.kind == FrameKind::malformed) {
        // The handler counts it and looks for fills; the log says what arrived.
        spdlog::warn("trade_updates: unreadable message ({}): {}", r.message,
                     redact(payload.substr(0, 512), secrets));
      }
      if (r.kind != FrameKind::heartbeat) co_return r;
    }
  }

  // One connection from resolve to disconnect. Returns the reason it ended.
  template <typename WS>
  awaitable<std::string> session(WS& ws, bool& listened) {
    error_code ec;
    auto& lowest = beast::get_lowest_layer(ws);
    close_current = [&lowest] {
      error_code ignored;
      lowest.socket().close(ignored);
    };
    const auto connect_timeout = std::chrono::milliseconds(options.connect_timeout_ms);

    tcp::resolver resolver(ioc);
    asio::steady_timer resolve_timer(ioc, connect_timeout);
    resolve_timer.async_wait([&resolver](error_code e) {
      if (!e) resolver.cancel();
    });
    auto endpoints = co_await resolver.async_resolve(endpoint.host, endpoint.port,
                                                     asio::redirect_error(asio::use_awaitable, ec));
    resolve_timer.cancel();
    if (ec) co_return why("resolve " + endpoint.host, ec);

    lowest.expires_after(connect_timeout);
    co_await lowest.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return why(fmt::format("connect {}:{}", endpoint.host, endpoint.port), ec);
    if (stopping) co_return "stopped";

    if constexpr (!std::is_same_v<typename WS::next_layer_type, beast::tcp_stream>) {
      if (Status s = detail::prepare_tls(ws.next_layer(), endpoint.host); !s.ok()) {
        co_return s.message();
      }
      lowest.expires_after(connect_timeout);
      co_await ws.next_layer().async_handshake(ssl::stream_base::client,
                                               asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        co_return detail::describe_tls_failure(ws.next_layer().native_handle(), ec, endpoint.host);
      }
    }
    lowest.expires_never();  // from here the WebSocket's own timeouts rule

    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = connect_timeout;
    timeouts.idle_timeout = std::chrono::milliseconds(options.idle_timeout_ms);
    timeouts.keep_alive_pings = true;  // ping at half the idle timeout; silence closes
    ws.set_option(timeouts);
    ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, "orderly/0.1");
    }));
    ws.read_message_max(options.max_message_bytes);
    co_await ws.async_handshake(endpoint.host_header, endpoint.path_prefix + "/stream",
                                asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return why("websocket handshake", ec);
    if (stopping) co_return "stopped";

    // Authorization and listen must be acknowledged in time, even if the server answers pings.
    asio::steady_timer auth_timer(ioc, std::chrono::milliseconds(options.auth_timeout_ms));
    bool auth_timed_out = false;
    auth_timer.async_wait([&](error_code e) {
      if (e) return;
      auth_timed_out = true;
      error_code ignored;
      lowest.socket().close(ignored);
    });
    auto fail_auth = [&](std::string reason) {
      auth_timer.cancel();
      return auth_timed_out ? fmt::format("no authorization/listen ack within {} ms",
                                          options.auth_timeout_ms)
                            : reason;
    };

    beast::flat_buffer buffer;
    ws.text(true);
    co_await ws.async_write(asio::buffer(authenticate_message(secrets.key_id, secrets.secret_key)),
                            asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return fail_auth(why("authenticate", ec));
    for (;;) {
      std::string reason;
      FrameResult r = co_await read_frame(ws, buffer, reason);
      if (!reason.empty()) co_return fail_auth(reason);
      if (r.kind == FrameKind::unauthorized) {
        co_return fail_auth("authentication failed: " +
                            (r.message.empty() ? std::string("unauthorized") : r.message));
      }
      if (r.kind == FrameKind::authorized) break;
    }
    co_await ws.async_write(asio::buffer(listen_message()),
                            asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return fail_auth(why("listen", ec));
    for (;;) {
      std::string reason;
      FrameResult r = co_await read_frame(ws, buffer, reason);
      if (!reason.empty()) co_return fail_auth(reason);
      if (r.kind == FrameKind::unauthorized) {
        co_return fail_auth("listen refused: " + r.message);
      }
      if (r.kind == FrameKind::listening) break;
    }
    auth_timer.cancel();

    listened = true;
    handler->on_connected();
    for (;;) {
      std::string reason;
      FrameResult r = co_await read_frame(ws, buffer, reason);
      if (!reason.empty()) co_return reason;
      if (r.kind == FrameKind::unauthorized) co_return "unauthorized: " + r.message;
    }
  }

  awaitable<std::string> one_attempt(bool& listened) {
    std::string reason;
    if (tls_context) {
      websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, *tls_context);
      reason = co_await session(ws, listened);
    } else {
      websocket::stream<beast::tcp_stream> ws(ioc);
      reason = co_await session(ws, listened);
    }
    co_return reason;
  }

  awaitable<void> run() {
    int failures = 0;
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    while (!stopping) {
      bool listened = false;
      std::string reason;
      try {
        reason = co_await one_attempt(listened);
      } catch (const std::exception& e) {  // a Beast/Asio surprise must not end the thread
        reason = std::string("stream failure: ") + e.what();
      }
      close_current = nullptr;
      if (stopping) break;
      if (listened) failures = 0;
      handler->on_disconnected(redact(reason, secrets));
      const auto delay = reconnect_delay_ms(options, failures, uniform(rng));
      ++failures;
      prompted = false;
      backoff_timer->expires_after(std::chrono::milliseconds(delay));
      error_code ec;
      co_await backoff_timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (prompted) failures = 0;  // the server is known to be back: a fresh start
    }
  }
};

AlpacaStream::AlpacaStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AlpacaStream::~AlpacaStream() { stop(); }

StatusOr<std::unique_ptr<AlpacaStream>> AlpacaStream::create(StreamOptions options) {
  auto endpoint = parse_endpoint(options.base_url);
  if (!endpoint.ok()) return endpoint.status();
  auto impl = std::make_unique<Impl>();
  impl->endpoint = std::move(endpoint.value());
  if (impl->endpoint.tls) {
    auto ctx = detail::make_client_tls_context(options.extra_ca_file);
    if (!ctx.ok()) return ctx.status();
    impl->tls_context = std::move(ctx.value());
  }
  impl->secrets = AlpacaConfig{options.base_url, options.key_id, options.secret_key};
  impl->rng.seed(options.jitter_seed != 0 ? options.jitter_seed : std::random_device{}());
  impl->options = std::move(options);
  return std::unique_ptr<AlpacaStream>(new AlpacaStream(std::move(impl)));
}

void AlpacaStream::start(TradeUpdateHandler& handler) {
  Impl& s = *impl_;
  if (s.thread.joinable()) return;
  s.handler = &handler;
  s.stopping = false;
  s.ioc.restart();
  s.backoff_timer.emplace(s.ioc);
  asio::co_spawn(s.ioc, s.run(), asio::detached);
  s.thread = std::thread([&s] { s.ioc.run(); });
}

void AlpacaStream::reconnect_now() {
  Impl& s = *impl_;
  // Queued until the stream runs; harmless while it is connected (no backoff to cut).
  asio::post(s.ioc, [&s] {
    if (!s.backoff_timer) return;
    s.prompted = true;
    s.backoff_timer->cancel();
  });
}

void AlpacaStream::stop() {
  Impl& s = *impl_;
  if (!s.thread.joinable()) return;
  asio::post(s.ioc, [&s] {
    s.stopping = true;
    if (s.backoff_timer) s.backoff_timer->cancel();
    if (s.close_current) s.close_current();
  });
  s.thread.join();
  // Anything still queued (a handler racing the close) is destroyed with its coroutine frame.
  s.ioc.stop();
  s.ioc.restart();
  s.ioc.poll();
}

}  // namespace orderly::alpaca
