// The Store contract, run against every registered backend (backends.h).

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "backends.h"
#include "fixtures.h"
#include "store/open.h"
#include "store/store.h"

namespace orderly::testing {
namespace {

using Code = Status::Code;

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = store_backend(GetParam()).fresh_url(&skip);
    if (url_.empty()) GTEST_SKIP() << GetParam() << ": " << skip;
    store_ = open("acct1");
  }

  std::unique_ptr<Store> open(const std::string& account) {
    auto s = open_store(url_, account);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? std::move(*s) : nullptr;
  }

  void commit(const WriteBatch& b) {
    Status s = store_->commit(b);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }

  std::vector<OrderEvent> all_events() {
    auto ev = store_->events_since(0, 10000);
    EXPECT_TRUE(ev.ok()) << ev.status().to_string();
    return ev.ok() ? *ev : std::vector<OrderEvent>{};
  }

  std::string url_;
  std::unique_ptr<Store> store_;
};

void expect_same(const Order& a, const Order& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.trade_id, b.trade_id);
  EXPECT_EQ(a.role, b.role);
  EXPECT_EQ(a.client_order_id, b.client_order_id);
  EXPECT_EQ(a.broker_order_id, b.broker_order_id);
  EXPECT_EQ(a.symbol, b.symbol);
  EXPECT_EQ(a.side, b.side);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.tif, b.tif);
  EXPECT_EQ(a.order_class, b.order_class);
  EXPECT_EQ(a.qty.str(), b.qty.str());  // exact, and printed as it was given
  EXPECT_EQ(a.limit_price ? a.limit_price->str() : "-", b.limit_price ? b.limit_price->str() : "-");
  EXPECT_EQ(a.stop_price ? a.stop_price->str() : "-", b.stop_price ? b.stop_price->str() : "-");
  EXPECT_EQ(a.parent_order_id, b.parent_order_id);
  EXPECT_EQ(a.replaces_order_id, b.replaces_order_id);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.filled_qty.str(), b.filled_qty.str());
  EXPECT_EQ(a.filled_avg_price ? a.filled_avg_price->str() : "-",
            b.filled_avg_price ? b.filled_avg_price->str() : "-");
  EXPECT_EQ(a.broker_updated_at, b.broker_updated_at);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.next_attempt_at, b.next_attempt_at);
  EXPECT_EQ(a.last_error, b.last_error);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.notional, b.notional);
  EXPECT_EQ(a.trail_price, b.trail_price);
  EXPECT_EQ(a.trail_percent, b.trail_percent);
  EXPECT_EQ(a.extended_hours, b.extended_hours);
}

void expect_same(const Trade& a, const Trade& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.spec.symbol, b.spec.symbol);
  EXPECT_EQ(a.spec.side, b.spec.side);
  EXPECT_EQ(a.spec.qty.str(), b.spec.qty.str());
  EXPECT_EQ(a.spec.entry_type, b.spec.entry_type);
  EXPECT_EQ(a.spec.entry_limit_price, b.spec.entry_limit_price);
  EXPECT_EQ(a.spec.tif, b.spec.tif);
  EXPECT_EQ(a.spec.take_profit.price, b.spec.take_profit.price);
  EXPECT_EQ(a.spec.take_profit.percent, b.spec.take_profit.percent);
  ASSERT_EQ(a.spec.stop_loss.has_value(), b.spec.stop_loss.has_value());
  if (a.spec.stop_loss) {
    EXPECT_EQ(a.spec.stop_loss->price, b.spec.stop_loss->price);
    EXPECT_EQ(a.spec.stop_loss->percent, b.spec.stop_loss->percent);
    EXPECT_EQ(a.spec.stop_loss->trail_percent, b.spec.stop_loss->trail_percent);
    EXPECT_EQ(a.spec.stop_loss->trail_price, b.spec.stop_loss->trail_price);
  }
  EXPECT_EQ(a.spec.notional, b.spec.notional);
  EXPECT_EQ(a.spec.entry_stop_price, b.spec.entry_stop_price);
  EXPECT_EQ(a.spec.extended_hours, b.spec.extended_hours);
  EXPECT_EQ(a.spec.price_increment, b.spec.price_increment);
  EXPECT_EQ(a.spec.exits, b.spec.exits);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.note, b.note);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
}

