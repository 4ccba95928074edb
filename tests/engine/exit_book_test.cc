// The exit book alone: coverage of a position, Alpaca's wash-trade rule (alpaca-api.md §5)
// against our own orders, and the protection watch's grace.

#include "engine/exit_book.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

Decimal D(std::string_view s) { return Decimal::must(s); }

Order order(OrderId id, OrderRole role, Side side, OrderType type, const char* qty,
            OrderState state) {
  Order o;
  o.id = id;
  o.trade_id = 1;
  o.role = role;
  o.symbol = "F";
  o.side = side;
  o.type = type;
  o.qty = D(qty);
  o.state = state;
  return o;
}

Order filled_buy(OrderId id, const char* qty) {
  Order o = order(id, OrderRole::entry, Side::buy, OrderType::market, qty, OrderState::filled);
  o.filled_qty = D(qty);
  return o;
}

// A long of 10 with an OCO: take-profit 11.00 (new), stop 9.00 (held leg).
SymbolBook long_with_oco(OrderState tp_state = OrderState::new_) {
  SymbolBook b;
  b.add(filled_buy(1, "10"), nullptr);
  Order tp = order(2, OrderRole::take_profit, Side::sell, OrderType::limit, "10", tp_state);
  tp.order_class = OrderClass::oco;
  tp.limit_price = D("11.00");
  Order sl = order(3, OrderRole::stop_loss, Side::sell, OrderType::stop, "10", OrderState::held);
  sl.stop_price = D("9.00");
  sl.parent_order_id = 2;
  b.add(tp, nullptr);
  b.add(sl, &tp);
  return b;
}

TEST(SymbolBook, AnOcoCoversTheLongOnceNotTwice) {
  const SymbolBook b = long_with_oco();
  EXPECT_EQ(b.net(), D("10"));
  EXPECT_EQ(b.covered(Side::sell), D("10"));
  EXPECT_TRUE(b.is_protected());
}

TEST(SymbolBook, AnExitBeingCanceledOrNotYetSentCoversNothing) {
  EXPECT_FALSE(long_with_oco(OrderState::pending_cancel).is_protected());
  EXPECT_FALSE(long_with_oco(OrderState::submitting).is_protected());
  SymbolBook flat;
  flat.add(filled_buy(1, "10"), nullptr);
  Order sold = order(2, OrderRole::take_profit, Side::sell, OrderType::limit, "10",
                     OrderState::filled);
  sold.filled_qty = D("10");
  flat.add(sold, nullptr);
  EXPECT_TRUE(flat.is_protected()) << "flat needs no cover";
}

// Another trade holds 10 without exits; a bracket of ours rests beside it: its legs sell only
// what its own entry buys.
TEST(SymbolBook, ABracketsLegsCoverOnlyWhatItsOwnEntryFilled) {
  auto book = [](const char* entry_filled) {
    SymbolBook b;
    b.add(filled_buy(1, "10"), nullptr);
    Order e = order(2, OrderRole::entry, Side::buy, OrderType::limit, "32", OrderState::new_);
    e.order_class = OrderClass::bracket;
    e.filled_qty = D(entry_filled);
    if (e.filled_qty == e.qty) e.state = OrderState::filled;
    Order tp = order(3, OrderRole::take_profit, Side::sell, OrderType::limit, "32",
                     e.state == OrderState::filled ? OrderState::new_ : OrderState::held);
    tp.limit_price = D("11.00");
    tp.parent_order_id = 2;
    Order sl = order(4, OrderRole::stop_loss, Side::sell, OrderType::stop, "32", OrderState::held);
    sl.stop_price = D("9.00");
    sl.parent_order_id = 2;
    b.add(e, nullptr);
    b.add(tp, &e);
    b.add(sl, &e);
    return b;
  };
  EXPECT_EQ(book("0").covered(Side::sell), D("0"));
  EXPECT_FALSE(book("0").is_protected()) << "held legs of a resting bracket cover nothing";
  EXPECT_EQ(book("5").covered(Side::sell), D("5"));
  EXPECT_FALSE(book("5").is_protected());
  EXPECT_EQ(book("32").covered(Side::sell), D("32"));
  EXPECT_FALSE(book("32").is_protected()) << "42 held, the bracket covers its own 32";
}

TEST(SymbolBook, WashRuleSeesOurActiveLimitButNotTheHeldStopLeg) {
  const SymbolBook b = long_with_oco();
  // A market buy meets the take-profit limit.
  EXPECT_EQ(b.wash_blockers(Side::buy, OrderType::market, std::nullopt).size(), 1u);
  // A buy limit under it crosses nothing; at or above it, it does.
  EXPECT_TRUE(b.wash_blockers(Side::buy, OrderType::limit, D("10.99")).empty());
  EXPECT_EQ(b.wash_blockers(Side::buy, OrderType::limit, D("11.00")).size(), 1u);
  // Same side: never in the way.
  EXPECT_TRUE(b.wash_blockers(Side::sell, OrderType::market, std::nullopt).empty());
  EXPECT_EQ(b.passing_limit(Side::buy, std::nullopt, std::nullopt), D("10.99"));
  EXPECT_EQ(b.passing_limit(Side::buy, D("10.50"), std::nullopt), D("10.50"))
      << "never worse than its own";
  // On a pair's price increment (a crypto pair's asset): further inside, on it.
  EXPECT_EQ(b.passing_limit(Side::buy, std::nullopt, D("0.25")), D("10.75"));
}

