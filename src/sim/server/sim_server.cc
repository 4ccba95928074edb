#include "sim/server/sim_server.h"

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "sim/server/protocol.h"

namespace orderly::sim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Strand = asio::strand<asio::io_context::executor_type>;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kMaxConnections = 4096;
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr std::size_t kLingerDrainBytes = 4 << 20;

// What the transport does with one request: a reply, or (lose_response) nothing at all.
struct Outcome {
  Response response;
  bool lose_response = false;
  std::int64_t delay_ms = 0;
};

Response json_response(unsigned status, std::string body, unsigned version = 11) {
  Response res{static_cast<http::status>(status), version};
  res.set(http::field::server, "orderly-sim");
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

// The model reads the wall clock; SystemClock has no state, so one instance serves every server.
const SystemClock kWallClock;

// io_context::shutdown() is protected: stop() uses it to destroy every pending handler (and so
// every connection's coroutine and socket) at once, instead of waiting for the destructor.
class Context : public asio::io_context {
 public:
  using asio::io_context::shutdown;
};

}  // namespace

template <class R>
struct CompletionOf {
  using type = void(R);
};
template <>
struct CompletionOf<void> {
  using type = void();
};

// One trade_updates client. Lives on its connection's strand; the model strand only holds a
// weak_ptr and posts batches to it.
//
// Ownership (issue 3): serve_stream's frame owns the session and its writer only borrows it,
// so serve_stream waits for the writer to return before it lets go. The session used to be
// registered with `co_await on_model([this, session] {...})`; with GCC 12 a shared_ptr captured
// by a lambda in a co_await'ed call loses one reference too many (reproduced standalone: the
// object is destroyed while a coroutine still holds a copy). Every session was one reference
// short, so when a client left and serve_stream ended before the writer resumed, the session
// died under its writer and, once the pump dropped its weak_ptr, its memory was freed: SIGSEGV
// in cut(), "corrupted double-linked list", ASan heap-use-after-free in write_stream.
struct StreamSession : std::enable_shared_from_this<StreamSession> {
  StreamSession(beast::tcp_stream stream, const SimServerOptions& options)
      : ws(std::move(stream)), wake(ws.get_executor()), writer_done(ws.get_executor()),
        options(options) {}

  websocket::stream<beast::tcp_stream> ws;
  asio::steady_timer wake;         // the writer sleeps on it; cancel() wakes it
  asio::steady_timer writer_done;  // serve_stream sleeps on it until the writer has returned
  std::deque<std::shared_ptr<const std::string>> queue;
  server::StreamClientState state;
  bool closed = false;
  bool writing = false;
  const SimServerOptions& options;

  // Abrupt TCP close: clients see close code 1006, like Alpaca's random drops (Alpaca-API #195).
  void cut() {
    if (closed) return;
    closed = true;
    beast::error_code ec;
    beast::get_lowest_layer(ws).socket().close(ec);
    wake.cancel();
  }

  void enqueue(std::shared_ptr<const std::string> message) {
    if (closed) return;
    if (queue.size() >= options.max_stream_queue) {
      spdlog::debug("sim: stream client too slow ({} messages queued), disconnecting",
                    queue.size());
      cut();
      return;
    }
    queue.push_back(std::move(message));
    wake.cancel();
  }

  void deliver(const std::vector<std::shared_ptr<const std::string>>& batch) {
    if (!state.listening) return;  // no replay: what a client did not listen for is gone
    for (const auto& m : batch) enqueue(m);
  }
};

struct SimServer::Impl {
  Impl(SimServerOptions opts, std::unique_ptr<Exchange> ex)
      : options(std::move(opts)),
        exchange(std::move(ex)),
        model(asio::make_strand(ioc)),
        acceptor(asio::make_strand(ioc)),
        pump_timer(model) {}

