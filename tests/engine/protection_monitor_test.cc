// The protection monitor (issue 21): gaps in a position's cover raised, audited and cleared, and
// what it keeps across a crash, over a hand-built ledger. The engine's part (its transaction,
// its trades) is a recording Host.
#include "engine/protection_monitor.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/engine_constants.h"
#include "ledger_builder.h"

namespace orderly {
namespace {

const auto d = test::dec;
constexpr std::int64_t kGraceMs = 5'000;

// One life of the engine: its state, the judge and the monitor over it.
struct Life : ProtectionMonitor::Host {
  // A start: blind since the lives before it began to be (Transaction::start).
  Life(Ledger& l, std::map<std::string, std::string>& kept, Timestamp start)
      : ledger(l), sync_state(kept), started_at(start), now(start) {
    monitor.carry_blind_time();
  }

  void set_sync(std::string_view key, std::string value) override {
    sync_state[std::string(key)] = std::move(value);
  }
  void audit_gap(const Order& o, const std::string& note, Timestamp) override {
    audits.push_back(std::to_string(o.id) + ": " + note);
  }
  void touch_trades_of(const std::string& symbol) override { touched.insert(symbol); }
  void keep_oversold_trades() override {}

  // A sweep that began at `at` answered, the stream heard throughout: no longer blind.
  void swept(Timestamp at) { blindness.sweep_answered(at, true); }
  void check(Timestamp t) {
    now = t;
    monitor.check(t);
  }

  Ledger& ledger;
  std::map<std::string, std::string>& sync_state;
  std::unordered_map<OrderId, OrderAux> aux;
  PositionsRead positions;
  Blindness blindness;
  Poll catchup;
  ProtectionWatch watch{kGraceMs};
  ProtectionCheck check_rounds;
  Alerts alerts;
  std::set<std::string> oversold;
  std::optional<Timestamp> routed_before_start;
  Timestamp started_at;
  Timestamp now;
  CoverJudge judge{{500, kGraceMs, 5'000},
                   {ledger, aux, positions, blindness, catchup, watch, check_rounds, oversold,
                    routed_before_start, started_at, now}};
  ProtectionMonitor monitor{
      kGraceMs,
      {ledger, aux, sync_state, blindness, watch, check_rounds, alerts, judge, started_at},
      *this};
  std::vector<std::string> audits;
  std::set<std::string> touched;
};

class ProtectionMonitorTest : public ::testing::Test {
 protected:
  ProtectionMonitorTest() {
    Trade t = test::buy_trade(1, "IWM", "9");
    t.spec.exits = ExitMode::emulated;
    t.state = TradeState::open;
    ledger_.put_trade(t);
  }
  Order& add(OrderRole role, OrderState state, const char* filled, std::int64_t at_ms) {
    Order o = test::order(++next_id_, 1, "IWM", role,
                          role == OrderRole::entry ? OrderType::market : OrderType::limit, state,
                          "9");
    o.filled_qty = d(filled);
    o.created_at = o.updated_at = Timestamp::from_ms(at_ms);
    o.broker_updated_at = o.created_at;
    return ledger_.add(o);
  }
  static Timestamp at(std::int64_t ms) { return Timestamp::from_ms(ms); }

