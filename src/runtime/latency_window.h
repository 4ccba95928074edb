#pragma once
// The last N durations of one path, for quantiles on /metrics (a Prometheus summary over a sliding
// window: what an operator asks is "how slow is it now", not since start-up).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace orderly {

class LatencyWindow {
 public:
  static constexpr std::size_t kSize = 1024;

  void add(std::int64_t ns) {
    samples_[next_ % kSize] = ns;
    ++next_;
    sum_ns_ += ns;
  }
  std::uint64_t count() const { return next_; }  // every sample since start, as Prometheus wants
  std::int64_t sum_ns() const { return sum_ns_; }
  // The q-quantile (0..1) of the window, nearest rank; 0 when empty.
  std::int64_t quantile(double q) const {
    const std::size_t n = std::min<std::uint64_t>(next_, kSize);
    if (n == 0) return 0;
    std::vector<std::int64_t> v(samples_.begin(), samples_.begin() + n);
    const auto rank = static_cast<std::size_t>(q * static_cast<double>(n - 1) + 0.5);
    std::nth_element(v.begin(), v.begin() + rank, v.end());
    return v[rank];
  }

 private:
  std::array<std::int64_t, kSize> samples_{};
  std::uint64_t next_ = 0;
  std::int64_t sum_ns_ = 0;
};

}  // namespace orderly
