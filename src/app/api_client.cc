#include "app/api_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>

namespace orderly::app {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

StatusOr<ApiReply> api_call(const ApiEndpoint& endpoint, const std::string& method,
                            const std::string& target, const std::string& body) {
  const std::string where = endpoint.host + ":" + std::to_string(endpoint.port);
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    // The stream's deadline bounds asynchronous operations only (a synchronous read would wait
    // forever on a peer that accepted and never answers), so each step runs async to completion.
    const auto timeout = std::chrono::milliseconds(endpoint.timeout_ms);
    boost::system::error_code ec;
    auto done = [&ec](boost::system::error_code e, auto&&...) { ec = e; };
    auto run = [&ioc] {
      ioc.restart();
      ioc.run();
    };
    auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
    if (!ec) {
      stream.expires_after(timeout);
      stream.async_connect(results, done);
      run();
    }
    if (ec) {
      return Status::error(Status::Code::unavailable,
                           "cannot reach the orderly daemon at " + where + " (" + ec.message() +
                               "); is `orderly run` running?");
    }
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, endpoint.host);
    req.set(http::field::user_agent, "orderly-cli");
    if (!endpoint.token.empty()) req.set(http::field::authorization, "Bearer " + endpoint.token);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    stream.expires_after(timeout);
    http::async_write(stream, req, done);
    run();
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (!ec) {
      http::async_read(stream, buffer, parser, done);
      run();
    }
    if (ec) {
      return Status::error(Status::Code::unavailable,
                           "no answer from the orderly daemon at " + where + " (" + ec.message() + ")");
    }
    auto& res = parser.get();
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return ApiReply{static_cast<int>(res.result_int()), std::string(res[http::field::content_type]),
                    std::move(res.body())};
  } catch (const std::exception& e) {
    return Status::error(Status::Code::unavailable,
                         "cannot talk to the orderly daemon at " + where + ": " + e.what());
  }
}

}  // namespace orderly::app