TEST_P(StoreTest, FreshStoreIsEmpty) {
  auto st = store_->load();
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  EXPECT_EQ(st->instance_tag.size(), 4u);
  EXPECT_TRUE(st->open_trades.empty());
  EXPECT_TRUE(st->open_orders.empty());
  EXPECT_TRUE(st->positions.empty());
  EXPECT_TRUE(st->active_alerts.empty());
  EXPECT_TRUE(st->sync_state.empty());
  EXPECT_EQ(st->max_trade_id, 0);
  EXPECT_EQ(st->max_order_id, 0);
  EXPECT_EQ(st->max_alert_id, 0);
  EXPECT_TRUE(store_->commit(WriteBatch{}).ok());
}

TEST_P(StoreTest, InstanceTagIsMadeOnceAndKept) {
  const std::string tag = store_->load()->instance_tag;
  store_.reset();
  auto again = open("acct1");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->load()->instance_tag, tag);
}

TEST_P(StoreTest, OrderAndTradeRoundTripEveryField) {
  Trade t = sample_trade(7);
  t.spec.side = Side::sell;
  t.spec.qty = D("0.500");
  t.spec.take_profit = PriceTarget{D("101.10"), std::nullopt};
  t.spec.stop_loss = PriceTarget{std::nullopt, D("1.25")};
  t.spec.exits = ExitMode::native;
  t.state = TradeState::open;
  t.note = "quotes ' and \" and unicode \xc3\xa9";
  Order full = sample_order(11, 7, OrderState::partially_filled);
  full.role = OrderRole::stop_loss;
  full.broker_order_id = "61e69015-8549-4bfd-b9c3-01e75843f47d";
  full.symbol = "BRK.B";
  full.side = Side::sell;
  full.type = OrderType::stop_limit;
  full.tif = TimeInForce::day;
  full.order_class = OrderClass::oco;
  full.qty = D("10.50");
  full.limit_price = D("0.1234");
  full.stop_price = D("0.1200");
  full.parent_order_id = 10;
  full.replaces_order_id = 9;
  full.filled_qty = D("1790.86");
  full.filled_avg_price = D("105.8988475");
  full.broker_updated_at = Timestamp{1'650'390'305'024'916'716};
  full.attempts = 3;
  full.next_attempt_at = Timestamp{-5};  // negative nanoseconds survive too
  full.last_error = "HTTP 503";
  full.version = 42;
  Order bare = sample_order(12, 7);
  bare.limit_price.reset();
  bare.type = OrderType::market;
  WriteBatch b;
  b.trades = {t};
  b.orders = {full, bare};
  b.events = {event_for(full, std::nullopt), event_for(bare, std::nullopt)};
  commit(b);

  auto got = store_->get_order(11);
  ASSERT_TRUE(got.ok() && got->has_value());
  expect_same(**got, full);
  got = store_->get_order(12);
  ASSERT_TRUE(got.ok() && got->has_value());
  expect_same(**got, bare);
  auto trade = store_->get_trade(7);
  ASSERT_TRUE(trade.ok() && trade->has_value());
  expect_same(**trade, t);
  EXPECT_FALSE(store_->get_order(99)->has_value());
  EXPECT_FALSE(store_->get_trade(99)->has_value());
}

// Issue 17's fields: a notional stop-limit entry with extended hours, a trailing stop-loss, no
// take-profit, "exits": "none"; orders carrying notional, trails and extended hours.
TEST_P(StoreTest, TheFieldsOfEveryTradeShapeRoundTrip) {
  Trade t = sample_trade(8);
  t.spec.qty = Decimal();
  t.spec.notional = D("250.75");
  t.spec.entry_type = OrderType::stop_limit;
  t.spec.entry_limit_price = D("10.60");
  t.spec.entry_stop_price = D("10.50");
  t.spec.extended_hours = true;
  t.spec.take_profit = {};
  t.spec.stop_loss = PriceTarget{.trail_percent = D("1.5")};
  Trade u = sample_trade(9);
  u.spec.take_profit = {};
  u.spec.stop_loss = PriceTarget{.trail_price = D("0.25")};
  Trade none = sample_trade(10);
  none.spec.take_profit = {};
  none.spec.stop_loss.reset();
  none.spec.exits = ExitMode::none;
  Trade pair = sample_trade(11);  // a crypto pair's, with its price_increment
  pair.spec.symbol = "BTC/USD";
  pair.spec.take_profit = PriceTarget{.percent = D("2")};
  pair.spec.price_increment = D("0.5");
  Order trailing = sample_order(21, 8);
  trailing.type = OrderType::trailing_stop;
  trailing.trail_percent = D("1.5");
  Order notional = sample_order(22, 8);
  notional.qty = Decimal();
  notional.notional = D("250.75");
  notional.extended_hours = true;
  Order by_price = sample_order(23, 9);
  by_price.trail_price = D("0.25");
  WriteBatch b;
  b.trades = {t, u, none, pair};
  b.orders = {trailing, notional, by_price};
  for (const Order& o : b.orders) b.events.push_back(event_for(o, std::nullopt));
  commit(b);
  for (const Trade& want : b.trades) {
    auto got = store_->get_trade(want.id);
    ASSERT_TRUE(got.ok() && got->has_value()) << want.id;
    expect_same(**got, want);
  }
  for (const Order& want : b.orders) {
    auto got = store_->get_order(want.id);
    ASSERT_TRUE(got.ok() && got->has_value()) << want.id;
    expect_same(**got, want);
  }
}