TEST(SymbolBook, AnActiveStopOfOursLetsNoSimpleOrderPass) {
  SymbolBook b;
  b.add(filled_buy(1, "1"), nullptr);
  Order stop = order(2, OrderRole::stop_loss, Side::sell, OrderType::stop, "1", OrderState::new_);
  stop.stop_price = D("9.00");
  b.add(stop, nullptr);
  EXPECT_EQ(b.wash_blockers(Side::buy, OrderType::limit, D("5.00")).size(), 1u);
  EXPECT_FALSE(b.passing_limit(Side::buy, std::nullopt, std::nullopt).has_value());
  EXPECT_TRUE(b.is_protected());
}

// A gap learned of late (its stream event lost, found by a poll) is as old as the broker's event
// says: its grace is not started again when the engine hears of it. Never older than a minute,
// never in the future (the broker's clock is not ours).
TEST(ProtectionWatch, AGapLearnedLateCountsFromTheBrokersTime) {
  ProtectionWatch w(5'000);
  const Timestamp t0 = Timestamp::from_ms(1'000'000);
  EXPECT_EQ(w.observe("F", false, t0, t0.plus_ms(-3'000)).change,
            ProtectionWatch::Change::gap_opened);
  EXPECT_EQ(w.observe("F", false, t0.plus_ms(2'000)).change, ProtectionWatch::Change::past_grace);
  EXPECT_EQ(w.observe("G", false, t0, t0.plus_ms(-600'000)).gap_ms, 60'000);
  EXPECT_EQ(w.observe("H", false, t0, t0.plus_ms(3'000)).gap_ms, 0);
}

TEST(ProtectionWatch, AGapIsReportedOnlyPastItsGraceAndEndsWhenCovered) {
  ProtectionWatch w(5'000);
  const Timestamp t0 = Timestamp::from_ms(1'000'000);
  EXPECT_EQ(w.observe("F", false, t0).change, ProtectionWatch::Change::gap_opened);
  EXPECT_EQ(w.observe("F", false, t0.plus_ms(4'999)).change, ProtectionWatch::Change::none);
  EXPECT_EQ(w.unprotected(), 0);
  auto r = w.observe("F", false, t0.plus_ms(5'000));
  EXPECT_EQ(r.change, ProtectionWatch::Change::past_grace);
  EXPECT_EQ(w.unprotected(), 1);
  EXPECT_EQ(w.open_gaps(), std::vector<std::string>{"F"});
  r = w.observe("F", true, t0.plus_ms(7'000));
  EXPECT_EQ(r.change, ProtectionWatch::Change::closed);
  EXPECT_EQ(r.gap_ms, 7'000);
  EXPECT_TRUE(r.was_past_grace);
  EXPECT_EQ(w.unprotected(), 0);
  EXPECT_TRUE(w.open_gaps().empty());
  EXPECT_EQ(w.observe("F", true, t0.plus_ms(8'000)).change, ProtectionWatch::Change::none);
}

// A cover that lasted under kBriefCoverMs and went away (less covered than when the gap
// closed) does not start the grace again: the gap that opens goes on from where the first began
// (DST extended seed 30300000001819: a flatten placed again and canceled by us 100 ms later). A
// cover that lasted longer does, and so does a gap opened by more being held (the next partial
// fill of an entry, the exit growing after it), which must not add up short gaps into an alert.
TEST(ProtectionWatch, ABriefCoverThatWentAwayDoesNotStartTheGraceAgain) {
  ProtectionWatch w(5'000);
  const Timestamp t0 = Timestamp::from_ms(1'000'000);
  w.observe("F", false, t0);
  EXPECT_EQ(w.observe("F", true, t0.plus_ms(4'000), std::nullopt, D("27")).change,
            ProtectionWatch::Change::closed);
  auto r = w.observe("F", false, t0.plus_ms(4'100), std::nullopt, D("0"));
  EXPECT_EQ(r.change, ProtectionWatch::Change::gap_opened);
  EXPECT_EQ(r.gap_ms, 4'100);
  EXPECT_EQ(w.observe("F", false, t0.plus_ms(5'000)).change, ProtectionWatch::Change::past_grace);

  w.observe("G", false, t0);
  w.observe("G", true, t0.plus_ms(4'000), std::nullopt, D("27"));
  r = w.observe("G", false, t0.plus_ms(4'000 + ProtectionWatch::kBriefCoverMs), std::nullopt,
                D("0"));
  EXPECT_EQ(r.gap_ms, 0) << "covered for a second: a new gap";

  // Partial fills 500 ms apart, each covered by the exit 300 ms later: never 5 s in a gap.
  Timestamp t = t0;
  for (int fill = 1; fill <= 20; ++fill, t = t.plus_ms(500)) {
    r = w.observe("H", false, t, std::nullopt, Decimal::from_int(10 * (fill - 1)));
    EXPECT_LE(r.gap_ms, 0) << "fill " << fill << ": more held, a new gap";
    w.observe("H", true, t.plus_ms(300), std::nullopt, Decimal::from_int(10 * fill));
  }
}

}  // namespace
}  // namespace orderly
