// Engine rules, each against the scripted FakeBroker under virtual time.

#include <gtest/gtest.h>

#include "core/ids.h"
#include "harness.h"

namespace orderly::testing {
namespace {

using K = BrokerError::Kind;

TradeId open(Harness& h, TradeSpec s) {
  auto t = h.rt->open_trade(s);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return t.ok() ? t->id : 0;
}

std::string entry_bid(Harness& h, TradeId t) {
  auto e = h.find(t, OrderRole::entry);
  EXPECT_TRUE(e && e->broker_order_id);
  return e && e->broker_order_id ? *e->broker_order_id : "";
}

TEST(EngineSubmit, EntryFillsThenOneOcoExitForTheFilledQty) {
  Harness h;
  h.start();
  TradeId t = open(h, spec("STWD", "37", "21.50", "19.00"));
  auto entry = h.find(t, OrderRole::entry);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->state, OrderState::accepted);
  EXPECT_EQ(h.submits_for(entry->client_order_id), 1);
  h.broker.fill(entry_bid(h, t), Decimal::must("37"), Decimal::must("20.00"));
  h.run(500);
  auto tp = h.find(t, OrderRole::take_profit);
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->order_class, OrderClass::oco);
  EXPECT_EQ(tp->qty, Decimal::must("37"));
  EXPECT_TRUE(tp->broker_order_id.has_value());
  auto sl = h.find(t, OrderRole::stop_loss, true);
  ASSERT_TRUE(sl);
  EXPECT_EQ(sl->parent_order_id, tp->id);
  EXPECT_TRUE(sl->broker_order_id.has_value()) << "leg id learned from the reply's legs";
  EXPECT_EQ(h.trade(t)->state, TradeState::open);
  EXPECT_EQ(h.broker.insufficient_qty_answers, 0);
  h.expect_no_duplicates();
  h.expect_in_sync();
  // Every change is audited.
  EXPECT_FALSE(h.store.order_events(tp->id)->empty());
}

TEST(EngineSubmit, LostResponseIsResolvedByLookupAndAdoptedWithoutResend) {
  Harness h;
  h.start();
  h.broker.submit_script.push_back(
      {FakeBroker::error(K::unknown_outcome, 0, 0, "connection reset"), /*apply=*/true});
  TradeId t = open(h, spec("F", "3", "12.00"));
  h.run(300);
  auto entry = h.find(t, OrderRole::entry);
  ASSERT_TRUE(entry);
  EXPECT_TRUE(entry->broker_order_id.has_value());
  EXPECT_EQ(entry->state, OrderState::accepted);
  EXPECT_EQ(h.broker.submit_calls, 1) << "adopted, never re-sent";
  EXPECT_GE(h.broker.lookup_calls, 1);
  h.expect_no_duplicates();
}

TEST(EngineSubmit, LookupNotFoundResendsWithTheSameClientId) {
  Harness h;
  h.start();
  h.broker.submit_script.push_back(
      {FakeBroker::error(K::unknown_outcome, 504, 0, "gateway timeout"), /*apply=*/false});
  TradeId t = open(h, spec("F", "3", "12.00"));
  auto entry = h.find(t, OrderRole::entry);
  ASSERT_TRUE(entry);
  const std::string cid = entry->client_order_id;
  h.run(5000);
  entry = h.find(t, OrderRole::entry);
  EXPECT_EQ(entry->client_order_id, cid);
  EXPECT_EQ(entry->state, OrderState::accepted);
  EXPECT_EQ(h.broker.submit_calls, 2);
  EXPECT_EQ(h.submits_for(cid), 1);
  EXPECT_EQ(entry->attempts, 2);
}

TEST(EngineSubmit, NetworkErrorOnLookupNeverCountsAsNotFound) {
  Harness h;
  h.start();
  h.broker.submit_script.push_back(
      {FakeBroker::error(K::unknown_outcome, 0, 0, "timeout"), /*apply=*/true});
  for (int i = 0; i < 3; ++i) {
    h.broker.lookup_script.push_back(FakeBroker::error(K::not_sent, 0, 0, "connect refused"));
  }
  TradeId t = open(h, spec("F", "3", "12.00"));
  h.run(10000);
  auto entry = h.find(t, OrderRole::entry);
  EXPECT_EQ(entry->state, OrderState::accepted);
  EXPECT_EQ(h.broker.submit_calls, 1);
}

