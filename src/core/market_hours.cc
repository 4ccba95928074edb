// US Eastern time (America/New_York) arithmetic without a time zone database: the US DST rule
// since 2007, no market holidays (the simulator's market has none; Alpaca's calendar has them).
#include "core/market_hours.h"

#include <chrono>
#include <cstdio>

namespace orderly {
namespace {

namespace chr = std::chrono;

chr::year_month_day civil(std::int64_t days) {
  return chr::year_month_day{chr::sys_days{chr::days{days}}};
}

constexpr std::int64_t kDayS = 86400;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// 0 = Sunday.
int weekday(std::int64_t days) {
  return static_cast<int>(chr::weekday{chr::sys_days{chr::days{days}}}.c_encoding());
}

// The n-th Sunday (1-based) of a month, as days since the epoch.
std::int64_t nth_sunday(chr::year y, unsigned m, unsigned n) {
  return chr::sys_days{y / chr::month{m} / chr::Sunday[n]}.time_since_epoch().count();
}

// Local ET seconds of day `days` at hh:mm, converted to UTC seconds.
std::int64_t et_to_utc(std::int64_t days, int hh, int mm) {
  const std::int64_t local = days * kDayS + hh * 3600 + mm * 60;
  // The offset at (local + 5h) is the offset of that local time except within the DST switch
  // hour, which never contains 9:30 or 16:00.
  return local - et_offset_seconds(Timestamp{(local + 5 * 3600) * 1'000'000'000});
}

}  // namespace


std::int64_t et_offset_seconds(Timestamp t) {
  const std::int64_t s = floor_div(t.ns, 1'000'000'000);
  const chr::year y = civil(floor_div(s, kDayS)).year();
  // US DST: second Sunday of March 2:00 EST (07:00 UTC) to first Sunday of November 2:00 EDT
  // (06:00 UTC).
  const std::int64_t start = nth_sunday(y, 3, 2) * kDayS + 7 * 3600;
  const std::int64_t end = nth_sunday(y, 11, 1) * kDayS + 6 * 3600;
  return s >= start && s < end ? -4 * 3600 : -5 * 3600;
}

std::string format_et(Timestamp t) {
  const std::int64_t off = et_offset_seconds(t);
  const std::int64_t local = floor_div(t.ns, 1'000'000'000) + off;
  const std::int64_t days = floor_div(local, kDayS);
  const chr::year_month_day ymd = civil(days);
  const std::int64_t sod = local - days * kDayS;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d-%02d:00",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(sod / 3600),
                static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60),
                static_cast<int>(-off / 3600));
  return buf;
}

bool regular_hours_open(Timestamp t) {
  const std::int64_t local = floor_div(t.ns, 1'000'000'000) + et_offset_seconds(t);
  const std::int64_t days = floor_div(local, kDayS);
  const int wd = weekday(days);
  if (wd == 0 || wd == 6) return false;
  const std::int64_t sod = local - days * kDayS;
  return sod >= 9 * 3600 + 30 * 60 && sod < 16 * 3600;
}

namespace {
Timestamp next_session_time(Timestamp t, int hh, int mm) {
  const std::int64_t now_s = floor_div(t.ns, 1'000'000'000);
  const std::int64_t local_days = floor_div(now_s + et_offset_seconds(t), kDayS);
  for (std::int64_t d = local_days; d < local_days + 10; ++d) {
    const int wd = weekday(d);
    if (wd == 0 || wd == 6) continue;
    const std::int64_t utc = et_to_utc(d, hh, mm);
    if (utc > now_s) return Timestamp{utc * 1'000'000'000};
  }
  return t;
}
}  // namespace

Timestamp next_regular_open(Timestamp t) { return next_session_time(t, 9, 30); }

bool is_weekday(std::int64_t days) {
  const int wd = weekday(days);
  return wd != 0 && wd != 6;
}

std::string format_date(std::int64_t days) {
  const chr::year_month_day ymd = civil(days);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::optional<std::int64_t> parse_date(std::string_view text) {
  unsigned y = 0, m = 0, d = 0;
  char tail = 0;
  if (text.size() != 10 ||
      std::sscanf(std::string(text).c_str(), "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3) {
    return std::nullopt;
  }
  const chr::year_month_day ymd{chr::year{static_cast<int>(y)}, chr::month{m}, chr::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return chr::sys_days{ymd}.time_since_epoch().count();
}

std::int64_t et_day_of(Timestamp t) {
  return floor_div(floor_div(t.ns, 1'000'000'000) + et_offset_seconds(t), kDayS);
}
Timestamp next_regular_close(Timestamp t) { return next_session_time(t, 16, 0); }

namespace {
// Seconds since local midnight ET.
std::int64_t et_second_of_day(Timestamp t) {
  const std::int64_t local = floor_div(t.ns, 1'000'000'000) + et_offset_seconds(t);
  return local - floor_div(local, kDayS) * kDayS;
}
}  // namespace

std::optional<Timestamp> auction_refused_until(TimeInForce tif, Timestamp t) {
  int from_minute = 0;
  if (tif == TimeInForce::opg) {
    from_minute = 9 * 60 + 28;
  } else if (tif == TimeInForce::cls) {
    from_minute = 15 * 60 + 50;
  } else {
    return std::nullopt;
  }
  const std::int64_t sod = et_second_of_day(t);
  constexpr std::int64_t kTakenAgain = 19 * 3600;
  if (sod < from_minute * 60 || sod >= kTakenAgain) return std::nullopt;
  // The DST switch (2:00 ET) never falls between the window and its end.
  return Timestamp{(floor_div(t.ns, 1'000'000'000) + kTakenAgain - sod) * 1'000'000'000};
}

}  // namespace orderly
