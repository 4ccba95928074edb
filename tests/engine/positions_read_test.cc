// PositionsRead: the broker's positions as last read, and which symbols a read still speaks for.
#include "engine/positions_read.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

Timestamp at(std::int64_t ms) { return Timestamp{0}.plus_ms(ms); }

BrokerPosition position(const char* symbol, const char* qty, const char* available) {
  BrokerPosition p;
  p.symbol = symbol;
  p.qty = Decimal::must(qty);
  p.qty_available = Decimal::must(available);
  return p;
}

TEST(PositionsRead, NothingIsKnownBeforeAnAnswer) {
  PositionsRead r;
  EXPECT_FALSE(r.read_at());
  EXPECT_FALSE(r.asked_after(at(0)));
  EXPECT_EQ(r.qty("F"), Decimal());
  EXPECT_EQ(r.find("F"), nullptr);
  r.ask(1, at(100));
  EXPECT_TRUE(r.inflight());
  EXPECT_FALSE(r.read_at()) << "asked, not answered";
}

// An answer shows the broker as of when it was asked: it speaks for what happened before the
// ask, not for what happened between the ask and the answer.
TEST(PositionsRead, AnAnswerIsDatedFromItsAsk) {
  PositionsRead r;
  r.ask(2, at(100));
  r.answered(2, {position("F", "10", "4"), position("G", "-3", "-3")}, at(900));
  EXPECT_FALSE(r.inflight());
  EXPECT_EQ(r.read_at(), at(900));
  EXPECT_EQ(r.asked_at(), at(100));
  EXPECT_TRUE(r.asked_after(at(99)));
  EXPECT_FALSE(r.asked_after(at(100)));
  EXPECT_FALSE(r.asked_after(at(500))) << "answered after 500, asked before";
  EXPECT_EQ(r.qty("F"), Decimal::must("10"));
  EXPECT_EQ(r.available("F"), Decimal::must("4")) << "what open orders leave";
  EXPECT_EQ(r.qty("G"), Decimal::must("-3"));
  EXPECT_EQ(r.qty("H"), Decimal());
}

// A fill of ours after a read was asked: that read does not say what the broker holds of the
// symbol; one asked after the fill does.
TEST(PositionsRead, OurFillWaitsForAReadAskedAfterIt) {
  PositionsRead r;
  r.ask(3, at(100));
  r.our_fill("F", at(200));
  r.answered(3, {position("F", "10", "10")}, at(300));
  EXPECT_TRUE(r.changed_since_asked("F")) << "asked at 100, before the fill";
  EXPECT_FALSE(r.changed_since_asked("G"));
  EXPECT_TRUE(r.any_changed());
  r.ask(4, at(400));
  r.answered(4, {position("F", "7", "7")}, at(500));
  EXPECT_FALSE(r.changed_since_asked("F"));
  EXPECT_FALSE(r.any_changed());
}

// A failed read leaves the last answer in place; a forgotten answer is no read, though its
// time still paces the next.
TEST(PositionsRead, AFailedReadKeepsTheLastAnswerAForgottenOneIsNoRead) {
  PositionsRead r;
  r.ask(5, at(100));
  r.answered(5, {position("F", "10", "10")}, at(200));
  r.ask(6, at(300));
  r.failed();
  EXPECT_FALSE(r.inflight());
  EXPECT_EQ(r.qty("F"), Decimal::must("10"));
  EXPECT_EQ(r.asked_at(), at(100));
  EXPECT_EQ(r.staged_at(), at(300));
  r.forget_answer();
  EXPECT_FALSE(r.read_at());
  EXPECT_FALSE(r.asked_after(at(0)));
  EXPECT_EQ(r.last_answered_at(), at(200));
}

// A read given up on (a resync) may still be answered after the next one was asked: its
// answer is dated from its own ask, so it never passes for a read asked after our fill
// (DST trades seed 25400000008939).
TEST(PositionsRead, AnAnswerToAReadGivenUpOnKeepsItsOwnAskTime) {
  PositionsRead r;
  r.ask(7, at(100));
  r.failed();  // given up on: the resync asks again
  r.our_fill("F", at(150));
  r.ask(8, at(200));
  r.answered(7, {position("F", "13", "13")}, at(250));  // the first ask's answer, from before
  EXPECT_TRUE(r.inflight()) << "the second is still out";
  EXPECT_TRUE(r.changed_since_asked("F")) << "asked before the fill";
  EXPECT_EQ(r.asked_at(), at(100));
  r.answered(8, {}, at(300));
  EXPECT_FALSE(r.inflight());
  EXPECT_FALSE(r.changed_since_asked("F"));
  EXPECT_EQ(r.qty("F"), Decimal());
  r.answered(7, {position("F", "13", "13")}, at(400));  // a duplicate: not an ask of ours now
  EXPECT_EQ(r.qty("F"), Decimal());
  r.ask(9, at(500));
  r.ask(10, at(600));
  r.answered(10, {position("F", "1", "1")}, at(700));
  r.answered(9, {position("F", "2", "2")}, at(800));  // older than the read held: dropped
  EXPECT_EQ(r.qty("F"), Decimal::must("1"));
  EXPECT_EQ(r.asked_at(), at(600));
}

}  // namespace
}  // namespace orderly
