#include "broker/alpaca/endpoint.h"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

#include <fmt/format.h>

namespace orderly::alpaca {

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(std::string(host), ec);
  return !ec && addr.is_loopback();
}

StatusOr<Endpoint> parse_endpoint(std::string_view url) {
  auto invalid = [&](std::string_view why) {
    return Status::error(Status::Code::invalid_argument,
                         fmt::format("broker URL '{}': {}", url, why));
  };
  auto parsed = boost::urls::parse_absolute_uri(boost::core::string_view(url.data(), url.size()));
  if (!parsed) return invalid("not an absolute URL");
  const auto& u = *parsed;
  const std::string scheme(u.scheme());
  Endpoint e;
  if (scheme == "https" || scheme == "wss") {
    e.tls = true;
  } else if (scheme == "http" || scheme == "ws") {
    e.tls = false;
  } else {
    return invalid("scheme must be https (or http to a loopback address)");
  }
  if (u.has_userinfo()) return invalid("credentials in the URL are not supported");
  if (u.has_query() || u.has_fragment()) return invalid("no query or fragment allowed");
  e.host = std::string(u.encoded_host_address());
  if (e.host.size() > 2 && e.host.front() == '[') e.host = e.host.substr(1, e.host.size() - 2);
  if (e.host.empty()) return invalid("no host");
  e.port = u.has_port() ? std::string(u.port()) : (e.tls ? "443" : "80");
  std::string path(u.encoded_path());
  while (!path.empty() && path.back() == '/') path.pop_back();
  e.path_prefix = path;
  e.host_header = std::string(u.encoded_host_and_port());
  if (!e.tls && !is_loopback_host(e.host)) {
    return invalid(fmt::format(
        "refusing clear-text {}:// to non-loopback host '{}': the API secret would travel "
        "unencrypted; use https:// (plain http is only for a local simulator)",
        scheme, e.host));
  }
  return e;
}

}  // namespace orderly::alpaca
