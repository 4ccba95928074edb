#pragma once
// Whether a symbol's filled position is covered by working exits at the broker, and when a gap
// in its cover began (principle 9; issue 21: the judging out of Engine::Impl, where it read a
// dozen fields over three files). It reads the engine's state and changes none: the protection
// check (protection_monitor.h) raises and clears alerts on its answers, the synchronizer asks it
// which orders a positions read can speak for.
//
// Beyond the exits the book shows, it weighs what the engine cannot see: events that may have
// been missed with no sweep since (blind), fills no catch-up has looked for in a while, and
// entries of ours at the broker whose fill may have gone unheard.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "core/ids.h"
#include "core/time.h"
#include "engine/blindness.h"
#include "engine/exit_book.h"
#include "engine/ledger.h"
#include "engine/order_aux.h"
#include "engine/poll_schedule.h"
#include "engine/positions_read.h"
#include "engine/protection_check.h"

namespace orderly {

class CoverJudge {
 public:
  struct Config {
    std::int64_t idle_poll_interval_ms = 0;
    std::int64_t unprotected_grace_ms = 0;
    std::int64_t inflight_check_ms = 0;
  };
  // The engine's state it reads: held by reference, read at each call.
  struct Sources {
    const Ledger& ledger;
    const std::unordered_map<OrderId, OrderAux>& aux;
    const PositionsRead& positions_read;
    const Blindness& blindness;
    const Poll& catchup;
    const ProtectionWatch& protection;
    const ProtectionCheck& protection_check;
    // Symbols where a trade's exits sold beyond it (TradeExecutor::note_if_oversold).
    const std::set<std::string>& oversold_symbols;
    // The broker's latest time a stock order of ours the store held was routed or filled.
    const std::optional<Timestamp>& stock_routed_before_start;
    const Timestamp& started_at;  // this life's start
    const Timestamp& now;         // the input's time (EngineState::last_now)
  };

  // A symbol's cover, and if not covered since when the gap is known to exist.
  struct Cover {
    SymbolBook book;
    bool ok = true;
    std::optional<Timestamp> began;  // a gap opening now began no later than this
    std::string why;                 // beyond "held, covered": what the engine cannot confirm
  };

  CoverJudge(Config config, Sources sources) : cfg_(config), s_(sources) {}

  // `blind`: events may have been lost past the grace and no sweep has answered since.
  Cover judge(const std::string& symbol, bool blind) const;
  // The symbol's orders as cover: what each exit covers, confirmed or not.
  SymbolBook book_of(const std::string& symbol) const;
  // Missing from a sweep, and the broker has not answered for it since (OrderAux).
  bool unconfirmed(OrderId id) const;
  // Since when fills the stream lost may be unknown: no fill catch-up has answered for its
  // idle interval and the grace (the budget spent, a 429's wait, the broker away). nullopt: one
  // answered within that.
  std::optional<Timestamp> fills_unknown_since(Timestamp now) const;
  // An entry whose fill the positions read would show, asked for after the broker last told
  // its state.
  bool in_reach_of(const Order& o) const;
  // At the broker and working, and the positions read was asked after the broker last told its
  // state.
  bool resting_unheard_since_read(const Order& o) const;
  // The broker's own time of the last state it told, before this life heard of the order.
  Timestamp last_heard(const Order& o) const;
  // A market entry the broker holds unfilled, as it last said.
  static bool market_entry_unfilled(const Order& o);

 private:
  void date_by_own_records(Cover& c, const std::string& symbol) const;
  bool entry_may_fill_unheard(const std::string& symbol) const;
  const Order* entry_that_may_have_filled(const std::string& symbol, Decimal net) const;
  bool unfilled_before_this_life(const Order& o) const;
  bool read_since_heard(const Order& o) const;
  std::optional<Timestamp> last_broker_event(const std::string& symbol) const;

  Config cfg_;
  Sources s_;
};

}  // namespace orderly
