#include "engine/unmatched_events.h"

#include <utility>

namespace orderly {

void UnmatchedEvents::hold(const TradeUpdate& u) {
  auto it = held_.find(u.order.id);
  if (it == held_.end()) {
    while (held_.size() >= kMaxOrders && !arrival_.empty()) {
      const auto& [id, seq] = arrival_.front();
      if (auto old = held_.find(id); old != held_.end() && old->second.seq == seq) {
        held_.erase(old);
      }
      arrival_.pop_front();
    }
    it = held_.emplace(u.order.id, Held{++next_seq_, {}}).first;
    arrival_.emplace_back(u.order.id, next_seq_);
    if (arrival_.size() > 2 * kMaxOrders) compact();
  }
  if (it->second.events.size() < kMaxPerOrder) it->second.events.push_back(u);
}

void UnmatchedEvents::release(const std::string& broker_id) {
  auto it = held_.find(broker_id);
  if (it == held_.end()) return;
  for (TradeUpdate& u : it->second.events) released_.push_back(std::move(u));
  held_.erase(it);
}

TradeUpdate UnmatchedEvents::take_released() {
  TradeUpdate u = std::move(released_.front());
  released_.pop_front();
  return u;
}

void UnmatchedEvents::compact() {
  std::deque<std::pair<std::string, std::uint64_t>> live;
  for (auto& entry : arrival_) {
    const auto it = held_.find(entry.first);
    if (it != held_.end() && it->second.seq == entry.second) live.push_back(std::move(entry));
  }
  arrival_ = std::move(live);
}

}  // namespace orderly