  SimServerOptions options;
  std::unique_ptr<Exchange> exchange;  // only touched on `model`
  Context ioc;
  Strand model;
  tcp::acceptor acceptor;
  asio::steady_timer pump_timer;
  std::vector<std::weak_ptr<StreamSession>> streams;  // only touched on `model`
  std::atomic<std::size_t> connections{0};
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  std::once_flag stopped;

  // Runs f() on the model strand and resumes the caller on its own executor with the result.
  // A plain handler, not a coroutine lambda: GCC 12 destroys coroutine lambda captures twice.
  // f may capture references and raw pointers only: an owning capture (shared_ptr) loses a
  // reference under GCC 12 (issue 3, see StreamSession).
  template <class F>
  auto on_model(F f) {
    using R = std::invoke_result_t<F>;
    using Signature = typename CompletionOf<R>::type;
    return asio::async_initiate<const asio::use_awaitable_t<>&, Signature>(
        [this](auto handler, F fn) {
          asio::post(model, [fn = std::move(fn), handler = std::move(handler)]() mutable {
            auto ex = asio::get_associated_executor(handler);
            if constexpr (std::is_void_v<R>) {
              fn();
              asio::dispatch(ex, std::move(handler));
            } else {
              asio::dispatch(ex, [h = std::move(handler), r = fn()]() mutable {
                std::move(h)(std::move(r));
              });
            }
          });
        },
        asio::use_awaitable, std::move(f));
  }

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> pump();
  void fan_out(Timestamp now);  // on `model` only
  asio::awaitable<void> serve_http(tcp::socket socket);
  asio::awaitable<void> serve_stream(beast::tcp_stream stream, Request req);
  asio::awaitable<void> write_stream(StreamSession& session);
  asio::awaitable<Outcome> route(const Request& req);
  asio::awaitable<Outcome> control(const Request& req, std::string_view path);
  asio::awaitable<void> reply_and_close(beast::tcp_stream& stream, Response res);
};

asio::awaitable<void> SimServer::Impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kNoThrow);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning; the listening socket stays up.
      spdlog::warn("sim: accept failed: {}", ec.message());
      asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await t.async_wait(kNoThrow);
      continue;
    }
    if (connections.load() >= kMaxConnections) {
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    asio::co_spawn(executor, serve_http(std::move(socket)), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("sim: connection failed: {}", ex.what());
      }
    });
  }
}

// Advances the model on the wall clock and fans its trade_updates out to the stream clients.
asio::awaitable<void> SimServer::Impl::pump() {
  const auto interval = std::chrono::milliseconds(std::max<std::int64_t>(1, options.pump_interval_ms));
  for (;;) {
    pump_timer.expires_after(interval);
    auto [ec] = co_await pump_timer.async_wait(kNoThrow);
    if (ec) co_return;
    Timestamp now = kWallClock.now();
    exchange->advance(now);
    fan_out(now);
  }
}

// Sends what the model has for the stream now. Called by the pump and right after every request
// that touched the model, so an event a request caused (a fill on submit, a price moved through a
// limit) leaves at once as Alpaca's would, instead of waiting up to a pump interval.
void SimServer::Impl::fan_out(Timestamp now) {
  std::vector<StreamMessage> messages = exchange->take_stream_messages(now);
  bool cut = exchange->stream_disconnect_due(now);
  std::erase_if(streams, [](const auto& w) { return w.expired(); });
  if (messages.empty() && !cut) return;
  auto batch = std::make_shared<std::vector<std::shared_ptr<const std::string>>>();
  batch->reserve(messages.size());
  for (auto& m : messages) batch->push_back(std::make_shared<const std::string>(std::move(m.json)));
  for (const auto& weak : streams) {
    auto session = weak.lock();
    if (!session) continue;
    asio::post(session->ws.get_executor(), [session, batch, cut] {
      if (!batch->empty()) session->deliver(*batch);
      if (cut) session->cut();
    });
  }
  if (cut) spdlog::debug("sim: fault plan cut {} stream connection(s)", streams.size());
}

