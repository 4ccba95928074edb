#include "engine/protection_check.h"

#include <algorithm>
#include <utility>

namespace orderly {

void ProtectionCheck::late_fill(const std::string& symbol, Timestamp at) {
  auto [late, fresh] = late_fills_.try_emplace(symbol, at);
  if (!fresh) late->second = std::min(late->second, at);
}

std::optional<Timestamp> ProtectionCheck::with_late_fill(const std::string& symbol,
                                                         std::optional<Timestamp> began) const {
  if (auto late = late_fills_.find(symbol);
      late != late_fills_.end() && (!began || late->second < *began)) {
    began = late->second;
  }
  return began;
}

std::optional<ProtectionCheck::Round> ProtectionCheck::begin(Timestamp now,
                                                             std::int64_t every_ms) {
  if (checked_once_ && now.ms_since(last_round_) < every_ms && now >= last_round_) {
    return std::nullopt;
  }
  last_round_ = now;
  Round round;
  round.symbols = std::move(touched_);
  touched_.clear();
  round.first = !std::exchange(checked_once_, true);
  for (const auto& [symbol, at] : late_fills_) round.symbols.insert(symbol);
  return round;
}

}  // namespace orderly
