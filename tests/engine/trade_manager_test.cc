// The trade manager's functional core (issue 21): from a trade's orders in the ledger, the
// intents it returns. No engine, no broker: a ledger and the decision.
#include "engine/trade_manager.h"

#include <gtest/gtest.h>

#include "core/ids.h"
#include "ledger_builder.h"

namespace orderly {
namespace {

constexpr std::string_view kOwner = "acct00inst";

const auto d = test::dec;

class TradeManagerTest : public ::testing::Test {
 protected:
  TradeManagerTest() {
    Trade t = test::buy_trade(1, "AAPL", "10");
    t.spec.take_profit.price = d("110");
    t.spec.stop_loss = PriceTarget{};
    t.spec.stop_loss->price = d("90");
    ledger_.put_trade(t);
  }

  // An order of trade 1, state and fills as given; `generation` names it in its client id.
  Order& add(OrderRole role, OrderState state, const char* qty, const char* filled = "0",
             int generation = 0) {
    Order o;
    o.id = ++next_id_;
    o.trade_id = 1;
    o.symbol = "AAPL";
    o.role = role;
    o.side = role == OrderRole::entry ? Side::buy : Side::sell;
    o.state = state;
    o.qty = d(qty);
    o.filled_qty = d(filled);
    o.client_order_id = make_client_order_id(kOwner, 1, role, generation);
    if (state != OrderState::created) o.broker_order_id = "b-" + std::to_string(o.id);
    o.created_at = Timestamp::from_ms(1'000 * next_id_);
    return ledger_.add(o);
  }
  Trade& trade() { return ledger_.trade_at(1); }
  TradeView view() const { return view_of(ledger_, 1); }

  Ledger ledger_;
  OrderId next_id_ = 0;
};

TEST_F(TradeManagerTest, ATradeOpensWhenItsEntryFillsAndClosesWhenItsExitsSoldAll) {
  const Order& entry = add(OrderRole::entry, OrderState::partially_filled, "10", "4");
  Settlement s = settle(trade(), view(), ledger_, d("4"));
  EXPECT_EQ(s.state, TradeState::open);
  EXPECT_EQ(s.note, "entry filled 4");
  EXPECT_FALSE(s.ended);

  ledger_.order_at(entry.id).state = OrderState::filled;
  ledger_.order_at(entry.id).filled_qty = d("10");
  trade().state = TradeState::open;
  Order& tp = add(OrderRole::take_profit, OrderState::filled, "10", "10");
  Order& sl = add(OrderRole::stop_loss, OrderState::new_, "10");
  sl.parent_order_id = tp.id;
  s = settle(trade(), view(), ledger_, d("0"));
  EXPECT_FALSE(s.state) << "the OCO's stop still works: not closed before the broker ends it";
  EXPECT_FALSE(s.ended);

  sl.state = OrderState::canceled;
  s = settle(trade(), view(), ledger_, d("0"));
  EXPECT_EQ(s.state, TradeState::closed);
  EXPECT_EQ(s.note, "flat");
  EXPECT_TRUE(s.ended);
  EXPECT_FALSE(s.drop_unsent_exits);
}

TEST_F(TradeManagerTest, AnEntryEndedUnfilledEndsTheTradeWithTheBrokersReason) {
  Order& entry = add(OrderRole::entry, OrderState::rejected, "10");
  entry.last_error = "insufficient buying power";
  Settlement s = settle(trade(), view(), ledger_, d("0"));
  EXPECT_EQ(s.state, TradeState::failed);
  EXPECT_EQ(s.note, "entry rejected without a fill: insufficient buying power");
  EXPECT_TRUE(s.ended);
  EXPECT_TRUE(s.drop_unsent_exits);

  entry.state = OrderState::canceled;
  entry.last_error.clear();
  s = settle(trade(), view(), ledger_, d("0"));
  EXPECT_EQ(s.state, TradeState::canceled);
  EXPECT_EQ(s.note, "entry canceled without a fill");
}

TEST_F(TradeManagerTest, AnUnsentExitLargerThanWhatIsHeldIsDropped) {
  add(OrderRole::entry, OrderState::filled, "10", "10");
  const Order& big = add(OrderRole::take_profit, OrderState::created, "10");
  const Order& fits = add(OrderRole::take_profit, OrderState::created, "4", "0", 1);
  const auto none_outstanding = [](OrderId) { return false; };
  EXPECT_EQ(unfitting_exits(ledger_, view(), d("4"), none_outstanding),
            std::vector<OrderId>{big.id});
  EXPECT_EQ(unfitting_exits(ledger_, view(), d("0"), none_outstanding),
            (std::vector<OrderId>{big.id, fits.id}))
      << "nothing held: no exit is needed";
  const auto on_its_way = [&](OrderId id) { return id == big.id; };
  EXPECT_TRUE(unfitting_exits(ledger_, view(), d("0"), on_its_way) ==
              std::vector<OrderId>{fits.id})
      << "one whose send is on its way is the broker's to answer for";
}

TEST_F(TradeManagerTest, NoWorkingExitMeansPlaceOneAndAWorkingLegMeansWait) {
  add(OrderRole::entry, OrderState::filled, "10", "10");
  Order& tp = add(OrderRole::take_profit, OrderState::expired, "10");
  EXPECT_EQ(exit_need(ledger_, view(), d("10")).kind, ExitNeed::Kind::place)
      << "an exit that expired at the close is placed again (principle 9)";

  Order& leg = add(OrderRole::stop_loss, OrderState::new_, "10");
  leg.parent_order_id = tp.id;
  EXPECT_EQ(exit_need(ledger_, view(), d("10")).kind, ExitNeed::Kind::leg_covers);

  tp.state = OrderState::new_;
  const ExitNeed need = exit_need(ledger_, view(), d("10"));
  EXPECT_EQ(need.kind, ExitNeed::Kind::covered);
  EXPECT_EQ(need.active, tp.id);
  EXPECT_EQ(need.covers, d("10"));
}

TEST_F(TradeManagerTest, AnExitCoveringOtherThanWhatIsHeldIsResizedOnceThenCanceled) {
  add(OrderRole::entry, OrderState::filled, "10", "10");
  Order& tp = add(OrderRole::take_profit, OrderState::new_, "6");
  ExitNeed need = exit_need(ledger_, view(), d("10"));
  EXPECT_EQ(need.kind, ExitNeed::Kind::resize);
  EXPECT_EQ(need.covers, d("6"));

  Order& grown = add(OrderRole::take_profit, OrderState::created, "10", "0", 1);
  grown.replaces_order_id = tp.id;
  EXPECT_EQ(exit_need(ledger_, view(), d("10")).kind, ExitNeed::Kind::covered)
      << "a replacement on its way: nothing more until it is answered";
  grown.state = OrderState::rejected;
  EXPECT_EQ(exit_need(ledger_, view(), d("10")).kind, ExitNeed::Kind::cancel_to_replace)
      << "one replace attempt per exit, never a loop of them";

  grown.state = OrderState::canceled;
  grown.replaces_order_id.reset();
  tp.filled_qty = d("2");
  tp.state = OrderState::partially_filled;
  EXPECT_EQ(exit_need(ledger_, view(), d("10")).kind, ExitNeed::Kind::cancel_to_replace)
      << "a replace of a partly filled order re-uses its original qty at Alpaca (#165)";
  tp.filled_qty = d("0");
  tp.state = OrderState::new_;
  EXPECT_EQ(exit_need(ledger_, view(), d("6.5")).kind, ExitNeed::Kind::cancel_to_replace)
      << "Alpaca changes no fractional qty by replace";
  tp.state = OrderState::pending_cancel;
  EXPECT_EQ(exit_need(ledger_, view(), d("10")).kind, ExitNeed::Kind::covered);
}

TEST_F(TradeManagerTest, ExitsTheBrokerEndsAsFastAsPlacedHitTheCapOursDoNot) {
  add(OrderRole::entry, OrderState::filled, "10", "10");
  std::vector<OrderId> exits;
  for (int g = 0; g < 5; ++g) {
    exits.push_back(add(OrderRole::take_profit, OrderState::canceled, "10", "0", g).id);
  }
  const Timestamp now = Timestamp::from_ms(30'000);
  const auto none_ours = [](OrderId) { return false; };
  PlacementGate gate = placement_gate(ledger_, view(), now, 5, none_ours);
  EXPECT_EQ(gate.kind, PlacementGate::Kind::capped);
  EXPECT_EQ(gate.recent, 5);
  EXPECT_EQ(gate.cap_ends, Timestamp::from_ms(2'000 + 60'000))
      << "stepped again when the oldest of them (made at 2 s) leaves the minute";

  const auto first_ours = [&](OrderId id) { return id == exits[0]; };
  EXPECT_EQ(placement_gate(ledger_, view(), now, 5, first_ours).kind,
            PlacementGate::Kind::place)
      << "an exit we canceled ourselves is not the broker ending it";
  EXPECT_EQ(placement_gate(ledger_, view(), Timestamp::from_ms(62'001), 5, none_ours).kind,
            PlacementGate::Kind::place);

  ledger_.order_at(exits[4]).state = OrderState::parked;
  EXPECT_EQ(placement_gate(ledger_, view(), now, 5, none_ours).kind,
            PlacementGate::Kind::refused_for_good)
      << "an exit refused for good is a person's to look at, not replaced";
}

TEST_F(TradeManagerTest, AClosingTradeCancelsWhatWorksThenFlattensWhatIsHeld) {
  add(OrderRole::entry, OrderState::filled, "10", "10");
  Order& tp = add(OrderRole::take_profit, OrderState::new_, "10");
  Order& leg = add(OrderRole::stop_loss, OrderState::new_, "10");
  leg.parent_order_id = tp.id;
  ClosingPlan plan = closing_plan(ledger_, view(), d("10"));
  ASSERT_EQ(plan.steps.size(), 1u) << "the OCO's leg goes with its parent";
  EXPECT_EQ(plan.steps[0].id, tp.id);
  EXPECT_EQ(plan.steps[0].kind, ClosingStep::Kind::cancel);
  EXPECT_TRUE(plan.waiting);
  EXPECT_FALSE(plan.flatten) << "not while an exit may still sell";

  tp.state = OrderState::canceled;
  leg.state = OrderState::canceled;
  plan = closing_plan(ledger_, view(), d("10"));
  EXPECT_TRUE(plan.steps.empty());
  EXPECT_TRUE(plan.flatten);
  EXPECT_TRUE(closing_plan(ledger_, view(), d("0")).steps.empty());
  EXPECT_FALSE(closing_plan(ledger_, view(), d("0")).flatten) << "nothing held: nothing to sell";

  Order& flatten = add(OrderRole::exit, OrderState::submit_failed, "10");
  EXPECT_FALSE(closing_plan(ledger_, view(), d("10")).flatten)
      << "a flatten refused for good is not sent again: the alert asks a person";
  flatten.state = OrderState::new_;
  EXPECT_FALSE(closing_plan(ledger_, view(), d("10")).flatten) << "one under way";
}

TEST_F(TradeManagerTest, AClosingTradeEndsItsUnsentOrdersHereWithTheirLegs) {
  const Order& entry = add(OrderRole::entry, OrderState::created, "10");
  const Order& tp = add(OrderRole::take_profit, OrderState::created, "10");
  Order& leg = add(OrderRole::stop_loss, OrderState::created, "10");
  leg.parent_order_id = tp.id;
  const ClosingPlan plan = closing_plan(ledger_, view(), d("0"));
  ASSERT_EQ(plan.steps.size(), 3u);
  EXPECT_EQ(plan.steps[0].id, entry.id);
  EXPECT_EQ(plan.steps[1].id, tp.id);
  EXPECT_EQ(plan.steps[2].id, leg.id) << "the leg of an unsent OCO is ours to end (DST seed 26)";
  for (const ClosingStep& s : plan.steps) EXPECT_EQ(s.kind, ClosingStep::Kind::drop_unsent);
  EXPECT_FALSE(plan.waiting);
}

TEST_F(TradeManagerTest, TheNextExitIsNamedAfterTheLastOfItsKind) {
  add(OrderRole::entry, OrderState::filled, "10", "10");
  EXPECT_EQ(next_generation(ledger_, view(), false), 0);
  add(OrderRole::take_profit, OrderState::expired, "10", "0", 3);
  EXPECT_EQ(next_generation(ledger_, view(), false), 4);
  EXPECT_EQ(next_generation(ledger_, view(), true), 0) << "a flatten counts its own";
}

}  // namespace
}  // namespace orderly