// Lookups that get no answer (a broker that takes connections and drops them) back off like
// failed refreshes, doubling to 30 s; the first answer resolves the order (issue 15: they were
// asked every ~1.1 s).
TEST(EngineSubmit, LookupsThatGetNoAnswerBackOff) {
  Harness h;
  h.start();
  h.broker.submit_script.push_back(
      {FakeBroker::error(K::unknown_outcome, 0, 0, "timeout"), /*apply=*/true});
  for (int i = 0; i < 40; ++i) {
    h.broker.lookup_script.push_back(
        FakeBroker::error(K::unknown_outcome, 0, 0, "connection reset by peer"));
  }
  // Neither the stream nor a listing tells of it: only the lookups can.
  h.stream_up = false;
  h.rt->on_disconnected("network");
  h.broker.reads_fail = FakeBroker::error(K::unknown_outcome, 0, 0, "connection reset by peer");
  TradeId t = open(h, spec("F", "3", "12.00"));
  h.run(60'000);
  EXPECT_LE(h.broker.lookup_calls, 8) << "1, 2, 4, 8, 16, 30 s apart";
  EXPECT_GE(h.broker.lookup_calls, 5);
  h.broker.lookup_script.clear();
  h.broker.reads_fail.reset();
  h.run(31'000);
  EXPECT_EQ(h.find(t, OrderRole::entry)->state, OrderState::accepted);
  EXPECT_EQ(h.broker.submit_calls, 1);
}

TEST(EngineSubmit, NotSentRetriesWithBoundedBackoffThenParks) {
  Harness h;
  h.options.engine.retry_max_attempts = 4;
  h.rt = std::make_unique<SimulationRuntime>(h.store, h.broker, h.clock, h.options,
                                             [&](Timestamp) { h.pump(); });
  h.start();
  for (int i = 0; i < 10; ++i) {
    h.broker.submit_script.push_back({FakeBroker::error(K::not_sent, 0, 0, "connect"), false});
  }
  TradeId t = open(h, spec("F", "3", "12.00"));
  // Backoff bound after attempt n: min(cap, base * 2^(n-1)).
  auto e = h.find(t, OrderRole::entry);
  ASSERT_TRUE(e && e->next_attempt_at);
  EXPECT_LE(e->next_attempt_at->ms_since(h.clock.now()), 1000);
  h.run(60000);
  e = h.find(t, OrderRole::entry);
  EXPECT_EQ(e->state, OrderState::parked);
  EXPECT_EQ(e->attempts, 4);
  EXPECT_EQ(h.broker.submit_calls, 4);
  EXPECT_TRUE(h.has_alert(AlertKind::order_parked));
  EXPECT_EQ(h.store.trades.at(t).state, TradeState::failed);
}

TEST(EngineSubmit, DefinitiveRejectionFailsWithoutRetry) {
  Harness h;
  h.start();
  h.broker.submit_script.push_back(
      {FakeBroker::error(K::rejected, 422, 42210000, "invalid limit price"), false});
  TradeId t = open(h, spec("F", "3", "12.00"));
  h.run(5000);
  EXPECT_EQ(h.broker.submit_calls, 1);
  EXPECT_EQ(h.store.trades.at(t).state, TradeState::failed);
}

TEST(EngineSubmit, DuplicateClientIdIsAdopted) {
  Harness h;
  // The resend goes out before any sweep or stream event could reveal the first attempt.
  h.options.engine.retry_base_ms = 10;
  h.rt = std::make_unique<SimulationRuntime>(h.store, h.broker, h.clock, h.options,
                                             [&](Timestamp) { h.pump(); });
  h.stream_up = false;
  h.start();
  // An earlier attempt exists at the broker (created, reply lost) and the resend gets 40010001.
  h.broker.submit_script.push_back(
      {FakeBroker::error(K::not_sent, 0, 0, "looks unsent but was sent"), true});
  TradeId t = open(h, spec("F", "3", "12.00"));
  h.run(5000);
  auto e = h.find(t, OrderRole::entry);
  EXPECT_EQ(e->state, OrderState::accepted);
  EXPECT_TRUE(e->broker_order_id);
  EXPECT_EQ(h.submits_for(e->client_order_id), 1);
  EXPECT_EQ(h.engine().metrics().duplicate_client_id_adopted, 1);
  EXPECT_EQ(h.broker.submit_calls, 2);
}

TEST(EngineSubmit, StreamEvidenceOfAnUnsentOrderIsAdoptedWithoutResend) {
  Harness h;
  h.broker.submit_script.push_back(
      {FakeBroker::error(K::not_sent, 0, 0, "looks unsent but was sent"), true});
  h.start();
  TradeId t = open(h, spec("F", "3", "12.00"));
  h.run(5000);
  auto e = h.find(t, OrderRole::entry);
  EXPECT_EQ(e->state, OrderState::accepted);
  EXPECT_EQ(h.broker.submit_calls, 1);
}

TEST(EngineSubmit, InsufficientQtyHeldByOurOwnExitIsAdoptedNotRetried) {
  Harness h;
  h.start();
  TradeId t = open(h, spec("STWD", "37", "21.50"));
  h.broker.fill(entry_bid(h, t), Decimal::must("37"), Decimal::must("20.00"));
  // Our take-profit from an earlier run exists at the broker (generation 5), unknown locally.
  const std::string earlier = make_client_order_id(h.engine().owner(), t, OrderRole::take_profit, 5);
  OrderRequest r;
  r.symbol = "STWD";
  r.side = Side::sell;
  r.type = OrderType::limit;
  r.qty = Decimal::must("37");
  r.limit_price = Decimal::must("21.50");
  r.client_order_id = earlier;
  ASSERT_TRUE(h.broker.submit_order(r).ok());
  // The engine's positions read will claim the shares are there (stale view of a fresh hold).
  h.run(3000);
  EXPECT_EQ(h.broker.insufficient_qty_answers, 0) << "pre-submit check saw qty_available 0";
  auto adopted = h.engine().order_by_client_id(earlier);
  // Either the pre-submit check kept the exit back or a 40310000 led to adoption; never a loop.
  EXPECT_LE(h.broker.submit_calls, 3);
  h.expect_no_duplicates();
  (void)adopted;
}

TEST(EngineSubmit, InsufficientQtyFromRelatedOwnOrderStopsTheRetry) {
  Harness h;
  h.start();
  TradeId t = open(h, spec("STWD", "37", "21.50"));
  h.broker.fill(entry_bid(h, t), Decimal::must("37"), Decimal::must("20.00"));
  const std::string earlier = make_client_order_id(h.engine().owner(), t, OrderRole::take_profit, 7);
  // The broker answers our TP with 40310000 naming our earlier TP as the holder.
  BrokerOrder holder = h.broker.make("STWD", Side::sell, OrderType::limit, Decimal::must("37"),
                                     earlier, OrderClass::simple);
  holder.status = OrderState::new_;
  holder.limit_price = Decimal::must("21.50");
  h.broker.orders[holder.id] = holder;
  BrokerError e = FakeBroker::error(K::rejected, 403, 40310000, "insufficient qty available");
  e.insufficient_qty = InsufficientQty{"STWD", Decimal(), Decimal::must("37"),
                                       Decimal::must("37"), {holder.id}};
  h.broker.submit_script.push_back({e, false});
  // Make the pre-submit check pass: the positions read happens before the holder counts.
  h.broker.position_qty["STWD"] = Decimal::must("74");
  h.run(1000);
  h.broker.position_qty["STWD"] = Decimal::must("37");
  h.run(5000);
  auto tp = h.engine().order_by_client_id(earlier);
  ASSERT_TRUE(tp) << "our related order was adopted";
  EXPECT_EQ(tp->state, OrderState::new_);
  auto first = h.engine().order_by_client_id(
      make_client_order_id(h.engine().owner(), t, OrderRole::take_profit, 0));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->state, OrderState::canceled) << "intent satisfied by the working exit";
  EXPECT_EQ(first->attempts, 1) << "no retry after 40310000 with our own holder";
  EXPECT_EQ(h.engine().metrics().insufficient_qty_errors, 1);
}

TEST(EngineSubmit, InsufficientQtyFromExternalOrderWaitsForHoldingsToChange) {
  Harness h;
  h.start();
  TradeId t = open(h, spec("F", "3", "12.00"));
  h.broker.fill(entry_bid(h, t), Decimal::must("3"), Decimal::must("11.00"));
  BrokerOrder ext = h.broker.make("F", Side::sell, OrderType::limit, Decimal::must("3"),
                                  "someone-else-1", OrderClass::simple);
  ext.status = OrderState::new_;
  BrokerError e = FakeBroker::error(K::rejected, 403, 40310000, "insufficient qty available");
  e.insufficient_qty = InsufficientQty{"F", Decimal(), Decimal::must("3"), Decimal::must("3"),
                                       {ext.id}};
  h.broker.submit_script.push_back({e, false});
  // The external order appears between our positions read and our submit.
  h.broker.before_submit = [&](const OrderRequest& r) {
    if (r.side == Side::sell && !h.broker.orders.count(ext.id)) h.broker.orders[ext.id] = ext;
  };
  h.run(20000);
  EXPECT_TRUE(h.has_alert(AlertKind::external_hold));
  auto tp = h.find(t, OrderRole::take_profit);
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->state, OrderState::created);
  EXPECT_EQ(tp->attempts, 1) << "no blind retry while the external order holds the shares";
  // The external order goes away: holdings change, the exit goes out once.
  h.broker.orders.at(ext.id).status = OrderState::canceled;
  h.run(15000);
  tp = h.find(t, OrderRole::take_profit);
  EXPECT_TRUE(tp->broker_order_id.has_value());
  EXPECT_EQ(tp->attempts, 2);
  EXPECT_FALSE(h.has_alert(AlertKind::external_hold));
  EXPECT_EQ(h.broker.insufficient_qty_answers, 0) << "the scripted one is not counted here";
}

