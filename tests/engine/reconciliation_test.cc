// The Reconciler's state (issue 21): a reconciliation's report from request to taken, and how
// long our positions have differed from the broker's.
#include "engine/reconciliation.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

TEST(Reconciliation, AReportIsGatheredWhileItRunsAndKeptOnceDoneUntilTaken) {
  Reconciliation r;
  ++r.report().orders_checked;  // counted before anyone asked
  EXPECT_FALSE(r.progress()) << "none runs";
  r.request();
  EXPECT_EQ(r.report().orders_checked, 0) << "a request starts a new report";
  ++r.report().orders_adopted;
  const std::optional<ReconcileReport> so_far = r.progress();
  ASSERT_TRUE(so_far);
  EXPECT_FALSE(so_far->complete);
  EXPECT_EQ(so_far->orders_adopted, 1);
  EXPECT_FALSE(r.take_finished()) << "not before its resync is done";

  r.finish();
  EXPECT_FALSE(r.requested());
  EXPECT_FALSE(r.progress());
  const std::optional<ReconcileReport> done = r.take_finished();
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->complete);
  EXPECT_TRUE(done->status.ok());
  EXPECT_EQ(done->orders_adopted, 1);
  EXPECT_FALSE(r.take_finished()) << "taken once";
}

TEST(Reconciliation, AnOrderIsAFindingOncePerRequest) {
  Reconciliation r;
  EXPECT_TRUE(r.first_finding_about("ext-1"));
  EXPECT_FALSE(r.first_finding_about("ext-1")) << "each sweep meets it again";
  r.request();
  EXPECT_TRUE(r.first_finding_about("ext-1")) << "a new report names it again";
}

TEST(Reconciliation, ADriftCountsReadsInARowUntilAReadAgrees) {
  Reconciliation r;
  EXPECT_EQ(r.differed("AAPL"), 1);
  EXPECT_EQ(r.differed("AAPL"), 2);
  EXPECT_EQ(r.drifting().count("AAPL"), 1u);
  r.agreed("AAPL");
  EXPECT_TRUE(r.drifting().empty());
  EXPECT_EQ(r.differed("AAPL"), 1) << "in a row: an agreeing read starts it again";
}

}  // namespace
}  // namespace orderly