asio::awaitable<Outcome> SimServer::Impl::control(const Request& req, std::string_view path) {
  const bool post = req.method() == http::verb::post;
  const bool get = req.method() == http::verb::get;
  if (path == "/sim/prices" && post) {
    auto prices = server::parse_prices(req.body());
    if (!prices.ok()) co_return Outcome{json_response(400, server::error_json(prices.status().message()))};
    std::size_t n = prices->size();
    const auto& p = *prices;
    co_await on_model([this, &p] {
      exchange->set_prices(p);
      fan_out(kWallClock.now());
    });
    co_return Outcome{json_response(200, "{\"updated\":" + std::to_string(n) + "}")};
  }
  if (path == "/sim/faults" && post) {
    std::string error =
        co_await on_model([this, &req] { return exchange->set_faults_json(req.body()); });
    if (!error.empty()) co_return Outcome{json_response(400, server::error_json(error))};
    co_return Outcome{json_response(200, "{\"ok\":true}")};
  }
  if (path == "/sim/stats" && get) {
    // co_await kept out of braced initialisers: GCC 12 destroys such temporaries twice.
    std::string stats = co_await on_model([this] { return exchange->stats_json(); });
    co_return Outcome{json_response(200, std::move(stats))};
  }
  if (path == "/sim/prices" || path == "/sim/faults" || path == "/sim/stats") {
    co_return Outcome{json_response(405, server::error_json("method not allowed"))};
  }
  co_return Outcome{json_response(404, server::error_json("unknown simulator route"))};
}

