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
    stream.expires_after(std::chrono::milliseconds(endpoint.timeout_ms));
    boost::system::error_code ec;
    auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
    if (!ec) stream.connect(results, ec);
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
    http::write(stream, req, ec);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (!ec) http::read(stream, buffer, parser, ec);
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
