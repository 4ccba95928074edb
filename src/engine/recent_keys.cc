#include "engine/recent_keys.h"

#include <sys/mman.h>

#include <new>

namespace orderly {

RecentKeys::RecentKeys(std::size_t capacity) : capacity_(capacity) {
  std::size_t n = 16;
  while (n < capacity + capacity / 4) n *= 2;  // load <= 0.8: probe runs stay within a line or two
  // Every probe lands on a random slot of a table larger than the caches: with 4 KiB pages most
  // were TLB misses as well. Huge pages (THP in madvise mode) leave only the cache miss.
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  const std::size_t bytes = n * sizeof(Fp);
  map_bytes_ = bytes + kHuge;  // room to start on a 2 MiB boundary
  map_ = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map_ == MAP_FAILED) throw std::bad_alloc();  // at construction only, as a vector would
  const auto at = reinterpret_cast<std::uintptr_t>(map_);
  slots_ = reinterpret_cast<Fp*>((at + kHuge - 1) / kHuge * kHuge);
#ifdef MADV_HUGEPAGE
  (void)madvise(slots_, bytes, MADV_HUGEPAGE);  // advice only: fine if refused
#endif
  mask_ = n - 1;
  ring_.reserve(capacity);
}

RecentKeys::~RecentKeys() { munmap(map_, map_bytes_); }

RecentKeys::Fp RecentKeys::fingerprint(std::initializer_list<std::string_view> parts) {
  Fp f;
  std::uint64_t a = 14695981039346656037ULL;  // FNV-1a 64
  std::uint64_t b = 0x9e3779b97f4a7c15ULL;    // an independent multiply-xorshift
  for (std::string_view p : parts) {
    for (unsigned char c : p) {
      a = (a ^ c) * 1099511628211ULL;
      b = (b ^ c) * 0xff51afd7ed558ccdULL;
      b ^= b >> 29;
    }
    a = (a ^ 0x1f) * 1099511628211ULL;  // part boundary: ("ab","c") != ("a","bc")
    b = (b ^ 0x1f) * 0xff51afd7ed558ccdULL;
  }
  std::uint64_t h = a ^ (b * 0x9e3779b97f4a7c15ULL);
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  f.v = h | 1;
  return f;
}

bool RecentKeys::insert(const Fp& f) {
  std::size_t i = home(f);
  while (slots_[i].v != 0) {
    if (slots_[i] == f) return false;
    i = (i + 1) & mask_;
  }
  if (capacity_ == 0) return true;
  if (count_ == capacity_) {
    erase(ring_[next_]);
    --count_;
    i = home(f);  // the erase may have moved entries into the free slot's run
    while (slots_[i].v != 0) i = (i + 1) & mask_;
  }
  slots_[i] = f;
  if (ring_.size() < capacity_) {
    ring_.push_back(f);
  } else {
    ring_[next_] = f;
  }
  next_ = (next_ + 1) % capacity_;
  ++count_;
  // The next insert evicts ring_[next_]: fetch its slot now, not as a cache miss then.
  if (count_ == capacity_) __builtin_prefetch(&slots_[home(ring_[next_])]);
  return true;
}

// Linear probing without tombstones: later entries of the run move back into the hole.
void RecentKeys::erase(const Fp& f) {
  std::size_t i = home(f);
  while (!(slots_[i] == f)) {
    if (slots_[i].v == 0) return;
    i = (i + 1) & mask_;
  }
  std::size_t j = i;
  for (;;) {
    j = (j + 1) & mask_;
    if (slots_[j].v == 0) break;
    const std::size_t k = home(slots_[j]);
    // Stays if its home lies cyclically in (i, j].
    const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    i = j;
  }
  slots_[i] = Fp{};
}

}  // namespace orderly
