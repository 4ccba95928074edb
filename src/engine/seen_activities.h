#pragma once
// The fill activities the catch-up has taken in (issue 21: out of three Impl fields). The
// catch-up reads again the second before its watermark (kActivityOverlapMs), so most fills come
// twice; one seen before is skipped. The last `capacity` ids are kept: memory stays bounded on
// a long run, and an id that old is far behind any watermark. What the input running saw first
// is unseen again when that input rolls back: its fill was not applied (DST seed 1200298: it
// was skipped as seen and the position waited for a sweep without an exit).

#include <cstddef>
#include <deque>
#include <string>
#include <unordered_set>
#include <vector>

namespace orderly {

class SeenActivities {
 public:
  explicit SeenActivities(std::size_t capacity) : capacity_(capacity) {}

  // A new input begins (a group's inputs are one).
  void begin_input() { this_input_.clear(); }
  // True the first time `id` is seen (kept from now); false when it was seen before.
  bool first_sight(const std::string& id);
  // The input rolled back: what it saw first is unseen again.
  void roll_back();
  bool seen(const std::string& id) const { return ids_.count(id) > 0; }

 private:
  std::size_t capacity_;
  std::unordered_set<std::string> ids_;
  std::deque<std::string> order_;  // oldest first; may name an id unseen since (roll_back)
  std::vector<std::string> this_input_;
};

}  // namespace orderly
