#include "engine/rate_budget.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

// A budget of 100 calls a minute, polls every second, 8 commands in flight.
RateBudget hundred() { return RateBudget({100, 1000, 8}); }

const Timestamp kT0 = Timestamp::from_ms(1'760'000'000'000);

RateBudget::Round round(std::int64_t used, std::int64_t reserve = 0, std::size_t inflight = 0,
                        std::int64_t outside = 0) {
  RateBudget::Round r;
  r.used = used;
  r.outside = outside;
  r.reserve = reserve;
  r.inflight = inflight;
  return r;
}

TEST(RateBudget, SharesOfABudgetOfAHundred) {
  const RateBudget::Limits l = hundred().limits();
  EXPECT_EQ(l.budget, 100);
  EXPECT_EQ(l.background, 90);  // a tenth kept for protective work
  EXPECT_EQ(l.idle_polls, 80);
  EXPECT_EQ(l.catch_up_share, 33);  // a third at most: one per 1.5 poll intervals would be 40
  EXPECT_EQ(l.catch_up_spacing_ms, 1819);
  EXPECT_EQ(l.sweep_cap, 57);
  EXPECT_EQ(l.inflight_cap, 8);
  EXPECT_EQ(l.deferrable_inflight_cap, 7);
}

TEST(RateBudget, TheBrokersStatedLimitLowersTheBudgetButNeverRaisesIt) {
  RateBudget b = hundred();
  b.set_stated_limit(50);
  EXPECT_EQ(b.limit(), 50);
  EXPECT_EQ(b.limits().background, 45);
  b.set_stated_limit(500);
  EXPECT_EQ(b.limit(), 100);
}

TEST(RateBudget, ProtectiveWorkAndLookupsMayFillTheWholeBudget) {
  RateBudget b = hundred();
  const auto l = b.limits();
  for (auto p : {CommandPriority::protective, CommandPriority::lookup}) {
    EXPECT_TRUE(b.fits(p, false, l, round(99)));
    EXPECT_FALSE(b.fits(p, false, l, round(100)));
    EXPECT_TRUE(b.fits(p, false, l, round(0, 0, 7)));
    EXPECT_FALSE(b.fits(p, false, l, round(0, 0, 8)));
  }
}

// Entries stop short of the tenth kept for protection, of the slots kept for the exits of
// released entries and of the catch-ups' share not yet used; and of one in-flight slot.
TEST(RateBudget, EntriesLeaveRoomForExitsAndTheCatchUps) {
  RateBudget b = hundred();
  const auto l = b.limits();
  EXPECT_TRUE(b.fits(CommandPriority::entry, false, l, round(56)));  // 56 + 33 < 90
  EXPECT_FALSE(b.fits(CommandPriority::entry, false, l, round(57)));
  EXPECT_TRUE(b.fits(CommandPriority::entry, false, l, round(51, 5)));
  EXPECT_FALSE(b.fits(CommandPriority::entry, false, l, round(52, 5)));
  EXPECT_FALSE(b.fits(CommandPriority::entry, false, l, round(0, 0, 7)));
  // A catch-up released is counted once: in the calls used, no longer in the share kept free.
  b.note_release(CommandPriority::catch_up, true, kT0);
  EXPECT_TRUE(b.fits(CommandPriority::entry, false, l, round(57)));
}

TEST(RateBudget, CatchUpsArePacedWithinTheirShareAndOtherwiseIdleSlack) {
  RateBudget b = hundred();
  const auto l = b.limits();
  EXPECT_TRUE(b.paced_catchup(true, l, kT0));
  b.note_release(CommandPriority::catch_up, true, kT0);
  EXPECT_FALSE(b.paced_catchup(true, l, kT0.plus_ms(1000)));
  EXPECT_TRUE(b.paced_catchup(false, l, kT0.plus_ms(1000)));  // a later page of the same one
  EXPECT_TRUE(b.paced_catchup(true, l, kT0.plus_ms(l.catch_up_spacing_ms)));
  // Within its share a catch-up goes while entries wait; beyond it only while polls are idle.
  EXPECT_TRUE(b.fits(CommandPriority::catch_up, true, l, round(80)));
  EXPECT_FALSE(b.fits(CommandPriority::catch_up, false, l, round(80)));
  EXPECT_TRUE(b.fits(CommandPriority::catch_up, false, l, round(40)));
  // Within its share into the slots kept for exits (it finds the fills those exits wait for),
  // as a lookup. Never into the last in-flight slot.
  EXPECT_TRUE(b.fits(CommandPriority::catch_up, true, l, round(95, 5)));
  EXPECT_FALSE(b.fits(CommandPriority::catch_up, true, l, round(100)));
  EXPECT_FALSE(b.fits(CommandPriority::catch_up, true, l, round(0, 0, 7)));
}