TEST(EngineSubmit, PreSubmitCheckKeepsAnExitBackWhileSharesAreHeldExternally) {
  Harness h;
  h.start();
  TradeId t = open(h, spec("F", "3", "12.00"));
  BrokerOrder ext = h.broker.make("F", Side::sell, OrderType::limit, Decimal::must("3"),
                                  "someone-else-2", OrderClass::simple);
  ext.status = OrderState::new_;
  h.broker.orders[ext.id] = ext;
  h.broker.fill(entry_bid(h, t), Decimal::must("3"), Decimal::must("11.00"));
  h.run(5000);
  auto tp = h.find(t, OrderRole::take_profit);
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->attempts, 0) << "never sent into a certain 40310000";
  EXPECT_TRUE(h.has_alert(AlertKind::external_hold));
  EXPECT_EQ(h.broker.insufficient_qty_answers, 0);
}

TEST(EngineSync, DuplicateAndStaleStreamEventsAreRefused) {
  Harness h;
  h.start();
  TradeId t = open(h, spec("F", "3", "12.00"));
  const std::string bid = entry_bid(h, t);
  h.broker.fill(bid, Decimal::must("3"), Decimal::must("11.00"));
  h.run(200);
  TradeUpdate fill;
  for (const TradeUpdate& u : h.broker.emitted) {
    if (u.event == "fill") fill = u;
  }
  ASSERT_EQ(fill.event, "fill");
  // Duplicate delivery.
  h.rt->on_trade_update(fill);
  // Stale: an old "new" event delivered late.
  TradeUpdate stale = h.broker.emitted.front();
  stale.order.status = OrderState::new_;
  stale.order.filled_qty = Decimal();
  stale.timestamp = stale.timestamp.plus_ms(1);
  h.rt->on_trade_update(stale);
  h.rt->settle();
  auto e = h.find(t, OrderRole::entry);
  EXPECT_EQ(e->state, OrderState::filled);
  EXPECT_EQ(e->filled_qty, Decimal::must("3"));
  auto pos = h.engine().positions();
  ASSERT_FALSE(pos.empty());
  EXPECT_EQ(pos[0].local_qty, Decimal::must("3")) << "the fill counted once";
  bool refused = false;
  auto events = h.store.order_events(e->id);
  for (auto& ev : *events) {
    if (ev.note.find("refused") != std::string::npos) refused = true;
  }
  EXPECT_TRUE(refused) << "refused evidence is audited";
}

