// The stream dedup window (RecentKeys, recent_keys.h): exactly the last `capacity` keys are
// remembered, through many wraps of its ring and deletions from its open-addressed table.

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <set>
#include <string>

#include "engine/recent_keys.h"

namespace orderly::testing {
namespace {

RecentKeys::Fp key(int i) { return RecentKeys::fingerprint({"x:", std::to_string(i)}); }

TEST(RecentKeys, RemembersExactlyTheLastCapacityKeys) {
  // Against a plain model (a FIFO of the keys held), with a key sequence that repeats keys at
  // every distance around the capacity.
  constexpr std::size_t kCapacity = 1000;
  RecentKeys seen(kCapacity);
  std::deque<int> fifo;
  std::set<int> held;
  std::uint64_t x = 12345;
  for (int i = 0; i < 200'000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const int k = static_cast<int>((x >> 33) % 2500);
    const bool fresh = !held.count(k);
    ASSERT_EQ(seen.insert(key(k)), fresh) << "step " << i << " key " << k;
    if (!fresh) continue;
    fifo.push_back(k);
    held.insert(k);
    if (fifo.size() > kCapacity) {
      held.erase(fifo.front());
      fifo.pop_front();
    }
  }
  EXPECT_EQ(seen.size(), kCapacity);
}

TEST(RecentKeys, PartsAreKeptApart) {
  RecentKeys seen(16);
  EXPECT_TRUE(seen.insert(RecentKeys::fingerprint({"ab", "c"})));
  EXPECT_TRUE(seen.insert(RecentKeys::fingerprint({"a", "bc"})));
  EXPECT_FALSE(seen.insert(RecentKeys::fingerprint({"ab", "c"})));
}

}  // namespace
}  // namespace orderly::testing
