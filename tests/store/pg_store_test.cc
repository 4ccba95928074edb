// PostgreSQL-specific store behaviour: exact values, gap-free audit seqs, account isolation,
// connection loss with verify-before-retry, clear errors. The backend-generic suite runs on
// PostgreSQL too (postgres_backend.cc).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "store/fixtures.h"
#include "store/pg_samples.h"
#include "store/pg_server.h"
#include "store/postgres/postgres_store.h"

namespace orderly {
namespace {

using testing::pg_order_batch;
using testing::pg_sample_event;
using testing::pg_sample_order;
using testing::shared_pg_server;

std::unique_ptr<Store> open_or_die(const std::string& url, const std::string& account,
                                   PostgresStoreOptions options = {}) {
  auto s = open_postgres_store(url, account, std::move(options));
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? std::move(s.value()) : nullptr;
}

PostgresStore& pg(Store& s) { return dynamic_cast<PostgresStore&>(s); }

// Every event of the account, in seq order; asserts seqs are exactly 1..n.
std::vector<OrderEvent> all_events_gap_free(Store& store) {
  auto events = store.events_since(0, 100000);
  EXPECT_TRUE(events.ok()) << events.status().to_string();
  if (!events.ok()) return {};
  for (std::size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].seq, static_cast<std::int64_t>(i + 1));
  }
  return events.value();
}

TEST(PgStore, RoundTripsEveryFieldExactly) {
  const std::string url = testing::fresh_pg_db();
  auto store = open_or_die(url, "acct-a");
  ASSERT_TRUE(store);

  Trade t;
  t.id = 7;
  t.spec.symbol = "STWD";
  t.spec.qty = Decimal::must("37");
  t.spec.entry_type = OrderType::limit;
  t.spec.entry_limit_price = Decimal::must("10.0500");
  t.spec.take_profit.percent = Decimal::must("2.5");
  t.spec.stop_loss = PriceTarget{Decimal::must("9.80"), std::nullopt};
  t.spec.exits = ExitMode::native;
  t.state = TradeState::open;
  t.note = "it's \"quoted\"; DROP TABLE trades; --";
  t.created_at = Timestamp{1};
  t.updated_at = Timestamp{2};

  Order o = pg_sample_order(11, 7, "ol-abc-1-e0");
  o.broker_order_id = "b-uuid-1";
  o.stop_price = Decimal::must("0.000000001");
  o.parent_order_id = 3;
  o.replaces_order_id = 4;
  o.state = OrderState::partially_filled;
  o.filled_qty = Decimal::must("12.5");
  o.filled_avg_price = Decimal::must("10.4999");
  o.broker_updated_at = Timestamp{-5};
  o.attempts = 2;
  o.next_attempt_at = Timestamp{99};
  o.last_error = "insufficient qty available (40310000)";
  o.version = 9;

  WriteBatch b;
  b.trades.push_back(t);
  b.orders.push_back(o);
  OrderEvent e = pg_sample_event(11, "fill");
  e.from = OrderState::new_;
  e.to = OrderState::partially_filled;
  e.source = EventSource::stream;
  e.filled_qty = Decimal::must("12.5");
  e.payload = R"({"event":"partial_fill","qty":"12.5"})";
  b.events.push_back(e);
  b.fills.push_back({"exec-1", 11, "STWD", Side::buy, Decimal::must("12.5"),
                     Decimal::must("10.4999"), Timestamp{5}});
  b.positions.push_back({"STWD", Decimal::must("-12.50"), Decimal::must("10.4999")});
  b.alerts.push_back({3, AlertKind::external_hold, "STWD", "held", Timestamp{6}, std::nullopt});
  b.sync_state["fills_watermark"] = "2025-01-01T00:00:00Z";
  ASSERT_TRUE(store->commit(b).ok());

  auto got = store->get_order(11);
  ASSERT_TRUE(got.ok() && got->has_value());
  const Order& g = **got;
  EXPECT_EQ(g.client_order_id, o.client_order_id);
  EXPECT_EQ(g.broker_order_id, o.broker_order_id);
  EXPECT_EQ(g.limit_price->str(), "10.50");
  EXPECT_EQ(g.stop_price->str(), "0.000000001");
  EXPECT_EQ(g.filled_qty.str(), "12.5");
  EXPECT_EQ(g.filled_avg_price->str(), "10.4999");
  EXPECT_EQ(g.state, OrderState::partially_filled);
  EXPECT_EQ(g.parent_order_id, 3);
  EXPECT_EQ(g.replaces_order_id, 4);
  EXPECT_EQ(g.broker_updated_at, Timestamp{-5});
  EXPECT_EQ(g.next_attempt_at, Timestamp{99});
  EXPECT_EQ(g.attempts, 2);
  EXPECT_EQ(g.last_error, o.last_error);
  EXPECT_EQ(g.version, 9);

  auto tr = store->get_trade(7);
  ASSERT_TRUE(tr.ok() && tr->has_value());
  EXPECT_EQ((*tr)->note, t.note);
  EXPECT_EQ((*tr)->spec.entry_limit_price->str(), "10.0500");
  EXPECT_EQ((*tr)->spec.take_profit.percent->str(), "2.5");
  ASSERT_TRUE((*tr)->spec.stop_loss.has_value());
  EXPECT_EQ((*tr)->spec.stop_loss->price->str(), "9.80");
  EXPECT_FALSE((*tr)->spec.stop_loss->percent.has_value());
  EXPECT_EQ((*tr)->spec.exits, ExitMode::native);

  auto events = store->order_events(11);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].payload, e.payload);
  EXPECT_EQ((*events)[0].from, OrderState::new_);
  EXPECT_EQ((*events)[0].seq, 1);

  auto pos = store->positions();
  ASSERT_TRUE(pos.ok());
  ASSERT_EQ(pos->size(), 1u);
  EXPECT_EQ((*pos)[0].qty.str(), "-12.50");

  auto loaded = store->load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->max_order_id, 11);
  EXPECT_EQ(loaded->max_trade_id, 7);
  EXPECT_EQ(loaded->max_alert_id, 3);
  EXPECT_EQ(loaded->open_orders.size(), 1u);
  EXPECT_EQ(loaded->active_alerts.size(), 1u);
  EXPECT_EQ(loaded->sync_state.at("fills_watermark"), "2025-01-01T00:00:00Z");
  EXPECT_EQ(loaded->instance_tag.size(), 4u);
}

