#pragma once
// When the engine asks the broker again about an order of ours (issue 21: one named component
// for the timers five Impl fields kept across six engine files): a created order's next send,
// the lookup by client id of one whose outcome is unknown, a cancel that got no answer, and a
// fetch by id that got none (or whose group ended); and the re-sends and refusals that
// retry_storm counts. It knows ids and times only, never orders: what is due is the engine's
// to judge.

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "core/time.h"
#include "core/order.h"

namespace orderly {

// Takes the keys whose time has come out of `at`, in key order.
template <class Key>
std::vector<Key> take_due(std::map<Key, Timestamp>& at, Timestamp now) {
  std::vector<Key> due;
  for (auto it = at.begin(); it != at.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    due.push_back(it->first);
    it = at.erase(it);
  }
  return due;
}

class RetrySchedule {
 public:
  // A created order sent again at `at` (its next_attempt_at), or not waiting to be.
  void send_at(OrderId id, Timestamp at) { sends_[id] = at; }
  void no_send(OrderId id) { sends_.erase(id); }
  bool any_sends() const { return !sends_.empty(); }
  const std::map<OrderId, Timestamp>& sends() const { return sends_; }

  // The lookup of an order whose outcome is unknown asked again no earlier than `at`.
  void lookup_at(OrderId id, Timestamp at) { lookups_[id] = at; }
  // True when its lookup may go now (none waits, or its time has come); forgets the wait then.
  bool take_lookup(OrderId id, Timestamp now);

  // A cancel that got no answer is asked again at `at`; until then another is not sent.
  void cancel_at(OrderId id, Timestamp at) { cancels_[id] = at; }
  bool cancel_waits(OrderId id) const { return cancels_.count(id) != 0; }
  // The orders whose cancel is due, in id order; forgotten.
  std::vector<OrderId> take_due_cancels(Timestamp now) { return take_due(cancels_, now); }

  // A fetch by id asked again at `at`; refresh_unless_waiting keeps an earlier time.
  void refresh_at(OrderId id, Timestamp at) { refreshes_[id] = at; }
  void refresh_unless_waiting(OrderId id, Timestamp at) { refreshes_.try_emplace(id, at); }
  void refresh_answered(OrderId id) { refreshes_.erase(id); }
  // The orders whose fetch is due, in id order; forgotten.
  std::vector<OrderId> take_due_refreshes(Timestamp now) { return take_due(refreshes_, now); }

  // A re-send or a refusal by the broker (never a first attempt), and how many there were in
  // the last `window_ms`.
  void note_attempt(Timestamp now) { attempts_.push_back(now); }
  int attempts_within(std::int64_t window_ms, Timestamp now);

  // The order left memory: its sends, lookups and cancels wait no more (a fetch due finds it
  // gone and is dropped then).
  void forget(OrderId id);

 private:
  std::map<OrderId, Timestamp> sends_;
  std::map<OrderId, Timestamp> lookups_;
  std::map<OrderId, Timestamp> cancels_;
  std::map<OrderId, Timestamp> refreshes_;
  std::deque<Timestamp> attempts_;
};

}  // namespace orderly
