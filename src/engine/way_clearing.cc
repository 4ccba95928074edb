#include "engine/way_clearing.h"

namespace orderly {

WayClearing::Join WayClearing::join(const std::string& symbol, Side side, OrderId entry) {
  const auto it = ways_.try_emplace(symbol, Way{side, {}}).first;
  if (it->second.side != side) return Join::other_side;
  return it->second.entries.insert(entry).second ? Join::joined : Join::already;
}

bool WayClearing::clears_its_way(const Order& entry) const {
  const auto it = ways_.find(entry.symbol);
  return it != ways_.end() && it->second.entries.count(entry.id) > 0;
}

std::vector<std::string> WayClearing::symbols() const {
  std::vector<std::string> out;
  for (const auto& [symbol, way] : ways_) out.push_back(symbol);
  return out;
}

bool WayClearing::end_if_done(const std::string& symbol,
                              const std::function<bool(OrderId)>& still_waits) {
  auto it = ways_.find(symbol);
  if (it == ways_.end()) return false;
  std::set<OrderId>& entries = it->second.entries;
  for (auto e = entries.begin(); e != entries.end();) {
    if (still_waits(*e)) {
      ++e;
      continue;
    }
    clear_all_.erase(*e);
    e = entries.erase(e);
  }
  if (!entries.empty()) return false;
  ways_.erase(it);
  return true;
}

}  // namespace orderly
