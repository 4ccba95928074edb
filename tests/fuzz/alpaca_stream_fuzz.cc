// libFuzzer target for one trade_updates frame (src/broker/alpaca/stream_dispatch.cc and the
// stream parser under it), dispatched exactly as the WebSocket client does. A crash, a sanitizer
// report or an escaped exception is a bug; a malformed frame is not, but it must reach
// on_malformed, and an update must reach on_trade_update, once.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "broker/alpaca/stream_dispatch.h"
#include "round_trip.h"

namespace {
using namespace orderly;

struct CountingHandler : TradeUpdateHandler {
  int updates = 0;
  int malformed = 0;
  void on_trade_update(TradeUpdate update) override {
    ++updates;
    fuzz::check_order(update.order);
    fuzz::round_trips(update.price);
    fuzz::round_trips(update.qty);
    fuzz::round_trips(update.position_qty);
  }
  void on_connected() override {}
  void on_disconnected(std::string) override {}
  void on_malformed(std::string, std::string) override { ++malformed; }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view frame(reinterpret_cast<const char*>(data), size);
  CountingHandler handler;
  const alpaca::FrameKind kind = alpaca::dispatch_stream_frame(frame, handler).kind;
  fuzz::require(handler.updates == (kind == alpaca::FrameKind::trade_update ? 1 : 0));
  fuzz::require(handler.malformed == (kind == alpaca::FrameKind::malformed ? 1 : 0));
  return 0;
}
