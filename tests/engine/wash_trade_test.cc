// Alpaca's wash-trade check (alpaca-api.md §5) against our own orders: one trade's market
// flatten or lone take-profit would cross another trade's entry resting on the other side of the
// same symbol. orderly prices the exit one tick past those orders instead of collecting
// refusals, and prices it again when they go.

#include <gtest/gtest.h>

#include <optional>
#include <utility>

#include "sim_world.h"

namespace orderly::testing {
namespace {

TradeSpec market_entry(const char* symbol, int qty) {
  TradeSpec spec;
  spec.symbol = symbol;
  spec.qty = Decimal::from_int(qty);
  spec.entry_type = OrderType::market;
  spec.tif = TimeInForce::day;
  spec.exits = ExitMode::emulated;
  return spec;
}

TradeSpec held_with_oco_exits(const char* symbol, int qty) {
  TradeSpec spec = market_entry(symbol, qty);
  spec.take_profit.price = Decimal::must("11.00");
  spec.stop_loss = PriceTarget{.price = Decimal::must("9.00")};
  return spec;
}

TradeSpec resting_buy(const char* symbol, int qty, const char* limit) {
  TradeSpec spec = market_entry(symbol, qty);
  spec.entry_type = OrderType::limit;
  spec.entry_limit_price = Decimal::must(limit);
  spec.take_profit.price = Decimal::must("12.00");
  spec.stop_loss = PriceTarget{.price = Decimal::must("9.00")};
  return spec;
}

std::optional<Order> find_role(SimWorld& w, TradeId trade, OrderRole role) {
  for (const Order& o : w.rt->engine().orders()) {
    if (o.trade_id == trade && o.role == role) return o;
  }
  return std::nullopt;
}

TradeState trade_state(SimWorld& w, TradeId id) {
  auto t = w.store->get_trade(id);
  EXPECT_TRUE(t.ok() && t->has_value());
  return t.ok() && t->has_value() ? (*t)->state : TradeState::failed;
}

// Trade `held` owns 10 F with OCO exits; trade `resting` has a buy limit at 9.50 resting on the
// other side of the same symbol (the market is at 10.00).
std::pair<TradeId, TradeId> hold_f_beside_a_resting_buy(SimWorld& w) {
  w.set_price("F", "10.00");
  w.start();
  auto held = w.rt->open_trade(held_with_oco_exits("F", 10));
  auto resting = w.rt->open_trade(resting_buy("F", 5, "9.50"));
  EXPECT_TRUE(held.ok() && resting.ok());
  w.run(3'000);
  EXPECT_EQ(trade_state(w, held->id), TradeState::open);
  return {held->id, resting->id};
}

TEST(WashTrade, FlattenStepsPastOurRestingEntryAndFillsAtTheMarket) {
  SimWorld w(7);
  const auto [held, resting] = hold_f_beside_a_resting_buy(w);

  ASSERT_TRUE(w.rt->cancel_trade(held).ok());
  w.run(3'000);

  EXPECT_EQ(trade_state(w, held), TradeState::closed);
  const std::optional<Order> flatten = find_role(w, held, OrderRole::exit);
  ASSERT_TRUE(flatten);
  EXPECT_EQ(flatten->type, OrderType::limit);
  EXPECT_EQ(flatten->limit_price, Decimal::must("9.51")) << "one tick past our buy at 9.50";
  EXPECT_EQ(flatten->state, OrderState::filled);
  EXPECT_EQ(flatten->filled_avg_price, Decimal::must("10.00")) << "filled at the market";
  EXPECT_EQ(w.errors_with_code("40310000"), 0) << "priced past it before sending: no refusal";
  const std::optional<Order> other = find_role(w, resting, OrderRole::entry);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->state, OrderState::new_) << "the other trade's entry is left alone";
}

TEST(WashTrade, PricedFlattenGoesBackToMarketOnceOurEntryIsGone) {
  SimWorld w(8);
  const auto [held, resting] = hold_f_beside_a_resting_buy(w);
  // The flatten (priced 9.51, past our buy at 9.50) cannot be sent for now; meanwhile the
  // market falls through 9.50 and our buy fills. A limit at 9.51 would then rest above the
  // market for good.
  ASSERT_EQ(w.exchange->set_faults_json(
                R"({"rules":[{"on":"http","action":"status","p":1.0,"status":503,)"
                R"("route":"POST /v2/orders"}]})"),
            "");
  ASSERT_TRUE(w.rt->cancel_trade(held).ok());
  w.run(2'000);
  w.set_price("F", "9.40");
  w.run(2'000);
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  w.run(120'000);  // past the backoff of the refused attempts

  EXPECT_EQ(trade_state(w, held), TradeState::closed);
  const std::optional<Order> flatten = find_role(w, held, OrderRole::exit);
  ASSERT_TRUE(flatten);
  EXPECT_EQ(flatten->type, OrderType::market) << "back to market once nothing is in the way";
  EXPECT_EQ(flatten->state, OrderState::filled);
  EXPECT_EQ(flatten->filled_avg_price, Decimal::must("9.40"));
  EXPECT_EQ(w.errors_with_code("40310000"), 0);
}

TEST(WashTrade, LoneTakeProfitStepsPastOurRestingEntryNeverBelowItsOwnPrice) {
  SimWorld w(9);
  w.set_price("F", "10.00");
  w.start();
  auto b = w.rt->open_trade(resting_buy("F", 5, "9.50"));
  ASSERT_TRUE(b.ok());
  w.run(1'000);
  TradeSpec tp_only = market_entry("F", 10);
  tp_only.take_profit.price = Decimal::must("9.20");  // below our resting buy at 9.50
  auto a = w.rt->open_trade(tp_only);
  ASSERT_TRUE(a.ok());
  w.run(3'000);

  const std::optional<Order> tp = find_role(w, a->id, OrderRole::take_profit);
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->limit_price, Decimal::must("9.51"));
  EXPECT_EQ(tp->state, OrderState::filled);
  EXPECT_EQ(trade_state(w, a->id), TradeState::closed);
  EXPECT_EQ(w.errors_with_code("40310000"), 0);
}

}  // namespace
}  // namespace orderly::testing
