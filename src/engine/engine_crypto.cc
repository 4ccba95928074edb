// Engine::Impl, crypto dust (issue 17 item 4). The ledger counts a crypto buy as its fill less
// Alpaca's highest fee (engine/crypto.h): exits never ask for more than was received. Where the
// real fee was lower, the broker holds a little more than the ledger, and keeps it after the
// exits sold what the ledger counts. That difference is learned from the broker itself: a fill
// event of ours carries `position_qty`, the position just after it, and the ledger has just
// counted the same fill. It is kept per symbol (sync state, so a restart knows it) and the
// reconciliation compares the broker's position with the ledger plus it.
#include <fmt/format.h>

#include "engine/crypto.h"
#include "engine/engine_impl.h"

namespace orderly {

namespace {

std::string dust_key(const std::string& symbol) { return "crypto_dust:" + symbol; }

}  // namespace

Decimal Engine::Impl::crypto_dust(const std::string& symbol) const {
  if (!is_crypto_symbol(symbol)) return Decimal();
  const auto it = sync_state_.find(dust_key(symbol));
  if (it == sync_state_.end() || it->second.empty()) return Decimal();
  return Decimal::parse(it->second).value_or(Decimal());
}

// After a fill event of order `id` that took its filled qty from `filled_before`: the broker's
// position minus the ledger's is the dust, when the fill explains it. A buy may add at most the
// fee allowance of what it filled; a sell adds none. Anything else (a fill the ledger counted
// from a poll before this event, another client's trade) is not absorbed: the reconciliation
// reports it as before.
void Engine::Impl::note_crypto_position(OrderId id, Decimal filled_before, Decimal position_qty,
                                        Timestamp) {
  const Order& o = ledger_.order_at(id);
  if (!is_crypto_symbol(o.symbol) || o.filled_qty <= filled_before) return;
  const Decimal local = ledger_.position_qty(o.symbol);
  const Decimal dust = position_qty - local;
  const Decimal old = crypto_dust(o.symbol);
  Decimal most = old;
  if (o.side == Side::buy) {
    most += (o.filled_qty - filled_before)
                .checked_mul(kCryptoFeeAllowance, Rounding::up)
                .value_or(Decimal())
                .round_to(kCryptoQtyIncrement, Rounding::up);
  }
  if (dust.is_negative() || dust > most || dust == old) return;
  set_sync(dust_key(o.symbol), dust.str());
}

}  // namespace orderly
