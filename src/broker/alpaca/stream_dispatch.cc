#include "broker/alpaca/stream_dispatch.h"

#include <algorithm>

#include "broker/alpaca/json.h"

namespace orderly::alpaca {

FrameResult dispatch_stream_frame(std::string_view payload, TradeUpdateHandler& handler) {
  // The JS SDK treats a lone 0x01 byte as a heartbeat; it is not a message.
  if (payload.size() == 1 && payload[0] == '\x01') return {FrameKind::heartbeat, {}};
  auto parsed = parse_stream_message(payload);
  if (!parsed.ok()) {
    handler.on_malformed(std::string(payload), parsed.status().message());
    return {FrameKind::malformed, parsed.status().message()};
  }
  if (auto* update = std::get_if<TradeUpdate>(&parsed.value())) {
    handler.on_trade_update(std::move(*update));
    return {FrameKind::trade_update, {}};
  }
  const auto& control = std::get<StreamControl>(parsed.value());
  switch (control.kind) {
    case StreamControl::Kind::authorized: return {FrameKind::authorized, {}};
    case StreamControl::Kind::unauthorized: return {FrameKind::unauthorized, control.message};
    case StreamControl::Kind::listening: {
      const bool ours = std::find(control.streams.begin(), control.streams.end(),
                                  "trade_updates") != control.streams.end();
      if (ours) return {FrameKind::listening, {}};
      return {FrameKind::other, "listening without trade_updates"};
    }
    case StreamControl::Kind::other: break;
  }
  return {FrameKind::other, control.stream};
}

}  // namespace orderly::alpaca
