// The ledger's promise (issue 21): an order is found by every key from when it is added until it
// is removed, and by none after; an input's undo puts back exactly what was there before it.
#include "engine/ledger.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

Order order(OrderId id, TradeId trade, std::string symbol, std::optional<std::string> bid = {}) {
  Order o;
  o.id = id;
  o.trade_id = trade;
  o.symbol = std::move(symbol);
  o.client_order_id = "cid-" + std::to_string(id);
  o.broker_order_id = std::move(bid);
  o.qty = Decimal::from_int(10);
  return o;
}

TEST(Ledger, AnAddedOrderIsFoundByEveryKeyAndARemovedOneByNone) {
  Ledger l;
  l.add(order(5, 1, "F", "b-5"));
  l.add(order(7, 1, "F"));
  l.add(order(3, 2, "F"));  // restored from the store: an older id comes after
  ASSERT_NE(l.order(5), nullptr);
  EXPECT_EQ(l.by_client_id("cid-5"), 5);
  EXPECT_EQ(l.by_broker_id("b-5"), 5);
  EXPECT_EQ(l.of_symbol("F"), (std::vector<OrderId>{3, 5, 7})) << "ascending ids";
  EXPECT_EQ(l.of_trade(1), (std::vector<OrderId>{5, 7}));

  l.remove(5);
  EXPECT_FALSE(l.holds(5));
  EXPECT_EQ(l.order(5), nullptr);
  EXPECT_FALSE(l.by_client_id("cid-5"));
  EXPECT_FALSE(l.by_broker_id("b-5"));
  EXPECT_EQ(l.of_symbol("F"), (std::vector<OrderId>{3, 7}));
  EXPECT_EQ(l.of_trade(1), (std::vector<OrderId>{7}));
  l.remove(7);
  l.remove(3);
  EXPECT_TRUE(l.of_symbol("F").empty());
  EXPECT_TRUE(l.of_trade(1).empty());
  EXPECT_TRUE(l.orders().empty());
  EXPECT_THROW(l.order_at(7), std::out_of_range) << "an id not held is never a silent default";
}

TEST(Ledger, ABrokerIdIsFoundOnceIndexed) {
  Ledger l;
  l.add(order(1, 1, "F"));
  EXPECT_FALSE(l.by_broker_id("b-1"));
  l.order_at(1).broker_order_id = "b-1";
  l.index_broker_id(1);
  EXPECT_EQ(l.by_broker_id("b-1"), 1);
}

TEST(Ledger, UndoPutsBackTheOrderAsItWasWithItsKeys) {
  Ledger l;
  l.add(order(1, 1, "F"));
  const Order before = l.order_at(1);
  Order& o = l.order_at(1);  // the input learns the broker id and a fill
  o.broker_order_id = "b-1";
  o.filled_qty = Decimal::from_int(4);
  l.index_broker_id(1);
  l.undo(1, before);
  EXPECT_FALSE(l.by_broker_id("b-1")) << "what the input learned goes with it";
  EXPECT_EQ(l.by_client_id("cid-1"), 1);
  EXPECT_TRUE(l.order_at(1).filled_qty.is_zero());
  EXPECT_EQ(l.of_trade(1), (std::vector<OrderId>{1}));
  EXPECT_EQ(l.of_symbol("F"), (std::vector<OrderId>{1}));
}

TEST(Ledger, UndoOfAnAddedOrderDropsItAndLeavesTheOthers) {
  Ledger l;
  l.add(order(1, 1, "F", "b-1"));
  l.add(order(2, 1, "F", "b-2"));
  l.undo(2, std::nullopt);
  EXPECT_FALSE(l.holds(2));
  EXPECT_FALSE(l.by_broker_id("b-2"));
  EXPECT_FALSE(l.by_client_id("cid-2"));
  EXPECT_EQ(l.of_trade(1), (std::vector<OrderId>{1}));
  EXPECT_EQ(l.of_symbol("F"), (std::vector<OrderId>{1}));
  EXPECT_EQ(l.by_broker_id("b-1"), 1);
}

TEST(Ledger, TradesAndPositions) {
  Ledger l;
  Trade t;
  t.id = 4;
  t.spec.symbol = "F";
  l.put_trade(t);
  ASSERT_NE(l.trade(4), nullptr);
  EXPECT_EQ(l.trade_at(4).spec.symbol, "F");
  l.erase_trade(4);
  EXPECT_EQ(l.trade(4), nullptr);
  EXPECT_THROW(l.trade_at(4), std::out_of_range);

  EXPECT_TRUE(l.position_qty("F").is_zero()) << "no position: flat";
  EXPECT_EQ(l.position("F"), nullptr);
  l.position_slot("F").qty = Decimal::must("2.5");
  EXPECT_EQ(l.position_qty("F"), Decimal::must("2.5"));
  l.erase_position("F");
  EXPECT_EQ(l.position("F"), nullptr);
}