TEST(EngineSync, FillCatchUpFindsFillsTheStreamDropped) {
  Harness h;
  h.drop = [](const TradeUpdate& u) {
    return (u.event == "fill" || u.event == "partial_fill") && u.order.side == Side::sell;
  };
  h.start();
  TradeId t = open(h, spec("STWD", "37", "21.50", "19.00"));
  h.broker.fill(entry_bid(h, t), Decimal::must("37"), Decimal::must("20.00"));
  h.run(500);
  auto tp = h.find(t, OrderRole::take_profit);
  ASSERT_TRUE(tp && tp->broker_order_id);
  const Timestamp filled_at = h.clock.now();
  h.broker.fill(*tp->broker_order_id, Decimal::must("37"), Decimal::must("21.50"));
  h.run(2000);  // two poll intervals
  tp = h.find(t, OrderRole::take_profit);
  EXPECT_EQ(tp->state, OrderState::filled);
  EXPECT_GE(h.engine().metrics().fills_from_poll, 1);
  EXPECT_LE(h.engine().metrics().detection_ms_max, 2000);
  (void)filled_at;
  h.expect_in_sync();
  EXPECT_EQ(h.store.trades.at(t).state, TradeState::closed);
  EXPECT_EQ(h.broker.insufficient_qty_answers, 0);
  EXPECT_EQ(h.broker.submit_calls, 2) << "entry + one OCO exit, never a resubmitted TP";
}

// DST I8: fill rows sum to the filled qty whichever source told of the fill. Here the stream
// tells of the first 10 (an execution: its own row) and the last 27 reach the engine only
// through an order read (no trade update, no fill activity): a row derived from the order's
// cumulative qty and average price, at the price that makes the rows' value the order's.
TEST(EngineSync, AFillSeenOnlyInAnOrderReadStillLeavesItsFillRow) {
  Harness h;
  h.start();
  TradeId t = open(h, spec("STWD", "37", "21.50", "19.00"));
  const std::string bid = entry_bid(h, t);
  h.broker.fill(bid, Decimal::must("10"), Decimal::must("20.00"));
  h.run(500);
  h.drop = [](const TradeUpdate& u) { return u.event == "fill" || u.event == "partial_fill"; };
  h.broker.fill(bid, Decimal::must("27"), Decimal::must("20.10"));
  h.broker.activities.pop_back();  // the fill activity is lost as well
  h.run(30000);
  auto e = h.find(t, OrderRole::entry);
  ASSERT_EQ(e->state, OrderState::filled);
  auto fills = h.store.fills_for(e->id);
  ASSERT_TRUE(fills.ok());
  ASSERT_EQ(fills->size(), 2u);
  Decimal qty, value;
  for (const Fill& f : *fills) {
    qty += f.qty;
    value += f.qty * f.price;
  }
  EXPECT_EQ(qty, Decimal::must("37"));
  EXPECT_EQ((*fills)[0].qty + (*fills)[1].qty, Decimal::must("37"));
  EXPECT_EQ(value.round_to(Decimal::must("0.01"), Rounding::half_even),
            (*e->filled_avg_price * e->filled_qty).round_to(Decimal::must("0.01"),
                                                             Rounding::half_even));
  // The restart replays nothing twice: the derived row's id names the order and its cum qty.
  h.restart();
  h.run(2000);
  EXPECT_EQ(h.store.fills_for(e->id)->size(), 2u);
}

