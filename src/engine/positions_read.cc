#include "engine/positions_read.h"

namespace orderly {

void PositionsRead::ask(Timestamp now) {
  inflight_ = true;
  staged_at_ = now;
}

void PositionsRead::answered(const std::vector<BrokerPosition>& positions, Timestamp now) {
  inflight_ = false;
  positions_.clear();
  for (const BrokerPosition& p : positions) positions_[p.symbol] = p;
  // A read asked for after a symbol's last change of ours confirms or denies it.
  for (auto it = changed_at_.begin(); it != changed_at_.end();) {
    it = it->second <= staged_at_ ? changed_at_.erase(it) : std::next(it);
  }
  read_at_ = now;
  asked_at_ = staged_at_;
  last_answered_at_ = now;
}

const BrokerPosition* PositionsRead::find(const std::string& symbol) const {
  const auto it = positions_.find(symbol);
  return it == positions_.end() ? nullptr : &it->second;
}

Decimal PositionsRead::qty(const std::string& symbol) const {
  const BrokerPosition* p = find(symbol);
  return p ? p->qty : Decimal();
}

Decimal PositionsRead::available(const std::string& symbol) const {
  const BrokerPosition* p = find(symbol);
  return p ? Decimal::min(p->qty, p->qty_available) : Decimal();
}

}  // namespace orderly
