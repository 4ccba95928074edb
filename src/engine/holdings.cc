#include "engine/holdings.h"

#include <algorithm>

namespace orderly {

void charge_shortfall(std::vector<TradeHolding>& open, Decimal net) {
  std::sort(open.begin(), open.end(),
            [](const TradeHolding& a, const TradeHolding& b) { return a.trade < b.trade; });
  Decimal claimed;
  for (const TradeHolding& h : open) claimed += h.own;
  Decimal shortfall = Decimal::min(claimed - net, claimed);
  for (TradeHolding& h : open) {
    const Decimal charge = shortfall.is_positive() ? Decimal::min(shortfall, h.own) : Decimal();
    h.held = h.own - charge;
    shortfall -= charge;
  }
}

}  // namespace orderly
