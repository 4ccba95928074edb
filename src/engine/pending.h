#pragma once
// Internal to orderly_engine: a command the engine released and waits for the answer to, and why
// it was issued (what its answer means).

#include <cstdint>

#include "core/time.h"
#include "engine/engine.h"

namespace orderly {
namespace engine_internal {

// Why a command was issued: decides what its answer means.
enum class Purpose : std::uint8_t {
  send,            // submit or replace of an order
  resolve,         // lookup by client id of a submitting/unknown order
  refresh,         // get by broker id (in-flight check, missing from sweep, sibling of a fill)
  related,         // get by broker id of a 40310000 related order, for `order_id`
  cancel,
  sweep_page,
  catchup_page,
  positions,
  legs,            // nested listing to learn legs' ids
  recovery_page,   // listing that resolves the orders a restart found in flight
};

struct Pending {
  Command command;
  Purpose purpose = Purpose::send;
  OrderId for_order = 0;  // related: the order whose submission got 40310000
  Timestamp released_at;
  std::uint64_t sweep = 0;  // sweep_page: the sweep it pages (sweep_.number() when staged)
};

}  // namespace engine_internal

using engine_internal::Pending;
using engine_internal::Purpose;

}  // namespace orderly
