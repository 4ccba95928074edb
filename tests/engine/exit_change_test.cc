// What a change of a trade's exits becomes (issue 21: Modify's functional core), planned over a
// hand-built ledger. No engine, no broker.
#include "engine/exit_change.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <unordered_map>

#include "ledger_builder.h"

namespace orderly {
namespace {

const auto d = test::dec;

// A filled buy of 9 IWM at 220 with an OCO: take-profit 230, stop 210, both at the broker.
class ExitChangeTest : public ::testing::Test {
 protected:
  ExitChangeTest() {
    Trade t = test::buy_trade(1, "IWM", "9");
    t.spec.take_profit.price = d("230");
    t.spec.stop_loss = PriceTarget{.price = d("210")};
    t.state = TradeState::open;
    ledger_.put_trade(t);
    add(1, OrderRole::entry, OrderType::market, OrderState::filled).filled_avg_price = d("220");
    tp_ = add(1, OrderRole::take_profit, OrderType::limit, OrderState::new_).id;
    ledger_.order(tp_)->limit_price = d("230");
    Order& stop = add(1, OrderRole::stop_loss, OrderType::stop, OrderState::held);
    stop.stop_price = d("210");
    stop.parent_order_id = tp_;
    stop_ = stop.id;
  }

  Order& add(TradeId trade, OrderRole role, OrderType type, OrderState state) {
    return ledger_.add(test::order(++next_id_, trade, "IWM", role, type, state, "9"));
  }
  static ExitChange stop_at(const char* price) {
    ExitChange c;
    c.stop_loss = PriceTarget{.price = d(price)};
    return c;
  }

  Ledger ledger_;
  std::unordered_map<OrderId, OrderAux> aux_;
  PositionsRead positions_;
  std::set<OrderId> wash_priced_;
  ExitChangePlanner planner_{{ledger_, aux_, positions_, wash_priced_}};
  OrderId tp_ = 0, stop_ = 0;
  OrderId next_id_ = 0;
};

// A stop moved at the broker is one replace of that leg, at the new price; the take-profit
// stays as it is. Moved where Alpaca replaces nothing (an order not routed yet), or removed,
// the exits are placed again instead, and the plan says why.
TEST_F(ExitChangeTest, AMovedStopIsReplacedUnlessNoReplaceCanGetThere) {
  StatusOr<ExitChangePlanner::Plan> moved = planner_.plan(1, stop_at("215"));
  ASSERT_TRUE(moved.ok()) << moved.status().message();
  ASSERT_EQ(moved.value().moves.size(), 1u);
  EXPECT_EQ(moved.value().moves[0].id, stop_);
  EXPECT_EQ(moved.value().moves[0].want.stop_price, d("215"));
  EXPECT_EQ(moved.value().reshape, "");
  EXPECT_EQ(describe_exits(moved.value().next), "take-profit 230, stop 215");

  ExitChange no_tp;
  no_tp.remove_take_profit = true;
  StatusOr<ExitChangePlanner::Plan> removed = planner_.plan(1, no_tp);
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_EQ(removed.value().reshape, "the take-profit is removed");

  ledger_.order(tp_)->state = OrderState::accepted;
  ExitChange higher_tp;
  higher_tp.take_profit = PriceTarget{.price = d("235")};
  StatusOr<ExitChangePlanner::Plan> unrouted = planner_.plan(1, higher_tp);
  ASSERT_TRUE(unrouted.ok()) << unrouted.status().message();
  EXPECT_EQ(unrouted.value().reshape, "Alpaca replaces no order it has not routed yet (accepted)");
}

// Refused, with the reason the trader needs: no such trade; exits on their way to the broker
// (ask again); a held position's stop above the market's last price (it would sell at once).
TEST_F(ExitChangeTest, AChangeIsRefusedWithItsReason) {
  EXPECT_EQ(planner_.plan(7, stop_at("215")).status().code(), Status::Code::not_found);

  aux_[stop_].cancel_sent = true;
  StatusOr<ExitChangePlanner::Plan> busy = planner_.plan(1, stop_at("215"));
  EXPECT_EQ(busy.status().code(), Status::Code::conflict);
  EXPECT_NE(busy.status().message().find("ask again in a moment"), std::string::npos)
      << busy.status().message();
  aux_[stop_].cancel_sent = false;

  positions_.ask(1, Timestamp::from_ms(1'000));
  positions_.answered(1, {BrokerPosition{"IWM", d("9"), d("0"), d("220"), d("214")}},
                      Timestamp::from_ms(1'100));
  StatusOr<ExitChangePlanner::Plan> crossed = planner_.plan(1, stop_at("215"));
  EXPECT_EQ(crossed.status().code(), Status::Code::invalid_argument);
  EXPECT_EQ(crossed.status().message(),
            "stop_loss 215 must be below the market 214 for a long position (a stop already "
            "crossed would sell at once)");
}

// Removing the take-profit leaves a simple stop, which Alpaca's wash-trade check refuses while
// another order of ours on the other side works on the symbol: refused rather than leaving the
// position with no exit the broker takes (DST extended seed 9800000000015).
TEST_F(ExitChangeTest, ALoneStopTheWashTradeCheckWouldRefuseIsRefused) {
  Trade other = test::buy_trade(2, "IWM", "5");
  ledger_.put_trade(other);
  Order& buy = add(2, OrderRole::entry, OrderType::limit, OrderState::new_);
  buy.limit_price = d("200");
  ExitChange no_tp;
  no_tp.remove_take_profit = true;
  StatusOr<ExitChangePlanner::Plan> p = planner_.plan(1, no_tp);
  EXPECT_EQ(p.status().code(), Status::Code::conflict);
  EXPECT_NE(p.status().message().find("wash-trade check refuses while our buy order c-4"),
            std::string::npos)
      << p.status().message();
}

}  // namespace
}  // namespace orderly
