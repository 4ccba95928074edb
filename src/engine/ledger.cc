#include "engine/ledger.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "engine/crypto.h"

namespace orderly {

namespace {
const std::vector<OrderId> kNoOrders;
}  // namespace

void add_fill_to_position(Position& p, const Order& o, const Decimal& delta) {
  const Decimal received = received_qty(o.symbol, o.side, delta);
  p.qty += o.side == Side::buy ? received : -received;
  if (o.filled_avg_price && o.side == Side::buy && p.qty.is_positive()) {
    p.avg_entry_price = *o.filled_avg_price;
  }
}

std::vector<Fill> fill_rows(const Order& o, const Decimal& before_filled,
                            const std::optional<Decimal>& before_avg, const Fill* execution,
                            Timestamp at) {
  std::vector<Fill> rows;
  Decimal rest = o.filled_qty - before_filled;
  Decimal rest_value;  // what the derived row accounts for, at the order's average prices
  if (o.filled_avg_price) {
    rest_value = (*o.filled_avg_price * o.filled_qty) -
                 (before_avg.value_or(Decimal()) * before_filled);
  }
  if (execution && execution->qty.is_positive() && execution->qty <= rest) {
    Fill f = *execution;
    f.order_id = o.id;  // the local order's identity, whatever the evidence carried
    f.symbol = o.symbol;
    f.side = o.side;
    rows.push_back(std::move(f));
    rest = rest - execution->qty;
    rest_value = rest_value - (execution->qty * execution->price);
  }
  if (!rest.is_positive()) return rows;
  Fill f;
  f.execution_id = fmt::format("derived:{}:{}", o.broker_order_id.value_or(o.client_order_id),
                               o.filled_qty.str());
  f.order_id = o.id;
  f.symbol = o.symbol;
  f.side = o.side;
  f.qty = rest;
  auto price = rest_value.checked_div(rest);
  f.price = price && price->is_positive()
                ? price->round_to(Decimal::must("0.0001"), Rounding::half_even)
                : o.filled_avg_price.value_or(Decimal());
  f.at = at;
  rows.push_back(std::move(f));
  return rows;
}

void Ledger::begin_input() {
  changes_ = Changes{};
  changes_.max_trade_id = max_trade_id_;
  changes_.max_order_id = max_order_id_;
}

Order& Ledger::change_order(OrderId id) {
  Order& o = order_at(id);
  changes_.orders.try_emplace(id, o);
  return o;
}

Trade& Ledger::change_trade(TradeId id) {
  Trade& t = trade_at(id);
  changes_.trades.try_emplace(id, t);
  return t;
}

Position& Ledger::change_position(const std::string& symbol) {
  if (!changes_.positions.count(symbol)) {
    const Position* p = position(symbol);
    changes_.positions[symbol] = p == nullptr ? std::nullopt : std::optional<Position>(*p);
  }
  return position_slot(symbol);
}

Order& Ledger::create(Order o) {
  changes_.orders[o.id] = std::nullopt;
  return add(std::move(o));
}

Trade& Ledger::create_trade(Trade t) {
  changes_.trades[t.id] = std::nullopt;
  return put_trade(std::move(t));
}

void Ledger::set_max_ids(TradeId trade, OrderId order) {
  max_trade_id_ = trade;
  max_order_id_ = order;
}

Ledger::Changes Ledger::undo_input() {
  Changes undone = std::move(changes_);
  changes_ = Changes{};
  for (const auto& [id, before] : undone.orders) undo(id, before);
  for (const auto& [id, before] : undone.trades) {
    if (before) put_trade(*before); else erase_trade(id);
  }
  for (const auto& [symbol, before] : undone.positions) {
    if (before) set_position(*before); else erase_position(symbol);
  }
  max_trade_id_ = undone.max_trade_id;
  max_order_id_ = undone.max_order_id;
  return undone;
}

Order* Ledger::order(OrderId id) {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : it->second;
}

const Order* Ledger::order(OrderId id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : it->second;
}

std::optional<OrderId> Ledger::by_client_id(std::string_view cid) const {
  auto it = by_cid_.find(std::string(cid));
  if (it == by_cid_.end()) return std::nullopt;
  return it->second;
}

std::optional<OrderId> Ledger::by_broker_id(std::string_view bid) const {
  auto it = by_bid_.find(std::string(bid));
  if (it == by_bid_.end()) return std::nullopt;
  return it->second;
}

const std::vector<OrderId>& Ledger::of_symbol(const std::string& symbol) const {
  auto it = by_symbol_.find(symbol);
  return it == by_symbol_.end() ? kNoOrders : it->second;
}

const std::vector<OrderId>& Ledger::of_trade(TradeId id) const {
  auto it = by_trade_.find(id);
  return it == by_trade_.end() ? kNoOrders : it->second;
}

Order& Ledger::add(Order o) {
  const OrderId id = o.id;
  by_cid_[o.client_order_id] = id;
  if (o.broker_order_id) by_bid_[*o.broker_order_id] = id;
  std::vector<OrderId>& of_symbol = by_symbol_[o.symbol];
  // New orders take the next id: the sorted insert is an append but for a restored one.
  of_symbol.insert(std::upper_bound(of_symbol.begin(), of_symbol.end(), id), id);
  by_trade_[o.trade_id].push_back(id);
  Order& slot = orders_.emplace(id, std::move(o)).first->second;
  index_[id] = &slot;
  return slot;
}

void Ledger::index_broker_id(OrderId id) {
  const Order& o = order_at(id);
  if (o.broker_order_id) by_bid_[*o.broker_order_id] = id;
}

void Ledger::undo(OrderId id, const std::optional<Order>& before) {
  auto it = orders_.find(id);
  if (it != orders_.end()) {
    by_cid_.erase(it->second.client_order_id);
    if (it->second.broker_order_id) by_bid_.erase(*it->second.broker_order_id);
  }
  if (before) {
    Order& slot = orders_[id];
    slot = *before;
    index_[id] = &slot;
    by_cid_[before->client_order_id] = id;
    if (before->broker_order_id) by_bid_[*before->broker_order_id] = id;
  } else if (it != orders_.end()) {
    remove(id);
  }
}

void Ledger::remove(OrderId id) {
  auto it = orders_.find(id);
  if (it == orders_.end()) return;
  unindex(it->second, id);
  index_.erase(id);
  orders_.erase(it);
}

void Ledger::unindex(const Order& o, OrderId id) {
  if (auto c = by_cid_.find(o.client_order_id); c != by_cid_.end() && c->second == id) {
    by_cid_.erase(c);
  }
  if (o.broker_order_id) {
    if (auto b = by_bid_.find(*o.broker_order_id); b != by_bid_.end() && b->second == id) {
      by_bid_.erase(b);
    }
  }
  if (auto s = by_symbol_.find(o.symbol); s != by_symbol_.end()) {
    auto& v = s->second;
    v.erase(std::remove(v.begin(), v.end(), id), v.end());
    if (v.empty()) by_symbol_.erase(s);
  }
  if (auto t = by_trade_.find(o.trade_id); t != by_trade_.end()) {
    auto& v = t->second;
    v.erase(std::remove(v.begin(), v.end(), id), v.end());
    if (v.empty()) by_trade_.erase(t);
  }
}

Trade* Ledger::trade(TradeId id) {
  auto it = trade_index_.find(id);
  return it == trade_index_.end() ? nullptr : it->second;
}

const Trade* Ledger::trade(TradeId id) const {
  auto it = trade_index_.find(id);
  return it == trade_index_.end() ? nullptr : it->second;
}

Trade& Ledger::put_trade(Trade t) {
  const TradeId id = t.id;
  Trade& slot = trades_[id];
  slot = std::move(t);
  trade_index_[id] = &slot;
  return slot;
}

void Ledger::erase_trade(TradeId id) {
  trade_index_.erase(id);
  trades_.erase(id);
}

const Position* Ledger::position(const std::string& symbol) const {
  auto it = positions_.find(symbol);
  return it == positions_.end() ? nullptr : &it->second;
}

Decimal Ledger::position_qty(const std::string& symbol) const {
  const Position* p = position(symbol);
  return p == nullptr ? Decimal() : p->qty;
}

Position& Ledger::position_slot(const std::string& symbol) {
  auto it = positions_.find(symbol);
  if (it == positions_.end()) it = positions_.emplace(symbol, Position{symbol, {}, {}}).first;
  return it->second;
}

}  // namespace orderly
