#include "engine/seen_activities.h"

namespace orderly {

bool SeenActivities::first_sight(const std::string& id) {
  if (!ids_.insert(id).second) return false;
  this_input_.push_back(id);
  order_.push_back(id);
  if (order_.size() > capacity_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

void SeenActivities::roll_back() {
  for (const std::string& id : this_input_) ids_.erase(id);
  this_input_.clear();
}

}  // namespace orderly
