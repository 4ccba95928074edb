#pragma once
// The engine's outbox (issue 21: one named component for four Impl fields over three files).
// A command an input stages waits for that input's commit: committed, it joins the queue the
// rate budget releases from (release.h); released, it is in flight until its
// answer comes. What each was issued for is kept from staging to answer. A rolled-back input's
// commands never leave. Internal to orderly_engine.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/time.h"
#include "engine/command.h"

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

class Outbox {
 public:
  // A new input begins: nothing of an earlier one is staged.
  void begin_input() { staged_.clear(); }
  // Staged by the input running, with the next command id.
  CommandId stage(Command c, Purpose p, OrderId for_order);
  // What a staged, queued or in-flight command was issued for. Throws std::out_of_range
  // for an id that is none of these.
  Pending& pending(CommandId id) { return pending_.at(id); }
  bool any_staged() const { return !staged_.empty(); }
  // The input committed: its commands join the queue, in the order they were staged.
  void commit_staged();
  // The input rolled back: its commands never leave. Returned, oldest first, with what each was
  // for, so that the caller can ask again for what they were to do.
  std::vector<Pending> drop_staged();

  // The committed commands not released yet; the engine orders them and releases from the front.
  std::deque<Command>& queue() { return queue_; }
  std::size_t queued() const { return queue_.size(); }
  // Released to the broker at `now`: in flight until answered.
  void released(CommandId id, Timestamp now);
  // Taken out of the queue unsent (overtaken by what happened since): forgotten.
  void withdraw(CommandId id) { pending_.erase(id); }
  // Its answer came: what it was issued for, no longer in flight. None: not one of ours (already
  // answered, or withdrawn).
  std::optional<Pending> answered(CommandId id);
  std::size_t inflight() const { return inflight_; }

 private:
  std::unordered_map<CommandId, Pending> pending_;
  std::vector<Command> staged_;
  std::deque<Command> queue_;
  std::size_t inflight_ = 0;
  CommandId last_id_ = 0;
};

}  // namespace orderly
