#include "app/forensics.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "support/memory_store.h"
#include "support/paths.h"

namespace orderly::app {
namespace {

ForensicsReport incident() {
  std::ifstream in(orderly::testing::source_dir() + "/tests/app/data/incident.log");
  EXPECT_TRUE(in.good());
  return analyze_log(in);
}

// The table of the incident report (seed/000_075f61f1a7b1c1ab.txt), line for line.
TEST(Forensics, ReproducesTheIncidentTable) {
  std::string table = render_table(incident());
  const std::string expected =
      "| Broker Order ID | Symbol | Submitted | First Error | Last Error | Error Count | Status Updates |\n"
      "|-----------------|--------|-----------|-------------|------------|-------------|----------------|\n"
      "| 5dfdb853-25b2-484d-9d97-914c82e8120c | OKE | 15:59:16 | 16:02:40 | - | 1 | 2 |\n"
      "| 564db8de-b698-4da6-933d-da12e5f11638 | STWD | 15:59:49 | 16:02:41 | 16:19:41 | 2 | 2 |\n"
      "| 2f3b699f-16e7-4bdd-b8c8-dc766ccaee7c | EPD | 16:03:15 | 16:19:42 | 22:29:12 | 4 | 2 |\n"
      "| 75b9f869-8e84-4634-958d-a46b8be52453 | ET | 16:03:49 | 16:20:16 | 16:43:31 | 5 | 0 |\n";
  EXPECT_EQ(table.substr(0, expected.size()), expected) << table;
  EXPECT_NE(table.find("Totals: 28 errors, 13 symbols"), std::string::npos) << table;
  EXPECT_NE(table.find("Skipped lines: 5"), std::string::npos) << table;
}

TEST(Forensics, JsonHasFullTimestampsNullLastErrorAndTotals) {
  auto v = boost::json::parse(render_json(incident())).as_object();
  const auto& rows = v.at("rows").as_array();
  ASSERT_EQ(rows.size(), 4u);
  const auto& oke = rows[0].as_object();
  EXPECT_EQ(oke.at("broker_order_id").as_string(), "5dfdb853-25b2-484d-9d97-914c82e8120c");
  EXPECT_EQ(oke.at("symbol").as_string(), "OKE");
  EXPECT_EQ(oke.at("submitted").as_string(), "2025-10-10 15:59:16,377");
  EXPECT_EQ(oke.at("first_error").as_string(), "2025-10-10 16:02:40,512");
  EXPECT_TRUE(oke.at("last_error").is_null());
  EXPECT_EQ(oke.at("error_count").as_int64(), 1);
  EXPECT_EQ(oke.at("status_updates").as_int64(), 2);
  const auto& stwd = rows[1].as_object();
  EXPECT_EQ(stwd.at("submitted").as_string(), "2025-10-10 15:59:49,412");
  EXPECT_EQ(stwd.at("first_error").as_string(), "2025-10-10 16:02:41,068");
  EXPECT_EQ(stwd.at("last_error").as_string(), "2025-10-10 16:19:41,876");
  const auto& epd = rows[2].as_object();
  EXPECT_EQ(epd.at("last_error").as_string(), "2025-10-10 22:29:12,751");
  EXPECT_EQ(epd.at("error_count").as_int64(), 4);
  const auto& et = rows[3].as_object();
  EXPECT_EQ(et.at("symbol").as_string(), "ET");
  EXPECT_EQ(et.at("error_count").as_int64(), 5);
  EXPECT_EQ(et.at("status_updates").as_int64(), 0);
  EXPECT_EQ(v.at("totals").at("errors").as_int64(), 28);
  EXPECT_EQ(v.at("totals").at("symbols").as_int64(), 13);
  EXPECT_EQ(v.at("skipped_lines").as_int64(), 5);
}

TEST(Forensics, JunkOnlyLogGivesEmptyReport) {
  std::istringstream in("hello\n\n{\"code\":40310000}\n2025-10-10 10:00:00,000 - X - INFO - ok\n");
  auto r = analyze_log(in);
  EXPECT_TRUE(r.rows.empty());
  EXPECT_EQ(r.total_errors, 0);
  EXPECT_EQ(r.skipped_lines, 2);
}

TEST(Forensics, ErrorsWithoutSubmissionAreTotalsOnly) {
  std::istringstream in(
      "2025-10-10 10:00:00,000 - A - ERROR - Error submitting order to Alpaca: "
      "{\"code\":40310000,\"related_orders\":[\"x\"],\"symbol\":\"KMI\"}\n");
  auto r = analyze_log(in);
  EXPECT_TRUE(r.rows.empty());
  EXPECT_EQ(r.total_errors, 1);
  EXPECT_EQ(r.total_symbols, 1);
}

TEST(Forensics, StoreWithOnlyExternalHoldsHasNoRows) {
  testing::MemoryStore store;
  Order ours;
  ours.id = 1;
  ours.symbol = "STWD";
  ours.broker_order_id = "ours-1";
  WriteBatch batch;
  batch.orders.push_back(ours);
  OrderEvent e;
  e.order_id = 2;
  e.source = EventSource::error;
  e.to = OrderState::submit_failed;
  e.payload = R"({"code":40310000,"related_orders":["someone-else"],"symbol":"STWD"})";
  batch.events.push_back(e);
  ASSERT_TRUE(store.commit(batch).ok());
  auto r = analyze_store(store);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->rows.empty());
  EXPECT_EQ(r->total_errors, 1);
}

TEST(Forensics, StoreFindsSelfInflictedErrors) {
  testing::MemoryStore store;
  Order ours;
  ours.id = 1;
  ours.symbol = "STWD";
  ours.broker_order_id = "ours-1";
  ours.created_at = Timestamp::from_ms(1'760'111'989'412);
  WriteBatch batch;
  batch.orders.push_back(ours);
  OrderEvent e;
  e.order_id = 2;
  e.at = Timestamp::from_ms(1'760'112'161'068);
  e.source = EventSource::error;
  e.to = OrderState::submit_failed;
  e.payload = R"({"status":403,"body":{"code":40310000,"related_orders":["ours-1"],"symbol":"STWD"}})";
  batch.events.push_back(e);
  ASSERT_TRUE(store.commit(batch).ok());
  auto r = analyze_store(store);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(r->rows[0].broker_order_id, "ours-1");
  EXPECT_EQ(r->rows[0].symbol, "STWD");
  EXPECT_EQ(r->rows[0].error_count, 1);
  EXPECT_EQ(r->rows[0].submitted.size(), 23u);
}

}  // namespace
}  // namespace orderly::app