TEST(PgStore, RefusedBatchWritesNothingAndLeavesNoSeqGap) {
  const std::string url = testing::fresh_pg_db();
  auto store = open_or_die(url, "acct-a");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->commit(pg_order_batch(1)).ok());

  // A second order reusing order 1's client_order_id would be a duplicate intent at the broker.
  WriteBatch bad = pg_order_batch(2);
  bad.orders[0].client_order_id = "cid-1";
  bad.events.push_back(pg_sample_event(2, "second"));
  Status s = store->commit(bad);
  EXPECT_EQ(s.code(), Status::Code::conflict) << s.to_string();
  EXPECT_NE(s.message().find("nothing written"), std::string::npos) << s.message();

  auto o2 = store->get_order(2);
  ASSERT_TRUE(o2.ok());
  EXPECT_FALSE(o2->has_value());
  ASSERT_TRUE(store->commit(pg_order_batch(3)).ok());
  EXPECT_EQ(all_events_gap_free(*store).size(), 2u);
}

// Batches travel as arrays (one statement per table): any text must come back byte for byte,
// and an order upserted twice in one batch ends as its last version.
TEST(PgStore, MultiRowBatchKeepsAwkwardTextAndLastUpsertWins) {
  const std::string url = testing::fresh_pg_db();
  auto store = open_or_die(url, "acct-a");
  ASSERT_TRUE(store);
  const std::vector<std::string> notes = {"", "NULL", "a,b", "{x}", "say \"hi\"", "back\\slash",
                                          " spaced ", "ünïcødé", "line\nbreak"};
  WriteBatch b;
  for (std::size_t i = 0; i < notes.size(); ++i) {
    const OrderId id = static_cast<OrderId>(i + 1);
    b.orders.push_back(pg_sample_order(id, 1, "cid-" + std::to_string(id)));
    b.events.push_back(pg_sample_event(id, notes[i]));
  }
  Order again = b.orders[0];
  again.last_error = "second version";
  again.version = 2;
  b.orders.push_back(again);
  ASSERT_TRUE(store->commit(b).ok());
  auto events = all_events_gap_free(*store);
  ASSERT_EQ(events.size(), notes.size());
  for (std::size_t i = 0; i < notes.size(); ++i) EXPECT_EQ(events[i].note, notes[i]);
  auto first = store->get_order(1);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->last_error, "second version");
  EXPECT_EQ((*first)->version, 2);

  WriteBatch nul = pg_order_batch(100);
  nul.events[0].payload = std::string("a\0b", 3);
  Status s = store->commit(nul);
  EXPECT_EQ(s.code(), Status::Code::invalid_argument) << s.to_string();
  EXPECT_FALSE(store->get_order(100)->has_value());
}

