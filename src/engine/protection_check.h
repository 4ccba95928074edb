#pragma once
// When the protection check runs and which symbols it judges (issue 21: out of five Impl fields
// over four files; the judging itself is cover_judge.h, the gaps' clocks ProtectionWatch
// in exit_book.h). The symbols whose trades an input touched, at most every few milliseconds:
// a symbol's walk costs as much as applying an event, and a burst of events within a few
// milliseconds changes nothing a grace of seconds could see. And the fills learned late since
// the last check, each symbol's earliest: such a fill began its gap when it happened, however
// late it was found (DST extended seed 9700000002332: found 6 s late by a catch-up, it met a gap
// another trade's fill had opened 1 s before, and the gap counted from that one: unraised for
// 8 s).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "core/time.h"

namespace orderly {

class ProtectionCheck {
 public:
  // An input changed a trade or order on `symbol`: the next check judges it.
  void touched(const std::string& symbol) { touched_.insert(symbol); }
  // A fill on `symbol` the broker made at `at` was learned late (a catch-up, a fetch).
  void late_fill(const std::string& symbol, Timestamp at);
  // `began`, or the earliest late fill on `symbol` since the last check when earlier.
  std::optional<Timestamp> with_late_fill(const std::string& symbol,
                                          std::optional<Timestamp> began) const;

  struct Round {
    bool first = false;             // the first since the start: judge every loaded position
    std::set<std::string> symbols;  // touched since the last round, and with a late fill
  };
  // A round at `now`, unless one ran within `every_ms` (a clock gone back runs one).
  std::optional<Round> begin(Timestamp now, std::int64_t every_ms);
  // Whether fills became unknown since the last round (then every open trade is judged once).
  bool fills_newly_unknown(bool unknown) {
    const bool newly = unknown && !fills_were_unknown_;
    fills_were_unknown_ = unknown;
    return newly;
  }
  // The round judged its symbols: the late fills are dated.
  void end() { late_fills_.clear(); }

 private:
  std::set<std::string> touched_;
  std::map<std::string, Timestamp> late_fills_;  // symbol -> the earliest since the last round
  bool checked_once_ = false;
  bool fills_were_unknown_ = false;
  Timestamp last_round_;
};

}  // namespace orderly
