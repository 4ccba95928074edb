// libFuzzer target for the simulator's request path: raw bytes are parsed as HTTP by Beast the
// way the server does (same limits), then handed to the model exactly as the server would, and
// also to the server's own /sim/prices and stream-protocol parsers. Any crash, hang or sanitizer
// report is a bug; a refusal is not.
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sim/exchange.h"
#include "sim/server/protocol.h"

namespace {
namespace http = boost::beast::http;
using namespace orderly;

#if FUZZ_MODEL
sim::Exchange& model() {
  static ManualClock clock;
  static auto exchange = [] {
    sim::SimConfig config;
    return sim::make_exchange(config, clock);
  }();
  clock.advance_ms(1);
  return *exchange;
}
#endif
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  sim::server::StreamClientState state;
  sim::server::handle_stream_message(bytes, sim::SimConfig{}, state);
  (void)sim::server::parse_prices(bytes);

  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec || !parser.is_done()) return 0;
  const auto& req = parser.get();
  sim::HttpCall call;
  call.method = std::string(req.method_string());
  call.target = std::string(req.target());
  for (const auto& f : req) call.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  call.body = req.body();
#if FUZZ_MODEL
  sim::Exchange& ex = model();
  ex.handle(call);
  ex.advance(Timestamp{});
#endif
  return 0;
}
