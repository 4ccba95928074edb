#pragma once
// Time as nanoseconds since the Unix epoch (UTC). One integer type for wall clock, virtual clock
// and broker timestamps, so the engine can run under a simulated clock.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orderly {

struct Timestamp {
  std::int64_t ns = 0;
  friend constexpr auto operator<=>(Timestamp, Timestamp) = default;
  constexpr Timestamp plus_ms(std::int64_t ms) const { return {ns + ms * 1'000'000}; }
  constexpr std::int64_t ms_since(Timestamp earlier) const { return (ns - earlier.ns) / 1'000'000; }
  static constexpr Timestamp from_ms(std::int64_t ms) { return {ms * 1'000'000}; }
  constexpr std::int64_t ms() const { return ns / 1'000'000; }
};

// Parses RFC3339 as Alpaca sends it: 0-9 fractional digits, 'Z' or a +-HH:MM offset
// ("2022-04-19T13:45:04.981350886-04:00"). nullopt on anything else.
std::optional<Timestamp> parse_rfc3339(std::string_view text);
// "2022-04-19T17:45:05.024916716Z" (always UTC, nanoseconds trimmed of trailing zeros).
std::string format_rfc3339(Timestamp t);

// Source of the current time: the wall clock in production, a virtual clock in simulation.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp now() const override;
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start = Timestamp::from_ms(1'760'000'000'000)) : now_(start) {}
  Timestamp now() const override { return now_; }
  void advance_ms(std::int64_t ms) { now_ = now_.plus_ms(ms); }
  void set(Timestamp t) { now_ = t; }

 private:
  Timestamp now_;
};

}  // namespace orderly