  Ledger ledger_;
  std::map<std::string, std::string> kept_;  // the sync state the store keeps
  OrderId next_id_ = 0;
};

// A fill nothing covers: within the grace the gap is only watched (its trades asked to decide
// again); past it, unprotected_position is raised once and every order involved audited; an
// exit working again clears it, audited with how long the position went without cover.
TEST_F(ProtectionMonitorTest, AGapPastTheGraceIsRaisedOnceAuditedAndClearedWhenCovered) {
  const Order& entry = add(OrderRole::entry, OrderState::filled, "9", 10'000);
  Life life(ledger_, kept_, at(10'000));
  life.check(at(10'000));  // a start: blind until its sweep answers
  life.swept(at(10'000));
  EXPECT_FALSE(life.alerts.active(AlertKind::unprotected_position, "IWM"));
  EXPECT_EQ(life.touched, std::set<std::string>{"IWM"});
  EXPECT_TRUE(life.audits.empty());

  life.check(at(15'000));
  ASSERT_TRUE(life.alerts.active(AlertKind::unprotected_position, "IWM"));
  const std::vector<Alert> raised = life.alerts.active_alerts();
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].message,
            "IWM: 9 held, 0 covered by working exits at the broker for 5000 ms (grace 5000 ms)");
  ASSERT_EQ(life.audits.size(), 1u);
  EXPECT_EQ(life.audits[0], std::to_string(entry.id) + ": unprotected position: " +
                                raised[0].message);
  life.check(at(16'000));
  EXPECT_EQ(life.audits.size(), 1u) << "raised once";

  const Order& tp = add(OrderRole::take_profit, OrderState::new_, "0", 16'500);
  life.monitor.check(at(16'500));  // the round's symbols: the open gap
  EXPECT_FALSE(life.alerts.active(AlertKind::unprotected_position, "IWM"));
  ASSERT_EQ(life.audits.size(), 3u) << "the entry and the exit that covers it again";
  EXPECT_EQ(life.audits[2],
            std::to_string(tp.id) + ": IWM protected again after 6500 ms without cover");
}

// A life that dies blind (no sweep answered since it started) leaves how long it was blind in
// the sync state; the next life starts that much blind already, so lives of 3 s each still
// raise a gap once they add up to the grace (DST extended seed 9500000001400).
TEST_F(ProtectionMonitorTest, BlindTimeAddsUpOverLivesThatEachDieBeforeTheGrace) {
  add(OrderRole::entry, OrderState::filled, "9", 1'000);
  add(OrderRole::take_profit, OrderState::new_, "0", 1'000);
  {
    Life first(ledger_, kept_, at(10'000));
    first.check(at(10'000));
    first.check(at(13'000));
    EXPECT_FALSE(first.alerts.active(AlertKind::unprotected_position, "IWM"));
  }
  EXPECT_EQ(kept_[std::string(kBlindMs)], "3000");
  Life second(ledger_, kept_, at(20'000));
  second.check(at(20'000));
  second.check(at(22'000));
  EXPECT_TRUE(second.alerts.active(AlertKind::unprotected_position, "IWM"))
      << "3 s blind in the first life, 2 s in this one: past the grace with an exit unconfirmed";
  second.swept(at(22'100));
  second.check(at(22'200));
  EXPECT_FALSE(second.alerts.active(AlertKind::unprotected_position, "IWM"));
}

// An exit a sweep found missing covers nothing until the broker answers for it, in the next
// life too: the list is kept in the sync state and restored at the first check (DST extended
// seed 20790000000381).
TEST_F(ProtectionMonitorTest, AnExitFoundMissingStaysUnconfirmedAfterACrash) {
  add(OrderRole::entry, OrderState::filled, "9", 1'000);
  const Order& tp = add(OrderRole::take_profit, OrderState::new_, "0", 1'000);
  {
    Life first(ledger_, kept_, at(10'000));
    first.check(at(10'000));
    first.swept(at(10'000));
    first.aux[tp.id].unconfirmed_since = at(10'500);
    first.monitor.unconfirmed_changed();
    first.check(at(11'000));
  }
  EXPECT_EQ(kept_[std::string(kUnconfirmedExits)], std::to_string(tp.id) + ":" +
                                                       std::to_string(at(10'500).ns));
  Life second(ledger_, kept_, at(12'000));
  second.check(at(12'000));
  ASSERT_TRUE(second.aux[tp.id].unconfirmed_since.has_value());
  EXPECT_EQ(*second.aux[tp.id].unconfirmed_since, at(10'500));
  second.swept(at(12'000));
  second.check(at(15'500));
  EXPECT_TRUE(second.alerts.active(AlertKind::unprotected_position, "IWM"))
      << "unconfirmed since 10.5 s: past the grace at 15.5 s";
}

}  // namespace
}  // namespace orderly
