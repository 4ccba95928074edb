#pragma once
// Where the REST client and the stream connect, parsed once from the base URL. Plain http/ws is
// only allowed to loopback (the simulator): anything else would send the API secret in clear.

#include <string>
#include <string_view>

#include "core/status.h"

namespace orderly::alpaca {

struct Endpoint {
  bool tls = true;
  std::string host;         // without brackets for IPv6
  std::string port;         // "443" / "80" when the URL has none
  std::string path_prefix;  // "" or "/prefix" (no trailing slash)
  std::string host_header;  // "host" or "host:port" as the Host header wants it
};

// 127.0.0.0/8, ::1, "localhost".
bool is_loopback_host(std::string_view host);

// http(s):// for REST, ws(s):// or http(s):// for the stream. Refuses unknown schemes, missing
// hosts, queries/fragments, and clear-text schemes to a non-loopback host.
StatusOr<Endpoint> parse_endpoint(std::string_view url);

}  // namespace orderly::alpaca