TEST(EngineSync, SweepFindsOrdersCanceledWithoutAnEvent) {
  Harness h;
  h.start();
  TradeId t = open(h, spec("F", "3", "12.00"));
  const std::string bid = entry_bid(h, t);
  h.broker.orders.at(bid).status = OrderState::canceled;  // no trade update
  h.run(12000);
  auto e = h.find(t, OrderRole::entry);
  EXPECT_EQ(e->state, OrderState::canceled);
  EXPECT_EQ(h.store.trades.at(t).state, TradeState::canceled);
}

// A limit buy of 30 STWD at 20.00 with a take-profit and a stop (emulated: an OCO).
TradeId open_limit_stwd_30(Harness& h) {
  TradeSpec s = spec("STWD", "30", "21.50", "19.00");
  s.entry_type = OrderType::limit;
  s.entry_limit_price = Decimal::must("20.00");
  return open(h, s);
}

TEST(EngineTrade, PartialEntryFillsGrowTheExitByReplace) {
  Harness h;
  h.start();
  TradeId t = open_limit_stwd_30(h);
  const std::string bid = entry_bid(h, t);
  h.broker.fill(bid, Decimal::must("10"), Decimal::must("20.00"));
  h.run(500);
  auto tp = h.find(t, OrderRole::take_profit);
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->qty, Decimal::must("10"));
  h.broker.fill(bid, Decimal::must("20"), Decimal::must("20.00"));
  h.run(1000);
  tp = h.find(t, OrderRole::take_profit);
  EXPECT_EQ(tp->qty, Decimal::must("30"));
  EXPECT_TRUE(tp->replaces_order_id.has_value());
  EXPECT_EQ(h.broker.replace_calls, 1);
  int working = 0;
  for (auto& [id, o] : h.broker.orders) {
    if (o.side == Side::sell && !h.broker.parent_of.count(id) && is_open_at_broker(*o.status)) {
      ++working;
      EXPECT_EQ(*o.qty, Decimal::must("30"));
    }
  }
  EXPECT_EQ(working, 1);
  h.run(12000);
  h.expect_in_sync();
}

// The race a grow by replace cannot see: the take-profit fills in part while the replace that
// grows it is on its way, and Alpaca gives the replacement the qty asked (everything held then).
// Left so, it would sell shares the trade no longer holds: it is shrunk to what is held.
TEST(EngineTrade, AGrownExitCoveringMoreThanHeldShrinks) {
  Harness h;
  h.start();
  TradeId t = open_limit_stwd_30(h);
  const std::string bid = entry_bid(h, t);
  // Shares held besides this trade's (another trade's, bought elsewhere): qty_available lets
  // the replacement sell more than the trade holds, as at Alpaca.
  h.broker.position_qty["STWD"] += Decimal::must("20");
  h.broker.fill(bid, Decimal::must("10"), Decimal::must("20.00"));
  h.run(500);
  auto tp = h.find(t, OrderRole::take_profit);
  ASSERT_TRUE(tp && tp->broker_order_id);
  const std::string first = *tp->broker_order_id;
  // Its fill of 9 is not heard before the grow is sent.
  h.drop = [&](const TradeUpdate& u) { return u.order.id == first; };
  h.broker.fill(first, Decimal::must("9"), Decimal::must("21.50"));
  h.broker.fill(bid, Decimal::must("20"), Decimal::must("20.00"));
  h.run(500);
  h.drop = nullptr;
  h.run(15000);
  tp = h.find(t, OrderRole::take_profit);
  ASSERT_TRUE(tp);
  EXPECT_EQ((tp->qty - tp->filled_qty).str(), "21");
  Decimal working;
  for (auto& [id, o] : h.broker.orders) {
    if (o.side == Side::sell && !h.broker.parent_of.count(id) && is_open_at_broker(*o.status)) {
      working += *o.qty - o.filled_qty;
    }
  }
  EXPECT_EQ(working.str(), "21") << "30 bought, 9 sold";
}

TEST(EngineTrade, OneExitFillsTheOtherIsCanceledAndTheTradeCloses) {
  Harness h;
  h.start();
  TradeId t = open(h, spec("STWD", "37", "21.50", "19.00"));
  h.broker.fill(entry_bid(h, t), Decimal::must("37"), Decimal::must("20.00"));
  h.run(500);
  auto sl = h.find(t, OrderRole::stop_loss, true);
  ASSERT_TRUE(sl && sl->broker_order_id);
  h.broker.fill(*sl->broker_order_id, Decimal::must("37"), Decimal::must("19.00"));
  h.run(500);
  auto tp = h.find(t, OrderRole::take_profit);
  EXPECT_EQ(tp->state, OrderState::canceled);
  EXPECT_EQ(h.store.trades.at(t).state, TradeState::closed);
  h.expect_in_sync();
}