TEST(RateBudget, SweepPagesAreIdleSlackUnlessTheStreamIsSuspect) {
  RateBudget b = hundred();
  const auto l = b.limits();
  RateBudget::Round r = round(50);  // 50 + 33 unused paced share >= 80: polls wait
  EXPECT_FALSE(b.fits(CommandPriority::sweep, false, l, r));
  r.stream_suspect = true;  // the sweep is how cancels are learned: it waits for entries only
  EXPECT_TRUE(b.fits(CommandPriority::sweep, false, l, r));
  for (int i = 0; i < l.sweep_cap; ++i) b.note_release(CommandPriority::sweep, false, kT0);
  EXPECT_FALSE(b.fits(CommandPriority::sweep, false, l, r));
  b.age(kT0.plus_ms(60'000));
  EXPECT_TRUE(b.fits(CommandPriority::sweep, false, l, r));
}

TEST(RateBudget, CallsLeaveTheWindowAfterAMinute) {
  RateBudget b = hundred();
  b.note_release(CommandPriority::entry, false, kT0);
  b.note_release(CommandPriority::protective, false, kT0.plus_ms(30'000));
  EXPECT_EQ(b.calls_last_minute(kT0.plus_ms(59'999)), 2);
  EXPECT_EQ(b.calls_last_minute(kT0.plus_ms(60'000)), 1);
  b.note_entry_release(7, kT0);
  EXPECT_EQ(b.entry_releases(kT0.plus_ms(59'999)).size(), 1u);
  EXPECT_TRUE(b.entry_releases(kT0.plus_ms(60'000)).empty());
}

// The calls made beside the engine (asset, account and clock reads) took from the account's
// minute too: they count among its calls, so an entry waits where it would have pushed the
// account past what the client's rate window lets through (and waited there, unseen).
TEST(RateBudget, CallsMadeBesideTheEngineCountInTheMinute) {
  RateBudget b = hundred();
  b.note_release(CommandPriority::entry, false, kT0);
  b.set_outside_calls(5);
  EXPECT_EQ(b.calls_last_minute(kT0.plus_ms(1000)), 6);
  EXPECT_EQ(b.calls_last_minute(kT0.plus_ms(60'000)), 5) << "the engine's own left the window";
  EXPECT_EQ(b.encode_window(kT0.plus_ms(60'000)), "") << "only the engine's own are persisted";
  b.set_outside_calls(0);
  EXPECT_EQ(b.calls_last_minute(kT0.plus_ms(60'000)), 0);
}

// Reads beside the engine hold no entry back: entries are judged by the engine's own calls. They
// fill the gap the budget leaves under the broker's stated limit (110 - 1 - 100 = 9) before they
// count against the budget protective work shares; and nothing goes that would take the
// minute's calls to the broker's limit, where the client's rate window would hold it unseen.
TEST(RateBudget, ReadsBesideTheEngineHoldNoEntryBackAndNeverFillTheBrokersMinute) {
  RateBudget b = hundred();
  b.set_stated_limit(110);
  const auto l = b.limits();
  EXPECT_EQ(l.budget, 100);
  EXPECT_EQ(l.gap, 9);
  EXPECT_TRUE(b.fits(CommandPriority::entry, false, l, round(56, 0, 0, 30)));
  EXPECT_FALSE(b.fits(CommandPriority::entry, false, l, round(57, 0, 0, 0)));
  EXPECT_TRUE(b.fits(CommandPriority::protective, false, l, round(99, 0, 0, 9))) << "in the gap";
  EXPECT_FALSE(b.fits(CommandPriority::protective, false, l, round(99, 0, 0, 10)));
  EXPECT_TRUE(b.fits(CommandPriority::protective, false, l, round(90, 0, 0, 18)));
  EXPECT_FALSE(b.fits(CommandPriority::protective, false, l, round(90, 0, 0, 19)));
  EXPECT_FALSE(b.fits(CommandPriority::entry, false, l, round(40, 0, 0, 69)))
      << "40 + 69 = 109: the broker's last call of the minute";
  EXPECT_TRUE(b.fits(CommandPriority::entry, false, l, round(40, 0, 0, 68)));
  RateBudget unstated = hundred();
  EXPECT_EQ(unstated.limits().gap, 0);
  EXPECT_FALSE(unstated.fits(CommandPriority::protective, false, unstated.limits(),
                             round(90, 0, 0, 10)));
}

// The window survives a restart: each call comes back at the end of its second (it leaves the
// window no earlier than it did), and the latest count as the catch-ups' share.
TEST(RateBudget, TheWindowIsRestoredConservatively) {
  RateBudget before = hundred();
  for (int i = 0; i < 3; ++i) before.note_release(CommandPriority::entry, false, kT0);
  const std::string saved = before.encode_window(kT0);
  EXPECT_EQ(saved, "1760000000:3");
  RateBudget after = hundred();
  after.restore_window(saved);
  EXPECT_EQ(after.calls_last_minute(kT0.plus_ms(59'999)), 3);
  EXPECT_EQ(after.calls_last_minute(kT0.plus_ms(60'999)), 0);
  RateBudget again = hundred();
  again.restore_window(saved);
  const auto l = again.limits();
  EXPECT_TRUE(again.fits(CommandPriority::entry, false, l, round(59)));  // 59 + (33 - 3) < 90
  EXPECT_FALSE(again.fits(CommandPriority::entry, false, l, round(60)));
}

// A life that ran within the last minute may have made calls after its last commit: the
// in-flight cap of them count as made at the restart, for a minute. None when no life ran.
TEST(RateBudget, ARestartCountsTheCallsNoWindowKept) {
  RateBudget before = hundred();
  before.note_release(CommandPriority::entry, false, kT0);
  RateBudget after = hundred();
  after.restore_window(before.encode_window(kT0));
  const Timestamp restart = kT0.plus_ms(5'000);
  after.assume_unrecorded_calls(restart);
  EXPECT_EQ(after.calls_last_minute(restart), 1 + 8);
  EXPECT_EQ(after.calls_last_minute(restart.plus_ms(59'999)), 8);
  EXPECT_EQ(after.calls_last_minute(restart.plus_ms(60'000)), 0);
  RateBudget fresh = hundred();
  fresh.assume_unrecorded_calls(restart);
  EXPECT_EQ(fresh.calls_last_minute(restart), 0);
}

TEST(RateBudget, AnUnreadableWindowRestoresNothing) {
  RateBudget b = hundred();
  b.restore_window("garbage,also:not,");
  EXPECT_EQ(b.calls_last_minute(kT0), 0);
}

}  // namespace
}  // namespace orderly
