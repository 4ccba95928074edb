// The incident of seed/000_075f61f1a7b1c1ab.txt, replayed against the simulator model through
// the real Alpaca adapter: 13 symbols, entries fill, emulated take-profits accepted, the stream
// loses every take-profit fill; some TPs fill later, others stay open holding the shares.
// orderly must produce no 40310000, one broker order per client_order_id, and local state equal
// to the broker's within two poll intervals. A naive client on the same simulator does get the
// 40310000s, which shows the replay is faithful.

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "sim_world.h"

namespace orderly::testing {
namespace {

constexpr const char* kDropTpFills =
    R"({"rules":[{"on":"stream","action":"drop","p":1.0,"event":"fill","side":"sell"},)"
    R"({"on":"stream","action":"drop","p":1.0,"event":"partial_fill","side":"sell"}]})";

struct Sym {
  const char* name;
  const char* price;
  int qty;
  bool rallies;  // its take-profit fills later
};
constexpr Sym kSymbols[] = {
    {"OKE", "72.10", 12, true},   {"STWD", "20.15", 37, true},  {"EPD", "31.40", 25, true},
    {"ET", "17.25", 40, true},    {"KMI", "27.30", 30, true},   {"WMB", "57.80", 15, true},
    {"MPLX", "50.20", 18, true},  {"PAA", "17.90", 45, true},   {"TRGP", "165.40", 6, false},
    {"LNG", "225.10", 4, false},  {"AGNC", "9.85", 80, false},  {"NLY", "20.40", 40, false},
    {"BXMT", "18.70", 42, false},
};

void set_all_prices(SimWorld& w) {
  std::map<std::string, Decimal> prices;
  for (const Sym& s : kSymbols) prices[s.name] = Decimal::must(s.price);
  w.exchange->set_prices(prices);
}

void rally(SimWorld& w) {
  std::map<std::string, Decimal> up;
  for (const Sym& s : kSymbols) {
    if (s.rallies) up[s.name] = *Decimal::must(s.price).add_percent(Decimal::from_int(3));
  }
  w.exchange->set_prices(up);
}

TradeSpec incident_spec(const Sym& s) {
  TradeSpec spec;
  spec.symbol = s.name;
  spec.qty = Decimal::from_int(s.qty);
  spec.entry_type = OrderType::market;
  spec.tif = TimeInForce::day;
  spec.take_profit.percent = Decimal::from_int(2);
  spec.exits = ExitMode::emulated;
  return spec;
}

// Local orders that differ from the broker's status or filled qty, as readable lines.
std::vector<std::string> out_of_sync(SimWorld& w) {
  std::vector<std::string> diffs;
  for (const Order& o : w.rt->engine().orders()) {
    if (!o.broker_order_id) {
      if (!is_terminal(o.state)) diffs.push_back(o.client_order_id + " has no broker id");
      continue;
    }
    auto b = w.broker.get_order(*o.broker_order_id);
    if (!b.ok()) {
      diffs.push_back(o.client_order_id + ": " + b.error().describe());
      continue;
    }
    if (b->status != o.state || b->filled_qty != o.filled_qty) {
      diffs.push_back(o.client_order_id + " local " + std::string(to_string(o.state)) + " " +
                      o.filled_qty.str() + " broker " + b->status_text + " " +
                      b->filled_qty.str());
    }
  }
  return diffs;
}

std::vector<std::string> position_drift(SimWorld& w) {
  std::vector<std::string> diffs;
  auto bp = w.broker.list_positions();
  EXPECT_TRUE(bp.ok());
  std::map<std::string, Decimal> broker;
  if (bp.ok()) {
    for (const auto& p : bp.value()) broker[p.symbol] = p.qty;
  }
  std::map<std::string, Decimal> local;
  for (const PositionView& p : w.rt->engine().positions()) local[p.symbol] = p.local_qty;
  for (auto& [s, q] : broker) {
    if (local[s] != q) diffs.push_back(s + " local " + local[s].str() + " broker " + q.str());
  }
  for (auto& [s, q] : local) {
    if (!broker.count(s) && !q.is_zero()) diffs.push_back(s + " local " + q.str() + " broker 0");
  }
  return diffs;
}

void expect_one_broker_order_per_client_id(SimWorld& w) {
  std::map<std::string, int> per_cid;
  for (const BrokerOrder& b : w.broker_orders()) per_cid[b.client_order_id]++;
  for (auto& [cid, n] : per_cid) EXPECT_EQ(n, 1) << cid;
}

TEST(IncidentReplay, NoInsufficientQtyAndLocalStateFollowsTheBroker) {
  SimWorld w(7, kDropTpFills);
  set_all_prices(w);
  w.start();
  std::map<std::string, TradeId> trade_of;
  for (const Sym& s : kSymbols) {
    auto t = w.rt->open_trade(incident_spec(s));
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    trade_of[s.name] = t->id;
  }
  w.run(5000);
  // Entries filled, take-profits accepted and holding the shares.
  int working_tps = 0;
  for (const Order& o : w.rt->engine().orders()) {
    if (o.role == OrderRole::take_profit && o.broker_order_id && is_open_at_broker(o.state)) {
      ++working_tps;
    }
  }
  EXPECT_EQ(working_tps, 13);

  rally(w);  // eight take-profits fill at the broker; the stream drops every one of those fills
  w.run(2 * w.options.engine.poll_interval_ms);
  auto diffs = out_of_sync(w);
  EXPECT_TRUE(diffs.empty()) << "after two poll intervals: " << ::testing::PrintToString(diffs);
  auto drift = position_drift(w);
  EXPECT_TRUE(drift.empty()) << ::testing::PrintToString(drift);

  // Hours of the incident's retry loop, compressed: still nothing is resubmitted.
  w.run(120'000);
  EXPECT_EQ(w.errors_with_code("40310000"), 0) << w.exchange->stats_json();
  expect_one_broker_order_per_client_id(w);
  EXPECT_EQ(w.rt->engine().metrics().submissions, 26) << "13 entries + 13 take-profits, once";
  EXPECT_GE(w.rt->engine().metrics().fills_from_poll, 8);
  EXPECT_TRUE(out_of_sync(w).empty());
  EXPECT_TRUE(position_drift(w).empty());
  for (const Sym& s : kSymbols) {
    auto stored = w.store->get_trade(trade_of[s.name]);
    ASSERT_TRUE(stored.ok() && stored->has_value());
    EXPECT_EQ((*stored)->state, s.rallies ? TradeState::closed : TradeState::open) << s.name;
  }
}

// What the incident's platform did: it never learned that its TPs were accepted (or filled),
// kept them "pending" and submitted them again. The simulator answers exactly as Alpaca did.
TEST(IncidentReplay, NaiveClientResubmittingPendingTakeProfitsGetsInsufficientQty) {
  SimWorld w(7, kDropTpFills);
  set_all_prices(w);
  for (const Sym& s : kSymbols) {
    OrderRequest r;
    r.symbol = s.name;
    r.side = Side::buy;
    r.type = OrderType::market;
    r.tif = TimeInForce::day;
    r.qty = Decimal::from_int(s.qty);
    r.client_order_id = std::string("naive-e-") + s.name;
    ASSERT_TRUE(w.broker.submit_order(r).ok());
  }
  w.run(2000);
  auto submit_tp = [&](const Sym& s, int attempt) {
    OrderRequest r;
    r.symbol = s.name;
    r.side = Side::sell;
    r.type = OrderType::limit;
    r.tif = TimeInForce::gtc;
    r.qty = Decimal::from_int(s.qty);
    r.limit_price = Decimal::must(s.price).add_percent(Decimal::from_int(2))->round_price(
        Rounding::up);
    r.client_order_id = std::string("naive-tp-") + s.name + "-" + std::to_string(attempt);
    return w.broker.submit_order(r);
  };
  for (const Sym& s : kSymbols) ASSERT_TRUE(submit_tp(s, 1).ok());
  rally(w);
  w.run(2000);
  int with_related = 0;
  for (int attempt = 2; attempt <= 3; ++attempt) {
    for (const Sym& s : kSymbols) {
      auto r = submit_tp(s, attempt);
      ASSERT_FALSE(r.ok()) << s.name << ": a resubmitted TP must be refused";
      // Held by its own open TP: "insufficient qty available"; already sold: the sim answers
      // "account is not allowed to short", the same 40310000 code.
      EXPECT_EQ(r.error().code, 40310000) << r.error().describe();
      EXPECT_EQ(r.error().insufficient_qty_error(), !s.rallies) << r.error().describe();
      if (r.error().insufficient_qty && !r.error().insufficient_qty->related_orders.empty()) {
        ++with_related;
      }
    }
  }
  EXPECT_EQ(w.errors_with_code("40310000"), 26);
  EXPECT_EQ(with_related, 10) << "the five TPs still open hold the shares (related_orders)";
}

// Kill the engine at random points (before a request leaves, after the broker applied it and
// before the answer is recorded), restart over the same SQLite file, repeat; with lost responses
// and a lossy stream. Afterwards: no duplicate, no lost intent, state equal to the broker's.
TEST(IncidentReplay, KillAtRandomPointsLosesNothingAndDuplicatesNothing) {
  constexpr const char* kFaults =
      R"({"rules":[{"on":"http","action":"lose_response","p":0.2,"route":"POST /v2/orders"},)"
      R"({"on":"stream","action":"drop","p":0.5,"event":"fill"},)"
      R"({"on":"stream","action":"duplicate","p":0.2}]})";
  for (std::uint64_t seed : {11u, 12u, 13u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    SimWorld w(seed, kFaults);
    set_all_prices(w);
    w.start();
    std::mt19937_64 rng(seed);
    std::vector<TradeId> trades;
    std::size_t next = 0;
    int restarts = 0;
    for (int cycle = 0; cycle < 16; ++cycle) {
      if (next < std::size(kSymbols)) {
        auto t = w.rt->open_trade(incident_spec(kSymbols[next]));
        if (t.ok()) {
          trades.push_back(t->id);
          ++next;
        }
      }
      if (!w.rt->running()) {
        ++restarts;
        w.start();
      }
      w.rt->crash_at_command(1 + static_cast<int>(rng() % 6), rng() % 2 == 0);
      w.run(300 + static_cast<std::int64_t>(rng() % 3000));
      if (cycle == 8) rally(w);
      if (!w.rt->running()) {
        ++restarts;
        w.run(static_cast<std::int64_t>(rng() % 2000));
        w.start();
      }
    }
    // Faults stop; a quiet period.
    ASSERT_EQ(w.exchange->set_faults_json(R"({"rules":[]})"), "");
    w.rt->crash_at_command(1 << 30, false);
    w.run(30'000);
    ASSERT_TRUE(w.rt->running());
    EXPECT_GE(restarts, 6) << "the engine was really killed";
    EXPECT_EQ(trades.size(), std::size(kSymbols));
    expect_one_broker_order_per_client_id(w);
    EXPECT_EQ(w.errors_with_code("40310000"), 0) << w.exchange->stats_json();
    for (TradeId id : trades) {
      auto orders = w.store->list_orders(OrderFilter{.trade_id = id});
      ASSERT_TRUE(orders.ok());
      bool entry_at_broker = false;
      for (const Order& o : *orders) {
        if (o.role == OrderRole::entry && o.broker_order_id) entry_at_broker = true;
      }
      EXPECT_TRUE(entry_at_broker) << "trade " << id << " lost its entry";
    }
    auto diffs = out_of_sync(w);
    EXPECT_TRUE(diffs.empty()) << ::testing::PrintToString(diffs);
    auto drift = position_drift(w);
    EXPECT_TRUE(drift.empty()) << ::testing::PrintToString(drift);
  }
}

}  // namespace
}  // namespace orderly::testing
