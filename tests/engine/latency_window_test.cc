#include "runtime/latency_window.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

TEST(LatencyWindow, EmptyAnswersZero) {
  LatencyWindow w;
  EXPECT_EQ(w.count(), 0u);
  EXPECT_EQ(w.quantile(0.99), 0);
}

TEST(LatencyWindow, QuantilesOfOneToAHundred) {
  LatencyWindow w;
  for (int i = 100; i >= 1; --i) w.add(i);
  EXPECT_EQ(w.quantile(0.5), 51);  // nearest rank of 99 * 0.5 = 49.5 -> index 50
  EXPECT_EQ(w.quantile(0.99), 99);
  EXPECT_EQ(w.quantile(1.0), 100);
  EXPECT_EQ(w.sum_ns(), 5050);
}

TEST(LatencyWindow, OnlyTheLastSamplesCountForQuantilesButAllForTheTotal) {
  LatencyWindow w;
  for (std::size_t i = 0; i < LatencyWindow::kSize; ++i) w.add(1'000'000);  // old: 1 ms each
  for (std::size_t i = 0; i < LatencyWindow::kSize; ++i) w.add(1'000);      // now: 1 us each
  EXPECT_EQ(w.quantile(0.99), 1'000);
  EXPECT_EQ(w.count(), 2 * LatencyWindow::kSize);
}

}  // namespace
}  // namespace orderly
