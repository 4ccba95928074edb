#pragma once
// The run's trace: every decision and observation as one line. All lines feed a running hash
// (the determinism check: one seed, one hash); the last few are kept to print with a violation.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace orderly::dst {

class Trace {
 public:
  explicit Trace(std::size_t keep = 30, bool echo = false) : keep_(keep), echo_(echo) {}

  void add(std::string line);
  std::uint64_t hash() const { return hash_; }
  std::int64_t lines() const { return lines_; }
  const std::deque<std::string>& tail() const { return tail_; }
  // Virtual time prefix for the lines (ms since the run started).
  void set_time_ms(std::int64_t ms) { time_ms_ = ms; }

 private:
  std::size_t keep_;
  bool echo_;
  std::int64_t time_ms_ = 0;
  std::uint64_t hash_ = 1469598103934665603ULL;  // FNV-1a 64 offset basis
  std::int64_t lines_ = 0;
  std::deque<std::string> tail_;
};

}  // namespace orderly::dst