TEST_P(StoreTest, FindByClientAndBrokerId) {
  WriteBatch b = create_batch(1, 1);
  b.orders[0].broker_order_id = "b-1";
  commit(b);
  auto by_cid = store_->find_order_by_client_id(b.orders[0].client_order_id);
  ASSERT_TRUE(by_cid.ok() && by_cid->has_value());
  EXPECT_EQ((*by_cid)->id, 1);
  auto by_bid = store_->find_order_by_broker_id("b-1");
  ASSERT_TRUE(by_bid.ok() && by_bid->has_value());
  EXPECT_EQ((*by_bid)->id, 1);
  EXPECT_FALSE(store_->find_order_by_client_id("nope")->has_value());
  EXPECT_FALSE(store_->find_order_by_broker_id("nope")->has_value());
}

TEST_P(StoreTest, UpsertUpdatesAndNeverClearsTheBrokerId) {
  WriteBatch b = create_batch(1, 1);
  commit(b);
  Order o = b.orders[0];
  o.state = OrderState::new_;
  o.broker_order_id = "b-1";
  o.version = 2;
  WriteBatch u;
  u.orders = {o};
  u.events = {event_for(o, OrderState::created)};
  commit(u);
  o.broker_order_id.reset();  // an update that did not carry it
  o.state = OrderState::partially_filled;
  o.filled_qty = D("4");
  o.version = 3;
  u.orders = {o};
  u.events = {event_for(o, OrderState::new_)};
  commit(u);
  auto got = store_->get_order(1);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->broker_order_id, "b-1");
  EXPECT_EQ((*got)->state, OrderState::partially_filled);
  EXPECT_EQ((*got)->filled_qty, D("4"));
  EXPECT_EQ((*got)->version, 3);
}

TEST_P(StoreTest, AuditEventsAreAppendedWithGapFreeSeq) {
  WriteBatch b = create_batch(1, 1);
  WriteBatch b2 = create_batch(2, 2);
  b.trades.push_back(b2.trades[0]);
  b.orders.push_back(b2.orders[0]);
  b.events.push_back(b2.events[0]);
  commit(b);
  Order o = b.orders[0];
  for (OrderState s : {OrderState::submitting, OrderState::new_, OrderState::filled}) {
    OrderState from = o.state;
    o.state = s;
    o.version++;
    WriteBatch u;
    u.orders = {o};
    u.events = {event_for(o, from)};
    u.events.back().payload = R"({"event":"x"})";
    commit(u);
  }
  auto events = all_events();
  ASSERT_EQ(events.size(), 5u);
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].seq, events[0].seq + static_cast<std::int64_t>(i));
  auto trail = store_->order_events(1);
  ASSERT_TRUE(trail.ok());
  ASSERT_EQ(trail->size(), 4u);
  EXPECT_FALSE((*trail)[0].from.has_value());
  EXPECT_EQ((*trail)[0].to, OrderState::created);
  EXPECT_EQ((*trail)[0].source, EventSource::intent);
  EXPECT_EQ((*trail)[3].from, OrderState::new_);
  EXPECT_EQ((*trail)[3].to, OrderState::filled);
  EXPECT_EQ((*trail)[3].payload, R"({"event":"x"})");
  EXPECT_EQ((*trail)[3].note, "changed");
  // events_since pages through the log in seq order.
  auto page = store_->events_since(events[1].seq, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].seq, events[2].seq);
  EXPECT_EQ((*page)[1].seq, events[3].seq);
  EXPECT_TRUE(store_->events_since(events.back().seq, 10)->empty());
}

