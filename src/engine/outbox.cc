#include "engine/outbox.h"

#include <utility>

namespace orderly {

CommandId Outbox::stage(Command c, Purpose p, OrderId for_order) {
  c.id = ++last_id_;
  pending_[c.id] = Pending{c, p, for_order, {}};
  staged_.push_back(std::move(c));
  return staged_.back().id;
}

void Outbox::commit_staged() {
  for (Command& c : staged_) queue_.push_back(std::move(c));
  staged_.clear();
}

std::vector<Pending> Outbox::drop_staged() {
  std::vector<Pending> dropped;
  for (const Command& c : staged_) {
    auto it = pending_.find(c.id);
    if (it == pending_.end()) continue;
    dropped.push_back(std::move(it->second));
    pending_.erase(it);
  }
  staged_.clear();
  return dropped;
}

void Outbox::released(CommandId id, Timestamp now) {
  pending_[id].released_at = now;
  ++inflight_;
}

std::optional<Pending> Outbox::answered(CommandId id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return std::nullopt;
  Pending p = std::move(it->second);
  pending_.erase(it);
  if (inflight_ > 0) --inflight_;
  return p;
}

}  // namespace orderly
