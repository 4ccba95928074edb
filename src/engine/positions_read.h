#pragma once
// The broker's positions as the last read (GET /v2/positions) said them, and how far that read
// can be trusted (issue 21: one named component, where six engine files read its fields). A
// read shows the broker as of when it was asked, not when it was answered: a fill of ours after
// the ask may or may not be in it, so a symbol our own fill moved since is not judged on it
// until a read asked after that fill is answered. It knows nothing of orders or trades.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "core/decimal.h"
#include "core/time.h"

namespace orderly {

class PositionsRead {
 public:
  // A read is asked for at `now` by command `id`; one at a time.
  void ask(std::int64_t id, Timestamp now);
  bool inflight() const { return inflight_; }
  // The read asked for last (answered or not).
  Timestamp staged_at() const { return staged_at_; }
  // Another may be asked: the last one's answer was an error, never comes (a rolled-back
  // commit), or is given up on (a resync) though it may still come.
  void failed() { inflight_ = false; }
  // The read command `id` got an error, or never left: it will not be answered.
  void failed(std::int64_t id) {
    asks_.erase(id);
    failed();
  }
  // The answer to the read command `id` asked: the broker's positions as of when it was asked.
  // An answer to a read asked before the one held is older news, and dropped: a resync gave up
  // on a read, asked another after our own fill, and the first one's answer, from before the
  // fill, was taken for the second's (DST trades seed 25400000008939: a fractional sell passed
  // as within a long our stop had sold; the broker refused it as a short).
  void answered(std::int64_t id, const std::vector<BrokerPosition>& positions, Timestamp now);
  // What the engine knows of the broker's positions no longer stands (a restart of its view):
  // answered() again before anything is judged on a read.
  void forget_answer() { read_at_.reset(); }

  // Our own fill moved `symbol`'s position at `at`: the read says nothing of it until one
  // asked after is answered.
  void our_fill(const std::string& symbol, Timestamp at) { changed_at_[symbol] = at; }
  bool changed_since_asked(const std::string& symbol) const { return changed_at_.count(symbol); }
  bool any_changed() const { return !changed_at_.empty(); }

  // When the read held was answered (reset by forget_answer), and when it was asked for.
  std::optional<Timestamp> read_at() const { return read_at_; }
  Timestamp asked_at() const { return asked_at_; }
  // When a read was last answered, forgotten or not (pacing, prices' age).
  std::optional<Timestamp> last_answered_at() const { return last_answered_at_; }
  // A read held, asked for after `t`.
  bool asked_after(Timestamp t) const { return read_at_ && asked_at_ > t; }

  const BrokerPosition* find(const std::string& symbol) const;
  // Signed qty the read shows (0 when it shows none); what open orders leave of a long.
  Decimal qty(const std::string& symbol) const;
  Decimal available(const std::string& symbol) const;
  // The read's qty_available as the broker states it (0 when it shows none).
  Decimal qty_available(const std::string& symbol) const;
  const std::map<std::string, BrokerPosition>& all() const { return positions_; }

 private:
  std::map<std::string, BrokerPosition> positions_;
  bool inflight_ = false;
  Timestamp staged_at_;
  Timestamp asked_at_;
  std::optional<Timestamp> read_at_;
  std::optional<Timestamp> last_answered_at_;
  std::map<std::string, Timestamp> changed_at_;
  std::map<std::int64_t, Timestamp> asks_;  // reads asked and not answered, by command id
};

}  // namespace orderly
