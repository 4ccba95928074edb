#pragma once
// The broker executor: runs one engine Command against a Broker (a blocking call) and hands back
// the CommandResult the engine applies. Every runtime sends through it; the engine, sans-IO,
// never calls a Broker itself.

#include "broker/broker.h"
#include "engine/engine.h"

namespace orderly {

// Runs one command against a broker (blocking). Shared by every runtime.
CommandResult execute(Broker& broker, const Command& command);

}  // namespace orderly
