#pragma once
// Which queued commands leave for the broker now, and in what order (issue 21: out of
// Engine::Impl, where engine.cc held it). The rate budget (rate_budget.h) says how much of the
// minute each class of command may fill; the release orders the queue, keeps slots for the exits
// of entries released within the minute, and withholds what was overtaken while it waited: a
// replace whose order filled meanwhile, an entry that would now meet exits of ours placed
// meanwhile in Alpaca's wash-trade check. Each release happens after the commit that staged it.

#include <cstdint>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/ids.h"
#include "core/time.h"
#include "engine/command.h"
#include "engine/cover_judge.h"
#include "engine/ledger.h"
#include "engine/order_aux.h"
#include "engine/outbox.h"
#include "engine/poll_schedule.h"
#include "engine/rate_budget.h"
#include "engine/sync_cadence.h"
#include "engine/way_clearing.h"

namespace orderly {

class CommandRelease {
 public:
  struct Config {
    std::int64_t unprotected_grace_ms = 0;
  };
  // The engine's state it reads: held by reference, read at each call.
  struct Sources {
    const Ledger& ledger;
    const std::unordered_map<OrderId, OrderAux>& aux;  // when each exit was sent
    const CoverJudge& cover;  // the symbol's book: what a waiting entry would meet
    const SyncCadence& cadence;  // whether the stream is suspect
    const Poll& sweep;
    const CommandId& catchup_first_page;  // the first page of the catch-up running
    const WayClearing& clearing;          // whether a symbol's entries are clearing their way
  };
  // What it asks of the engine as a command leaves.
  class Host {
   public:
    // A submit or a replace leaves now (audited as sent, with the next commit).
    virtual void note_sent(const Command& c, Timestamp now) = 0;

   protected:
    ~Host() = default;
  };
  struct Released {
    std::vector<Command> commands;
    bool trading = false;  // an order was sent or waits for the budget: the account trades
  };

  CommandRelease(Config config, Sources sources, Outbox& outbox, RateBudget& budget, Host& host)
      : cfg_(config), s_(sources), outbox_(outbox), budget_(budget), host_(host) {}

  // Releases queued commands in their order (sort_queue), each within its share of the budget.
  Released take(Timestamp now);
  // What take() withheld as overtaken, for the next input to judge again (the submitter).
  std::set<OrderId> take_withheld_replaces() { return std::exchange(withheld_replaces_, {}); }
  std::set<OrderId> take_withheld_entries() { return std::exchange(withheld_entries_, {}); }

 private:
  void sort_queue(const RateBudget::Limits& l, Timestamp now);
  bool awaits_first_exit(OrderId entry_id) const;
  std::int64_t exit_reserve(Timestamp now);
  bool replace_overtaken(const Command& c) const;
  bool entry_overtaken(const Command& c) const;

  Config cfg_;
  Sources s_;
  Outbox& outbox_;
  RateBudget& budget_;
  Host& host_;
  std::set<OrderId> withheld_replaces_;  // replacements take() did not send
  std::set<OrderId> withheld_entries_;   // entries take() did not send (entry_overtaken)
};

}  // namespace orderly
