#pragma once
// What the engine knows of the trade_updates stream (issue 21: one named component for five
// fields the synchronizer, the views and the blindness rules read): connected or not and since
// when, the last event heard, and the last fill polling found that the stream never delivered.
// How far the stream is trusted decides how often fills are polled (synchronizer.cc).

#include <cstdint>
#include <optional>

#include "core/time.h"

namespace orderly {

class StreamWatch {
 public:
  // False when it was connected already (nothing changes).
  bool connected(Timestamp now);
  // False when it was down already (nothing changes).
  bool disconnected(Timestamp now);
  void event_heard(Timestamp now) { last_event_at_ = now; }
  // Polling found a fill the stream had not delivered: the stream drops events.
  void missed_fill(Timestamp now) { last_missed_fill_at_ = now; }

  bool is_connected() const { return connected_; }
  std::optional<Timestamp> last_event_at() const { return last_event_at_; }
  // Connected at `t` and heard ever since (events after `t` reached us, unless dropped).
  bool heard_throughout_since(Timestamp t) const { return connected_ && connected_at_ <= t; }
  // Not to be trusted alone: down, connected less than `poll_interval_ms` ago (a reconnect's
  // gap is being filled), or it dropped a fill within ten of them.
  bool suspect(Timestamp now, std::int64_t poll_interval_ms) const;

 private:
  bool connected_ = false;
  Timestamp connected_at_;
  std::optional<Timestamp> disconnected_at_;
  std::optional<Timestamp> last_event_at_;
  std::optional<Timestamp> last_missed_fill_at_;
};

}  // namespace orderly
