// Changing a trade's exits after it opened (issue 17 item 5), and crypto dust: the engine
// against the simulator model under virtual time, judged from the broker's side (its orders and
// positions).

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "sim_world.h"

namespace orderly::testing {
namespace {

TradeSpec oco_trade(const char* entry_limit = nullptr) {
  TradeSpec spec;
  spec.symbol = "F";
  spec.qty = Decimal::must("10");
  spec.entry_type = entry_limit ? OrderType::limit : OrderType::market;
  if (entry_limit) spec.entry_limit_price = Decimal::must(entry_limit);
  spec.tif = entry_limit ? TimeInForce::gtc : TimeInForce::day;
  spec.take_profit.price = Decimal::must("11.00");
  spec.stop_loss = PriceTarget{.price = Decimal::must("9.00")};
  return spec;
}

ExitChange new_prices(const char* tp, const char* sl) {
  ExitChange c;
  c.take_profit = PriceTarget{.price = Decimal::must(tp)};
  c.stop_loss = PriceTarget{.price = Decimal::must(sl)};
  return c;
}

// The take-profit removed, the stop moved to `sl`: no replace makes an OCO a stop.
ExitChange stop_alone(const char* sl) {
  ExitChange c;
  c.remove_take_profit = true;
  c.stop_loss = PriceTarget{.price = Decimal::must(sl)};
  return c;
}

// The broker's open sell orders of F, each with its open legs: "limit 11.00 + stop 9.00" is
// one OCO whose group names its stop (a leg the group lost would not show).
std::vector<std::string> broker_exits(SimWorld& w) {
  ListOrdersQuery q;
  q.nested = true;
  auto open = w.broker.list_orders(q);
  EXPECT_TRUE(open.ok());
  const auto text = [](const BrokerOrder& o) {
    return o.type == OrderType::limit ? "limit " + o.limit_price->str()
                                      : "stop " + o.stop_price.value_or(Decimal()).str();
  };
  std::vector<std::string> out;
  for (const BrokerOrder& o : open.ok() ? open.value() : std::vector<BrokerOrder>{}) {
    if (o.symbol != "F" || o.side != Side::sell) continue;
    std::string group = text(o);
    for (const BrokerOrder& leg : o.legs) {
      if (leg.status && is_open_at_broker(*leg.status)) group += " + " + text(leg);
    }
    out.push_back(group);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Decimal broker_position(SimWorld& w) {
  auto p = w.broker.list_positions();
  EXPECT_TRUE(p.ok());
  for (const BrokerPosition& x : p.ok() ? p.value() : std::vector<BrokerPosition>{}) {
    if (x.symbol == "F") return x.qty;
  }
  return Decimal();
}

// At every 100 ms step, some open exit at the broker (not being canceled) covers the position.
void run_covered(SimWorld& w, std::int64_t ms) {
  for (std::int64_t t = 0; t < ms; t += 100) {
    w.run(100);
    const Decimal held = broker_position(w);
    if (held.is_zero()) continue;
    Decimal covered;
    for (const BrokerOrder& o : w.broker_orders()) {
      if (o.symbol == "F" && o.side == Side::sell && o.status && is_open_at_broker(*o.status) &&
          *o.status != OrderState::pending_cancel && o.qty) {
        covered = Decimal::max(covered, *o.qty - o.filled_qty);
      }
    }
    ASSERT_GE(covered, held) << "uncovered " << t << " ms into the change";
  }
}

TradeSpec stored_spec(SimWorld& w, TradeId id) {
  auto t = w.store->get_trade(id);
  EXPECT_TRUE(t.ok() && t->has_value());
  return t.ok() && t->has_value() ? (*t)->spec : TradeSpec{};
}

// Audit notes of the engine's orders that contain `text`.
int audit_mentions(SimWorld& w, std::string_view text) {
  int n = 0;
  for (const Order& o : w.rt->engine().orders()) {
    auto events = w.store->order_events(o.id);
    for (const OrderEvent& e : events.ok() ? *events : std::vector<OrderEvent>{}) {
      n += e.note.find(text) != std::string::npos ? 1 : 0;
    }
  }
  return n;
}

TradeState stored_state(SimWorld& w, TradeId id) {
  auto t = w.store->get_trade(id);
  return t.ok() && t->has_value() ? (*t)->state : TradeState::failed;
}

// Starts the world with `pair` at `price`: a gtc market buy of `qty` of it, exits to be given.
TradeSpec crypto_buy(SimWorld& w, const char* pair, const char* price, const char* qty) {
  w.start();
  w.set_price(pair, price);
  TradeSpec spec;
  spec.symbol = pair;
  spec.qty = Decimal::must(qty);
  spec.tif = TimeInForce::gtc;
  return spec;
}

// A stop-only buy of 0.0179 BTC/USD at 60000 whose stop `first` is then moved by `change`: the
// broker's open BTC/USD sells after it ("stop_limit QTY stop S limit L").
std::vector<std::string> move_btc_stop(SimWorld& w, const char* first, const ExitChange& change) {
  TradeSpec spec = crypto_buy(w, "BTC/USD", "60000", "0.0179");
  spec.stop_loss = PriceTarget{.price = Decimal::must(first)};
  auto t = w.rt->open_trade(spec);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  if (!t.ok()) return {};
  w.run(3'000);
  EXPECT_TRUE(w.rt->modify_exits(t->id, change).ok());
  w.run(3'000);
  std::vector<std::string> stops;
  for (const BrokerOrder& o : w.broker_orders()) {
    if (o.symbol == "BTC/USD" && o.side == Side::sell && o.status && is_open_at_broker(*o.status)) {
      stops.push_back(fmt::format("{} {} stop {} limit {}", to_string(o.type),
                                  o.qty.value_or(Decimal()).str(), o.stop_price->str(),
                                  o.limit_price->str()));
    }
  }
  return stops;
}

// A 10-share market buy of F at 10.00 with an OCO (11.00 / 9.00) working at the broker.
std::optional<Trade> open_oco(SimWorld& w) {
  w.start();
  w.set_price("F", "10.00");
  auto t = w.rt->open_trade(oco_trade());
  if (!t.ok()) return std::nullopt;
  w.run(3'000);
  EXPECT_EQ(broker_exits(w), (std::vector<std::string>{"limit 11.00 + stop 9.00"}));
  return *t;
}

TEST(EngineModify, AnOcoIsReplacedAtTheBrokerWithoutAMomentUncovered) {
  SimWorld w(11);
  const std::optional<Trade> t = open_oco(w);
  ASSERT_TRUE(t);

  ASSERT_TRUE(w.rt->modify_exits(t->id, new_prices("11.50", "9.60")).ok());
  run_covered(w, 3'000);
  EXPECT_EQ(broker_exits(w), (std::vector<std::string>{"limit 11.50 + stop 9.60"}));
  EXPECT_EQ(broker_position(w), Decimal::must("10"));
  EXPECT_EQ(w.errors_with_code("422"), 0);

  // Durable: a restart knows the new targets and leaves the broker's orders as they are.
  const std::size_t orders_before = w.broker_orders().size();
  w.start();
  w.run(3'000);
  EXPECT_EQ(stored_spec(w, t->id).take_profit.price, Decimal::must("11.50"));
  EXPECT_EQ(stored_spec(w, t->id).stop_loss->price, Decimal::must("9.60"));
  EXPECT_EQ(broker_exits(w), (std::vector<std::string>{"limit 11.50 + stop 9.60"}));
  EXPECT_EQ(w.broker_orders().size(), orders_before);

  // The new stop is the one that works: the market falls through it.
  w.set_price("F", "9.50");
  w.run(3'000);
  EXPECT_EQ(broker_position(w), Decimal());
  EXPECT_EQ(stored_state(w, t->id), TradeState::closed);
}

TEST(EngineModify, BeforeTheEntryFillsTheNewTargetsMakeTheExits) {
  SimWorld w(12);
  w.start();
  w.set_price("F", "10.50");
  auto t = w.rt->open_trade(oco_trade("10.00"));
  ASSERT_TRUE(t.ok());
  w.run(2'000);
  ASSERT_TRUE(w.rt->modify_exits(t->id, new_prices("12.00", "9.25")).ok());
  w.run(1'000);
  EXPECT_TRUE(broker_exits(w).empty()) << "nothing to replace before the fill";
  w.set_price("F", "10.00");
  w.run(3'000);
  EXPECT_EQ(broker_exits(w), (std::vector<std::string>{"limit 12.00 + stop 9.25"}));
}

TEST(EngineModify, NewPricesAreRefusedWithTheRuleAndChangeNothing) {
  SimWorld w(13);
  const std::optional<Trade> t = open_oco(w);
  ASSERT_TRUE(t);
  Status above = w.rt->modify_exits(t->id, new_prices("11.50", "10.20"));
  EXPECT_EQ(above.code(), Status::Code::invalid_argument);
  EXPECT_NE(above.message().find("stop_loss 10.20 must be below the market 10"),
            std::string::npos)
      << above.message();
  Status crossed = w.rt->modify_exits(t->id, new_prices("9.50", "9.40"));
  EXPECT_EQ(crossed.code(), Status::Code::invalid_argument);
  ExitChange neither;
  neither.remove_take_profit = neither.remove_stop_loss = true;
  EXPECT_EQ(w.rt->modify_exits(t->id, neither).code(), Status::Code::invalid_argument);
  EXPECT_EQ(w.rt->modify_exits(999, new_prices("11.50", "9.60")).code(),
            Status::Code::not_found);
  w.run(1'000);
  EXPECT_EQ(broker_exits(w), (std::vector<std::string>{"limit 11.00 + stop 9.00"}));
  EXPECT_EQ(stored_spec(w, t->id).take_profit.price, Decimal::must("11.00"));

  ASSERT_TRUE(w.rt->cancel_trade(t->id).ok());
  EXPECT_EQ(w.rt->modify_exits(t->id, new_prices("11.50", "9.60")).code(),
            Status::Code::conflict);
}

// The take-profit fills at the broker while its stream events are lost; the modify's replaces
// meet a filled and a canceled order (422 "... state"): the cancel that follows finds them
// ended, the trade closes, and nothing new is placed for a position that is gone.
TEST(EngineModify, AModifyRacingAFillOfTheExitPlacesNothingMore) {
  SimWorld w(14);
  const std::optional<Trade> t = open_oco(w);
  ASSERT_TRUE(t);
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[{"on":"stream","action":"drop","p":1.0}]})"),
            "");
  w.set_price("F", "11.10");
  const std::size_t orders_before = w.broker_orders().size();
  ASSERT_TRUE(w.rt->modify_exits(t->id, new_prices("11.50", "9.60")).ok());
  w.run(1'000);
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  w.run(15'000);
  EXPECT_GE(w.errors_with_code("422"), 1);
  EXPECT_GE(audit_mentions(w, "replace refused"), 1);
  EXPECT_EQ(broker_position(w), Decimal());
  EXPECT_TRUE(broker_exits(w).empty());
  EXPECT_EQ(w.broker_orders().size(), orders_before) << "no replacement, no new exit";
  EXPECT_EQ(stored_state(w, t->id), TradeState::closed);
  for (const Alert& a : w.rt->engine().active_alerts()) {
    EXPECT_NE(a.kind, AlertKind::order_parked) << a.message;
  }
}

// Canceled elsewhere with its events lost, the exit cannot be replaced (422 "canceled" state):
// it is placed again from the new targets instead.
TEST(EngineModify, AReplaceTheBrokerRefusesIsPlacedAgainAtTheNewPrices) {
  SimWorld w(15);
  const std::optional<Trade> t = open_oco(w);
  ASSERT_TRUE(t);
  std::string tp_id;
  for (const BrokerOrder& o : w.broker_orders()) {
    if (o.type == OrderType::limit && o.side == Side::sell) tp_id = o.id;
  }
  ASSERT_FALSE(tp_id.empty());
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[{"on":"stream","action":"drop","p":1.0}]})"),
            "");
  ASSERT_LT(w.exchange->handle({"DELETE", "/v2/orders/" + tp_id, {}, {}}).status, 300);
  w.exchange->advance(w.clock.now());
  ASSERT_TRUE(w.rt->modify_exits(t->id, new_prices("11.50", "9.60")).ok());
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  w.run(10'000);
  EXPECT_GE(audit_mentions(w, "replace refused"), 1);
  EXPECT_EQ(broker_exits(w), (std::vector<std::string>{"limit 11.50 + stop 9.60"}));
  EXPECT_EQ(broker_position(w), Decimal::must("10"));
}

// Removing the take-profit: no replace turns an OCO into a stop, so the OCO is canceled and a
// stop placed for what is held.
TEST(EngineModify, RemovingAnExitPlacesTheOtherAlone) {
  SimWorld w(16);
  const std::optional<Trade> t = open_oco(w);
  ASSERT_TRUE(t);
  const ExitChange c = stop_alone("9.40");
  ASSERT_TRUE(w.rt->modify_exits(t->id, c).ok());
  w.run(5'000);
  EXPECT_EQ(broker_exits(w), (std::vector<std::string>{"stop 9.40"}));
  EXPECT_FALSE(stored_spec(w, t->id).has_take_profit());
}

// Starts `w` with F at 10.50 and opens a native bracket whose 10.00 limit entry rests.
StatusOr<Trade> resting_native_bracket(SimWorld& w) {
  w.start();
  w.set_price("F", "10.50");
  TradeSpec spec = oco_trade("10.00");
  spec.exits = ExitMode::native;
  auto t = w.rt->open_trade(spec);
  if (t.ok()) w.run(3'000);
  return t;
}

// A native bracket whose limit entry rests: its held legs are replaced (each by its own id), and
// when the entry fills, the legs that work carry the new prices.
TEST(EngineModify, ARestingBracketsLegsAreReplacedBeforeTheFill) {
  SimWorld w(18);
  const StatusOr<Trade> t = resting_native_bracket(w);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  ASSERT_TRUE(w.rt->modify_exits(t->id, new_prices("11.60", "9.40")).ok());
  w.run(3'000);
  EXPECT_EQ(audit_mentions(w, "exits modified: replaces"), 2) << "one replace per leg";
  w.set_price("F", "10.00");
  w.run(3'000);
  EXPECT_EQ(broker_position(w), Decimal::must("10"));
  std::vector<std::string> legs;
  for (const BrokerOrder& o : w.broker_orders()) {
    if (o.side == Side::sell && o.status && is_open_at_broker(*o.status)) {
      legs.push_back(o.type == OrderType::limit ? "limit " + o.limit_price->str()
                                                : "stop " + o.stop_price->str());
    }
  }
  std::sort(legs.begin(), legs.end());
  EXPECT_EQ(legs, (std::vector<std::string>{"limit 11.60", "stop 9.40"}));
}

// A leg's replace whose outcome was unknown (503, lookups refused) when the trade ended: the
// lookup then finds nothing and the replacement ends unsent; it stayed `created` for good
// (DST trades seed 20820000000241).
TEST(EngineModify, AReplaceUnknownWhenItsTradeEndedEndsUnsent) {
  SimWorld w(19);
  const StatusOr<Trade> t = resting_native_bracket(w);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  ASSERT_EQ(w.exchange->set_faults_json(
                R"({"rules":[{"on":"http","action":"status","p":1.0,"status":503,)"
                R"("route":"PATCH /v2/orders/{id}"},{"on":"http","action":"status","p":1.0,)"
                R"("status":429,"route":"GET /v2/orders:by_client_order_id"}]})"),
            "");
  ASSERT_TRUE(w.rt->modify_exits(t->id, new_prices("11.60", "9.40")).ok());
  w.run(2'000);
  ASSERT_TRUE(w.rt->cancel_entry(t->id).ok());
  w.run(3'000);
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  w.run(60'000);

  EXPECT_EQ(stored_state(w, t->id), TradeState::canceled);
  for (const Order& o : w.rt->engine().orders()) {
    if (o.trade_id != t->id) continue;
    EXPECT_TRUE(is_terminal(o.state)) << o.client_order_id << " " << to_string(o.state);
  }
}

// A trailing stop moves by a replace of its trail (PATCH `trail`); turning it into a plain stop
// changes the order's type, which no replace does: canceled and placed again as a stop.
TEST(EngineModify, ATrailingStopTakesItsNewTrailByAReplace) {
  SimWorld w(17);
  w.start();
  w.set_price("F", "10.00");
  TradeSpec spec = oco_trade();
  spec.take_profit = PriceTarget{};
  spec.stop_loss = PriceTarget{.trail_percent = Decimal::must("2")};
  auto t = w.rt->open_trade(spec);
  ASSERT_TRUE(t.ok());
  w.run(3'000);
  const auto trailing = [&] {
    std::vector<std::string> out;
    for (const BrokerOrder& o : w.broker_orders()) {
      if (o.symbol == "F" && o.side == Side::sell && o.status && is_open_at_broker(*o.status)) {
        out.push_back(std::string(to_string(o.type)) + " " +
                      (o.trail_percent ? o.trail_percent->str() + "%"
                                       : o.stop_price.value_or(Decimal()).str()));
      }
    }
    return out;
  };
  ASSERT_EQ(trailing(), (std::vector<std::string>{"trailing_stop 2%"}));
  ExitChange tighter;
  tighter.stop_loss = PriceTarget{.trail_percent = Decimal::must("1")};
  ASSERT_TRUE(w.rt->modify_exits(t->id, tighter).ok());
  run_covered(w, 3'000);
  EXPECT_EQ(trailing(), (std::vector<std::string>{"trailing_stop 1%"}));
  EXPECT_EQ(audit_mentions(w, "exits modified: replaces"), 1);

  ExitChange fixed;
  fixed.stop_loss = PriceTarget{.price = Decimal::must("9.80")};
  ASSERT_TRUE(w.rt->modify_exits(t->id, fixed).ok());
  w.run(5'000);
  EXPECT_EQ(trailing(), (std::vector<std::string>{"stop 9.80"}));
  EXPECT_EQ(broker_position(w), Decimal::must("10"));
}

// The broker answers the modify's DELETE with 500 for a while: the cancel is asked again until
// it is taken (nothing else would: the old exit still covers the position), then the new exit
// is placed.
TEST(EngineModify, ACancelTheBrokerFailsIsAskedAgain) {
  SimWorld w(19);
  const std::optional<Trade> t = open_oco(w);
  ASSERT_TRUE(t);
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[{"on":"http","action":"status",)"
                                        R"("status":500,"route":"DELETE /v2/orders/{id}"}]})"),
            "");
  const ExitChange c = stop_alone("9.40");
  ASSERT_TRUE(w.rt->modify_exits(t->id, c).ok());
  w.run(5'000);
  EXPECT_GE(w.errors_with_code("500"), 1);
  EXPECT_EQ(broker_exits(w), (std::vector<std::string>{"limit 11.00 + stop 9.00"}));
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  w.run(30'000);
  EXPECT_EQ(broker_exits(w), (std::vector<std::string>{"stop 9.40"}));
  EXPECT_EQ(broker_position(w), Decimal::must("10"));
}

// Alpaca's wash-trade check refuses a simple stop while an opposite-side order of ours works on
// the symbol (an OCO is exempt): removing the take-profit would cancel the OCO for a stop the
// broker refuses. The change is refused with the rule and the OCO keeps working.
TEST(EngineModify, ALoneStopTheWashTradeCheckWouldRefuseIsRefused) {
  SimWorld w(20);
  const std::optional<Trade> t = open_oco(w);
  ASSERT_TRUE(t);
  TradeSpec dip = oco_trade("9.50");
  dip.qty = Decimal::must("5");
  dip.take_profit.price = Decimal::must("10.50");
  dip.stop_loss = PriceTarget{.price = Decimal::must("9.00")};
  ASSERT_TRUE(w.rt->open_trade(dip).ok());
  w.run(3'000);
  const ExitChange c = stop_alone("9.40");
  Status st = w.rt->modify_exits(t->id, c);
  EXPECT_EQ(st.code(), Status::Code::conflict);
  EXPECT_NE(st.message().find("wash-trade check"), std::string::npos) << st.message();
  w.run(3'000);
  EXPECT_EQ(broker_exits(w), (std::vector<std::string>{"limit 11.00 + stop 9.00"}));
  EXPECT_TRUE(stored_spec(w, t->id).has_take_profit());
}

// A crypto stop (a stop_limit) moves by a replace that leaves its qty out: a PATCH takes whole
// shares only, and 0.0179 BTC in it was refused while the trade showed the new stop.
TEST(EngineModify, ACryptoStopMovesByAReplaceWithoutItsQty) {
  SimWorld w(21);
  ExitChange c;
  c.stop_loss = PriceTarget{.price = Decimal::must("59400.00")};
  const std::vector<std::string> stops = move_btc_stop(w, "58500.00", c);
  EXPECT_EQ(w.errors_with_code("422"), 0);
  // The position holds the fill less the fee (0.25%): 0.0179 - 0.00004475 = 0.01785525.
  EXPECT_EQ(stops,
            (std::vector<std::string>{"stop_limit 0.017855250 stop 59400.00 limit 58806.00"}));
}

// A pair's trade opened before schema 4 keeps no price_increment. A modify brings the pair's
// (the API reads it from the asset): the new stop's limit is priced to it and the trade keeps
// it. Before, the limit was priced to the cent (59401 less 1%: 58806.99), which BTC/USD at an
// increment of 1 refuses.
TEST(EngineModify, AModifyOfAPairsTradeWithoutAnIncrementPricesToThePairs) {
  SimWorld w(23, {}, false, std::nullopt, {{"BTC/USD", Decimal::must("1")}});
  ExitChange c;
  c.stop_loss = PriceTarget{.price = Decimal::must("59401")};
  c.price_increment = Decimal::must("1");
  const std::vector<std::string> stops = move_btc_stop(w, "58500", c);
  EXPECT_EQ(w.errors_with_code("422"), 0);
  EXPECT_EQ(stops, (std::vector<std::string>{"stop_limit 0.017855250 stop 59401 limit 58806"}));
  const std::optional<Decimal> kept = stored_spec(w, 1).price_increment;
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, Decimal::must("1"));
}

// The broker refuses the replaces for a reason the engine could not know (422 with no state
// named): the old exits keep working, and the trade shows them, not the refused prices, with
// the refusal in its note and in the exits' audit. Nothing is parked and no alert is raised.
TEST(EngineModify, ARefusedReplaceLeavesTheWorkingExitsAsTheTradesTargets) {
  SimWorld w(22);
  const std::optional<Trade> t = open_oco(w);
  ASSERT_TRUE(t);
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[{"on":"http","action":"status",)"
                                        R"("status":422,"route":"PATCH /v2/orders/{id}"}]})"),
            "");
  ASSERT_TRUE(w.rt->modify_exits(t->id, new_prices("11.50", "9.60")).ok());
  w.run(5'000);
  EXPECT_GE(w.errors_with_code("422"), 1);
  EXPECT_EQ(broker_exits(w), (std::vector<std::string>{"limit 11.00 + stop 9.00"}));
  const TradeSpec spec = stored_spec(w, t->id);
  EXPECT_EQ(spec.take_profit.price, Decimal::must("11.00"));
  ASSERT_TRUE(spec.stop_loss);
  EXPECT_EQ(spec.stop_loss->price, Decimal::must("9.00"));
  auto stored = w.store->get_trade(t->id);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_NE((*stored)->note.find("exits modify refused by the broker"), std::string::npos)
      << (*stored)->note;
  EXPECT_NE((*stored)->note.find("working take-profit 11.00, stop 9.00"), std::string::npos)
      << (*stored)->note;
  EXPECT_GE(audit_mentions(w, "its replace refused by the broker: it keeps working at"), 1);
  EXPECT_TRUE(w.rt->engine().active_alerts().empty());
  // The exits still move once the broker takes the change.
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  ASSERT_TRUE(w.rt->modify_exits(t->id, new_prices("11.50", "9.60")).ok());
  w.run(5'000);
  EXPECT_EQ(broker_exits(w), (std::vector<std::string>{"limit 11.50 + stop 9.60"}));
}

// Alpaca's fee on a crypto buy is at most 0.25% (orderly sizes exits to that); a lower one
// leaves dust the trade never sells. The broker's position then exceeds the ledger by it: that
// is no reconciliation mismatch (the fill events' position_qty says what was received).
TEST(EngineCrypto, DustAFeeBelowTheAllowanceLeavesIsNoMismatch) {
  SimWorld w(23, {}, false, Decimal::must("0.0015"));
  TradeSpec spec = crypto_buy(w, "ETH/USD", "3000.00", "1");
  spec.take_profit.price = Decimal::must("3100.00");
  auto t = w.rt->open_trade(spec);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  w.run(3'000);
  w.set_price("ETH/USD", "3110.00");
  w.run(90'000);
  auto p = w.broker.list_positions();
  ASSERT_TRUE(p.ok());
  Decimal held;
  for (const BrokerPosition& x : p.value()) {
    if (x.symbol == "ETHUSD" || x.symbol == "ETH/USD") held = x.qty;
  }
  EXPECT_EQ(held, Decimal::must("0.001")) << "1 ETH less a 0.15% fee, less the 0.9975 sold";
  EXPECT_EQ(stored_state(w, t->id), TradeState::closed);
  for (const Alert& a : w.rt->engine().active_alerts()) {
    EXPECT_NE(a.kind, AlertKind::reconciliation_mismatch) << a.message;
  }
}

// A modify killed (kill -9) at each of its steps: right before or right after each command it
// leads to (a replace, a cancel, the exits placed again, the lookups between) and restarted over
// the same store. Whatever step the crash cut, the broker ends with exactly the new exits: the
// step that never left is sent after the restart, none is sent twice, and the old exit is gone.
void expect_modify_survives_crashes(const char* name, const TradeSpec& spec,
                                    const ExitChange& change,
                                    const std::vector<std::string>& want) {
  for (int n = 1;; ++n) {
    bool crashed = false;
    for (bool before_send : {true, false}) {
      SCOPED_TRACE(fmt::format("{}: crash {} command {}", name,
                               before_send ? "before" : "after", n));
      SimWorld w(40 + static_cast<std::uint64_t>(n));
      w.start();
      w.set_price("F", "10.00");
      auto t = w.rt->open_trade(spec);
      ASSERT_TRUE(t.ok());
      w.run(3'000);
      w.rt->crash_at_command(n, before_send);
      ASSERT_TRUE(w.rt->modify_exits(t->id, change).ok());
      w.run(3'000);
      if (!w.rt->running()) {
        crashed = true;
        w.run(500);
        w.start();
      }
      w.run(8'000);
      EXPECT_EQ(broker_exits(w), want);
      EXPECT_EQ(broker_position(w), Decimal::must("10"));
      EXPECT_EQ(stored_state(w, t->id), TradeState::open);
    }
    if (!crashed) {  // the modify and all that follows it took fewer commands
      EXPECT_GE(n, 6) << name << ": the crash cut so few steps the test proves little";
      break;
    }
  }
}

TEST(EngineModify, AReplaceSurvivesACrashAtEachStep) {
  expect_modify_survives_crashes("replace", oco_trade(), new_prices("11.50", "9.60"),
                                 {"limit 11.50 + stop 9.60"});
}

TEST(EngineModify, ACancelAndPlaceAgainSurvivesACrashAtEachStep) {
  const ExitChange c = stop_alone("9.40");
  expect_modify_survives_crashes("reshape", oco_trade(), c, {"stop 9.40"});
}

TEST(EngineModify, ALoneStopMovedSurvivesACrashAtEachStep) {
  TradeSpec spec = oco_trade();
  spec.take_profit = PriceTarget{};
  ExitChange c;
  c.stop_loss = PriceTarget{.price = Decimal::must("9.70")};
  expect_modify_survives_crashes("stop only", spec, c, {"stop 9.70"});
}

}  // namespace
}  // namespace orderly::testing
