#pragma once
// Principle 9 carried out: each symbol's filled position is watched against the exit book; a gap
// in its cover longer than the grace is raised as an unprotected_position alert, audited on
// every order involved, and cleared once the position is covered again or flat (issue 21: out
// of Engine::Impl, where it was engine_protection.cc). Whether a position is covered is the
// CoverJudge's; when a check runs and which symbols it judges, the ProtectionCheck's; the gaps'
// clocks, the ProtectionWatch's. What must outlive a crash (how long the cover went unconfirmed,
// the exits a sweep missed) is kept in the sync state through the engine's transaction (Host).

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/order.h"
#include "core/time.h"
#include "engine/alerts.h"
#include "engine/blindness.h"
#include "engine/cover_judge.h"
#include "engine/exit_book.h"
#include "engine/ledger.h"
#include "engine/order_aux.h"
#include "engine/protection_check.h"

namespace orderly {

class ProtectionMonitor {
 public:
  // What the monitor asks of the engine: its writes go through the input's transaction.
  class Host {
   public:
    virtual void set_sync(std::string_view key, std::string value) = 0;
    // An audit row on `o` (its state unchanged) saying `note`.
    virtual void audit_gap(const Order& o, const std::string& note, Timestamp now) = 0;
    // Each trade with an order on `symbol` decides again at the next step.
    virtual void touch_trades_of(const std::string& symbol) = 0;
    // The ended over-sold trades kept in the sync state (TradeExecutor::note_if_oversold).
    virtual void keep_oversold_trades() = 0;

   protected:
    ~Host() = default;
  };
  // The engine's state it reads and writes, by reference.
  struct Sources {
    const Ledger& ledger;
    std::unordered_map<OrderId, OrderAux>& aux;  // unconfirmed_since restored at a start
    const std::map<std::string, std::string>& sync_state;
    Blindness& blindness;
    ProtectionWatch& watch;
    ProtectionCheck& check;
    Alerts& alerts;
    const CoverJudge& cover;
    const Timestamp& started_at;
  };

  ProtectionMonitor(std::int64_t grace_ms, Sources sources, Host& host)
      : grace_ms_(grace_ms), s_(sources), host_(host) {}

  // Judges the symbols due (at most every kProtectionCheckEveryMs, or the grace when shorter)
  // and raises, audits or clears their gaps.
  void check(Timestamp now);
  // An order's unconfirmed_since changed (or may have, with a rolled-back input): the list kept
  // in the sync state is written again at the next check.
  void unconfirmed_changed() { unconfirmed_dirty_ = true; }
  // At a start, before any input: blind since the lives before this one began to be (what
  // ended while no process ran is unknown until the start's sweep completes).
  void carry_blind_time();

 private:
  void insert_open_trade_symbols(std::set<std::string>& symbols) const;
  void keep_blind_time(Timestamp now);
  void keep_unconfirmed_exits();
  void restore_unconfirmed_exits(std::set<std::string>& symbols);
  void note_gap(const std::string& symbol, const std::string& note, std::int64_t gap_ms,
                Timestamp now);

  std::int64_t grace_ms_;
  Sources s_;
  Host& host_;
  bool unconfirmed_dirty_ = false;
};

}  // namespace orderly
