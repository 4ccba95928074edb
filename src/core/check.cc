#include "core/check.h"

#include <fmt/format.h>

namespace orderly {

void invariant_broken(const char* condition, const char* file, int line,
                      const std::string& detail) {
  throw InvariantBroken(fmt::format("invariant broken: {} ({}:{}): {}", condition, file, line,
                                    detail));
}

}  // namespace orderly
