#include "server/http_server.h"

#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast.hpp>
#include <boost/url/parse.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

namespace orderly::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr int kSseHealthEvery = 2;  // polls between two health events
constexpr int kSseBatch = 200;
using Events = std::vector<std::pair<std::int64_t, std::string>>;

std::chrono::milliseconds ms(std::int64_t v) { return std::chrono::milliseconds(v); }

std::string path_of(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

http::response<http::string_body> to_beast(const HttpResponse& r, unsigned version,
                                           bool keep_alive, bool head) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "orderly");
  res.set(http::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) res.set(k, v);
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  if (head) res.body().clear();
  return res;
}

// The `token` query parameter (percent-decoded), when present.
std::optional<std::string> query_token(const std::string& target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  for (auto param : url->params()) {
    if (param.key == "token") return std::string(param.value);
  }
  return std::nullopt;
}

HttpResponse json_error(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = std::string("{\"error\":\"") + std::string(message) + "\"}";
  return r;
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(Handler& api, ServerOptions options)
      : api_(api), o_(std::move(options)), pool_(std::max(1, o_.handler_threads)) {}
  ~Impl() { stop(); }

  Status start() {
    boost::system::error_code ec;
    tcp::endpoint endpoint;
    auto address = asio::ip::make_address(o_.host, ec);
    if (!ec) {
      endpoint = tcp::endpoint(address, o_.port);
    } else {
      tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(o_.host, std::to_string(o_.port), ec);
      if (ec || results.empty()) {
        return Status::error(Status::Code::invalid_argument,
                             "cannot resolve listen host '" + o_.host + "'");
      }
      endpoint = results.begin()->endpoint();
    }
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::error(Status::Code::unavailable, "cannot listen on " + o_.host + ":" +
                                                          std::to_string(o_.port) + ": " +
                                                          ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    for (int i = 0; i < std::max(1, o_.threads); ++i) threads_.emplace_back([this] { ioc_.run(); });
    return Status::success();
  }

  std::uint16_t port() const { return port_; }

  void stop() {
    if (threads_.empty() || stopping_.exchange(true)) return;
    asio::post(ioc_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
    });
    // Requests being handled (an open_trade committing its intent) finish; bounded wait.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (busy_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    // A handler still waiting on a frozen store is waited for here: its answer has nowhere to go
    // (it is dropped with the stopped IO context), but its thread must not outlive the server.
    pool_.join();
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), kUseTuple);
      if (ec) {
        if (stopping_ || !acceptor_.is_open()) co_return;
        continue;  // e.g. too many open files: keep serving the connections we have
      }
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> write(beast::tcp_stream& stream, http::response<http::string_body>& res,
                              boost::system::error_code& ec) {
    stream.expires_after(ms(o_.request_timeout_ms));
    auto [wec, n] = co_await http::async_write(stream, res, kUseTuple);
    (void)n;
    ec = wec;
  }

  asio::awaitable<void> reject(beast::tcp_stream& stream, int status, std::string_view message) {
    api_.count("rejected", status);
    auto res = to_beast(json_error(status, message), 11, false, false);
    boost::system::error_code ec;
    co_await write(stream, res, ec);
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping_) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(static_cast<std::uint64_t>(o_.max_body_bytes));
      parser.header_limit(kHeaderLimit);
      // A client gets request_timeout_ms to send a whole request (slow senders are cut), and
      // idle_timeout_ms between two requests on a kept-alive connection.
      stream.expires_after(ms(first ? o_.request_timeout_ms : o_.idle_timeout_ms));
      first = false;
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple);
      (void)n;
      if (ec == http::error::body_limit) {
        co_await reject(stream, 413, "request body too large");
        break;
      }
      if (ec == http::error::header_limit) {
        co_await reject(stream, 431, "request headers too large");
        break;
      }
      if (ec && ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message) {
        co_await reject(stream, 400, "malformed HTTP request");
        break;
      }
      if (ec) break;  // closed, timed out (the stream is already closed) or reset
      auto& req = parser.get();
      std::string path = path_of(req.target());
      const bool events = path == "/api/events" && req.method() == http::verb::get;
      HttpRequest request{std::string(req.method_string()), std::string(req.target()),
                          std::string(req[http::field::authorization]), std::move(req.body()),
                          std::string(req["Idempotency-Key"]),
                          std::string(req[http::field::host])};
      // EventSource cannot send headers: the stream alone takes the token as ?token=.
      if (events && request.authorization.empty()) {
        if (auto t = query_token(request.target)) request.authorization = "Bearer " + *t;
      }
      bool head = req.method() == http::verb::head;
      if (head) request.method = "GET";
      HttpResponse response;
      if (auto refused = check_access(o_.access, request)) {
        api_.count("refused", refused->status);
        response = std::move(*refused);
      } else if (events) {
        co_await sse(stream, req);
        break;
      } else if (path == "/healthz") {
        // On this IO thread: the engine answers it within its own deadline, the store never.
        response = api_.handle(request);
      } else {
        response = co_await answer(request);
      }
      auto res = to_beast(response, req.version(), req.keep_alive() && !stopping_, head);
      boost::system::error_code wec;
      co_await write(stream, res, wec);
      if (wec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  // A call on a handler thread: its timer is cancelled by the answer or expires at the deadline.
  template <typename T>
  struct Job {
    explicit Job(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    std::optional<T> value;  // empty until answered; stays empty when the call threw
  };

  // Posts `fn` to a handler thread; wait on the job's timer on `ex` (the session's strand), then
  // read its value. Null when too many requests already wait. `deadline_ms` < 0: none (mutating
  // calls wait for their answer: it says what was done). `running`, when given, is true until
  // `fn` returned. (Not a coroutine: GCC 12 mishandles by-value lambdas in co_await expressions.)
  template <typename T>
  std::shared_ptr<Job<T>> start_job(asio::any_io_executor ex, std::function<T()> fn,
                                    std::int64_t deadline_ms,
                                    std::shared_ptr<std::atomic<bool>> running = {}) {
    if (busy_.load() >= o_.max_waiting_requests) return nullptr;
    auto job = std::make_shared<Job<T>>(std::move(ex));
    if (deadline_ms < 0) {
      job->timer.expires_at(asio::steady_timer::time_point::max());
    } else {
      job->timer.expires_after(ms(deadline_ms));
    }
    ++busy_;
    if (running) *running = true;
    asio::post(pool_, [this, job, fn = std::move(fn), running] {
      std::optional<T> value;
      try {
        value = fn();
      } catch (const std::exception&) {  // nothing may escape into the pool
      }
      --busy_;
      if (running) *running = false;
      // Back on the session's strand: the waiting coroutine reads `value` there.
      asio::post(job->timer.get_executor(), [job, value = std::move(value)]() mutable {
        job->value = std::move(value);
        job->timer.cancel();
      });
    });
    return job;
  }

  // The job's value once answered; nullopt past its deadline (or when `job` is null).
  template <typename T>
  asio::awaitable<std::optional<T>> finish(std::shared_ptr<Job<T>> job) {
    if (!job) co_return std::nullopt;
    auto [ec] = co_await job->timer.async_wait(kUseTuple);
    (void)ec;  // cancelled: answered; expired: the deadline passed
    co_return std::move(job->value);
  }

  // A route's answer from a handler thread; a read the store (or the engine) does not answer
  // within the deadline gets 503 "store busy" instead of holding the connection.
  asio::awaitable<HttpResponse> answer(const HttpRequest& request) {
    const bool read = request.method == "GET";  // HEAD is asked as GET
    std::function<HttpResponse()> call = [this, request] { return api_.handle(request); };
    auto job = start_job<HttpResponse>(co_await asio::this_coro::executor, std::move(call),
                                       read ? o_.read_deadline_ms : -1);
    std::optional<HttpResponse> answered = co_await finish(job);
    if (answered) co_return std::move(*answered);
    api_.count("busy", 503);
    HttpResponse busy = json_error(
        503, "store busy: no answer within " + std::to_string(o_.read_deadline_ms) +
                 " ms (the store or the engine is not answering; /healthz says why); try again");
    busy.headers.emplace_back("Retry-After", "1");
    co_return busy;
  }

  // Server-Sent Events: new audit events (event: order_event, id: seq) as they are committed and
  // the health every second (event: health). The dashboard re-reads what an event touched.
  asio::awaitable<void> sse(beast::tcp_stream& stream, http::request<http::string_body>& req) {
    api_.count("GET /api/events", 200);
    std::optional<std::int64_t> start;
    std::string last_id(req["Last-Event-ID"]);
    if (!last_id.empty()) {
      try {
        start = std::stoll(last_id);
      } catch (const std::exception&) {
        start = 0;
      }
    }
    std::string out =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
        "Connection: close\r\nServer: orderly\r\n\r\nretry: 2000\n\n";
    asio::steady_timer timer(stream.get_executor());
    // The store is read on a handler thread, one read at a time: a frozen store skips polls
    // (the health events go on), it holds neither an IO thread nor more than one handler.
    auto reading = std::make_shared<std::atomic<bool>>(false);
    for (int poll = 0; !stopping_; ++poll) {
      const auto ex = stream.get_executor();
      if (!start && !*reading) {
        std::function<std::int64_t()> last = [this] { return api_.last_event_seq(); };
        auto job = start_job<std::int64_t>(ex, std::move(last), o_.read_deadline_ms, reading);
        start = co_await finish(job);
      }
      std::optional<Events> news;
      if (start && !*reading) {
        std::function<Events()> read = [this, after = *start] {
          return api_.events_after(after, kSseBatch);
        };
        auto job = start_job<Events>(ex, std::move(read), o_.read_deadline_ms, reading);
        news = co_await finish(job);
      }
      for (auto& [event_seq, json] : news.value_or(Events{})) {
        start = event_seq;
        out += "id: " + std::to_string(event_seq) + "\nevent: order_event\ndata: " + json + "\n\n";
      }
      if (poll % kSseHealthEvery == 0) out += "event: health\ndata: " + api_.health_json() + "\n\n";
      if (!out.empty()) {
        stream.expires_after(ms(o_.request_timeout_ms));
        auto [ec, n] = co_await asio::async_write(stream, asio::buffer(out), kUseTuple);
        (void)n;
        if (ec) co_return;
        out.clear();
      }
      timer.expires_after(ms(o_.sse_poll_ms));
      auto [tec] = co_await timer.async_wait(kUseTuple);
      if (tec) co_return;
    }
  }

  Handler& api_;
  ServerOptions o_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  std::vector<std::thread> threads_;
  // After ioc_: destroyed (joined) first, so that no answer is posted to a destroyed context.
  asio::thread_pool pool_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> busy_{0};  // requests on (or waiting for) a handler thread
  std::uint16_t port_ = 0;
};

HttpServer::HttpServer(Handler& api, ServerOptions options)
    : impl_(std::make_unique<Impl>(api, std::move(options))) {}
HttpServer::~HttpServer() = default;
Status HttpServer::start() { return impl_->start(); }
std::uint16_t HttpServer::port() const { return impl_->port(); }
void HttpServer::stop() { impl_->stop(); }

}  // namespace orderly::server