TEST_P(StoreTest, AnEventForAnUnknownOrderIsRefused) {
  commit(create_batch(1, 1));
  const auto before = all_events().size();
  WriteBatch b;
  Order ghost = sample_order(99, 1);
  b.events = {event_for(ghost, std::nullopt)};
  Status s = store_->commit(b);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(all_events().size(), before);
}

TEST_P(StoreTest, DuplicateClientOrderIdIsAConflictAndNothingIsApplied) {
  commit(create_batch(1, 1));
  const auto before = all_events();
  WriteBatch b = create_batch(2, 2);
  b.orders[0].client_order_id = sample_order(1, 1).client_order_id;  // taken by order 1
  b.positions = {Position{"AAPL", D("5"), D("100")}};
  b.sync_state = {{"fills_after", "x"}};
  Status s = store_->commit(b);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::conflict) << s.to_string();
  EXPECT_FALSE(store_->get_order(2)->has_value());
  EXPECT_FALSE(store_->get_trade(2)->has_value());
  EXPECT_TRUE(store_->positions()->empty());
  EXPECT_TRUE(store_->load()->sync_state.empty());
  EXPECT_EQ(all_events().size(), before.size());
  // The store is still usable, and seq continues without a gap.
  commit(create_batch(3, 3));
  auto after = all_events();
  ASSERT_EQ(after.size(), before.size() + 1);
  EXPECT_EQ(after.back().seq, before.back().seq + 1);
}

TEST_P(StoreTest, DuplicateBrokerOrderIdIsAConflict) {
  WriteBatch a = create_batch(1, 1);
  a.orders[0].broker_order_id = "same";
  commit(a);
  WriteBatch b = create_batch(2, 2);
  b.orders[0].broker_order_id = "same";
  Status s = store_->commit(b);
  EXPECT_EQ(s.code(), Code::conflict) << s.to_string();
  EXPECT_FALSE(store_->get_order(2)->has_value());
  // Orders without a broker id yet do not collide with each other.
  commit(create_batch(3, 3));
  commit(create_batch(4, 4));
}

// A client_trade_id names one trade per account: found by key, never stored twice.
TEST_P(StoreTest, ClientTradeIdIsFoundAndUniquePerAccount) {
  WriteBatch b = create_batch(1, 1);
  b.trades.front().spec.client_trade_id = "strat:2026-12-03.1";
  commit(b);
  commit(create_batch(2, 2));  // no key: any number of those
  commit(create_batch(3, 3));
  auto found = store_->find_trade_by_client_id("strat:2026-12-03.1");
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->id, 1);
  EXPECT_EQ((*found)->spec.client_trade_id, "strat:2026-12-03.1");
  auto none = store_->find_trade_by_client_id("other");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto plain = store_->get_trade(2);
  ASSERT_TRUE(plain.ok() && plain->has_value());
  EXPECT_EQ((*plain)->spec.client_trade_id, "");

  // The key survives the trade's later upserts (state changes rewrite the row).
  Trade t = (*found).value();
  t.state = TradeState::open;
  WriteBatch update;
  update.trades.push_back(t);
  commit(update);
  EXPECT_EQ(store_->get_trade(1)->value().spec.client_trade_id, "strat:2026-12-03.1");

  WriteBatch twice = create_batch(4, 4);
  twice.trades.front().spec.client_trade_id = "strat:2026-12-03.1";
  Status s = store_->commit(twice);
  EXPECT_EQ(s.code(), Code::conflict) << s.to_string();
  EXPECT_FALSE(store_->get_trade(4)->has_value());  // nothing of the batch was applied

  auto other = open("acct2");
  ASSERT_TRUE(other);
  WriteBatch elsewhere = create_batch(1, 1);
  elsewhere.trades.front().spec.client_trade_id = "strat:2026-12-03.1";
  EXPECT_TRUE(other->commit(elsewhere).ok());
}