TEST(PgStore, AccountsShareTheDatabaseButNotTheirRows) {
  const std::string url = testing::fresh_pg_db();
  auto a = open_or_die(url, "acct-a");
  auto b = open_or_die(url, "acct-b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->commit(pg_order_batch(1, "a1")).ok());
  ASSERT_TRUE(b->commit(pg_order_batch(1, "b1")).ok());  // same ids and client ids
  ASSERT_TRUE(a->commit(pg_order_batch(2, "a2")).ok());

  auto ea = all_events_gap_free(*a);
  auto eb = all_events_gap_free(*b);
  ASSERT_EQ(ea.size(), 2u);
  ASSERT_EQ(eb.size(), 1u);
  EXPECT_EQ(eb[0].note, "b1");
  auto la = a->load();
  auto lb = b->load();
  ASSERT_TRUE(la.ok() && lb.ok());
  EXPECT_EQ(la->max_order_id, 2);
  EXPECT_EQ(lb->max_order_id, 1);
  EXPECT_NE(la->instance_tag, "");
}

TEST(PgStore, LostReplyAfterCommitIsVerifiedAndNotAppliedTwice) {
  const std::string url = testing::fresh_pg_db();
  auto store = open_or_die(url, "acct-a");
  ASSERT_TRUE(store);
  pg(*store).inject_fault(PostgresFault::after_commit);
  ASSERT_TRUE(store->commit(pg_order_batch(1)).ok());
  const PostgresStoreStats st = pg(*store).stats();
  EXPECT_EQ(st.unknown_outcomes, 1);
  EXPECT_EQ(st.verified_committed, 1);
  EXPECT_EQ(st.verified_absent, 0);
  EXPECT_GE(st.reconnects, 1);
  EXPECT_EQ(all_events_gap_free(*store).size(), 1u);
}

TEST(PgStore, BrokenConnectionBeforeSendIsVerifiedThenRetried) {
  const std::string url = testing::fresh_pg_db();
  auto store = open_or_die(url, "acct-a");
  ASSERT_TRUE(store);
  pg(*store).inject_fault(PostgresFault::before_send);
  ASSERT_TRUE(store->commit(pg_order_batch(1)).ok());
  const PostgresStoreStats st = pg(*store).stats();
  EXPECT_EQ(st.unknown_outcomes, 1);
  EXPECT_EQ(st.verified_absent, 1);
  EXPECT_EQ(st.verified_committed, 0);
  EXPECT_EQ(all_events_gap_free(*store).size(), 1u);
}

// The server crashes (pg_ctl stop -m immediate) and comes back while a writer commits: the
// store reports the outage, waits, and resumes; every batch is there exactly once.
TEST(PgStore, ServerCrashMidRunLosesAndDuplicatesNothing) {
  const std::string url = testing::fresh_pg_db();
  std::string error;
  testing::PgServer* server = shared_pg_server(&error);
  ASSERT_NE(server, nullptr) << error;

  std::atomic<int> reports{0};
  PostgresStoreOptions options;
  options.reconnect_window_ms = 120'000;
  options.on_error = [&](const Status&) { ++reports; };
  auto store = open_or_die(url, "acct-a", options);
  ASSERT_TRUE(store);

  constexpr int kBatches = 300;
  std::atomic<int> committed{0};
  std::atomic<bool> failed{false};
  std::string failure;
  std::thread writer([&] {
    for (int i = 1; i <= kBatches; ++i) {
      Status s = store->commit(pg_order_batch(i));
      if (!s) {
        failure = s.to_string();
        failed = true;
        return;
      }
      committed = i;
    }
  });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (committed < 30 && !failed && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(server->stop_immediate(&error)) << error;
  while (reports == 0 && !failed && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int during_outage = committed;
  ASSERT_TRUE(server->start_again(&error)) << error;
  writer.join();
  ASSERT_FALSE(failed) << failure;
  EXPECT_LT(during_outage, kBatches);
  EXPECT_GE(reports.load(), 1);

  const PostgresStoreStats st = pg(*store).stats();
  EXPECT_GE(st.reconnects, 1);
  auto events = all_events_gap_free(*store);
  ASSERT_EQ(events.size(), static_cast<std::size_t>(kBatches));
  for (int i = 0; i < kBatches; ++i) EXPECT_EQ(events[i].order_id, i + 1);
  auto orders = store->list_orders({.limit = kBatches + 10});
  ASSERT_TRUE(orders.ok());
  EXPECT_EQ(orders->size(), static_cast<std::size_t>(kBatches));
}

TEST(PgStore, UnreachableServerIsAClearError) {
  std::string error;
  testing::PgServer* server = shared_pg_server(&error);
  ASSERT_NE(server, nullptr) << error;
  // A port nobody listens on (the shared server's port + 1 is very unlikely to be taken, and
  // any listener there would not be PostgreSQL with our database).
  const std::string url =
      "postgresql://postgres@127.0.0.1:" + std::to_string(server->port() + 1) + "/nope";
  auto s = open_postgres_store(url, "acct-a");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::unavailable) << s.status().to_string();
  EXPECT_NE(s.status().message().find("unreachable"), std::string::npos);
}

TEST(PgStore, AuthenticationFailureIsClearAndNeverShowsThePassword) {
  const std::string url = testing::fresh_pg_db();
  std::string error;
  testing::PgServer* server = shared_pg_server(&error);
  ASSERT_NE(server, nullptr) << error;
  std::string out;
  // Idempotent: several tests of one binary run share the server.
  ASSERT_TRUE(server->sql("postgres",
                          "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                          "'orderly_pw') THEN CREATE ROLE orderly_pw LOGIN PASSWORD "
                          "'right-horse'; END IF; END $$",
                          &out, &error))
      << error;
  const std::string db = url.substr(url.rfind('/') + 1);
  const std::string bad = "postgresql://orderly_pw:s3cret-wrong@127.0.0.1:" +
                          std::to_string(server->port()) + "/" + db;
  auto s = open_postgres_store(bad, "acct-a");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::invalid_argument) << s.status().to_string();
  EXPECT_NE(s.status().message().find("credentials"), std::string::npos) << s.status().message();
  EXPECT_EQ(s.status().message().find("s3cret-wrong"), std::string::npos) << s.status().message();
}