TEST(EngineTrade, NativeBracketRecordsLegsFromTheReply) {
  Harness h;
  h.start();
  TradeSpec s = spec("STWD", "10", "21.50", "19.00", ExitMode::native);
  s.entry_type = OrderType::limit;
  s.entry_limit_price = Decimal::must("20.00");
  TradeId t = open(h, s);
  auto tp = h.find(t, OrderRole::take_profit, true);
  auto sl = h.find(t, OrderRole::stop_loss, true);
  ASSERT_TRUE(tp && sl);
  EXPECT_TRUE(tp->broker_order_id && sl->broker_order_id);
  EXPECT_EQ(tp->state, OrderState::held);
  h.broker.fill(entry_bid(h, t), Decimal::must("10"), Decimal::must("20.00"));
  h.run(300);
  h.broker.fill(*tp->broker_order_id, Decimal::must("10"), Decimal::must("21.50"));
  h.run(300);
  EXPECT_EQ(h.store.trades.at(t).state, TradeState::closed);
  EXPECT_EQ(h.broker.submit_calls, 1);
  h.expect_in_sync();
}

TEST(EngineTrade, CancelTradeCancelsExitsThenFlattens) {
  Harness h;
  h.start();
  TradeId t = open(h, spec("STWD", "37", "21.50", "19.00"));
  h.broker.fill(entry_bid(h, t), Decimal::must("37"), Decimal::must("20.00"));
  h.run(500);
  ASSERT_TRUE(h.rt->cancel_trade(t).ok());
  h.run(1000);
  auto x = h.find(t, OrderRole::exit);
  ASSERT_TRUE(x && x->broker_order_id);
  EXPECT_EQ(x->type, OrderType::market);
  EXPECT_EQ(x->qty, Decimal::must("37"));
  EXPECT_EQ(h.broker.insufficient_qty_answers, 0) << "exits canceled before the flatten";
  h.broker.fill(*x->broker_order_id, Decimal::must("37"), Decimal::must("20.10"));
  h.run(500);
  EXPECT_EQ(h.store.trades.at(t).state, TradeState::closed);
  h.expect_in_sync();
}

TEST(EngineRecovery, CrashAfterCommitBeforeSendResendsOnceWithTheSameId) {
  Harness h;
  h.start();
  h.rt->crash_at_command(1, /*before_send=*/true);
  auto tr = h.rt->open_trade(spec("F", "3", "12.00"));
  ASSERT_TRUE(tr.ok()) << "the intent was committed before the crash";
  EXPECT_FALSE(h.rt->running());
  EXPECT_EQ(h.broker.submit_calls, 0);
  h.restart();
  h.run(5000);
  auto e = h.find(tr->id, OrderRole::entry);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->broker_order_id);
  EXPECT_EQ(h.broker.submit_calls, 1);
  h.expect_no_duplicates();
}

TEST(EngineRecovery, CrashAfterSendBeforeReplyAdoptsWithoutDuplicate) {
  Harness h;
  h.start();
  h.rt->crash_at_command(1, /*before_send=*/false);
  auto tr = h.rt->open_trade(spec("F", "3", "12.00"));
  ASSERT_TRUE(tr.ok());
  EXPECT_EQ(h.broker.submit_calls, 1);
  h.restart();
  h.run(3000);
  auto e = h.find(tr->id, OrderRole::entry);
  ASSERT_TRUE(e && e->broker_order_id);
  EXPECT_EQ(e->state, OrderState::accepted);
  EXPECT_EQ(h.broker.submit_calls, 1);
  h.expect_no_duplicates();
}

// 60 calls a minute, nearly all the entries' (the sync polls every 30 s), and `n` trades
// opened at once: more than the budget sends in a minute.
std::vector<TradeId> open_more_than_the_budget(Harness& h, int n) {
  h.options.engine.rate_limit_per_min = 60;
  h.options.engine.poll_interval_ms = 30'000;
  h.options.engine.idle_poll_interval_ms = 30'000;
  h.reconfigure();
  h.start();
  std::vector<TradeId> trades;
  for (int i = 0; i < n; ++i) {
    trades.push_back(open(h, spec("W" + std::to_string(i), "1", "12.00")));
  }
  return trades;
}

