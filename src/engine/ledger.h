#pragma once
// The engine's ledger in memory (issue 21): the orders and trades it holds (every open one, and
// ended ones until they are pruned), our positions, and the indexes every per-event walk goes
// through. It keeps one promise: an order is found by its id, client id, broker id, trade and
// symbol from when it is added until it is removed, and by nothing after. What happens around a
// change (the undo log of an input, the outbox, the submitter's watch lists) is the engine's.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/order.h"
#include "core/time.h"
#include "core/trade.h"
#include "store/store.h"

namespace orderly {

// ---- A fill, applied (issue 21: the one place a fill moves our books) ------------------------
// `o` filled `delta` more (its filled qty and average already updated): our position on its
// symbol moves by what we received (a crypto buy: less the fee taken from the coins); a buy
// that leaves us long takes the order's average as the position's entry price.
void add_fill_to_position(Position& p, const Order& o, const Decimal& delta);
// The fill rows that account for `o`'s filled qty growing from `before_filled` (DST I8: the
// rows of an order sum to its filled qty, whichever source told of the fill). The execution as
// reported when the evidence is one; for what no execution accounts for (a fill first seen in
// an order read: sweep, lookup, reply) a row derived from the order's cumulative qty and average
// price, its id naming the order and that qty, so a replay after a crash writes it once.
std::vector<Fill> fill_rows(const Order& o, const Decimal& before_filled,
                            const std::optional<Decimal>& before_avg, const Fill* execution,
                            Timestamp at);

class Ledger {
 public:
  // ---- The changes of one input -------------------------------------------------------------
  // Logged from begin_input(): what its commit writes, and what undo_input() puts back when
  // that commit fails. The log stays readable until the next input begins.
  struct Changes {
    std::map<OrderId, std::optional<Order>> orders;  // as before the input; none: it made it
    std::map<TradeId, std::optional<Trade>> trades;
    std::map<std::string, std::optional<Position>> positions;
    TradeId max_trade_id = 0;  // the id counters when the input began
    OrderId max_order_id = 0;
  };
  void begin_input();
  const Changes& changes() const { return changes_; }
  // A held order, trade or position about to change (made, flat, for a position).
  Order& change_order(OrderId id);
  Trade& change_trade(TradeId id);
  Position& change_position(const std::string& symbol);
  // An order or trade this input makes, with the next id taken by next_*_id().
  Order& create(Order o);
  Trade& create_trade(Trade t);
  OrderId next_order_id() { return ++max_order_id_; }
  TradeId next_trade_id() { return ++max_trade_id_; }
  void set_max_ids(TradeId trade, OrderId order);
  // Puts back everything the input changed, the id counters too. Returns its log: the engine's
  // own lists follow the orders in it.
  Changes undo_input();

  // ---- Orders --------------------------------------------------------------------------------
  // By id: walks (sweeps, views) go in id order.
  const std::map<OrderId, Order>& orders() const { return orders_; }
  Order* order(OrderId id);
  const Order* order(OrderId id) const;
  // Throws std::out_of_range when the order is not held.
  Order& order_at(OrderId id) { return *index_.at(id); }
  const Order& order_at(OrderId id) const { return *index_.at(id); }
  bool holds(OrderId id) const { return index_.count(id) > 0; }
  std::optional<OrderId> by_client_id(std::string_view cid) const;
  std::optional<OrderId> by_broker_id(std::string_view bid) const;
  const std::vector<OrderId>& of_symbol(const std::string& symbol) const;  // ascending ids
  const std::vector<OrderId>& of_trade(TradeId id) const;  // in the order they were added

  // An order not held yet (loaded from the store), found by all of its keys from now.
  Order& add(Order o);
  // The broker id just set on a held order: found by it from now.
  void index_broker_id(OrderId id);
  // Undoes an input's change of one order: `before` is the order as it was (same id, symbol and
  // trade), or none when the input added it (then it is dropped).
  void undo(OrderId id, const std::optional<Order>& before);
  // Drops a held order and every key that finds it.
  void remove(OrderId id);

  // ---- Trades --------------------------------------------------------------------------------
  const std::map<TradeId, Trade>& trades() const { return trades_; }
  Trade* trade(TradeId id);
  const Trade* trade(TradeId id) const;
  // Throws std::out_of_range when the trade is not held.
  Trade& trade_at(TradeId id) { return *trade_index_.at(id); }
  const Trade& trade_at(TradeId id) const { return *trade_index_.at(id); }
  Trade& put_trade(Trade t);
  void erase_trade(TradeId id);

  // ---- Our positions (the sum of our signed fills per symbol) ---------------------------------
  const std::map<std::string, Position>& positions() const { return positions_; }
  const Position* position(const std::string& symbol) const;
  Decimal position_qty(const std::string& symbol) const;  // zero when none
  // The symbol's position, made (flat) if there is none.
  Position& position_slot(const std::string& symbol);
  void set_position(const Position& p) { positions_[p.symbol] = p; }
  void erase_position(const std::string& symbol) { positions_.erase(symbol); }

 private:
  void unindex(const Order& o, OrderId id);

  std::map<OrderId, Order> orders_;
  // Point lookups: a std::map walk of a thousand orders was most of an event's cost (cache
  // misses down the tree). Nodes of orders_ never move, so the pointers stay valid.
  std::unordered_map<OrderId, Order*> index_;
  std::unordered_map<std::string, OrderId> by_cid_;
  std::unordered_map<std::string, OrderId> by_bid_;
  std::unordered_map<std::string, std::vector<OrderId>> by_symbol_;
  std::unordered_map<TradeId, std::vector<OrderId>> by_trade_;
  std::map<TradeId, Trade> trades_;
  std::unordered_map<TradeId, Trade*> trade_index_;  // as index_, for trades_
  std::map<std::string, Position> positions_;
  TradeId max_trade_id_ = 0;
  OrderId max_order_id_ = 0;
  Changes changes_;
};

}  // namespace orderly