TEST(PgStore, NewerSchemaIsRefused) {
  const std::string url = testing::fresh_pg_db();
  { ASSERT_TRUE(open_or_die(url, "acct-a")); }
  std::string error;
  testing::PgServer* server = shared_pg_server(&error);
  ASSERT_NE(server, nullptr) << error;
  const std::string db = url.substr(url.rfind('/') + 1);
  ASSERT_TRUE(server->sql(db,
                          "INSERT INTO schema_migrations (version, description) "
                          "VALUES (999, 'from the future')",
                          nullptr, &error))
      << error;
  auto s = open_postgres_store(url, "acct-a");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::schema_too_new) << s.status().to_string();
  EXPECT_NE(s.status().message().find("999"), std::string::npos);
}

// A database of an older orderly: trade 1 written, then `downgrade` (SQL taking the schema back),
// opened again (migrated); null, with a test failure, when any step fails.
std::unique_ptr<Store> migrated_from_older(const std::string& downgrade) {
  const std::string url = testing::fresh_pg_db();
  {
    auto s = open_or_die(url, "acct-a");
    if (!s) return nullptr;
    EXPECT_TRUE(s->commit(testing::create_batch(1, 1)).ok());
  }
  std::string error;
  testing::PgServer* server = shared_pg_server(&error);
  EXPECT_NE(server, nullptr) << error;
  const std::string db = url.substr(url.rfind('/') + 1);
  if (server == nullptr || !server->sql(db, downgrade, nullptr, &error)) {
    ADD_FAILURE() << error;
    return nullptr;
  }
  return open_or_die(url, "acct-a");
}

