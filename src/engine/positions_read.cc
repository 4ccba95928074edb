#include "engine/positions_read.h"

namespace orderly {

void PositionsRead::ask(std::int64_t id, Timestamp now) {
  inflight_ = true;
  staged_at_ = now;
  asks_[id] = now;
}

void PositionsRead::answered(std::int64_t id, const std::vector<BrokerPosition>& positions,
                             Timestamp now) {
  const auto ask = asks_.find(id);
  if (ask == asks_.end()) return;  // not a read of this life
  const Timestamp asked = ask->second;
  asks_.erase(ask);
  if (asked >= staged_at_) inflight_ = false;
  if (read_at_ && asked < asked_at_) return;
  positions_.clear();
  for (const BrokerPosition& p : positions) positions_[p.symbol] = p;
  // A read asked for after a symbol's last change of ours confirms or denies it.
  for (auto it = changed_at_.begin(); it != changed_at_.end();) {
    it = it->second <= asked ? changed_at_.erase(it) : std::next(it);
  }
  read_at_ = now;
  asked_at_ = asked;
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

Decimal PositionsRead::qty_available(const std::string& symbol) const {
  const BrokerPosition* read = find(symbol);
  return read == nullptr ? Decimal() : read->qty_available;
}

}  // namespace orderly
