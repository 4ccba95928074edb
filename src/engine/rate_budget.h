#pragma once
// The REST rate budget (issue 21: one named component, where it was spread over five places).
// It keeps the calls released in the last minute, by class, and answers which class of command
// may go now. It knows nothing of orders: the engine tells it how many slots to keep for the
// exits of entries it released (exit_reserve) and which catch-up page starts a catch-up.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "core/ids.h"
#include "core/time.h"
#include "engine/command.h"

namespace orderly {

class RateBudget {
 public:
  struct Config {
    std::int64_t calls_per_min = 190;     // configured (EngineConfig::rate_limit_per_min)
    std::int64_t poll_interval_ms = 1000;  // paces the fill catch-up's share
    int max_inflight = 8;                  // commands released but not answered
  };

  // How much of the minute's budget each class of command may fill.
  struct Limits {
    std::int64_t budget = 0;          // protective work, lookups, catch-ups: the whole budget
    std::int64_t background = 0;      // entries and sweeps: all but a tenth kept for protection
    std::int64_t idle_polls = 0;      // polls beyond their share: a tenth short of `background`
    std::int64_t catch_up_share = 0;  // catch-ups of a minute at one per catch_up_spacing_ms
    std::int64_t catch_up_spacing_ms = 0;
    std::int64_t sweep_cap = 0;  // sweep pages of a minute
    int inflight_cap = 0;
    int deferrable_inflight_cap = 0;
    // The calls the broker's stated limit leaves above the budget, less one (at the limit itself
    // Alpaca's answer says none remain, and the client then sends nothing until the reset): room
    // for the calls made beside the engine. 0 until the broker states its limit.
    std::int64_t gap = 0;
  };

  // What a release round knows beyond the budget's own windows.
  struct Round {
    std::int64_t used = 0;       // the engine's calls in the last minute, this round's included
    std::int64_t outside = 0;    // calls made beside the engine in the last minute
    std::int64_t reserve = 0;    // slots kept for the exits of released entries
    std::size_t inflight = 0;    // commands released and not answered
    bool stream_suspect = false;  // the sweep is how cancels and expiries are learned
  };

  explicit RateBudget(Config c) : cfg_(c) {}

  // Calls per minute: the configured budget, lowered to what the broker states it allows.
  std::int64_t limit() const {
    return stated_ ? std::min<std::int64_t>(cfg_.calls_per_min, *stated_) : cfg_.calls_per_min;
  }
  // X-Ratelimit-Limit, once the broker has said it.
  void set_stated_limit(int per_min) { stated_ = per_min; }
  // Calls made beside the engine in the last minute (broker/outside_calls.h): they took from the
  // account's limit too (see fits() for how they count).
  void set_outside_calls(std::int64_t n) { outside_ = n; }
  std::int64_t outside_calls() const { return outside_; }

  Limits limits() const;
  // The calls of the last minute: the engine's, and those made beside it.
  std::int64_t calls_last_minute(Timestamp now);
  // The engine's own calls of the last minute.
  std::int64_t own_calls_last_minute(Timestamp now);
  // Drops the calls that left the window from every class (once per release round).
  void age(Timestamp now);

  // Whether a command of priority `p` fits now. `paced`: a catch-up page within the catch-ups'
  // share (paced_catchup).
  bool fits(CommandPriority p, bool paced, const Limits& l, const Round& r) const;
  // A catch-up page released as part of the catch-ups' share; any other is idle slack.
  // `first_page`: the page starts the catch-up that is running (the later pages follow it).
  bool paced_catchup(bool first_page, const Limits& l, Timestamp now) const;
  // Counts a released command. `paced`: as for fits().
  void note_release(CommandPriority p, bool paced, Timestamp now);
  // An entry submit released now, for exit_reserve (the engine judges which still await exits).
  void note_entry_release(OrderId id, Timestamp now) { entry_releases_.emplace_back(now, id); }
  // The entry submits of the last minute, oldest first.
  const std::deque<std::pair<Timestamp, OrderId>>& entry_releases(Timestamp now);

  // The window as it is persisted across restarts: "second:count,..." for the last 60 s.
  std::string encode_window(Timestamp now);
  void restore_window(const std::string& text);
  // Calls a life that ended may have made after its last commit, which no window kept (at most
  // the in-flight cap): counted as made `now`, once a restored window shows a life ran within
  // the last minute. Without them each crash of a minute added its unrecorded calls on top of
  // the budget (DST trades seed 26300000016315: three lives ended within a minute, 199 calls).
  // Not persisted: each life assumes its predecessor's only, or a crash loop would fill the
  // budget with them.
  void assume_unrecorded_calls(Timestamp now);

 private:
  Config cfg_;
  std::optional<int> stated_;
  std::int64_t outside_ = 0;
  std::deque<Timestamp> calls_;               // every call of the last minute
  std::deque<Timestamp> assumed_;             // assume_unrecorded_calls
  std::deque<Timestamp> sweep_calls_;         // sweep pages of the last minute (pacing only)
  std::deque<Timestamp> catchup_calls_;       // fill catch-up pages of the last minute
  std::deque<Timestamp> paced_catchup_calls_;  // ... those within the catch-ups' share
  std::optional<Timestamp> last_paced_catchup_;  // ... the last of those
  std::deque<std::pair<Timestamp, OrderId>> entry_releases_;  // entry submits, last minute
};

}  // namespace orderly