TEST_P(StoreTest, FillsAreRecordedOncePerExecutionId) {
  commit(create_batch(1, 1));
  Fill f{"exec-1", 1, "AAPL", Side::buy, D("3"), D("150.25"), Timestamp{100}};
  Fill g{"exec-2", 1, "AAPL", Side::buy, D("2"), D("150.30"), Timestamp{200}};
  WriteBatch b;
  b.fills = {f, f, g};  // the stream and the catch-up both saw exec-1
  commit(b);
  b.fills = {g};
  commit(b);
  auto fills = store_->fills_for(1);
  ASSERT_TRUE(fills.ok());
  ASSERT_EQ(fills->size(), 2u);
  EXPECT_EQ((*fills)[0].execution_id, "exec-1");
  EXPECT_EQ((*fills)[0].qty, D("3"));
  EXPECT_EQ((*fills)[0].price.str(), "150.25");
  EXPECT_EQ((*fills)[1].execution_id, "exec-2");
  EXPECT_TRUE(store_->fills_for(2)->empty());
}

TEST_P(StoreTest, PositionsAlertsAndSyncStateUpsert) {
  WriteBatch b;
  b.positions = {Position{"AAPL", D("10"), D("150.5")}, Position{"TSLA", D("-3"), D("200")}};
  b.alerts = {Alert{1, AlertKind::stream_down, "stream", "down", Timestamp{1}, std::nullopt},
              Alert{2, AlertKind::order_parked, "ol-x", "parked", Timestamp{2}, std::nullopt}};
  b.sync_state = {{"fills_after", "2022-04-19T17:45:05Z"}, {"stream", "up"}};
  commit(b);
  b = {};
  b.positions = {Position{"AAPL", D("0"), D("0")}};
  b.alerts = {Alert{1, AlertKind::stream_down, "stream", "down", Timestamp{1}, Timestamp{5}}};
  b.sync_state = {{"stream", "down"}};
  commit(b);
  auto pos = store_->positions();
  ASSERT_TRUE(pos.ok());
  ASSERT_EQ(pos->size(), 2u);
  EXPECT_EQ((*pos)[0].symbol, "AAPL");
  EXPECT_EQ((*pos)[0].qty, D("0"));
  EXPECT_EQ((*pos)[1].qty, D("-3"));
  auto active = store_->list_alerts(true, 10);
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].id, 2);
  EXPECT_EQ((*active)[0].kind, AlertKind::order_parked);
  auto all = store_->list_alerts(false, 10);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->at(0).id, 2);  // newest first
  EXPECT_EQ(all->at(1).cleared_at, Timestamp{5});
  auto st = store_->load();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->sync_state.at("stream"), "down");
  EXPECT_EQ(st->sync_state.at("fills_after"), "2022-04-19T17:45:05Z");
  ASSERT_EQ(st->active_alerts.size(), 1u);
  EXPECT_EQ(st->max_alert_id, 2);
  EXPECT_EQ(st->positions.size(), 2u);
}

TEST_P(StoreTest, LoadReturnsOpenWorkAndIdMaxima) {
  WriteBatch b;
  // Trade 1: closed, both orders terminal: history, not loaded.
  b.trades.push_back(sample_trade(1, TradeState::closed));
  b.orders.push_back(sample_order(1, 1, OrderState::filled));
  b.orders.push_back(sample_order(2, 1, OrderState::canceled));
  // Trade 2: open; its entry filled (terminal) but belongs to an open trade, its TP is working.
  b.trades.push_back(sample_trade(2, TradeState::open));
  b.orders.push_back(sample_order(3, 2, OrderState::filled));
  b.orders.push_back(sample_order(4, 2, OrderState::new_));
  // Trade 3: canceled, but an order of it is still open at the broker (must be loaded).
  b.trades.push_back(sample_trade(3, TradeState::canceled));
  b.orders.push_back(sample_order(5, 3, OrderState::pending_cancel));
  // Trade 4: pending, entry parked (not terminal).
  b.trades.push_back(sample_trade(4, TradeState::pending));
  b.orders.push_back(sample_order(6, 4, OrderState::parked));
  for (const Order& o : b.orders) b.events.push_back(event_for(o, std::nullopt));
  commit(b);

  auto st = store_->load();
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  std::set<TradeId> trades;
  for (const Trade& t : st->open_trades) trades.insert(t.id);
  EXPECT_EQ(trades, (std::set<TradeId>{2, 4}));
  std::set<OrderId> orders;
  for (const Order& o : st->open_orders) orders.insert(o.id);
  EXPECT_EQ(orders, (std::set<OrderId>{3, 4, 5, 6}));
  EXPECT_EQ(st->open_orders.size(), 4u);  // no duplicates
  EXPECT_EQ(st->max_trade_id, 4);
  EXPECT_EQ(st->max_order_id, 6);
}