// Issue 18 (scripts/soak --seed 892678: 14-19 acknowledged trades never sent): a restart looked
// each entry waiting for the budget up by client id. As many calls as entries waited, each restart
// put them all back in that state, and under kill -9 every 10-30 s those lookups took the whole
// budget. One listing resolves them: the entry that reached the broker is adopted, the others are
// sent once each.
TEST(EngineRecovery, ARestartResolvesTheEntriesWaitingForTheBudgetWithOneListing) {
  Harness h;
  const std::vector<TradeId> trades = open_more_than_the_budget(h, 40);
  h.run(2'000);
  h.rt->crash_at_command(1, /*before_send=*/false);  // sent, its answer lost with the process
  for (int s = 0; s < 60 && h.rt->running(); ++s) h.run(1'000);
  ASSERT_FALSE(h.rt->running());
  const std::size_t at_broker = h.broker.orders.size();
  ASSERT_LT(at_broker, trades.size() - 10) << "entries were still waiting for the budget";
  const int lookups = h.broker.lookup_calls, submits = h.broker.submit_calls;
  h.restart();
  h.run(300'000);
  EXPECT_EQ(h.broker.lookup_calls - lookups, 0) << "no lookup per waiting entry";
  for (TradeId t : trades) {
    auto e = h.find(t, OrderRole::entry);
    ASSERT_TRUE(e.has_value());
    EXPECT_TRUE(e->broker_order_id.has_value()) << e->client_order_id;
  }
  EXPECT_EQ(h.broker.submit_calls - submits, static_cast<int>(trades.size() - at_broker))
      << "each entry the broker lacked sent once, none it held sent again";
  h.expect_no_duplicates();
}

// A restart cuts a waiting entry's attempt short; counted, an entry that waited for the budget
// across as many restarts as retry_max_attempts was parked without ever reaching the broker.
TEST(EngineRecovery, AnEntryWaitingForTheBudgetAcrossRestartsIsNotParked) {
  Harness h;
  h.options.engine.retry_max_attempts = 4;
  const std::vector<TradeId> trades = open_more_than_the_budget(h, 60);
  for (int i = 0; i < 8; ++i) {
    h.run(2'000);
    h.restart();
  }
  ASSERT_LT(h.broker.orders.size(), trades.size()) << "the last entries waited throughout";
  h.run(300'000);
  for (TradeId t : trades) {
    auto e = h.find(t, OrderRole::entry);
    ASSERT_TRUE(e.has_value());
    EXPECT_TRUE(e->broker_order_id.has_value())
        << e->client_order_id << " " << to_string(e->state) << " attempts " << e->attempts;
  }
  h.expect_no_duplicates();
}

// With the stream down the sweep is how exits ended at the broker are learned; behind a queue
// of entries waiting for the budget it never got a slot.
TEST(EngineRate, WithTheStreamDownTheSweepGoesBeforeWaitingEntries) {
  Harness h;
  open_more_than_the_budget(h, 80);
  h.lose_stream();
  h.run(5'000);
  const int lists = h.broker.list_calls;
  h.run(120'000);
  EXPECT_GE(h.broker.list_calls - lists, 2) << "sweeps in two minutes (none before)";
}

TEST(EngineStore, FailedCommitReleasesNothingAndSurfaces) {
  Harness h;
  h.start();
  h.store.fail_commits = 1;
  auto tr = h.rt->open_trade(spec("F", "3", "12.00"));
  EXPECT_FALSE(tr.ok());
  EXPECT_EQ(h.broker.submit_calls, 0) << "no command for an uncommitted intent";
  EXPECT_FALSE(h.rt->health().store_ok);
  EXPECT_TRUE(h.engine().orders().empty()) << "rolled back in memory";
  auto again = h.rt->open_trade(spec("F", "3", "12.00"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(h.rt->health().store_ok);
  EXPECT_EQ(h.broker.submit_calls, 1);
}

// An exit that must wait for a fresh positions read (the broker refused it 40310000) while
// GET /v2/positions answers 500: the reads back off like any failed poll. Each failure was
// asked again at once: 191 reads in a minute spent the REST budget the exit itself needed.
TEST(EngineSync, FailedPositionsReadsBackOffWhileAnExitWaitsForOne) {
  Harness h;
  h.start();
  const TradeId t = open(h, spec("STWD", "37", "21.50", "19.00"));
  h.broker.submit_script.push_back(
      {FakeBroker::error(K::rejected, 403, 40310000, "insufficient qty available"), false});
  h.broker.reads_fail = FakeBroker::error(K::unknown_outcome, 500, 0, "internal");
  h.broker.fill(entry_bid(h, t), Decimal::must("37"), Decimal::must("20.00"));
  h.run(60'000);
  EXPECT_LE(h.broker.position_calls, 12) << "1, 2, 4, 8, 16, 30 s apart";
  EXPECT_LT(h.broker.call_times.size(), 100u);

  // The broker answers again and the stream reconnects: the resync reads at once, backoff or
  // not, and the exit goes.
  h.broker.reads_fail.reset();
  h.rt->on_disconnected("network");
  h.rt->on_connected();
  h.run(1'000);
  const std::optional<Order> tp = h.find(t, OrderRole::take_profit);
  ASSERT_TRUE(tp && tp->broker_order_id);
  const BrokerOrder& at_broker = h.broker.orders.at(*tp->broker_order_id);
  EXPECT_TRUE(at_broker.status && is_open_at_broker(*at_broker.status));
  EXPECT_EQ(at_broker.qty, Decimal::must("37"));
}

TEST(EngineRate, NeverMoreCallsThanTheBudgetInAnyMinute) {
  Harness h;
  h.options.engine.rate_limit_per_min = 60;
  h.rt = std::make_unique<SimulationRuntime>(h.store, h.broker, h.clock, h.options,
                                             [&](Timestamp) { h.pump(); });
  h.start();
  for (int i = 0; i < 80; ++i) open(h, spec("F", "1", "12.00"));
  // 160 trading calls (entry + exit each) at what the budget leaves them: 60 less a tenth and
  // the catch-ups' share (20: one every 3 s, so the sync never pauses) is 34 a minute.
  h.run(300000);
  const auto& calls = h.broker.call_times;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    std::size_t j = i;
    while (j < calls.size() && calls[j].ms_since(calls[i]) < 60000) ++j;
    ASSERT_LE(j - i, 60u) << "window starting at call " << i;
  }
  int sent = 0;
  for (const Order& o : h.engine().orders()) sent += o.broker_order_id ? 1 : 0;
  EXPECT_EQ(sent, 80) << "trading actions go first: every entry was sent";
}

TEST(EngineMetrics, PrometheusTextHasTheKeyFamilies) {
  Harness h;
  h.start();
  open(h, spec("F", "3", "12.00"));
  h.run(1000);
  std::string m = h.rt->metrics_text();
  for (const char* name : {"orderly_orders{state=", "orderly_submissions_total",
                           "orderly_insufficient_qty_errors_total", "orderly_sync_lag_ms",
                           "orderly_rest_headroom", "orderly_event_apply_latency_ms_bucket",
                           "orderly_stream_reconnects_total", "orderly_position_qty"}) {
    EXPECT_NE(m.find(name), std::string::npos) << name;
  }
}

TEST(EngineInput, BadTradeSpecIsRefusedAndRecordsNothing) {
  Harness h;
  h.start();
  TradeSpec s = spec("STWD", "0", "21.50");
  auto r = h.rt->open_trade(s);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::invalid_argument);
  EXPECT_TRUE(h.store.trades.empty());
  EXPECT_FALSE(h.rt->cancel_trade(999).ok());
}

}  // namespace
}  // namespace orderly::testing

namespace orderly::testing {
namespace {

// Issue 17: a cancel without flatten takes what has not filled. A trade holding a position is
// refused (nothing changes); a fill that races the cancel (here: its stream event lost, so the
// engine asked to cancel an entry it believed unfilled) keeps the trade, with exits for it.
TEST(EngineTrade, CancelEntryRefusesAHeldPositionAndARacingFillKeepsItsExits) {
  Harness h;
  h.start();
  TradeId held = open(h, spec("STWD", "10", "21.50", "19.00"));
  h.broker.fill(entry_bid(h, held), Decimal::must("10"), Decimal::must("20.00"));
  h.run(500);
  Status refused = h.rt->cancel_entry(held);
  EXPECT_EQ(refused.code(), Status::Code::conflict);
  EXPECT_NE(refused.message().find("holds 10 STWD"), std::string::npos) << refused.message();
  EXPECT_EQ(h.store.trades.at(held).state, TradeState::open);

  TradeId racing = open(h, spec("EPD", "10", "31.50", "29.00"));
  h.drop = [](const TradeUpdate& u) { return u.event == "partial_fill"; };
  h.broker.fill(entry_bid(h, racing), Decimal::must("4"), Decimal::must("30.00"));
  ASSERT_TRUE(h.rt->cancel_entry(racing).ok());
  h.run(5000);
  auto entry = h.find(racing, OrderRole::entry);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->state, OrderState::canceled);
  EXPECT_EQ(entry->filled_qty, Decimal::must("4"));
  EXPECT_EQ(h.store.trades.at(racing).state, TradeState::open);
  auto tp = h.find(racing, OrderRole::take_profit);
  ASSERT_TRUE(tp && tp->broker_order_id);
  EXPECT_EQ(tp->qty, Decimal::must("4"));
  h.expect_in_sync();
}

// close_all closes every open trade: its exits canceled, what it holds flattened at market.
TEST(EngineTrade, CloseAllFlattensEveryOpenTrade) {
  Harness h;
  h.start();
  TradeId a = open(h, spec("STWD", "5", "21.50", "19.00"));
  TradeId b = open(h, spec("EPD", "3", "31.50", "29.00"));
  h.broker.fill(entry_bid(h, a), Decimal::must("5"), Decimal::must("20.00"));
  h.broker.fill(entry_bid(h, b), Decimal::must("3"), Decimal::must("30.00"));
  h.run(500);
  auto closing = h.rt->close_all();
  ASSERT_TRUE(closing.ok());
  EXPECT_EQ(*closing, (std::vector<TradeId>{a, b}));
  h.run(1000);
  for (TradeId t : {a, b}) {
    auto x = h.find(t, OrderRole::exit);
    ASSERT_TRUE(x && x->broker_order_id) << t;
    EXPECT_EQ(x->type, OrderType::market);
    h.broker.fill(*x->broker_order_id, x->qty, Decimal::must("20.10"));
  }
  h.run(500);
  EXPECT_EQ(h.store.trades.at(a).state, TradeState::closed);
  EXPECT_EQ(h.store.trades.at(b).state, TradeState::closed);
  h.expect_in_sync();
}

}  // namespace
}  // namespace orderly::testing
