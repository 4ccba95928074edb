// Alpaca's wash-trade check (alpaca-api.md §5) against our own orders: one trade's market
// flatten, lone take-profit or lone stop would cross another trade's entry resting on the other
// side of the same symbol. orderly prices the exit one tick past those orders instead of
// collecting refusals, and prices it again when they go; a pair no price can pass is refused.

#include <gtest/gtest.h>

#include <optional>
#include <utility>
#include <vector>

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

// A buy stop entry at 10.50 over a market at 10.00 (a breakout), resting until it triggers.
TradeSpec breakout_buy(const char* symbol, int qty) {
  TradeSpec spec = held_with_oco_exits(symbol, qty);
  spec.entry_type = OrderType::stop;
  spec.entry_stop_price = Decimal::must("10.50");
  spec.take_profit.price = Decimal::must("11.50");
  spec.stop_loss = PriceTarget{.price = Decimal::must("10.00")};
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

// A started world holding 10 F (a market entry at 10.00 with OCO exits 11.00 / 9.00).
TradeId hold_ten_f(SimWorld& w) {
  w.set_price("F", "10.00");
  w.start();
  auto t = w.rt->open_trade(held_with_oco_exits("F", 10));
  EXPECT_TRUE(t.ok());
  w.run(3'000);
  return t.ok() ? t->id : 0;
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

// The last order of `role` the trade made (an exit placed again is a new order).
std::optional<Order> last_role(SimWorld& w, TradeId trade, OrderRole role) {
  std::optional<Order> last;
  for (const Order& o : w.rt->engine().orders()) {
    if (o.trade_id == trade && o.role == role && (!last || o.id > last->id)) last = o;
  }
  return last;
}

TradeSpec resting_buy_at_8_50(const char* symbol, int qty) {
  TradeSpec spec = resting_buy(symbol, qty, "8.50");
  spec.stop_loss = PriceTarget{.price = Decimal::must("8.00")};
  return spec;
}

TradeSpec stop_only(const char* symbol, int qty, const char* stop) {
  TradeSpec spec = market_entry(symbol, qty);
  spec.stop_loss = PriceTarget{.price = Decimal::must(stop)};
  return spec;
}

// A stop alone is refused beside any opposite order of the account, and a trade with no
// take-profit has no OCO to be exempt in: beside our buy limit resting at 8.50 the stop at 9.00
// goes as a stop_limit whose limit (8.51) passes it, and back as a plain stop once it is gone.
TEST(WashTrade, LoneStopStepsPastOurRestingEntryAsAStopLimit) {
  SimWorld w(10);
  w.set_price("F", "10.00");
  w.start();
  auto b = w.rt->open_trade(resting_buy_at_8_50("F", 5));
  ASSERT_TRUE(b.ok()) << b.status().message();
  w.run(1'000);
  auto a = w.rt->open_trade(stop_only("F", 10, "9.00"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  w.run(3'000);

  std::optional<Order> stop = last_role(w, a->id, OrderRole::stop_loss);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->type, OrderType::stop_limit);
  EXPECT_EQ(stop->stop_price, Decimal::must("9.00"));
  EXPECT_EQ(stop->limit_price, Decimal::must("8.51")) << "one tick past our buy at 8.50";
  EXPECT_EQ(stop->state, OrderState::new_) << "working at the broker";
  EXPECT_EQ(w.errors_with_code("40310000"), 0) << "priced past it before sending";

  ASSERT_TRUE(w.rt->cancel_entry(b->id).ok());
  w.run(3'000);
  stop = last_role(w, a->id, OrderRole::stop_loss);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->type, OrderType::stop) << "nothing of ours in the way: a plain stop again";
  EXPECT_FALSE(stop->limit_price);
  EXPECT_EQ(stop->state, OrderState::new_);
  EXPECT_EQ(trade_state(w, a->id), TradeState::open);
  EXPECT_EQ(w.errors_with_code("40310000"), 0);
}

// Our buy limit at 9.50 rests above the stop at 9.00: no stop_limit passes it, and the stop
// alone would be refused for as long as it rests. The second trade of such a pair is refused,
// whichever it is, and nothing is sent for it.
TEST(WashTrade, ALoneStopAndAnEntryRestingPastItAreNotBothOpened) {
  SimWorld w(11);
  w.set_price("F", "10.00");
  w.start();
  auto b = w.rt->open_trade(resting_buy("F", 5, "9.50"));
  ASSERT_TRUE(b.ok());
  w.run(1'000);
  auto a = w.rt->open_trade(stop_only("F", 10, "9.00"));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Status::Code::conflict);
  EXPECT_NE(a.status().message().find("wash-trade check"), std::string::npos)
      << a.status().message();

  ASSERT_TRUE(w.rt->cancel_entry(b->id).ok());
  w.run(2'000);
  a = w.rt->open_trade(stop_only("F", 10, "9.00"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  w.run(3'000);
  auto c = w.rt->open_trade(resting_buy("F", 5, "9.50"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Status::Code::conflict);
  TradeSpec stop_entry = resting_buy("F", 5, "9.50");
  stop_entry.entry_type = OrderType::stop;
  stop_entry.entry_limit_price.reset();
  stop_entry.entry_stop_price = Decimal::must("10.50");
  stop_entry.stop_loss = PriceTarget{.price = Decimal::must("10.00")};
  EXPECT_FALSE(w.rt->open_trade(stop_entry).ok()) << "no price passes a stop entry";
  EXPECT_TRUE(w.rt->open_trade(resting_buy_at_8_50("F", 5)).ok()) << "a limit short of it";
  EXPECT_EQ(w.errors_with_code("40310000"), 0);
}

// A stop given as a percentage is priced from the fill, which nothing before it bounds: a limit
// fills at its price or better, anywhere below. Until its entry has filled, such a lone stop is
// unknown, and any entry of ours it could meet is refused beside it (DST trades seeds
// 22100000002661, 22100000005647: judged from the entry's limit, the stop came in under
// another trade's buy limit once the fill did, and was refused by the broker to the end).
TEST(WashTrade, APercentLoneStopIsJudgedOnceItsEntryHasFilled) {
  SimWorld w(12);
  w.set_price("F", "10.00");
  w.start();
  TradeSpec pct = resting_buy("F", 10, "9.80");
  pct.take_profit = PriceTarget{};
  pct.stop_loss = PriceTarget{.percent = Decimal::must("5")};
  auto a = w.rt->open_trade(pct);
  ASSERT_TRUE(a.ok()) << a.status().message();
  w.run(1'000);
  auto buy_at = [](const char* limit) {
    TradeSpec spec = resting_buy("F", 5, limit);
    spec.stop_loss = PriceTarget{.price = Decimal::must("8.00")};
    return spec;
  };
  // 9.00 is short of 9.31, the stop as the limit would price it, but not of every fill's.
  auto b = w.rt->open_trade(buy_at("9.00"));
  ASSERT_FALSE(b.ok()) << "the stop is not known before the fill";
  EXPECT_EQ(b.status().code(), Status::Code::conflict);

  w.set_price("F", "9.50");  // the limit fills: the stop is 5% under its fill
  w.run(3'000);
  std::optional<Order> stop = last_role(w, a->id, OrderRole::stop_loss);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->state, OrderState::new_);
  b = w.rt->open_trade(buy_at("9.00"));
  EXPECT_TRUE(b.ok()) << b.status().message() << ": short of the stop as filled";
  EXPECT_FALSE(w.rt->open_trade(buy_at("9.40")).ok()) << "past it";
  w.run(3'000);
  EXPECT_EQ(w.errors_with_code("40310000"), 0);
}

// Closing a trade sends a market order, which no price lets past our stop entry resting on the
// other side: the close is refused while it rests, and the position keeps its exits.
TEST(WashTrade, ACloseOurRestingStopEntryWouldBlockIsRefused) {
  SimWorld w(12);
  const TradeId a = hold_ten_f(w);
  ASSERT_NE(a, 0);
  auto b = w.rt->open_trade(breakout_buy("F", 5));
  ASSERT_TRUE(b.ok()) << b.status().message();
  w.run(3'000);

  const Status st = w.rt->cancel_trade(a);
  EXPECT_EQ(st.code(), Status::Code::conflict);
  EXPECT_NE(st.message().find("wash-trade check"), std::string::npos) << st.message();
  EXPECT_EQ(trade_state(w, a), TradeState::open);

  ASSERT_TRUE(w.rt->cancel_entry(b->id).ok());
  w.run(2'000);
  ASSERT_TRUE(w.rt->cancel_trade(a).ok());
  w.run(3'000);
  EXPECT_EQ(trade_state(w, a), TradeState::closed);
  EXPECT_EQ(w.errors_with_code("40310000"), 0);
}

// Closing a trade whose entry is at the broker may meet the same check: the entry fills before
// its cancel lands and the fill is flattened with a market order (DST trades seed
// 19000000000883: the flatten refused for good, the trade closing). While our stop entry rests
// the close is refused, the entry alone can be canceled, and a fill that beats it is protected.
TEST(WashTrade, ACloseWhoseEntryMayFillBesideOurRestingStopEntryIsRefused) {
  SimWorld w(13);
  w.set_price("F", "10.00");
  w.start();
  auto b = w.rt->open_trade(breakout_buy("F", 5));
  ASSERT_TRUE(b.ok()) << b.status().message();
  auto a = w.rt->open_trade(resting_buy("F", 10, "9.90"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  w.run(3'000);
  ASSERT_EQ(trade_state(w, a->id), TradeState::pending);

  // The market reaches a's entry at the broker before orderly hears of the fill.
  w.set_price("F", "9.85");
  const Status st = w.rt->cancel_trade(a->id);
  EXPECT_EQ(st.code(), Status::Code::conflict);
  EXPECT_NE(st.message().find("may fill"), std::string::npos) << st.message();
  ASSERT_TRUE(w.rt->cancel_entry(a->id).ok());
  w.run(5'000);

  EXPECT_EQ(trade_state(w, a->id), TradeState::open);
  const std::optional<Order> exit = find_role(w, a->id, OrderRole::take_profit);
  ASSERT_TRUE(exit);
  EXPECT_TRUE(is_open_at_broker(exit->state)) << to_string(exit->state);
  EXPECT_EQ(w.errors_with_code("40310000"), 0);
}

// A market entry beside our resting take-profit goes as a limit one tick under it, marketable
// while the take-profit rests. The market jumped past the take-profit before orderly heard it
// fill: the limit rested under the market (DST trades seed 11300000000868). Once the take-profit
// is gone the limit is canceled and the rest of the entry goes at the market.
TEST(WashTrade, AStandInLimitLeftUnderTheMarketIsSentAgainAtItsOwnPrice) {
  SimWorld w(14);
  const TradeId a = hold_ten_f(w);
  ASSERT_NE(a, 0);
  ASSERT_TRUE(find_role(w, a, OrderRole::take_profit));

  w.set_price("F", "11.50");  // a's take-profit fills at the broker; orderly has not heard yet
  TradeSpec scale_in = held_with_oco_exits("F", 5);
  scale_in.take_profit.price = Decimal::must("12.50");
  auto b = w.rt->open_trade(scale_in);
  ASSERT_TRUE(b.ok()) << b.status().message();
  w.run(10'000);

  EXPECT_EQ(trade_state(w, a), TradeState::closed);
  EXPECT_EQ(trade_state(w, b->id), TradeState::open);
  std::vector<Order> entries;
  for (const Order& o : w.rt->engine().orders()) {
    if (o.trade_id == b->id && o.role == OrderRole::entry) entries.push_back(o);
  }
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].type, OrderType::limit);
  EXPECT_EQ(entries[0].limit_price, Decimal::must("10.99"));
  EXPECT_EQ(entries[0].state, OrderState::canceled);
  EXPECT_EQ(entries[1].type, OrderType::market);
  EXPECT_EQ(entries[1].filled_qty, Decimal::must("5"));
  EXPECT_EQ(w.errors_with_code("40310000"), 0);
}

// A stand-in limit goes back to its trade's own price once our orders it stepped inside are
// gone: a stop alone beside it is judged against that price too (DST trades seed
// 20770000000824: the stop was opened short of the stand-in, refused to the end once the
// entry went back to its own price past it).
TEST(WashTrade, ALoneStopBesideAStandInIsJudgedAtTheStandInsOwnPrice) {
  SimWorld w(15);
  const TradeId a = hold_ten_f(w);
  ASSERT_NE(a, 0);
  w.set_price("F", "11.60");  // a's take-profit at 11.00 fills at the broker, unheard yet
  TradeSpec over = resting_buy("F", 5, "11.50");
  over.take_profit.price = Decimal::must("12.50");
  over.stop_loss = PriceTarget{.price = Decimal::must("10.50")};
  auto b = w.rt->open_trade(over);
  ASSERT_TRUE(b.ok()) << b.status().message();
  const std::optional<Order> stand_in = find_role(w, b->id, OrderRole::entry);
  ASSERT_TRUE(stand_in);
  ASSERT_EQ(stand_in->limit_price, Decimal::must("10.99")) << "inside our sell at 11.00";

  TradeSpec stop_only = market_entry("F", 5);
  stop_only.stop_loss = PriceTarget{.price = Decimal::must("11.20")};
  const auto c = w.rt->open_trade(stop_only);
  ASSERT_FALSE(c.ok()) << "the stop would meet b's entry once it is back at 11.50";
  EXPECT_EQ(c.status().code(), Status::Code::conflict) << c.status().message();
}

// A fractional position's exit is one simple order, which no price lets past our stop entry
// resting on the other side: such a trade is refused beside it, and a stop entry beside it.
TEST(WashTrade, SimpleExitsAndOurRestingStopEntryAreNotBothOpened) {
  SimWorld w(14);
  w.set_price("F", "10.00");
  w.start();
  auto b = w.rt->open_trade(breakout_buy("F", 5));
  ASSERT_TRUE(b.ok()) << b.status().message();
  w.run(2'000);
  TradeSpec fractional = held_with_oco_exits("F", 1);
  fractional.qty = Decimal::must("1.5");
  auto a = w.rt->open_trade(fractional);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Status::Code::conflict);

  ASSERT_TRUE(w.rt->cancel_entry(b->id).ok());
  w.run(2'000);
  a = w.rt->open_trade(fractional);
  ASSERT_TRUE(a.ok()) << a.status().message();
  w.run(2'000);
  EXPECT_EQ(w.rt->open_trade(breakout_buy("F", 5)).status().code(), Status::Code::conflict);
  EXPECT_EQ(w.errors_with_code("40310000"), 0);
}

// Crypto takes one exit at a time and no OCO. Our buy limit resting at 146 is past the stop's
// limit (145, 1% under: 143.55) and past the stop itself, so no stop_limit passes it: the
// take-profit covers the position, and stays while the stop could not be placed (it used to be
// canceled for the stop at every price read, the stop refused, and again).
TEST(WashTrade, CryptoTakeProfitStaysWhileOurRestingEntryBlocksTheStop) {
  SimWorld w(13);
  w.set_price("SOL/USD", "150.00");
  w.start();
  TradeSpec rest;
  rest.symbol = "SOL/USD";
  rest.qty = Decimal::must("2");
  rest.tif = TimeInForce::gtc;
  rest.entry_type = OrderType::limit;
  rest.entry_limit_price = Decimal::must("146.00");
  rest.take_profit.price = Decimal::must("160.00");
  rest.stop_loss = PriceTarget{.price = Decimal::must("140.00")};
  auto b = w.rt->open_trade(rest);
  ASSERT_TRUE(b.ok()) << b.status().message();
  w.run(1'000);
  TradeSpec held = rest;
  held.qty = Decimal::must("1");
  held.entry_type = OrderType::market;
  held.entry_limit_price.reset();
  held.take_profit.price = Decimal::must("155.00");
  held.stop_loss = PriceTarget{.price = Decimal::must("145.00")};
  auto a = w.rt->open_trade(held);
  ASSERT_TRUE(a.ok()) << a.status().message();
  w.run(30'000);  // several price reads

  int exits = 0;
  for (const Order& o : w.rt->engine().orders()) {
    if (o.trade_id == a->id && o.role != OrderRole::entry) ++exits;
  }
  const std::optional<Order> tp = last_role(w, a->id, OrderRole::take_profit);
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->state, OrderState::new_) << "working at the broker";
  EXPECT_EQ(exits, 1) << "one exit, never canceled for a stop that cannot be placed";
  EXPECT_EQ(w.errors_with_code("40310000"), 0);
}

}  // namespace
}  // namespace orderly::testing

namespace orderly::testing {
namespace {

bool exits_working(SimWorld& w, TradeId trade) {
  for (const Order& o : w.rt->engine().orders()) {
    if (o.trade_id == trade && o.role == OrderRole::take_profit && o.broker_order_id &&
        is_open_at_broker(o.state) && o.state != OrderState::pending_cancel) {
      return true;
    }
  }
  return false;
}

// An entry that meets another trade's flatten in Alpaca's wash-trade check waits for it with
// every exit of the symbol still working: the flatten fills or ends on its own, and canceling
// the exits meanwhile left positions naked for as long as it rested (DST trades seed
// 9800000001611: a flatten rested for minutes and every trade's exits on EPD stayed canceled).
TEST(WashTrade, EntryBehindOurFlattenWaitsWithTheExitsWorking) {
  SimWorld w(9);
  w.set_price("F", "10.00");
  w.start();
  TradeSpec kept = held_with_oco_exits("F", 10);
  kept.tif = TimeInForce::gtc;
  TradeSpec closing = held_with_oco_exits("F", 5);
  closing.tif = TimeInForce::gtc;
  auto k = w.rt->open_trade(kept);
  auto c = w.rt->open_trade(closing);
  ASSERT_TRUE(k.ok() && c.ok());
  w.run(3'000);
  ASSERT_TRUE(exits_working(w, k->id));
  // Closed: the flatten is queued at the broker (a market sell) until the next open.
  w.exchange->session(sim::SessionEvent::close);
  ASSERT_TRUE(w.rt->cancel_trade(c->id).ok());
  w.run(3'000);
  const std::optional<Order> flatten = find_role(w, c->id, OrderRole::exit);
  ASSERT_TRUE(flatten && flatten->broker_order_id);
  TradeSpec more = market_entry("F", 3);
  more.tif = TimeInForce::gtc;
  more.take_profit.price = Decimal::must("11.00");
  auto n = w.rt->open_trade(more);
  ASSERT_TRUE(n.ok());
  w.run(10'000);
  EXPECT_FALSE(find_role(w, n->id, OrderRole::entry)->broker_order_id) << "waits for it";
  EXPECT_TRUE(exits_working(w, k->id)) << "the other trade's exits stay at the broker";

  w.exchange->session(sim::SessionEvent::open);
  w.run(15'000);
  EXPECT_EQ(trade_state(w, c->id), TradeState::closed);
  EXPECT_EQ(trade_state(w, n->id), TradeState::open) << "sent once the flatten is done";
  EXPECT_TRUE(exits_working(w, k->id));
  EXPECT_TRUE(exits_working(w, n->id));
}

// Started; another client bought 3.3 F, and a positions read has shown it.
void another_client_holds_3_3_f(SimWorld& w) {
  w.set_price("F", "10.00");
  w.options.engine.reconcile_interval_ms = 2'000;
  w.start();
  const sim::HttpReply bought =
      w.exchange->handle({"POST", "/v2/orders", {},
                          R"({"symbol":"F","qty":"3.3","side":"buy","type":"market",)"
                          R"("time_in_force":"day"})"});
  ASSERT_LT(bought.status, 300) << bought.body;
  w.run(3'000);
}

// A fractional sell entry within a long is no short. Right after a fill of ours, the broker's
// last positions read may show a long that fill has sold: until the next read the sell is
// refused as unavailable, nothing sent; then it is judged on that read (DST trades seed
// 23700000030358: a stop-loss sold 3.3 INTC 0.2 s before a sell of 1.6, which the broker
// refused as a fractional short).
TEST(FractionalSell, WithinALongRightAfterOurOwnFillWaitsForTheNextPositionsRead) {
  SimWorld w(31);
  ASSERT_NO_FATAL_FAILURE(another_client_holds_3_3_f(w));
  TradeSpec sell = market_entry("F", 1);
  sell.side = Side::sell;
  sell.qty = Decimal::must("1.6");
  sell.exits = ExitMode::none;
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[{"on":"http","action":"status","p":1.0,)"
                                        R"("status":503,"route":"GET /v2/positions"}]})"),
            "");
  ASSERT_TRUE(w.rt->open_trade(sell).ok());
  w.run(1'500);  // filled; no positions read answered since
  auto again = w.rt->open_trade(sell);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Status::Code::unavailable) << again.status().message();
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  w.run(35'000);  // past the failed reads' backoff
  auto within = w.rt->open_trade(sell);
  EXPECT_TRUE(within.ok()) << within.status().message() << " (1.7 left)";
  w.run(3'000);
  auto beyond = w.rt->open_trade(sell);
  ASSERT_FALSE(beyond.ok()) << "0.1 left";
  EXPECT_EQ(beyond.status().code(), Status::Code::invalid_argument);
  auto positions = w.broker.list_positions();
  ASSERT_TRUE(positions.ok());
  ASSERT_EQ(positions->size(), 1u);
  EXPECT_EQ(positions->front().qty, Decimal::must("0.1")) << "never short at the broker";
}

// Two fractional sells taken together, each within the long the read shows, but not both: the
// one that would go past it is judged again when it leaves, against the read less our own sell
// sent since, and is not sent (submit_failed, said) rather than earning the broker's refusal.
TEST(FractionalSell, TheOneThatNoLongerFitsWhenItLeavesIsNotSent) {
  SimWorld w(37);
  ASSERT_NO_FATAL_FAILURE(another_client_holds_3_3_f(w));
  TradeSpec sell = market_entry("F", 1);
  sell.side = Side::sell;
  sell.qty = Decimal::must("1.7");
  sell.exits = ExitMode::none;
  auto first = w.rt->open_trade(sell);
  auto second = w.rt->open_trade(sell);  // judged on the same read: 3.3 covers 1.7
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE(second.ok()) << second.status().message();
  w.run(8'000);  // the first sent and filled; the second waits for a read asked after that

  int ours = 0;
  for (const BrokerOrder& b : w.broker_orders()) {
    if (b.side == Side::sell && b.symbol == "F") ++ours;
  }
  EXPECT_EQ(ours, 1) << "only the sell the long covers reached the broker";
  const std::optional<Order> late = find_role(w, second->id, OrderRole::entry);
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->state, OrderState::canceled);
  EXPECT_NE(late->last_error.find("not sent: a fractional sell of 1.7 F"), std::string::npos)
      << late->last_error;
  auto ended = w.store->get_trade(second->id);
  ASSERT_TRUE(ended.ok() && ended->has_value());
  EXPECT_EQ((*ended)->state, TradeState::canceled);
  EXPECT_NE((*ended)->note.find("not sent: a fractional sell"), std::string::npos)
      << (*ended)->note;
  EXPECT_EQ(w.errors_with_code("40310000"), 0);
  auto positions = w.broker.list_positions();
  ASSERT_TRUE(positions.ok());
  ASSERT_EQ(positions->size(), 1u);
  EXPECT_EQ(positions->front().qty, Decimal::must("1.6")) << "never short at the broker";
}

}  // namespace
}  // namespace orderly::testing