TEST_P(StoreTest, ListOrdersFilters) {
  WriteBatch b;
  b.trades.push_back(sample_trade(1));
  b.trades.push_back(sample_trade(2));
  for (OrderId id = 1; id <= 6; ++id) {
    Order o = sample_order(id, id <= 3 ? 1 : 2, id % 2 ? OrderState::new_ : OrderState::filled);
    o.symbol = id <= 4 ? "AAPL" : "TSLA";
    b.orders.push_back(o);
    b.events.push_back(event_for(o, std::nullopt));
  }
  commit(b);
  auto ids = [&](const OrderFilter& f) {
    std::vector<OrderId> out;
    auto r = store_->list_orders(f);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (r.ok()) {
      for (const Order& o : *r) out.push_back(o.id);
    }
    return out;
  };
  using V = std::vector<OrderId>;
  EXPECT_EQ(ids({}), (V{6, 5, 4, 3, 2, 1}));  // newest first
  EXPECT_EQ(ids({.state = OrderState::filled}), (V{6, 4, 2}));
  EXPECT_EQ(ids({.symbol = "TSLA"}), (V{6, 5}));
  EXPECT_EQ(ids({.trade_id = 1}), (V{3, 2, 1}));
  EXPECT_EQ(ids({.open_only = true}), (V{5, 3, 1}));
  EXPECT_EQ(ids({.symbol = "AAPL", .trade_id = 2, .open_only = false}), (V{4}));
  EXPECT_EQ(ids({.limit = 2}), (V{6, 5}));
  EXPECT_EQ(ids({.limit = 2, .offset = 2}), (V{4, 3}));
  EXPECT_EQ(ids({.limit = 0}), V{});
  auto trades = store_->list_trades(1, 0);
  ASSERT_TRUE(trades.ok());
  ASSERT_EQ(trades->size(), 1u);
  EXPECT_EQ(trades->at(0).id, 2);
  EXPECT_EQ(store_->list_trades(10, 1)->size(), 1u);
}

TEST_P(StoreTest, AccountsAreIsolated) {
  commit(create_batch(1, 1));
  auto other = open("acct2");
  ASSERT_TRUE(other);
  auto st = other->load();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->open_orders.empty());
  EXPECT_EQ(st->max_order_id, 0);
  EXPECT_FALSE(other->get_order(1)->has_value());
  EXPECT_TRUE(other->events_since(0, 100)->empty());
  // The same ids and client_order_id in another account do not collide.
  Status s = other->commit(create_batch(1, 1));
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(other->order_events(1)->size(), 1u);
  EXPECT_EQ(store_->order_events(1)->size(), 1u);
}

TEST_P(StoreTest, CommittedDataSurvivesReopen) {
  commit(create_batch(1, 1));
  store_.reset();
  auto again = open("acct1");
  ASSERT_TRUE(again);
  auto st = again->load();
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->open_orders.size(), 1u);
  EXPECT_EQ(st->open_orders[0].limit_price->str(), "150.50");
  EXPECT_EQ(again->order_events(1)->size(), 1u);
}

// The engine writes while API threads read: every call succeeds and readers see whole batches.
TEST_P(StoreTest, ConcurrentReadersWhileWriting) {
  constexpr int kBatches = 150;
  std::atomic<bool> done{false};
  std::atomic<int> reader_errors{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        auto st = store_->load();
        if (!st.ok()) {
          ++reader_errors;
          continue;
        }
        // Each batch writes an order and its event: never one without the other.
        auto ev = store_->events_since(0, 10000);
        if (!ev.ok() || ev->size() < st->open_orders.size()) ++reader_errors;
        if (!store_->list_orders({.limit = 10}).ok()) ++reader_errors;
      }
    });
  }
  for (int i = 1; i <= kBatches; ++i) {
    Status s = store_->commit(create_batch(i, i));
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(reader_errors.load(), 0);
  EXPECT_EQ(store_->load()->open_orders.size(), static_cast<std::size_t>(kBatches));
  EXPECT_EQ(all_events().size(), static_cast<std::size_t>(kBatches));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(store_backend_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace orderly::testing
