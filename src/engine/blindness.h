#pragma once
// Since when events may have been missed, with no sweep of the broker's open orders begun after
// that answered (issue 21: one named component for the rules three engine files applied to one
// field). Blind past the grace, no position counts as covered: an exit canceled or expired
// meanwhile is unknown (CoverJudge::judge). It knows nothing of orders.

#include <cstdint>
#include <optional>

#include "core/time.h"

namespace orderly {

class Blindness {
 public:
  // Events may be lost from `now` on (the stream went down, an input rolled back): blind from
  // then, unless blind already.
  void begins(Timestamp now) {
    if (!since_) since_ = now;
  }
  // Blind no later than `since` (a start: lives before this one that ended blind count too).
  void at_least_since(Timestamp since);
  // A sweep that began at `sweep_started` answered: what the broker held then is known. No
  // longer blind if the stream was heard throughout since then; else events after the sweep
  // began may be lost, so blind from there.
  void sweep_answered(Timestamp sweep_started, bool stream_heard_since);
  // An order that sweep found missing ended no later than it began, or, blind then, than the
  // blindness began.
  Timestamp missing_since(Timestamp sweep_started) const;

  std::optional<Timestamp> since() const { return since_; }
  bool past(Timestamp now, std::int64_t grace_ms) const {
    return since_ && now.ms_since(*since_) >= grace_ms;
  }
  std::int64_t ms(Timestamp now) const;  // how long blind so far; 0 when not
  // True at the first look of a blindness past its grace (`blind`: past() at this look): every
  // symbol is judged then, once.
  bool newly_past(bool blind);

 private:
  std::optional<Timestamp> since_;
  bool judged_ = false;  // every symbol was judged once this blindness outlived the grace
};

}  // namespace orderly
