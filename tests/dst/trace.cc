#include "trace.h"

#include <cstdio>

#include <fmt/format.h>

namespace orderly::dst {

void Trace::add(std::string line) {
  line = fmt::format("[{:>7}] {}", time_ms_, line);
  for (unsigned char c : line) {
    hash_ ^= c;
    hash_ *= 1099511628211ULL;  // FNV-1a 64 prime
  }
  hash_ ^= '\n';
  hash_ *= 1099511628211ULL;
  ++lines_;
  if (echo_) std::fprintf(stderr, "%s\n", line.c_str());
  tail_.push_back(std::move(line));
  while (tail_.size() > keep_) tail_.pop_front();
}

}  // namespace orderly::dst
