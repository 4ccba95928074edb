// libFuzzer target for the Alpaca REST parsers (src/broker/alpaca/json.cc): every input goes to
// each parser, as any response body may reach any of them when a route answers something else.
// A crash, a sanitizer report or an escaped exception is a bug; an error value is not.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "broker/alpaca/json.h"
#include "round_trip.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace orderly;
  using namespace orderly::alpaca;
  using fuzz::round_trips;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto o = parse_order(text); o.ok()) fuzz::check_order(*o);
  if (auto os = parse_orders(text); os.ok()) {
    for (const auto& o : *os) fuzz::check_order(o);
  }
  if (auto ps = parse_positions(text); ps.ok()) {
    for (const auto& p : *ps) round_trips(p.qty);
  }
  if (auto p = parse_position(text); p.ok()) round_trips(p->qty);
  if (auto fills = parse_fill_activities(text); fills.ok()) {
    for (const auto& f : *fills) round_trips(f.qty);
  }
  (void)parse_account(text);
  (void)parse_clock(text);
  (void)parse_cancel_all(text);
  (void)parse_error_body(text);
  return 0;
}
