#pragma once
// When the engine's polls run (issue 21: one named component for what synchronizer.cc kept in a
// dozen fields): the fill catch-up, which finds the fills the stream lost, and the sweep of the
// broker's open orders, which finds what ended unheard. Each is one Poll: whether one runs and
// since when, when the last completed, whether it is a resync's, and its backoff after
// failures. The positions read keeps its own state (positions_read.h) and only a PollBackoff.
// Neither does IO nor knows the engine.

#include <cstdint>
#include <optional>

#include "core/time.h"

namespace orderly {

// Failed polls wait, from one poll interval doubling to this (issue 15: with the broker answering
// 500 to everything, failed polls were staged again every 100 ms tick, about 12 calls a second
// until the budget was gone); the first answer resets it.
inline constexpr std::int64_t kPollBackoffCapMs = 30'000;

class PollBackoff {
 public:
  // Another failure of a poll that began at `started_at`; `base_ms`: the poll interval. Counted
  // from the poll's start: one that failed slowly (a timeout) has waited already, and is tried
  // again at once.
  void failed(Timestamp started_at, std::int64_t base_ms);
  void answered() { failures_ = 0; }
  bool failing() const { return failures_ > 0; }
  bool waiting(Timestamp now) const { return failures_ > 0 && now < retry_at_; }

 private:
  int failures_ = 0;
  Timestamp retry_at_;
};

class Poll {
 public:
  bool running() const { return running_; }
  Timestamp started_at() const { return started_at_; }
  std::optional<Timestamp> last_completed() const { return last_completed_; }
  // A resync's poll: its pages go with the lookups (begin_full_resync).
  bool for_resync() const { return for_resync_; }
  // Counts the polls begun: a page of an abandoned one is dropped.
  std::uint64_t number() const { return number_; }

  // Runs `every` ms after the last that completed; after a failure, when its backoff ends.
  bool due(std::int64_t every, Timestamp now) const;
  // False when one runs already.
  bool begin(Timestamp now);
  void mark_for_resync() { for_resync_ = true; }
  void page_answered() { backoff_.answered(); }
  // The listing shows the broker as of its first page's release (Synchronizer::on_sweep_result).
  void starts_no_earlier_than(Timestamp t);
  void last_page_answered() { for_resync_ = false; }
  void failed(std::int64_t base_ms);
  void completed(Timestamp now);
  // What an input rolled back had completed did not happen: the last completion is as before it.
  void restore_last_completed(std::optional<Timestamp> before) { last_completed_ = before; }
  // Not running any more (its page dropped, a resync abandoning it); nothing else changes.
  void abandon() { running_ = false; }

 private:
  bool running_ = false;
  Timestamp started_at_;
  std::optional<Timestamp> last_completed_;
  bool for_resync_ = false;
  std::uint64_t number_ = 0;
  PollBackoff backoff_;
};

}  // namespace orderly