asio::awaitable<Outcome> SimServer::Impl::route(const Request& req) {
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = path_of(target);
  // /sim/session and /sim/assets are the model's own routes (a session expires orders and
  // answers with the clock; the assets' flags are the model's).
  if (path.starts_with("/sim/") && path != "/sim/session" && path != "/sim/assets") {
    co_return co_await control(req, path);
  }

  HttpCall call;
  call.method = std::string(req.method_string());
  call.target = std::string(target);
  call.headers.reserve(8);
  for (const auto& field : req) {
    call.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  call.body = req.body();
  HttpReply reply = co_await on_model([this, &call] {
    try {
      HttpReply r = exchange->handle(call);
      fan_out(kWallClock.now());
      return r;
    } catch (const std::exception& e) {  // a model bug must not take the server down
      spdlog::error("sim: model failed on {} {}: {}", call.method, call.target, e.what());
      return HttpReply{500, {}, server::alpaca_error_json(50010000, "internal server error")};
    }
  });

  Outcome out;
  out.lose_response = reply.fault == HttpFault::lose_response;
  out.delay_ms = reply.delay_ms;
  int status = reply.status >= 100 && reply.status <= 599 ? reply.status : 500;
  Response& res = out.response;
  res.result(static_cast<unsigned>(status));
  res.version(req.version());
  res.set(http::field::server, "orderly-sim");
  bool has_type = false;
  for (auto& [name, value] : reply.headers) {
    has_type = has_type || beast::iequals(name, "content-type");
    res.insert(name, value);
  }
  // 204 (cancel accepted) and 304 carry no body by definition.
  if (status == 204 || status == 304 || (status >= 100 && status < 200)) co_return out;
  if (!has_type) res.set(http::field::content_type, "application/json");
  res.body() = std::move(reply.body);
  res.prepare_payload();
  co_return out;
}

// Answers a request the transport refuses and closes: the client gets the reason, and whatever
// it is still sending is drained (bounded) so our close does not reset the reply away.
asio::awaitable<void> SimServer::Impl::reply_and_close(beast::tcp_stream& stream, Response res) {
  res.keep_alive(false);
  stream.expires_after(std::chrono::milliseconds(options.read_timeout_ms));
  auto [ec, n] = co_await http::async_write(stream, res, kNoThrow);
  if (ec) co_return;
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(kLingerTimeout);
  std::vector<char> sink(16 * 1024);
  std::size_t drained = 0;
  while (drained < kLingerDrainBytes) {
    auto [rec, got] = co_await stream.async_read_some(asio::buffer(sink), kNoThrow);
    if (rec) break;
    drained += got;
  }
  stream.close();
}

asio::awaitable<void> SimServer::Impl::serve_http(tcp::socket socket) {
  ++connections;
  struct Count {
    std::atomic<std::size_t>& n;
    ~Count() { --n; }
  } count{connections};

  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  const auto read_timeout = std::chrono::milliseconds(options.read_timeout_ms);
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit(static_cast<std::uint64_t>(options.config.max_body_bytes));
    stream.expires_after(read_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
    if (!ec && parser.get()[http::field::expect] == "100-continue" && !parser.is_done()) {
      http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
      std::tie(ec, n) = co_await http::async_write(stream, cont, kNoThrow);
    }
    if (!ec && !parser.is_done()) {
      std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kNoThrow);
    }
    if (ec == http::error::body_limit) {
      co_await reply_and_close(stream, json_response(413, server::alpaca_error_json(
                                                              41310000, "request body too large")));
      co_return;
    }
    if (ec == http::error::header_limit) {
      co_await reply_and_close(stream, json_response(431, server::alpaca_error_json(
                                                              43110000, "request header too large")));
      co_return;
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      co_await reply_and_close(
          stream, json_response(400, server::alpaca_error_json(40010000, "malformed HTTP request: " +
                                                                            ec.message())));
      co_return;
    }
    if (ec) break;  // EOF, reset, timeout of an idle or slow client: just close

    Request req = parser.release();
    if (websocket::is_upgrade(req)) {
      if (path_of(std::string_view(req.target().data(), req.target().size())) != "/stream") {
        co_await reply_and_close(stream, json_response(404, server::alpaca_error_json(
                                                                40410000, "not found")));
        co_return;
      }
      co_await serve_stream(std::move(stream), std::move(req));
      co_return;
    }

    Outcome out;
    try {
      out = co_await route(req);
    } catch (const std::exception& e) {
      spdlog::error("sim: {} {} failed: {}", std::string(req.method_string()),
                    std::string(req.target()), e.what());
      out = Outcome{json_response(500, server::alpaca_error_json(50010000, "internal server error"))};
    }
    spdlog::debug("sim: {} {} -> {}{}", std::string(req.method_string()), std::string(req.target()),
                  out.response.result_int(), out.lose_response ? " (response lost)" : "");
    if (out.lose_response) break;  // the request was applied; the client never hears of it
    if (out.delay_ms > 0) {
      asio::steady_timer t(stream.get_executor(), std::chrono::milliseconds(out.delay_ms));
      co_await t.async_wait(kNoThrow);
    }
    out.response.version(req.version());
    out.response.keep_alive(req.keep_alive());
    stream.expires_after(read_timeout);
    std::tie(ec, n) = co_await http::async_write(stream, out.response, kNoThrow);
    if (ec || !req.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.close();
}

asio::awaitable<void> SimServer::Impl::serve_stream(beast::tcp_stream stream, Request req) {
  beast::get_lowest_layer(stream).expires_never();  // the websocket keeps its own timeouts
  auto session = std::make_shared<StreamSession>(std::move(stream), options);
  auto& ws = session->ws;
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::seconds(10);
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws.set_option(timeouts);
  ws.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "orderly-sim"); }));
  ws.read_message_max(options.max_ws_message_bytes);
  auto [ec] = co_await ws.async_accept(req, kNoThrow);
  if (ec) co_return;

  // A plain handler on the model strand, posted before the client can say "listen": whatever
  // the model emits after that reaches this session. (Not on_model with a shared_ptr capture:
  // see StreamSession.)
  asio::post(model, [this, weak = std::weak_ptr<StreamSession>(session)] { streams.push_back(weak); });
  session->writing = true;
  asio::co_spawn(ws.get_executor(), write_stream(*session), asio::detached);

  beast::flat_buffer buffer;
  while (!session->closed) {
    auto [rec, n] = co_await ws.async_read(buffer, kNoThrow);
    if (rec) break;
    std::string text = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    for (auto& reply : server::handle_stream_message(text, options.config, session->state)) {
      session->enqueue(std::make_shared<const std::string>(std::move(reply)));
    }
  }
  session->cut();
  while (session->writing) {
    session->writer_done.expires_at(asio::steady_timer::time_point::max());
    co_await session->writer_done.async_wait(kNoThrow);
  }
}

