// Principle 9: every filled position is protected, or someone is told. These tests run the
// engine against the simulator model under virtual time and judge from both sides: the
// engine's audit (when a fill was known, when an exit left) and the broker's open orders.

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim_world.h"

namespace orderly::testing {
namespace {

TradeSpec market_with_oco(const std::string& symbol, const char* qty) {
  TradeSpec spec;
  spec.symbol = symbol;
  spec.qty = Decimal::must(qty);
  spec.entry_type = OrderType::market;
  spec.tif = TimeInForce::day;
  spec.take_profit.price = Decimal::must("11.00");
  spec.stop_loss = PriceTarget{.price = Decimal::must("9.00")};
  spec.exits = ExitMode::emulated;
  return spec;
}

// A started world holding 10 F (a market entry with OCO exits) 3 s after it was opened: the
// trade's id, 0 if it was refused.
TradeId hold_ten_f(SimWorld& w) {
  w.set_price("F", "10.00");
  w.start();
  auto t = w.rt->open_trade(market_with_oco("F", "10"));
  EXPECT_TRUE(t.ok());
  w.run(3'000);
  return t.ok() ? t->id : 0;
}

// When the engine first recorded `to` for an order (any source), if ever.
std::optional<Timestamp> first_event(SimWorld& w, OrderId id,
                                     std::initializer_list<OrderState> to) {
  auto events = w.store->order_events(id);
  EXPECT_TRUE(events.ok());
  if (!events.ok()) return std::nullopt;
  for (const OrderEvent& e : *events) {
    if (std::find(to.begin(), to.end(), e.to) != to.end()) return e.at;
  }
  return std::nullopt;
}

// The moment the broker answered our first send of an order: in the simulation runtime a
// command is executed when it is released, so this is when it left the rate budget.
std::optional<Timestamp> first_reply(SimWorld& w, OrderId id) {
  auto events = w.store->order_events(id);
  EXPECT_TRUE(events.ok());
  if (!events.ok()) return std::nullopt;
  for (const OrderEvent& e : *events) {
    if (e.source == EventSource::response) return e.at;
  }
  return std::nullopt;
}

// From the broker's side: every position is covered by open orders of the opposite side (an
// OCO or bracket counted once, by its open parent or active leg). Empty string: all covered.
std::string uncovered_positions(SimWorld& w) {
  auto positions = w.broker.list_positions();
  if (!positions.ok()) return "positions unreadable";
  ListOrdersQuery q;
  q.nested = true;
  auto open = w.broker.list_orders(q);
  if (!open.ok()) return "orders unreadable";
  std::string out;
  for (const BrokerPosition& p : positions.value()) {
    if (p.qty.is_zero()) continue;
    const Side exit_side = p.qty.is_positive() ? Side::sell : Side::buy;
    Decimal covered;
    for (const BrokerOrder& o : open.value()) {
      if (o.symbol != p.symbol) continue;
      Decimal group;
      // A held leg is the inactive sibling of an active order of its group: counted by it.
      const bool held_leg = o.status == OrderState::held;
      if (o.side == exit_side && o.qty && !held_leg) group = *o.qty - o.filled_qty;
      for (const BrokerOrder& leg : o.legs) {
        if (leg.side == exit_side && leg.qty && leg.status && is_open_at_broker(*leg.status) &&
            *leg.status != OrderState::held) {
          group = Decimal::max(group, *leg.qty - leg.filled_qty);
        }
      }
      covered += group;
    }
    const Decimal held = p.qty.is_positive() ? p.qty : -p.qty;
    if (covered < held) {
      out += fmt::format("{}: {} held, {} covered; ", p.symbol, p.qty.str(), covered.str());
    }
  }
  return out;
}

std::vector<Order> orders_of(SimWorld& w, TradeId trade) {
  std::vector<Order> out;
  for (const Order& o : w.rt->engine().orders()) {
    if (o.trade_id == trade) out.push_back(o);
  }
  return out;
}

std::optional<Order> working_exit(SimWorld& w, TradeId trade) {
  for (const Order& o : orders_of(w, trade)) {
    if (o.role != OrderRole::entry && !o.parent_order_id && is_open_at_broker(o.state)) return o;
  }
  return std::nullopt;
}

TradeState state_of(SimWorld& w, TradeId id) {
  for (const Trade& t : w.rt->engine().trades()) {
    if (t.id == id) return t.state;
  }
  return TradeState::failed;
}

// Another client of the account cancels an order (the dashboard, a script): orderly learns it
// from the stream like any other cancel.
void cancel_elsewhere(SimWorld& w, const std::string& broker_id) {
  const sim::HttpReply r = w.exchange->handle({"DELETE", "/v2/orders/" + broker_id, {}, {}});
  ASSERT_LT(r.status, 300) << r.body;
}

std::optional<Alert> active_alert(SimWorld& w, AlertKind kind, const std::string& subject) {
  for (const Alert& a : w.rt->engine().active_alerts()) {
    if (a.kind == kind && a.subject == subject) return a;
  }
  return std::nullopt;
}

bool alert_active(SimWorld& w, AlertKind kind, const std::string& subject) {
  return active_alert(w, kind, subject).has_value();
}

int audit_notes_containing(SimWorld& w, OrderId id, std::string_view text) {
  auto events = w.store->order_events(id);
  if (!events.ok()) return 0;
  int n = 0;
  for (const OrderEvent& e : *events) n += e.note.find(text) != std::string::npos ? 1 : 0;
  return n;
}

// The largest gap between fill catch-up calls seen by the broker from `from` to `to` (the
// edges count: a catch-up must come within the bound of the burst's start and end too).
std::int64_t max_gap_ms(const std::vector<Timestamp>& calls, Timestamp from, Timestamp to) {
  std::int64_t worst = 0;
  Timestamp last = from;
  for (Timestamp t : calls) {
    if (t < from || t > to) continue;
    worst = std::max(worst, t.ms_since(last));
    last = t;
  }
  return std::max(worst, to.ms_since(last));
}

// Records in `calls` when each fill catch-up call reached the broker.
void record_catchups(SimWorld& w, std::vector<Timestamp>& calls) {
  w.transport->observe = [&w, &calls](const alpaca::HttpRequest& r) {
    if (r.target.starts_with("/v2/account/activities")) calls.push_back(w.clock.now());
  };
}

// Issue 14: with 300 trades opened at once, new entries took the budget ahead of the exits of
// positions that had already filled (up to 120 s late). Issue 20: and no poll completed for two
// minutes. Now exits go first, a catch-up runs at least every 2 poll intervals, and the entries
// take what the budget leaves (its bound: trading calls / (budget - tenth - catch-ups' share)).
TEST(ProtectiveFirst, BurstOfEntriesNeverDelaysAnExitByMoreThanOneBudgetSlot) {
  SimWorld w(11);
  std::map<std::string, Decimal> prices;
  for (int i = 0; i < 300; ++i) prices[fmt::format("B{:03}", i)] = Decimal::must("10.00");
  w.exchange->set_prices(prices);
  w.start();
  ASSERT_EQ(w.options.engine.rate_limit_per_min, 190);
  std::vector<Timestamp> catchups;
  record_catchups(w, catchups);
  const Timestamp opened_at = w.clock.now();
  for (const auto& [symbol, price] : prices) {
    ASSERT_TRUE(w.rt->open_trade(market_with_oco(symbol, "10")).ok());
  }
  w.run(8 * 60'000);

  const std::int64_t slot_ms = (60'000 + 189) / 190;  // one call of the budget: 316 ms
  std::int64_t worst_ms = -1, all_out_ms = 0;
  int protected_trades = 0;
  for (const Trade& t : w.rt->engine().trades()) {
    std::optional<Timestamp> filled, exit_sent;
    for (const Order& o : w.rt->engine().orders()) {
      if (o.trade_id != t.id) continue;
      if (o.role == OrderRole::entry) {
        filled = first_event(w, o.id, {OrderState::partially_filled, OrderState::filled});
      } else if (o.role == OrderRole::take_profit && !o.parent_order_id) {
        exit_sent = first_reply(w, o.id);
      }
    }
    ASSERT_TRUE(filled && exit_sent) << t.spec.symbol;
    worst_ms = std::max(worst_ms, exit_sent->ms_since(*filled));
    all_out_ms = std::max(all_out_ms, exit_sent->ms_since(opened_at));
    protected_trades += 1;
  }
  EXPECT_EQ(protected_trades, 300);
  EXPECT_LE(worst_ms, slot_ms) << "worst delay from a known fill to its exit at the broker";
  const std::int64_t gap = max_gap_ms(catchups, opened_at, opened_at.plus_ms(all_out_ms));
  EXPECT_LE(gap, 2 * w.options.engine.poll_interval_ms) << "the sync paused during the burst";
  // 600 trading calls at 190 less a tenth (19) and the catch-ups' share (40) a minute.
  const std::int64_t bound_ms = 600 * 60'000 / (190 - 19 - 40);
  EXPECT_LE(all_out_ms, bound_ms + 60'000);
  for (const Alert& a : w.rt->engine().active_alerts()) ADD_FAILURE() << a.message;
  std::printf("[ burst ] 300 trades at 190/min: worst fill known -> exit at the broker %lld ms "
              "(bound: one slot, %lld ms); max gap between catch-ups %lld ms (bound %lld); last "
              "exit out %lld ms after the burst (budget's bound %lld ms)\n",
              static_cast<long long>(worst_ms), static_cast<long long>(slot_ms),
              static_cast<long long>(gap),
              static_cast<long long>(2 * w.options.engine.poll_interval_ms),
              static_cast<long long>(all_out_ms), static_cast<long long>(bound_ms));
}

// An exit canceled outside orderly is placed again at once; while the broker refuses new
// orders the gap outlives the grace: unprotected_position is raised (subject: the symbol),
// counted in health, audited on the orders involved, and cleared once the exit is back.
TEST(Protection, ExitCanceledElsewhereIsPlacedAgainAndAGapIsRaisedThenCleared) {
  SimWorld w(12);
  const TradeId t = hold_ten_f(w);
  ASSERT_NE(t, 0);
  const std::optional<Order> first = working_exit(w, t);
  ASSERT_TRUE(first && first->broker_order_id);
  EXPECT_EQ(uncovered_positions(w), "");

  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[{"on":"http","action":"status","p":1.0,)"
                                        R"("status":503,"route":"POST /v2/orders"}]})"),
            "");
  cancel_elsewhere(w, *first->broker_order_id);
  w.run(w.options.engine.unprotected_grace_ms + 2'000);
  EXPECT_NE(uncovered_positions(w), "");
  EXPECT_TRUE(alert_active(w, AlertKind::unprotected_position, "F"));
  EXPECT_EQ(w.rt->health().unprotected_positions, 1);
  EXPECT_NE(w.rt->metrics_text().find("orderly_unprotected_positions 1"), std::string::npos);
  const OrderId entry = orders_of(w, t).front().id;
  EXPECT_EQ(audit_notes_containing(w, entry, "unprotected position"), 1);

  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  w.run(120'000);  // past the backoff of the refused attempts
  EXPECT_EQ(uncovered_positions(w), "");
  const std::optional<Order> again = working_exit(w, t);
  ASSERT_TRUE(again);
  EXPECT_NE(again->id, first->id);
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F"));
  EXPECT_EQ(w.rt->health().unprotected_positions, 0);
  EXPECT_EQ(audit_notes_containing(w, entry, "protected again"), 1);
  EXPECT_EQ(state_of(w, t), TradeState::open);
}

// Exits canceled elsewhere as fast as they are placed: after kMaxExitPlacementsPerMinute the
// engine stops placing and says so; once that minute has passed it places the next one, though
// nothing else happened to the trade (DST extended seed 9100000000099: it never did).
TEST(Protection, ExitsCanceledElsewhereTooOftenArePlacedAgainOnceTheMinuteHasPassed) {
  SimWorld w(13);
  const TradeId t = hold_ten_f(w);
  ASSERT_NE(t, 0);
  for (int i = 0; i < 5; ++i) {  // kMaxExitPlacementsPerMinute
    const std::optional<Order> exit = working_exit(w, t);
    ASSERT_TRUE(exit && exit->broker_order_id) << "placement " << i;
    cancel_elsewhere(w, *exit->broker_order_id);
    w.run(2'000);
  }
  w.run(w.options.engine.unprotected_grace_ms + 1'000);
  EXPECT_FALSE(working_exit(w, t)) << "a fifth cancel within the minute: not placed again";
  const std::optional<Alert> stuck = active_alert(w, AlertKind::stuck_order, "F");
  ASSERT_TRUE(stuck);
  EXPECT_TRUE(alert_active(w, AlertKind::unprotected_position, "F"));
  w.run(10'000);
  // One alert for as long as the cause lasts (it was cleared at every tick and raised again at
  // the next check, ~10 times a second: 569 log lines a minute over real processes).
  const std::optional<Alert> later = active_alert(w, AlertKind::stuck_order, "F");
  ASSERT_TRUE(later);
  EXPECT_EQ(later->raised_at, stuck->raised_at);

  w.run(60'000);
  EXPECT_TRUE(working_exit(w, t));
  EXPECT_EQ(uncovered_positions(w), "");
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F"));
  EXPECT_FALSE(alert_active(w, AlertKind::stuck_order, "F")) << "covered again: cleared";
}

// A native bracket's legs canceled by another client: the position is covered again at once by
// an emulated OCO for what is held.
TEST(Protection, NativeBracketLegsCanceledElsewhereArePlacedAgainAsAnOco) {
  SimWorld w(13);
  w.set_price("F", "10.00");
  w.start();
  TradeSpec spec = market_with_oco("F", "10");
  spec.exits = ExitMode::native;
  auto t = w.rt->open_trade(spec);
  ASSERT_TRUE(t.ok());
  w.run(3'000);
  EXPECT_EQ(uncovered_positions(w), "");
  std::optional<Order> tp_leg;
  for (const Order& o : orders_of(w, t->id)) {
    if (o.role == OrderRole::take_profit && o.parent_order_id) tp_leg = o;
  }
  ASSERT_TRUE(tp_leg && tp_leg->broker_order_id);
  cancel_elsewhere(w, *tp_leg->broker_order_id);
  w.run(3'000);

  EXPECT_EQ(uncovered_positions(w), "");
  const std::optional<Order> oco = working_exit(w, t->id);
  ASSERT_TRUE(oco);
  EXPECT_EQ(oco->order_class, OrderClass::oco);
  EXPECT_EQ(oco->qty, Decimal::must("10"));
  EXPECT_EQ(state_of(w, t->id), TradeState::open);
}

// Issue 14: a second market entry on a symbol where our take-profit rests was refused by the
// wash-trade check and the trade failed. It is sent as a limit one tick under our resting sell:
// marketable, it fills at the market, and both trades end protected.
TEST(ExitBook, SecondMarketEntryOnAHeldSymbolFillsAndBothTradesEndProtected) {
  SimWorld w(14);
  const TradeId a = hold_ten_f(w);
  ASSERT_NE(a, 0);
  ASSERT_TRUE(working_exit(w, a));
  auto b = w.rt->open_trade(market_with_oco("F", "5"));
  ASSERT_TRUE(b.ok());
  w.run(5'000);

  EXPECT_EQ(w.errors_with_code("40310000"), 0);
  EXPECT_EQ(state_of(w, a), TradeState::open);
  EXPECT_EQ(state_of(w, b->id), TradeState::open);
  const Order entry_b = orders_of(w, b->id).front();
  EXPECT_EQ(entry_b.type, OrderType::limit);
  EXPECT_EQ(entry_b.limit_price, Decimal::must("10.99")) << "one tick under our sell at 11.00";
  EXPECT_EQ(entry_b.filled_avg_price, Decimal::must("10.00")) << "filled at the market";
  EXPECT_EQ(uncovered_positions(w), "");
  EXPECT_TRUE(working_exit(w, a) && working_exit(w, b->id));
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F"));
}

// Entries in a burst on one symbol, each scaling in: every one ends filled and protected.
TEST(ExitBook, SeveralEntriesOnOneSymbolAtOnceAllEndProtected) {
  SimWorld w(15);
  w.set_price("F", "10.00");
  w.start();
  std::vector<TradeId> ids;
  for (int i = 0; i < 6; ++i) {
    auto t = w.rt->open_trade(market_with_oco("F", "3"));
    ASSERT_TRUE(t.ok());
    ids.push_back(t->id);
    if (i % 2 == 1) w.run(500);
  }
  w.run(10'000);
  for (TradeId id : ids) {
    EXPECT_EQ(state_of(w, id), TradeState::open) << id;
    EXPECT_TRUE(working_exit(w, id)) << id;
  }
  EXPECT_EQ(uncovered_positions(w), "");
  EXPECT_EQ(w.errors_with_code("40310000"), 0);
}

// A lone stop is a stop order, which a market buy meets in Alpaca's wash-trade check whatever
// its price: it is canceled first, and the entries it was canceled for then go as protective
// work, together, ahead of a burst of entries on other symbols that fills the budget. The stop
// is canceled once for all of them, and placed again within seconds (it waited for the whole
// burst: DST trades seed 23100000003282, 325 WMT naked for 40 s).
TEST(ExitBook, EntriesAStopWasCanceledForGoFirstAndTogether) {
  SimWorld w(17);
  std::map<std::string, Decimal> prices{{"F", Decimal::must("10.00")}};
  for (int i = 0; i < 120; ++i) prices[fmt::format("B{:03}", i)] = Decimal::must("10.00");
  w.exchange->set_prices(prices);
  w.start();
  TradeSpec stop_only = market_with_oco("F", "10");
  stop_only.take_profit = {};
  auto a = w.rt->open_trade(stop_only);
  ASSERT_TRUE(a.ok());
  w.run(3'000);
  ASSERT_TRUE(working_exit(w, a->id));
  for (int i = 0; i < 120; ++i) {
    ASSERT_TRUE(w.rt->open_trade(market_with_oco(fmt::format("B{:03}", i), "10")).ok());
  }
  std::vector<TradeId> more;
  for (int i = 0; i < 3; ++i) {
    auto t = w.rt->open_trade(market_with_oco("F", "5"));
    ASSERT_TRUE(t.ok());
    more.push_back(t->id);
  }
  w.run(3 * 60'000);

  std::vector<Order> stops;
  for (const Order& o : orders_of(w, a->id)) {
    if (o.role == OrderRole::stop_loss) stops.push_back(o);
  }
  ASSERT_EQ(stops.size(), 2u) << "canceled once for the three entries, placed once again";
  const std::optional<Timestamp> off = first_event(w, stops[0].id, {OrderState::pending_cancel});
  const std::optional<Timestamp> back = first_reply(w, stops[1].id);
  ASSERT_TRUE(off && back);
  EXPECT_LE(back->ms_since(*off), 3'000) << "the stop waited for the burst";
  for (TradeId id : more) {
    EXPECT_EQ(state_of(w, id), TradeState::open) << id;
    EXPECT_TRUE(working_exit(w, id)) << id;
  }
  EXPECT_EQ(uncovered_positions(w), "");
  EXPECT_EQ(w.errors_with_code("40310000"), 0);
}

// A sell trade on a symbol we hold long through another trade would protect a position the
// other cancels out: refused up front, nothing sent.
TEST(ExitBook, ReversalWhileTheOtherDirectionIsOpenIsRefusedUpFront) {
  SimWorld w(16);
  const TradeId a = hold_ten_f(w);
  ASSERT_NE(a, 0);
  TradeSpec sell = market_with_oco("F", "10");
  sell.side = Side::sell;
  sell.take_profit.price = Decimal::must("9.00");
  sell.stop_loss = PriceTarget{.price = Decimal::must("11.00")};
  auto b = w.rt->open_trade(sell);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Status::Code::invalid_argument);
  EXPECT_NE(b.status().message().find("other direction"), std::string::npos);
}

// Native exits with percent targets on a market entry used to end `failed` (a bracket needs
// its prices): the exits are sent as one OCO once the fill price is known.
TEST(Protection, NativePercentExitsOfAMarketEntryAreAnOcoOnceFilled) {
  SimWorld w(17);
  w.set_price("F", "10.00");
  w.start();
  TradeSpec spec = market_with_oco("F", "10");
  spec.exits = ExitMode::native;
  spec.take_profit = PriceTarget{std::nullopt, Decimal::must("3")};
  spec.stop_loss = PriceTarget{std::nullopt, Decimal::must("2")};
  auto t = w.rt->open_trade(spec);
  ASSERT_TRUE(t.ok());
  w.run(3'000);
  EXPECT_EQ(state_of(w, t->id), TradeState::open);
  const std::optional<Order> oco = working_exit(w, t->id);
  ASSERT_TRUE(oco);
  EXPECT_EQ(oco->order_class, OrderClass::oco);
  EXPECT_EQ(oco->limit_price, Decimal::must("10.30"));
  EXPECT_EQ(uncovered_positions(w), "");
}

// The order id and event of a trade_updates message.
std::pair<std::string, std::string> id_and_event(const sim::StreamMessage& m) {
  const boost::json::value v = boost::json::parse(m.json);
  const boost::json::object& data = v.at("data").as_object();
  return {std::string(data.at("order").at("id").as_string()),
          std::string(data.at("event").as_string())};
}

// The working OCO of a trade that holds `hold_ten_f`'s 10 F: its take-profit (the parent) and
// stop-loss leg, both with their broker ids.
std::pair<Order, Order> oco_of(SimWorld& w, TradeId t) {
  std::optional<Order> tp, sl;
  for (const Order& o : orders_of(w, t)) {
    if (!is_open_at_broker(o.state) || !o.broker_order_id) continue;
    if (o.role == OrderRole::take_profit) tp = o;
    if (o.role == OrderRole::stop_loss) sl = o;
  }
  EXPECT_TRUE(tp && sl);
  return {tp.value_or(Order{}), sl.value_or(Order{})};
}

// Alpaca cancels the rest of an OCO when one order of it ends (§8), and such events get lost
// (alpaca-py #198). The stop leg is heard canceled, the take-profit's cancel is lost: it is
// fetched within a poll interval, not at the next idle sweep a minute later, and the position
// is covered again (DST extended seed 9400000000139).
TEST(Protection, WhenOneOrderOfAnOcoEndsTheOtherIsFetchedAtOnce) {
  SimWorld w(18);
  const TradeId t = hold_ten_f(w);
  ASSERT_NE(t, 0);
  w.run(15'000);  // the stream is healthy: the idle sweep comes once a minute
  const auto [tp, sl] = oco_of(w, t);
  const std::string tp_bid = tp.broker_order_id.value_or("");
  w.lose = [&tp_bid](const sim::StreamMessage& m) { return id_and_event(m).first == tp_bid; };
  cancel_elsewhere(w, *sl.broker_order_id);
  w.run(2 * w.options.engine.poll_interval_ms + 500);

  EXPECT_EQ(audit_notes_containing(w, tp.id, "refreshed by id"), 1);
  EXPECT_EQ(uncovered_positions(w), "");
  const std::optional<Order> again = working_exit(w, t);
  ASSERT_TRUE(again);
  EXPECT_NE(again->id, tp.id);
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F"));
}

// The stream down, an OCO canceled by another client: the sweep misses it, and its fetch is
// answered 503. Until the broker says where it stands it covers nothing: the gap is raised
// (before, it counted as cover as long as its fetches failed: DST extended seeds 9400000001282,
// 9400000001933). Once the broker answers, exits are placed again and the alert clears.
TEST(Protection, AnExitTheSweepMissedCoversNothingUntilTheBrokerAnswersForIt) {
  SimWorld w(19);
  const TradeId t = hold_ten_f(w);
  ASSERT_NE(t, 0);
  const auto [tp, sl] = oco_of(w, t);
  w.lose = [](const sim::StreamMessage&) { return true; };
  w.rt->on_disconnected("test: stream down");
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[{"on":"http","action":"status","p":1.0,)"
                                        R"("status":503,"route":"GET /v2/orders/{id}"}]})"),
            "");
  cancel_elsewhere(w, *tp.broker_order_id);
  w.run(w.options.engine.unprotected_grace_ms + 2'000);
  EXPECT_NE(uncovered_positions(w), "");
  EXPECT_TRUE(alert_active(w, AlertKind::unprotected_position, "F"));
  EXPECT_EQ(audit_notes_containing(w, tp.id, "not confirmed"), 1);

  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  w.run(w.options.engine.unprotected_grace_ms);
  EXPECT_EQ(uncovered_positions(w), "");
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F"));
  EXPECT_EQ(state_of(w, t), TradeState::open);
}

// Events may be lost (the stream is down) and no sweep of the open orders is answered: after
// the grace the engine cannot vouch for any exit, and says so, though here they all work (DST
// extended seed 9400000000918: an exit canceled then went unraised for 8 s). The first sweep
// answered ends it.
TEST(Protection, BlindLongerThanTheGraceEveryHeldPositionIsRaisedUntilASweepAnswers) {
  SimWorld w(20);
  const TradeId t = hold_ten_f(w);
  ASSERT_NE(t, 0);
  w.rt->on_disconnected("test: stream down");
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[{"on":"http","action":"status","p":1.0,)"
                                        R"("status":503,"route":"GET /v2/orders"}]})"),
            "");
  w.run(w.options.engine.unprotected_grace_ms - 1'000);
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F")) << "within the grace";
  w.run(2'000);
  EXPECT_TRUE(alert_active(w, AlertKind::unprotected_position, "F"));
  const OrderId entry = orders_of(w, t).front().id;
  EXPECT_EQ(audit_notes_containing(w, entry, "events may have been missed"), 1);

  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  w.run(3'000);
  EXPECT_EQ(uncovered_positions(w), "") << "the exits worked all along";
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F"));
  EXPECT_EQ(audit_notes_containing(w, entry, "protected again"), 1);
}

// Blind (the stream down, no sweep nor catch-up answered), an entry of ours at the broker may
// have filled unheard: the position it may hold is raised like any the engine cannot vouch for.
// Told once the polls answer.
void blind_entry_that_may_have_filled_is_raised(std::uint64_t seed, const TradeSpec& spec) {
  SimWorld w(seed);
  w.set_price("F", "10.00");
  w.start();
  w.run(1'000);
  w.lose = [](const sim::StreamMessage&) { return true; };
  w.rt->on_disconnected("test: stream down");
  ASSERT_EQ(w.exchange->set_faults_json(
                R"({"rules":[{"on":"http","action":"status","p":1.0,"status":503,)"
                R"("route":"GET /v2/orders"},{"on":"http","action":"status","p":1.0,)"
                R"("status":503,"route":"GET /v2/orders/{id}"},{"on":"http","action":"status",)"
                R"("p":1.0,"status":503,"route":"GET /v2/account/activities/{activity_type}"}]})"),
            "");
  auto t = w.rt->open_trade(spec);
  ASSERT_TRUE(t.ok());
  w.run(w.options.engine.unprotected_grace_ms + 2'000);
  EXPECT_NE(uncovered_positions(w), "") << "filled at the broker, nothing covers it yet";
  EXPECT_TRUE(alert_active(w, AlertKind::unprotected_position, "F"));

  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  w.run(10'000);
  EXPECT_EQ(uncovered_positions(w), "");
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F"));
  EXPECT_EQ(state_of(w, t->id), TradeState::open);
}

// DST extended seed 12000000009107: filled while the stream was down, found 13 s later through
// a crash, timeouts and a 429; 8 s of naked KO unraised.
TEST(Protection, BlindAMarketEntryThatMayHaveFilledUnheardIsRaised) {
  blind_entry_that_may_have_filled_is_raised(21, market_with_oco("F", "10"));
}

// DST trades seed 11300000000472: two limit buys the market reached, their events delayed past
// a stream disconnect and the budget spent for 12 s: 56 TSLA naked 8 s, unraised. The engine
// cannot tell a limit the market reached from one resting, blind.
TEST(Protection, BlindALimitEntryThatMayHaveFilledUnheardIsRaised) {
  TradeSpec limit = market_with_oco("F", "10");
  limit.entry_type = OrderType::limit;
  limit.entry_limit_price = Decimal::must("10.00");
  blind_entry_that_may_have_filled_is_raised(22, limit);
}

// An entry whose submit answer was lost with a crash, its outcome unknown after the restart
// (listings and lookups unanswered), while the broker's position holds what it would have
// bought: the engine cannot vouch for that position, and raises it (DST extended seed
// 22000000016901: four short lives took the symbol for flat, 60 KO naked 8 s, unraised).
TEST(Protection, AnEntryOfUnknownOutcomeIsNoCoverForWhatTheBrokerHolds) {
  SimWorld w(26);
  w.set_price("F", "10.00");
  w.start();
  w.run(1'000);
  w.lose = [](const sim::StreamMessage&) { return true; };
  ASSERT_EQ(w.exchange->set_faults_json(
                R"({"rules":[{"on":"http","action":"status","p":1.0,"status":503,)"
                R"("route":"GET /v2/orders"},{"on":"http","action":"status","p":1.0,)"
                R"("status":503,"route":"GET /v2/orders:by_client_order_id"},)"
                R"({"on":"http","action":"status","p":1.0,"status":503,)"
                R"("route":"GET /v2/account/activities/{activity_type}"}]})"),
            "");
  w.rt->lose_next_submit_responses(1);
  auto t = w.rt->open_trade(market_with_oco("F", "10"));
  ASSERT_TRUE(t.ok());
  w.run(500);
  w.start();  // its outcome is unknown to this life; the start reads the broker's positions
  w.run(w.options.engine.unprotected_grace_ms + 2'000);
  EXPECT_NE(uncovered_positions(w), "") << "filled at the broker, nothing covers it";
  const std::optional<Alert> raised = active_alert(w, AlertKind::unprotected_position, "F");
  ASSERT_TRUE(raised);
  EXPECT_NE(raised->message.find("whose outcome is not known yet, may have filled"),
            std::string::npos)
      << raised->message;

  w.lose = [](const sim::StreamMessage&) { return false; };
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  w.run(35'000);  // past the failed polls' backoff
  EXPECT_EQ(uncovered_positions(w), "");
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F"));
  EXPECT_EQ(state_of(w, t->id), TradeState::open);
}

// No read answers: not the catch-up, the lookup nor the positions that would show a fill.
constexpr const char* kReadsRefused =
    R"({"rules":[{"on":"http","action":"status","p":1.0,"status":503,)"
    R"("route":"GET /v2/orders"},{"on":"http","action":"status","p":1.0,"status":503,)"
    R"("route":"GET /v2/orders/{id}"},{"on":"http","action":"status","p":1.0,"status":503,)"
    R"("route":"GET /v2/positions"},{"on":"http","action":"status","p":1.0,"status":503,)"
    R"("route":"GET /v2/account/activities/{activity_type}"}]})";

// A market entry the broker took and filled, its fill event lost; the life that sent it ends
// before its in-flight lookup, and no read answers the next one. Routed and unfilled as last
// told, more than inflight_check_ms before the restart, it may have filled: raised at the
// restart's first look, not after a grace of that life's own (DST trades seed 23600000032050:
// four lives, none hearing an answer, 46 INTC naked 8.6 s, unraised).
TEST(Protection, AMarketEntryUnfilledBeforeARestartMayHaveFilled) {
  SimWorld w(27);
  w.set_price("F", "10.00");
  w.start();
  w.run(1'000);
  w.lose = [](const sim::StreamMessage& m) {
    return m.json.find("-1-e0") != std::string::npos &&
           m.json.find(R"("event":"fill")") != std::string::npos;
  };
  ASSERT_EQ(w.exchange->set_faults_json(kReadsRefused), "");
  auto t = w.rt->open_trade(market_with_oco("F", "10"));
  ASSERT_TRUE(t.ok());
  w.run(1'000);
  ASSERT_EQ(orders_of(w, t->id).front().state, OrderState::new_) << "routed, its fill unheard";
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F")) << "nothing says so yet";
  w.rt.reset();
  w.run(w.options.engine.inflight_check_ms);
  w.start();
  w.run(500);
  EXPECT_NE(uncovered_positions(w), "") << "filled at the broker, nothing covers it";
  const std::optional<Alert> raised = active_alert(w, AlertKind::unprotected_position, "F");
  ASSERT_TRUE(raised) << "the gap began in the last life, longer ago than the grace";
  EXPECT_NE(raised->message.find("whose outcome is not known yet, may have filled"),
            std::string::npos)
      << raised->message;

  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  w.run(35'000);  // past the failed reads' backoff
  EXPECT_EQ(uncovered_positions(w), "");
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F"));
  EXPECT_EQ(state_of(w, t->id), TradeState::open);
}

// The same for a market entry the broker answered `accepted` (how Alpaca holds one outside
// hours) and never told more of: once a stock order of ours was routed or filled after it, the
// market was taking orders, and the next life judges it as it judges a routed one (DST trades
// seed 26700000022017: 26 PFE naked 8 s over four short lives, unraised).
TEST(Protection, AnAcceptedMarketEntryMayHaveFilledOnceAnotherStockOrderWasRouted) {
  SimWorld w(28);
  w.set_price("F", "10.00");
  w.set_price("SOFI", "10.00");
  w.start();
  w.run(1'000);
  w.lose = [](const sim::StreamMessage& m) {
    return m.json.find("-1-e0") != std::string::npos;  // every event of trade 1's entry
  };
  ASSERT_EQ(w.exchange->set_faults_json(kReadsRefused), "");
  auto t = w.rt->open_trade(market_with_oco("F", "10"));
  ASSERT_TRUE(t.ok());
  w.run(500);
  ASSERT_EQ(orders_of(w, t->id).front().state, OrderState::accepted) << "its answer, no more";
  auto other = w.rt->open_trade(market_with_oco("SOFI", "10"));
  ASSERT_TRUE(other.ok());
  w.run(1'000);
  ASSERT_EQ(orders_of(w, other->id).front().state, OrderState::filled) << "heard: routed";
  w.rt.reset();
  w.run(w.options.engine.inflight_check_ms);
  w.start();
  w.run(500);
  const std::optional<Alert> raised = active_alert(w, AlertKind::unprotected_position, "F");
  ASSERT_TRUE(raised) << "filled at the broker in the last life, longer ago than the grace";
  EXPECT_NE(raised->message.find("whose outcome is not known yet, may have filled"),
            std::string::npos)
      << raised->message;
}

// An exit a sweep found missing covers nothing until the broker answers for it, in the lives
// after a crash too (DST extended seed 20790000000381: found missing 4.2 s into the gap, then
// a crash; the next lives took the OCO as working and the gap went unraised for 8.2 s).
TEST(Protection, AnExitFoundMissingStaysUnconfirmedAfterARestart) {
  SimWorld w(24);
  const TradeId t = hold_ten_f(w);
  ASSERT_NE(t, 0);
  const std::optional<Order> oco = working_exit(w, t);
  ASSERT_TRUE(oco && oco->broker_order_id);
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[{"on":"http","action":"status","p":1.0,)"
                                        R"("status":503,"route":"GET /v2/orders/{id}"}]})"),
            "");
  w.rt.reset();  // down: the cancel's events are lost
  cancel_elsewhere(w, *oco->broker_order_id);
  w.run(500);
  // The gap counts from the broker's last event we know on F (the OCO's 'new', ~3 s ago).
  const std::int64_t grace = w.options.engine.unprotected_grace_ms;
  w.start();  // its sweep finds the OCO missing; the fetch that would say why fails
  w.run(grace / 5);
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F")) << "within the grace";
  EXPECT_NE(uncovered_positions(w), "");
  ASSERT_EQ(w.exchange->set_faults_json(
                R"({"rules":[{"on":"http","action":"status","p":1.0,"status":503,)"
                R"("route":"GET /v2/orders/{id}"},{"on":"http","action":"status","p":1.0,)"
                R"("status":503,"route":"GET /v2/orders"}]})"),
            "");
  w.start();  // no sweep answers in this life
  w.run(grace * 2 / 5);
  EXPECT_TRUE(alert_active(w, AlertKind::unprotected_position, "F"))
      << "the gap began before the first restart and outlived the grace";
}

// An exit a sweep finds missing after blind lives ended while the engine was blind: the gap is
// dated from the blindness, not from the symbol's latest event, which can be any order's (DST
// trades seed 23700000013087: bracket legs canceled elsewhere at a kill; a life whose sweep
// never answered; the next found them missing, dated the gap from a new entry's `new`, and
// 68 JPM stood naked 8.6 s, unraised).
TEST(Protection, AnExitFoundMissingAfterBlindLivesDatesItsGapFromTheBlindness) {
  SimWorld w(28);
  const TradeId t = hold_ten_f(w);
  ASSERT_NE(t, 0);
  const std::optional<Order> oco = working_exit(w, t);
  ASSERT_TRUE(oco && oco->broker_order_id);
  w.rt.reset();
  cancel_elsewhere(w, *oco->broker_order_id);
  w.run(500);
  const std::int64_t grace = w.options.engine.unprotected_grace_ms;
  const std::string fetch_refused = R"({"on":"http","action":"status","p":1.0,"status":503,)"
                                    R"("route":"GET /v2/orders/{id}"})";
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[)" + fetch_refused +
                                        R"(,{"on":"http","action":"status","p":1.0,)"
                                        R"("status":503,"route":"GET /v2/orders"}]})"),
            "");
  w.start();  // blind: no sweep answers in this life
  w.run(grace * 3 / 5 - 200);
  TradeSpec limit = market_with_oco("F", "5");
  limit.entry_type = OrderType::limit;
  limit.entry_limit_price = Decimal::must("9.50");
  ASSERT_TRUE(w.rt->open_trade(limit).ok());
  w.run(200);  // its `new` is the symbol's latest event
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F")) << "within the grace";

  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[)" + fetch_refused + "]}"), "");
  w.start();  // its sweep finds the OCO missing; the fetch that would say why fails
  w.run(grace / 2);
  EXPECT_NE(uncovered_positions(w), "");
  EXPECT_TRUE(alert_active(w, AlertKind::unprotected_position, "F"))
      << "blind for 3/5 of the grace before this life, and half of it since";
}

// The time the cover went unconfirmed adds up over restarts: a process that dies before its
// start's sweep is answered, again and again, still raises the gap (DST extended seed
// 9500000001400: four lives of 2-3 s each, the gap unraised for 8 s of them).
TEST(Protection, UnconfirmedCoverAddsUpOverRestartsBeforeAnySweepAnswers) {
  SimWorld w(21);
  ASSERT_NE(hold_ten_f(w), 0);
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[{"on":"http","action":"status","p":1.0,)"
                                        R"("status":503,"route":"GET /v2/orders"}]})"),
            "");
  const std::int64_t life_ms = w.options.engine.unprotected_grace_ms * 3 / 5;
  w.start();
  w.run(life_ms);
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F")) << "within the grace";
  w.start();
  w.run(life_ms);
  EXPECT_TRUE(alert_active(w, AlertKind::unprotected_position, "F"));

  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
  w.run(35'000);  // past the failed sweeps' backoff
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F"));
  w.start();
  w.run(life_ms);
  EXPECT_FALSE(alert_active(w, AlertKind::unprotected_position, "F")) << "a sweep answered";
}

// 10 F bought by a gtc limit at 9.90, with OCO exits.
TradeSpec gtc_limit_buy_of_f() {
  TradeSpec limit = market_with_oco("F", "10");
  limit.entry_type = OrderType::limit;
  limit.entry_limit_price = Decimal::must("9.90");
  limit.tif = TimeInForce::gtc;
  return limit;
}

// The stream loses the fill of trade 1's entry.
void lose_fill_of_trade_1(SimWorld& w) {
  w.lose = [](const sim::StreamMessage& m) {
    return m.json.find("-1-e0") != std::string::npos &&
           m.json.find(R"("event":"fill")") != std::string::npos;
  };
}

// A limit entry the market reached, its fill lost on the stream, the catch-up and the sweep
// refused call after call: the positions read shows shares our fills do not, and the resting
// entry is asked by id (not judged: another client's position would show the same), so its
// exits are placed at the next read (DST trades seed 26300000010567: 8 STWD filled unheard for
// 37 s while the activities endpoint timed out).
TEST(Protection, APositionsReadAsksARestingEntryItsSharesMayBe) {
  SimWorld w(23);
  w.options.engine.reconcile_interval_ms = 2'000;
  w.set_price("F", "10.00");
  w.start();
  w.run(3'000);
  // The catch-ups refused, and the sweeps of open orders (which would find it missing).
  ASSERT_EQ(w.exchange->set_faults_json(
                R"({"rules":[{"on":"http","action":"status","p":1.0,"status":503,)"
                R"("route":"GET /v2/account/activities/{activity_type}"},)"
                R"({"on":"http","action":"status","p":1.0,"status":503,)"
                R"("route":"GET /v2/orders"}]})"),
            "");
  lose_fill_of_trade_1(w);
  auto t = w.rt->open_trade(gtc_limit_buy_of_f());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  w.run(1'000);
  w.set_price("F", "9.85");
  w.run(2 * w.options.engine.reconcile_interval_ms + 1'000);
  const OrderId entry = orders_of(w, t->id).front().id;
  EXPECT_EQ(orders_of(w, t->id).front().state, OrderState::filled);
  EXPECT_EQ(audit_notes_containing(w, entry, "refreshed by id"), 1);
  EXPECT_TRUE(working_exit(w, t->id));
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");  // the broker's side is read
  EXPECT_EQ(uncovered_positions(w), "");
}

// The stream healthy, but no fill catch-up answers (refused, as a spent budget or a 429's wait
// keeps them from going): a limit entry the market reached may have filled with its message
// lost, and nothing else would tell. Raised once the catch-up is overdue by the grace, before
// the fill is known, and true from the broker's side (DST trades seed 27300000000734: 43 INTC
// naked 17 s, unraised, while the budget was spent).
TEST(Protection, AnOverdueCatchUpRaisesAnEntryThatMayHaveFilledUnheard) {
  SimWorld w(24);
  w.set_price("F", "10.00");
  w.start();
  auto t = w.rt->open_trade(gtc_limit_buy_of_f());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  w.run(3'000);
  // Every read that could find the fill refused: catch-ups, sweeps, fetches, positions.
  ASSERT_EQ(w.exchange->set_faults_json(
                R"({"rules":[{"on":"http","action":"status","p":1.0,"status":503,)"
                R"("route":"GET /v2/account/activities/{activity_type}"},)"
                R"({"on":"http","action":"status","p":1.0,"status":503,)"
                R"("route":"GET /v2/orders"},)"
                R"({"on":"http","action":"status","p":1.0,"status":503,)"
                R"("route":"GET /v2/orders/{id}"},)"
                R"({"on":"http","action":"status","p":1.0,"status":503,)"
                R"("route":"GET /v2/positions"}]})"),
            "");
  lose_fill_of_trade_1(w);
  w.set_price("F", "9.85");
  w.run(1'000);
  ASSERT_NE(orders_of(w, t->id).front().state, OrderState::filled);
  const std::int64_t overdue =
      w.options.engine.idle_poll_interval_ms + w.options.engine.unprotected_grace_ms;
  w.run(overdue);
  const std::optional<Alert> raised = active_alert(w, AlertKind::unprotected_position, "F");
  ASSERT_TRUE(raised.has_value()) << "no alert " << overdue << " ms after the fill";
  EXPECT_NE(raised->message.find("no fill catch-up has answered"), std::string::npos)
      << raised->message;
  EXPECT_NE(orders_of(w, t->id).front().state, OrderState::filled) << "raised before it is known";
  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");  // the broker's side is read
  EXPECT_NE(uncovered_positions(w), "");
  // Once the reads answer again (after their backoff), the fill is found, its exits placed,
  // the alert cleared.
  for (int i = 0; i < 120 && !working_exit(w, t->id); ++i) w.run(1'000);
  w.run(1'000);
  EXPECT_EQ(orders_of(w, t->id).front().state, OrderState::filled);
  EXPECT_TRUE(working_exit(w, t->id));
  EXPECT_EQ(uncovered_positions(w), "");
  EXPECT_FALSE(active_alert(w, AlertKind::unprotected_position, "F").has_value());
}

// A fill the stream lost is found late (catch-ups and fetches answered 503 for 7 s), while
// orders are refused: its position has been naked since the fill, not since it was found, and
// the gap is raised at once, though a fill of another trade on the symbol heard meanwhile is
// more recent (DST extended seed 9700000002332: the gap counted from that one, unraised 8 s).
TEST(Protection, AFillFoundLateDatesTheGapFromItsOwnTime) {
  SimWorld w(22);
  w.set_price("F", "10.00");
  w.start();
  w.run(15'000);
  // The catch-ups and the fetch of a market entry still unfilled (synchronizer.cc) refused.
  const std::string catchups_refused =
      R"({"rules":[{"on":"http","action":"status","p":1.0,"status":503,)"
      R"("route":"GET /v2/account/activities/{activity_type}"},)"
      R"({"on":"http","action":"status","p":1.0,"status":503,"route":"GET /v2/orders/{id}"}]})";
  ASSERT_EQ(w.exchange->set_faults_json(catchups_refused), "");
  w.lose = [](const sim::StreamMessage& m) {
    return m.json.find("-1-e0") != std::string::npos;  // trade 1's entry: unheard
  };
  auto lost = w.rt->open_trade(market_with_oco("F", "10"));
  ASSERT_TRUE(lost.ok());
  w.run(w.options.engine.unprotected_grace_ms + 1'000);
  auto heard = w.rt->open_trade(market_with_oco("F", "5"));
  ASSERT_TRUE(heard.ok());
  w.run(1'000);
  ASSERT_TRUE(working_exit(w, heard->id));
  const OrderId entry = orders_of(w, lost->id).front().id;
  // Not found yet, but the positions reads show 10 F beyond our known fills: the entry may
  // have filled, and the gap is raised from its last known change (in_reach_of).
  EXPECT_TRUE(alert_active(w, AlertKind::unprotected_position, "F")) << "the positions read";

  ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[{"on":"http","action":"status","p":1.0,)"
                                        R"("status":503,"route":"POST /v2/orders"}]})"),
            "");
  w.run(1'500);
  // Found late by the catch-up or by the fetch of a market entry still unfilled.
  EXPECT_EQ(audit_notes_containing(w, entry, "fill found by catch-up") +
                audit_notes_containing(w, entry, "refreshed by id"),
            1);
  EXPECT_EQ(orders_of(w, lost->id).front().state, OrderState::filled);
  EXPECT_TRUE(alert_active(w, AlertKind::unprotected_position, "F"));
}
}  // namespace
}  // namespace orderly::testing
