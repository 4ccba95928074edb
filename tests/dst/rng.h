#pragma once
// The one random source of a DST run. splitmix64: tiny, fast, and identical on every platform
// (std::uniform_int_distribution is not specified bit-for-bit across standard libraries, so a
// seed must not depend on it to replay elsewhere).

#include <cstdint>

namespace orderly::dst {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (inclusive); the modulo bias is irrelevant for test scheduling.
  std::int64_t range(std::int64_t lo, std::int64_t hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  // True with probability per_mille / 1000.
  bool chance(int per_mille) { return static_cast<int>(next() % 1000) < per_mille; }
  template <typename C>
  auto& pick(C& c) {
    return c[static_cast<std::size_t>(next() % c.size())];
  }

 private:
  std::uint64_t state_;
};

}  // namespace orderly::dst
