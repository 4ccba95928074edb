#include "engine/alerts.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

const Timestamp kT0 = Timestamp::from_ms(1'760'000'000'000);

std::vector<Alert> batch_of(Alerts& a) {
  std::vector<Alert> out;
  a.add_to_batch(out);
  return out;
}

TEST(Alerts, RaisedOncePerKindAndSubjectAndTheFirstMessageStays) {
  Alerts a;
  a.begin();
  a.raise(AlertKind::stuck_order, "o-1", "first", kT0);
  a.raise(AlertKind::stuck_order, "o-1", "second", kT0.plus_ms(5));
  a.raise(AlertKind::stuck_order, "o-2", "other order", kT0);
  a.raise(AlertKind::sync_lag, "sync", "lag", kT0);
  ASSERT_EQ(a.active_count(), 3u);
  EXPECT_EQ(a.active_count(AlertKind::stuck_order), 2u);
  EXPECT_TRUE(a.any_active(AlertKind::sync_lag));
  EXPECT_FALSE(a.any_active(AlertKind::anomaly));
  a.for_each_active(AlertKind::stuck_order, [&](const Alert& x) {
    if (x.subject == "o-1") {
      EXPECT_EQ(x.message, "first");
    }
  });
}

TEST(Alerts, AClearedAlertRaisedAgainIsANewAlert) {
  Alerts a;
  a.begin();
  a.raise(AlertKind::sync_lag, "sync", "lag", kT0);
  a.clear(AlertKind::sync_lag, "sync", kT0.plus_ms(10));
  EXPECT_FALSE(a.active(AlertKind::sync_lag, "sync"));
  a.clear(AlertKind::sync_lag, "sync", kT0.plus_ms(20));  // nothing active: nothing changes
  a.raise(AlertKind::sync_lag, "sync", "again", kT0.plus_ms(30));
  const std::vector<Alert> batch = batch_of(a);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].cleared_at, kT0.plus_ms(10));
  EXPECT_EQ(batch[1].id, batch[0].id + 1);
  EXPECT_EQ(batch[1].message, "again");
}

TEST(Alerts, TheBatchHoldsWhatTheInputChangedOnly) {
  Alerts a;
  a.begin();
  a.raise(AlertKind::sync_lag, "sync", "lag", kT0);
  a.raise(AlertKind::retry_storm, "submitter", "storm", kT0);
  EXPECT_EQ(batch_of(a).size(), 2u);
  a.committed();
  a.begin();
  EXPECT_TRUE(batch_of(a).empty());
  a.clear(AlertKind::retry_storm, "submitter", kT0.plus_ms(1));
  const std::vector<Alert> batch = batch_of(a);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].kind, AlertKind::retry_storm);
  EXPECT_FALSE(batch[0].active());
}

// A failed commit takes the input's alerts with it: raised ones vanish (their ids are given
// again), cleared ones are active again.
TEST(Alerts, ARolledBackInputLeavesTheAlertsAsTheyWere) {
  Alerts a;
  a.begin();
  a.raise(AlertKind::sync_lag, "sync", "lag", kT0);
  a.committed();
  a.begin();
  a.clear(AlertKind::sync_lag, "sync", kT0.plus_ms(1));
  a.raise(AlertKind::stuck_order, "o-1", "stuck", kT0.plus_ms(1));
  a.roll_back();
  EXPECT_TRUE(a.active(AlertKind::sync_lag, "sync"));
  EXPECT_FALSE(a.active(AlertKind::stuck_order, "o-1"));
  a.begin();
  a.raise(AlertKind::stuck_order, "o-1", "stuck", kT0.plus_ms(2));
  EXPECT_EQ(batch_of(a).at(0).id, 2);
}

// The store's anomaly is raised when a commit fails, outside any input: it stays in memory and
// is written with the next good commit, however many fail before it.
TEST(Alerts, ACarriedAlertIsWrittenWithTheNextGoodCommit) {
  Alerts a;
  a.begin();
  a.raise(AlertKind::sync_lag, "sync", "lag", kT0);
  a.roll_back();
  a.raise_carried(AlertKind::anomaly, "store", "commit failed", kT0);
  EXPECT_TRUE(a.active(AlertKind::anomaly, "store"));
  a.begin();
  ASSERT_EQ(batch_of(a).size(), 1u);
  a.roll_back();  // that commit failed too
  EXPECT_TRUE(a.active(AlertKind::anomaly, "store"));
  a.begin();
  EXPECT_EQ(batch_of(a).size(), 1u);
  a.committed();
  a.clear_carried(AlertKind::anomaly, "store", kT0.plus_ms(50));
  EXPECT_FALSE(a.any_active(AlertKind::anomaly));
  a.begin();
  const std::vector<Alert> batch = batch_of(a);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].cleared_at, kT0.plus_ms(50));
}

TEST(Alerts, LoadedAlertsStayActiveAndNewIdsFollowTheStores) {
  Alert stored;
  stored.id = 41;
  stored.kind = AlertKind::unprotected_position;
  stored.subject = "AAPL";
  stored.raised_at = kT0;
  Alerts a;
  a.load(41, {stored});
  EXPECT_TRUE(a.active(AlertKind::unprotected_position, "AAPL"));
  a.begin();
  a.raise(AlertKind::sync_lag, "sync", "lag", kT0);
  EXPECT_EQ(batch_of(a).at(0).id, 42);
}

// Pruning never takes a clearing that is still to be written: the input's own, or a carried one.
TEST(Alerts, PruningKeepsEveryClearingNotYetCommitted) {
  Alerts a;
  a.begin();
  a.raise(AlertKind::sync_lag, "sync", "lag", kT0);
  a.raise(AlertKind::anomaly, "store", "commit failed", kT0);
  a.committed();
  a.begin();
  a.clear(AlertKind::sync_lag, "sync", kT0);
  a.clear_carried(AlertKind::anomaly, "store", kT0);
  a.prune_cleared(kT0.plus_ms(10'000), 1000);
  const std::vector<Alert> batch = batch_of(a);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_FALSE(batch[0].active());
  EXPECT_FALSE(batch[1].active());
  a.committed();
  a.begin();
  a.prune_cleared(kT0.plus_ms(10'000), 1000);
  EXPECT_TRUE(batch_of(a).empty());
  EXPECT_EQ(a.active_count(), 0u);
}

}  // namespace
}  // namespace orderly
