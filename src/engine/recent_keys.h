#pragma once
// The engine's stream dedup window (synchronizer.cc on_trade_update).

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace orderly {

// The keys of the last `capacity` stream events, for idempotent apply. Holds 64-bit fingerprints
// in one open-addressed table (2 MiB for 200,000 keys): the set of 200,000 strings it replaces
// cost a third of the apply path (an allocation and several cache misses per event). A new key
// taken for a seen one has odds of capacity/2^64 (~1e-14) per event; that event would be lost
// like a dropped stream message, which the fill catch-up and the sweep find anyway.
class RecentKeys {
 public:
  struct Fp {
    std::uint64_t v = 0;  // 0: empty slot (never a key's value)
    bool operator==(const Fp&) const = default;
  };
  explicit RecentKeys(std::size_t capacity);
  ~RecentKeys();
  RecentKeys(const RecentKeys&) = delete;
  RecentKeys& operator=(const RecentKeys&) = delete;
  // The key made of `parts` (their concatenation, with boundaries).
  static Fp fingerprint(std::initializer_list<std::string_view> parts);
  // Starts loading the key's slot: the table is larger than the caches, and the caller has other
  // work to do before insert().
  void prefetch(const Fp& f) const { __builtin_prefetch(&slots_[home(f)]); }
  // False when the key was seen among the last `capacity`.
  bool insert(const Fp& f);
  std::size_t size() const { return count_; }

 private:
  std::size_t home(const Fp& f) const { return static_cast<std::size_t>(f.v >> 1) & mask_; }
  void erase(const Fp& f);
  // Anonymous memory, 2 MiB aligned: huge pages where the kernel allows, and pages only become
  // resident once a key lands on them (an idle engine does not carry the whole table).
  Fp* slots_ = nullptr;
  std::size_t map_bytes_ = 0;
  void* map_ = nullptr;
  std::size_t capacity_ = 0;
  std::vector<Fp> ring_;  // insertion order, for eviction; grows to capacity_, then wraps
  std::size_t mask_ = 0, next_ = 0, count_ = 0;
};

}  // namespace orderly