// A database migrated by the schema-1 orderly (no client_trade_id) is taken to version 2 and
// keeps its trades.
TEST(PgStore, SchemaOneDatabaseMigratesToClientTradeIds) {
  auto s = migrated_from_older(
      "DROP INDEX trades_client_trade_id; "
      "ALTER TABLE trades DROP COLUMN client_trade_id; "
      "ALTER TABLE trades DROP COLUMN notional, DROP COLUMN entry_stop_price, "
      "DROP COLUMN extended_hours, DROP COLUMN sl_trail_percent, "
      "DROP COLUMN sl_trail_price, DROP COLUMN price_increment; "
      "ALTER TABLE orders DROP COLUMN notional, DROP COLUMN trail_price, "
      "DROP COLUMN trail_percent, DROP COLUMN extended_hours; "
      "DELETE FROM schema_migrations WHERE version >= 2");
  ASSERT_TRUE(s);
  auto old = s->get_trade(1);
  ASSERT_TRUE(old.ok() && old->has_value()) << old.status().to_string();
  EXPECT_EQ((*old)->spec.client_trade_id, "");
  WriteBatch b = testing::create_batch(2, 2);
  b.trades.front().spec.client_trade_id = "strategy-7";
  ASSERT_TRUE(s->commit(b).ok());
  auto found = s->find_trade_by_client_id("strategy-7");
  ASSERT_TRUE(found.ok() && found->has_value()) << found.status().to_string();
  EXPECT_EQ((*found)->id, 2);
}

// A database at schema 3 (no price_increment) migrates: its trades load with none (the cent's
// rule, as they were priced), and a new one keeps its pair's.
TEST(PgStore, SchemaThreeDatabaseMigratesToPriceIncrements) {
  auto s = migrated_from_older(
      "ALTER TABLE trades DROP COLUMN price_increment; "
      "DELETE FROM schema_migrations WHERE version >= 4");
  ASSERT_TRUE(s);
  auto old = s->get_trade(1);
  ASSERT_TRUE(old.ok() && old->has_value()) << old.status().to_string();
  EXPECT_EQ((*old)->spec.price_increment, std::nullopt);
  WriteBatch b = testing::create_batch(2, 2);
  b.trades.front().spec.symbol = "BTC/USD";
  b.trades.front().spec.price_increment = Decimal::must("1");
  ASSERT_TRUE(s->commit(b).ok());
  auto kept = s->get_trade(2);
  ASSERT_TRUE(kept.ok() && kept->has_value()) << kept.status().to_string();
  EXPECT_EQ((*kept)->spec.price_increment, Decimal::must("1"));
}

TEST(PgStore, ConcurrentFirstOpensMigrateOnce) {
  const std::string url = testing::fresh_pg_db();
  constexpr int kOpeners = 4;
  std::vector<std::thread> threads;
  std::vector<Status> results(kOpeners);
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      auto s = open_postgres_store(url, "acct-" + std::to_string(i));
      results[i] = s.ok() ? Status::success() : s.status();
    });
  }
  for (auto& t : threads) t.join();
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.to_string();
}

TEST(PgStore, BadArgumentsAreRefused) {
  const std::string url = testing::fresh_pg_db();
  auto store = open_or_die(url, "acct-a");
  ASSERT_TRUE(store);
  EXPECT_EQ(store->list_orders({.limit = -1}).status().code(), Status::Code::invalid_argument);
  EXPECT_EQ(store->list_trades(10, -3).status().code(), Status::Code::invalid_argument);
  EXPECT_EQ(open_postgres_store(url, "").status().code(), Status::Code::invalid_argument);
  EXPECT_EQ(open_postgres_store("postgresql://127.0.0.1:notaport/x", "a").status().code(),
            Status::Code::invalid_argument);
}

}  // namespace
}  // namespace orderly
