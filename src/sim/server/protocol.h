#pragma once
// The IO-free parts of the simulator's transport: the /sim/prices body and the trade_updates
// client protocol (alpaca-api.md §7). Kept apart from the Beast code so tests and the fuzzer
// drive them directly.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/decimal.h"
#include "core/status.h"
#include "sim/exchange.h"

namespace orderly::sim::server {

// {"STWD":"10.25","AAPL":190.5}: decimals as strings or JSON numbers, every price positive.
StatusOr<std::map<std::string, Decimal>> parse_prices(std::string_view body);

// {"error":"<text>"}: the body of a refused /sim/... call.
std::string error_json(std::string_view text);
// {"code":N,"message":"<text>"}: Alpaca's error shape, for what the transport refuses itself.
std::string alpaca_error_json(long code, std::string_view message);

struct StreamClientState {
  bool authorized = false;
  bool listening = false;  // subscribed to trade_updates
};

// One message from a /stream client: updates `state` and returns the replies, in order. Accepts
// any key pair when `config` has no keys, like `orderly sim` without --key/--secret.
std::vector<std::string> handle_stream_message(std::string_view text, const SimConfig& config,
                                               StreamClientState& state);

}  // namespace orderly::sim::server
