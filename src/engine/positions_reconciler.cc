#include "engine/positions_reconciler.h"

#include <fmt/format.h>

#include <set>

#include "engine/crypto.h"

namespace orderly {

// Drift between the local ledger and the broker's positions, flagged after it persists over
// two reads (a fill in flight between the two sides is not drift).
void PositionsReconciler::reconcile(Timestamp now) {
  std::set<std::string> symbols;
  for (auto& [s, p] : s_.ledger.positions()) symbols.insert(s);
  for (auto& [s, p] : s_.positions_read.all()) symbols.insert(s);
  // A drift that went away is cleared.
  for (auto& [s, n] : t_.reconciliation.drifting()) symbols.insert(s);
  int mismatches = 0;
  for (const std::string& s : symbols) {
    // Changed by our own fill since this read was asked for: the next read judges it.
    if (s_.positions_read.changed_since_asked(s)) continue;
    // Crypto: what a fee below the allowance left at the broker is no drift (crypto_dust).
    Decimal local = s_.ledger.position_qty(s) + crypto_dust(s);
    Decimal broker = s_.positions_read.qty(s);
    if (local == broker) {
      t_.reconciliation.agreed(s);
      t_.alerts.clear(AlertKind::reconciliation_mismatch, s, now);
      continue;
    }
    ++mismatches;
    t_.protection_check.touched(s);  // an entry of ours with an unknown outcome may hold it
    ask_entries_beyond(s, broker - local, now);
    const int n = t_.reconciliation.differed(s);
    if (t_.reconciliation.requested()) {
      t_.reconciliation.report().findings.push_back(
          fmt::format("position {}: local {} broker {}", s, local.str(), broker.str()));
    }
    if (n >= 2 && !t_.alerts.active(AlertKind::reconciliation_mismatch, s)) {
      ++t_.metrics.reconcile_mismatches;
      t_.alerts.raise(
          AlertKind::reconciliation_mismatch, s,
          fmt::format("position {}: local {} vs broker {}", s, local.str(), broker.str()), now);
    }
  }
  if (t_.reconciliation.requested()) t_.reconciliation.report().position_mismatches = mismatches;
}

// The broker holds more than our known fills on a side: an entry of ours of that side, sent
// before the read was asked, may have filled unheard. It is asked now rather than at its
// in-flight check (DST trades seed 23500000018973: a market buy filled while the stream was
// down, its submit's answer lost with a failed commit; the positions read showed the 20 NFLX
// at once, the lookup went 5 s later and its slow answer came after 8 s naked).
//
// A resting entry (a limit or stop the market may have reached) is asked too, not judged: a
// position beside ours, another client's, shows the same. The read is how its fill is found when
// the stream lost it and the catch-up cannot run (DST trades seed 26300000010567: the activities
// endpoint timed out call after call, its backoff grew, and a limit buy of 8 STWD filled unheard
// for 37 s while positions reads showed the 8 shares).
void PositionsReconciler::ask_entries_beyond(const std::string& symbol, Decimal beyond,
                                             Timestamp now) {
  for (OrderId id : s_.ledger.of_symbol(symbol)) {
    const Order& o = s_.ledger.order_at(id);
    const bool its_side = o.side == Side::buy ? beyond.is_positive() : beyond.is_negative();
    if (o.role != OrderRole::entry || o.parent_order_id || !its_side) continue;
    if (s_.cover.in_reach_of(o) || s_.cover.resting_unheard_since_read(o)) {
      host_.ask_about_entry(id, now);
    }
  }
}

void PositionsReconciler::finish_if_done() {
  if (!t_.reconciliation.requested()) return;
  if (s_.sweep.running() || s_.catchup.running() || s_.positions_read.inflight()) return;
  t_.reconciliation.finish();
}

// Crypto dust (issue 17 item 4). The ledger counts a crypto buy as its fill less
// Alpaca's highest fee (engine/crypto.h): exits never ask for more than was received. Where the
// real fee was lower, the broker holds a little more than the ledger, and keeps it after the
// exits sold what the ledger counts. That difference is learned from the broker itself: a fill
// event of ours carries `position_qty`, the position just after it, and the ledger has just
// counted the same fill. It is kept per symbol (sync state, so a restart knows it) and the
// reconciliation compares the broker's position with the ledger plus it.
namespace {

std::string dust_key(const std::string& symbol) { return "crypto_dust:" + symbol; }

}  // namespace

Decimal PositionsReconciler::crypto_dust(const std::string& symbol) const {
  if (!is_crypto_symbol(symbol)) return Decimal();
  const auto it = s_.sync_state.find(dust_key(symbol));
  if (it == s_.sync_state.end() || it->second.empty()) return Decimal();
  return Decimal::parse(it->second).value_or(Decimal());
}

// After a fill event of order `id` that took its filled qty from `filled_before`: the broker's
// position minus the ledger's is the dust, when the fill explains it. A buy may add at most the
// fee allowance of what it filled; a sell adds none. Anything else (a fill the ledger counted
// from a poll before this event, another client's trade) is not absorbed: the reconciliation
// reports it as before.
void PositionsReconciler::note_crypto_position(OrderId id, Decimal filled_before,
                                               Decimal position_qty) {
  const Order& o = s_.ledger.order_at(id);
  if (!is_crypto_symbol(o.symbol) || o.filled_qty <= filled_before) return;
  const Decimal local = s_.ledger.position_qty(o.symbol);
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
  host_.set_sync(dust_key(o.symbol), dust.str());
}

}  // namespace orderly
