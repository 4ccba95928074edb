#pragma once
// Lookups: the GETs that ask the broker what became of an order of ours, staged in the input's
// transaction. By client id when we never learned the broker's id (an unknown outcome), by
// broker id to refresh an order we hold (at most once a poll interval unless forced), and the
// nested listing of every order since a time that a restart's recovery and a leg without its
// id page through. Every part that doubts an order asks here.

#include <cstdint>

#include "engine/engine_state.h"

namespace orderly {

class Transaction;

class Lookups {
 public:
  Lookups(EngineState& s, Transaction& tx) : s_(s), tx_(tx) {}
  Lookups(const Lookups&) = delete;
  Lookups& operator=(const Lookups&) = delete;

  // By client id: what became of a send whose outcome is unknown.
  void stage_resolve(OrderId id);
  // By broker id; `force`: even if it was refreshed within the poll interval.
  void stage_refresh(OrderId id, Timestamp now, bool force);
  // One page of every order (any status, legs nested) submitted after `after`, oldest first.
  Command listing_since(Timestamp after) const;
  // How long before a lookup or cancel that got no answer is asked again.
  std::int64_t ask_again_after_ms(const BrokerError& e) const;

 private:
  EngineState& s_;
  Transaction& tx_;
};

}  // namespace orderly
