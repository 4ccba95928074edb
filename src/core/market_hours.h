#pragma once
// The US equity market's hours in Eastern time (America/New_York), from a UTC Timestamp: the
// simulator's clock and sessions, and the auction windows orderly keeps entries out of.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.h"
#include "core/types.h"

namespace orderly {

// UTC offset of Eastern time at `t`: -4 h (EDT) or -5 h (EST).
std::int64_t et_offset_seconds(Timestamp t);
// "2026-12-03T10:00:00-05:00".
std::string format_et(Timestamp t);
// Regular session 9:30-16:00 ET on a weekday.
bool regular_hours_open(Timestamp t);
Timestamp next_regular_open(Timestamp t);
Timestamp next_regular_close(Timestamp t);
// Calendar days (days since 1970-01-01): weekday test, "YYYY-MM-DD" both ways, today in ET.
bool is_weekday(std::int64_t days);
std::string format_date(std::int64_t days);
std::optional<std::int64_t> parse_date(std::string_view text);
std::int64_t et_day_of(Timestamp t);

// Alpaca refuses an opening-auction order (tif opg) from 9:28 to 19:00 ET and a closing-auction
// order (tif cls) from 15:50 to 19:00 ET; sent after 19:00 either waits for the next session's
// auction (alpaca-api.md). When an order of `tif` would be refused at `t`: 19:00 ET that day,
// the first moment it is taken again; nullopt when it is taken now (or `tif` has no window).
std::optional<Timestamp> auction_refused_until(TimeInForce tif, Timestamp t);

}  // namespace orderly
