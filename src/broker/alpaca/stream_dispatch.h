#pragma once
// One trade_updates frame -> handler callbacks. Shared by the WebSocket client and the in-process
// simulator stream, so both run the very same parsing.

#include <string>
#include <string_view>

#include "broker/broker.h"

namespace orderly::alpaca {

enum class FrameKind {
  trade_update,  // delivered to on_trade_update
  heartbeat,     // the 1-byte 0x01 frame some servers send; ignored
  authorized,
  unauthorized,  // message says why
  listening,     // ack of the listen request (trade_updates among the streams)
  malformed,     // delivered to on_malformed
  other,         // a well-formed message on another stream; ignored
};

struct FrameResult {
  FrameKind kind = FrameKind::other;
  std::string message;
};

FrameResult dispatch_stream_frame(std::string_view payload, TradeUpdateHandler& handler);

}  // namespace orderly::alpaca