// Borrows the session from serve_stream, which outlives it (see StreamSession). Every return
// says so through finish(); no destructor does, because stop() may destroy this frame after the
// session is gone.
asio::awaitable<void> SimServer::Impl::write_stream(StreamSession& session) {
  auto finish = [](StreamSession& s) {
    s.writing = false;
    s.writer_done.cancel();
  };
  auto& ws = session.ws;
  for (;;) {
    while (session.queue.empty() && !session.closed) {
      session.wake.expires_at(asio::steady_timer::time_point::max());
      co_await session.wake.async_wait(kNoThrow);
    }
    if (session.closed) {
      finish(session);
      co_return;
    }
    auto message = session.queue.front();
    ws.binary(!options.text_frames);  // the paper stream sends binary frames
    auto [ec, n] = co_await ws.async_write(asio::buffer(*message), kNoThrow);
    if (ec) {
      session.cut();
      finish(session);
      co_return;
    }
    session.queue.pop_front();
  }
}

SimServer::SimServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SimServer::~SimServer() { stop(); }

std::uint16_t SimServer::port() const { return impl_->port; }

void SimServer::stop() {
  Impl& s = *impl_;
  std::call_once(s.stopped, [&s] {
    s.ioc.stop();
    for (auto& t : s.threads) {
      if (t.joinable()) t.join();
    }
    // No thread runs the context any more: close the listener, then destroy every pending
    // handler, which closes every connection's socket.
    beast::error_code ignored;
    s.acceptor.close(ignored);
    s.pump_timer.cancel();
    s.ioc.shutdown();
  });
}

StatusOr<std::unique_ptr<SimServer>> SimServer::start(SimServerOptions options) {
  auto exchange = make_exchange(options.config, kWallClock);
  return start(std::move(options), std::move(exchange));
}

StatusOr<std::unique_ptr<SimServer>> SimServer::start(SimServerOptions options,
                                                      std::unique_ptr<Exchange> exchange) {
  if (!exchange) return Status::error(Status::Code::invalid_argument, "no exchange model");
  if (options.io_threads < 1 || options.io_threads > 64) {
    return Status::error(Status::Code::invalid_argument, "io_threads must be 1..64");
  }
  if (options.faults_json) {
    std::string error = exchange->set_faults_json(*options.faults_json);
    if (!error.empty()) {
      return Status::error(Status::Code::invalid_argument, "fault plan: " + error);
    }
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec) {
    return Status::error(Status::Code::invalid_argument,
                         "listen address '" + options.host + "' is not an IP address");
  }
  auto impl = std::make_unique<Impl>(std::move(options), std::move(exchange));
  tcp::endpoint endpoint(address, impl->options.port);
  auto& acceptor = impl->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::error(Status::Code::unavailable, "cannot listen on " + impl->options.host + ":" +
                                                        std::to_string(impl->options.port) + ": " +
                                                        ec.message());
  }
  impl->port = acceptor.local_endpoint().port();
  Impl* s = impl.get();
  asio::co_spawn(s->acceptor.get_executor(), s->accept_loop(), asio::detached);
  asio::co_spawn(s->model, s->pump(), asio::detached);
  for (int i = 0; i < s->options.io_threads; ++i) {
    s->threads.emplace_back([s] { s->ioc.run(); });
  }
  return std::unique_ptr<SimServer>(new SimServer(std::move(impl)));
}

}  // namespace orderly::sim
