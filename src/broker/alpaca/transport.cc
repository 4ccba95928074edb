#include "broker/alpaca/transport.h"

#include <charconv>
#include <strings.h>

namespace orderly::alpaca {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::int64_t> to_int(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

std::optional<std::int64_t> HttpResponse::header_int(std::string_view name) const {
  auto h = header(name);
  return h ? to_int(*h) : std::nullopt;
}

void HttpResponse::read_ratelimit_headers() {
  ratelimit_limit = header_int("X-Ratelimit-Limit");
  ratelimit_remaining = header_int("X-Ratelimit-Remaining");
  ratelimit_reset_s = header_int("X-Ratelimit-Reset");
}

}  // namespace orderly::alpaca
