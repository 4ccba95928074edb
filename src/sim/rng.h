#pragma once
// Seeded pseudo-random numbers for the simulator. Every id, price step, partial-fill lot and fault
// decision comes from one of these, never from the wall clock or random_device, so one seed
// replays a whole run byte for byte.

#include <cstdint>
#include <string>

namespace orderly::sim {

// xoshiro256** seeded through splitmix64 (public-domain algorithms by Blackman and Vigna).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& word : s_) word = splitmix(seed);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n); n > 0. The modulo bias is irrelevant at simulator scale.
  std::uint64_t below(std::uint64_t n) { return next() % n; }

  // True with probability p (p <= 0: never, p >= 1: always, without consuming a draw).
  bool chance(double p) {
    if (p <= 0.0) return false;
    if (p >= 1.0) return true;
    return static_cast<double>(next() >> 11) * 0x1.0p-53 < p;
  }

  // A version-4 UUID as Alpaca uses for order, account and execution ids.
  std::string uuid() {
    const std::uint64_t hi = (next() & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;
    const std::uint64_t lo = (next() & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(36, '-');
    int pos = 0;
    auto put = [&](std::uint64_t v, int nibbles) {
      for (int k = nibbles - 1; k >= 0; --k) {
        if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
        out[pos++] = kHex[(v >> (k * 4)) & 0xF];
      }
    };
    put(hi, 16);
    put(lo, 16);
    return out;
  }

  static std::uint64_t splitmix(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace orderly::sim
