#pragma once
// Our positions judged against the broker's (issue 21: the Reconciler out of Engine::Impl). At
// each positions read: a symbol whose position differs from the broker's on two reads in a row
// is raised as reconciliation_mismatch; where the broker holds more than our known fills on a
// side, our entries of that side that may have filled unheard are asked about at once. What a
// crypto fee below Alpaca's highest left at the broker (dust) is no drift.

#include <map>
#include <string>
#include <string_view>

#include "core/decimal.h"
#include "core/ids.h"
#include "core/time.h"
#include "engine/alerts.h"
#include "engine/control.h"
#include "engine/cover_judge.h"
#include "engine/ledger.h"
#include "engine/poll_schedule.h"
#include "engine/positions_read.h"
#include "engine/protection_check.h"
#include "engine/reconciliation.h"

namespace orderly {

class PositionsReconciler {
 public:
  // The engine's state it reads: held by reference, read at each call.
  struct Sources {
    const Ledger& ledger;
    const PositionsRead& positions_read;
    const CoverJudge& cover;  // which entries a read can speak for
    const std::map<std::string, std::string>& sync_state;  // the dust, kept across restarts
    const Poll& sweep;
    const Poll& catchup;
  };
  // The engine's state it changes.
  struct Targets {
    Reconciliation& reconciliation;
    Alerts& alerts;
    ProtectionCheck& protection_check;  // a drifting symbol is judged again
    EngineMetrics& metrics;
  };
  // What it asks of the engine, within the input's transaction.
  class Host {
   public:
    virtual void set_sync(std::string_view key, std::string value) = 0;  // the crypto dust
    // An entry of ours whose fill a read may show: looked up at the broker (by client id while
    // its submit is unanswered) unless a lookup is on its way.
    virtual void ask_about_entry(OrderId id, Timestamp now) = 0;

   protected:
    ~Host() = default;
  };

  PositionsReconciler(Sources sources, Targets targets, Host& host)
      : s_(sources), t_(targets), host_(host) {}

  // Compares each symbol we or the broker hold with the read just answered.
  void reconcile(Timestamp now);
  // A reconciliation asked for is done once its sweep, catch-up and read have answered.
  void finish_if_done();

  // Crypto dust (issue 17 item 4): what the broker holds of `symbol` beyond our ledger because
  // the fees were lower than the allowance the ledger took off.
  Decimal crypto_dust(const std::string& symbol) const;
  // After a fill event of order `id` that took its filled qty from `filled_before`, with the
  // broker's position just after it.
  void note_crypto_position(OrderId id, Decimal filled_before, Decimal position_qty);

 private:
  void ask_entries_beyond(const std::string& symbol, Decimal beyond, Timestamp now);

  Sources s_;
  Targets t_;
  Host& host_;
};

}  // namespace orderly
