#pragma once
// Stream events of orders the engine cannot match yet (issue 21: out of two Impl fields). A
// bracket's or an OCO's legs get ids the parent's reply tells; an event of a leg can come first,
// and is held until its id is learned, then applied in the order it came. Another client's
// orders on the account look the same (their events never match), so what is held is bounded:
// at most kMaxOrders ids, the oldest let go first, and kMaxPerOrder events each. Before this,
// every unmatched id past the cap still took an entry, and the ids never left: a daemon beside
// another client that trades grew without end.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/broker.h"

namespace orderly {

class UnmatchedEvents {
 public:
  static constexpr std::size_t kMaxOrders = 2'000;
  static constexpr std::size_t kMaxPerOrder = 16;

  // An event for broker order `u.order.id`, which matches no order of ours yet.
  void hold(const TradeUpdate& u);
  // Its id is learned: its events are released, in the order they came.
  void release(const std::string& broker_id);
  bool any_released() const { return !released_.empty(); }
  TradeUpdate take_released();

  std::size_t orders_held() const { return held_.size(); }

 private:
  struct Held {
    std::uint64_t seq = 0;  // when first held: its place in arrival_
    std::vector<TradeUpdate> events;
  };
  void compact();

  std::unordered_map<std::string, Held> held_;
  // Ids in the order first held, with their seq; an entry whose seq no longer matches (released,
  // or held again since) is stale. Compacted once stale entries outnumber the held ones.
  std::deque<std::pair<std::string, std::uint64_t>> arrival_;
  std::uint64_t next_seq_ = 0;
  std::deque<TradeUpdate> released_;
};

}  // namespace orderly
