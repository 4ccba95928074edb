#pragma once
// ORDERLY_ASSERT: an invariant of state being written, kept on in release builds (a compiled-out
// assert let a broken invariant write on). It throws InvariantBroken rather than aborting: the
// engine's input guard rolls the input back, raises an `anomaly` alert and refreshes from the
// broker, so the engine never dies on its own state (issues 18 and 21). `detail` is evaluated
// only when the condition fails.

#include <stdexcept>
#include <string>

namespace orderly {

class InvariantBroken : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

[[noreturn]] void invariant_broken(const char* condition, const char* file, int line,
                                   const std::string& detail);

}  // namespace orderly

#define ORDERLY_ASSERT(condition, detail)                                             \
  do {                                                                                \
    if (!(condition)) [[unlikely]] {                                                  \
      ::orderly::invariant_broken(#condition, __FILE__, __LINE__, (detail));          \
    }                                                                                 \
  } while (false)