TEST(LedgerInput, UndoPutsBackEveryChangeOfTheInputAndTheIdCounters) {
  Ledger l;
  l.set_max_ids(4, 9);
  l.add(order(9, 4, "F"));
  Trade t;
  t.id = 4;
  l.put_trade(t);
  l.position_slot("F").qty = Decimal::from_int(10);

  l.begin_input();
  l.change_order(9).filled_qty = Decimal::from_int(3);
  l.change_order(9).filled_qty = Decimal::from_int(5);  // logged once: as before the input
  l.change_trade(4).state = TradeState::closed;
  l.change_position("F").qty = Decimal::from_int(5);
  l.change_position("G").qty = Decimal::from_int(1);  // made by the input
  Order made = order(l.next_order_id(), 4, "F");
  l.create(made);
  Trade other;
  other.id = l.next_trade_id();
  l.create_trade(other);
  EXPECT_EQ(l.changes().orders.size(), 2u);
  EXPECT_FALSE(l.changes().orders.at(10).has_value()) << "made by the input";

  const Ledger::Changes undone = l.undo_input();
  EXPECT_EQ(undone.orders.size(), 2u);
  EXPECT_TRUE(l.order_at(9).filled_qty.is_zero());
  EXPECT_FALSE(l.holds(10));
  EXPECT_FALSE(l.by_client_id("cid-10"));
  EXPECT_EQ(l.trade_at(4).state, TradeState::pending);
  EXPECT_EQ(l.trade(5), nullptr);
  EXPECT_EQ(l.position_qty("F"), Decimal::from_int(10));
  EXPECT_EQ(l.position("G"), nullptr);
  EXPECT_EQ(l.next_order_id(), 10) << "the ids the undone input took are taken again";
  EXPECT_EQ(l.next_trade_id(), 5);
  EXPECT_TRUE(l.changes().orders.empty());
}

// ---- A fill, applied --------------------------------------------------------------------------

Decimal sum_qty(const std::vector<Fill>& rows) {
  Decimal total;
  for (const Fill& f : rows) total += f.qty;
  return total;
}

TEST(LedgerFill, AnExecutionThatAccountsForTheWholeIncreaseIsTheOneRow) {
  Order o = order(1, 1, "F", "b-1");
  o.side = Side::sell;
  o.filled_qty = Decimal::from_int(4);
  o.filled_avg_price = Decimal::must("12.50");
  Fill exec{"exec-1", 99, "OTHER", Side::buy, Decimal::from_int(4), Decimal::must("12.50"), {}};
  const auto rows = fill_rows(o, Decimal(), std::nullopt, &exec, Timestamp{});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].execution_id, "exec-1");
  EXPECT_EQ(rows[0].order_id, 1) << "the local order's identity, whatever the evidence carried";
  EXPECT_EQ(rows[0].symbol, "F");
  EXPECT_EQ(rows[0].side, Side::sell);
}

TEST(LedgerFill, AFillSeenInAnOrderReadGetsADerivedRowAtTheIncreasesOwnPrice) {
  // 6 filled at 10 before; now 10 filled at an average of 11: the 4 more came at 12.5.
  Order o = order(1, 1, "F", "b-1");
  o.filled_qty = Decimal::from_int(10);
  o.filled_avg_price = Decimal::must("11");
  const auto rows =
      fill_rows(o, Decimal::from_int(6), Decimal::must("10"), nullptr, Timestamp{});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].execution_id, "derived:b-1:10") << "names the order and its cumulative qty";
  EXPECT_EQ(rows[0].qty, Decimal::from_int(4));
  EXPECT_EQ(rows[0].price, Decimal::must("12.5"));
}

TEST(LedgerFill, AnExecutionThatExplainsPartOfAJumpLeavesTheRestDerived) {
  Order o = order(1, 1, "F");
  o.filled_qty = Decimal::from_int(10);
  o.filled_avg_price = Decimal::must("10");
  Fill exec{"exec-1", 1, "F", Side::buy, Decimal::from_int(3), Decimal::must("10"), {}};
  const auto rows = fill_rows(o, Decimal(), std::nullopt, &exec, Timestamp{});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(sum_qty(rows), o.filled_qty) << "DST I8: the rows sum to the filled qty";
  EXPECT_EQ(rows[1].execution_id, "derived:cid-1:10") << "no broker id yet: the client id";
  EXPECT_EQ(rows[1].price, Decimal::must("10"));
  // An execution beyond the increase is not this increase's: all of it is derived.
  Fill too_big = exec;
  too_big.qty = Decimal::from_int(11);
  const auto derived = fill_rows(o, Decimal(), std::nullopt, &too_big, Timestamp{});
  ASSERT_EQ(derived.size(), 1u);
  EXPECT_EQ(derived[0].qty, o.filled_qty);
}

TEST(LedgerFill, OurPositionMovesByWhatWeReceived) {
  Position p{"F", {}, {}};
  Order buy = order(1, 1, "F");
  buy.filled_avg_price = Decimal::must("12");
  add_fill_to_position(p, buy, Decimal::from_int(10));
  EXPECT_EQ(p.qty, Decimal::from_int(10));
  EXPECT_EQ(p.avg_entry_price, Decimal::must("12"));
  Order sell = order(2, 1, "F");
  sell.side = Side::sell;
  sell.filled_avg_price = Decimal::must("13");
  add_fill_to_position(p, sell, Decimal::from_int(4));
  EXPECT_EQ(p.qty, Decimal::from_int(6));
  EXPECT_EQ(p.avg_entry_price, Decimal::must("12")) << "a sell does not move the entry price";

  Position coins{"BTC/USD", {}, {}};
  Order crypto = order(3, 2, "BTC/USD");
  crypto.filled_avg_price = Decimal::must("60000");
  add_fill_to_position(coins, crypto, Decimal::must("0.1"));
  EXPECT_EQ(coins.qty, Decimal::must("0.09975")) << "the fee is taken from the coins received";
}

}  // namespace
}  // namespace orderly
