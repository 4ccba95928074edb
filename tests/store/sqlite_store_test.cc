// SQLite-only: bad files, newer schemas, read-only and full disks, and how load() reads.
// Every error must name the file and the cause, and leave nothing half written.

#include "store/open.h"
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "backends.h"
#include "fixtures.h"

namespace orderly::testing {
namespace {

using Code = Status::Code;
namespace fs = std::filesystem;

std::unique_ptr<SqliteStore> must_open(const std::string& path, const std::string& account = "a") {
  auto s = SqliteStore::open(path, account);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? std::move(*s) : nullptr;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// Creates a store with a little data and closes it (WAL checkpointed into the main file).
void make_store(const std::string& path) {
  auto s = must_open(path);
  ASSERT_TRUE(s);
  for (int i = 1; i <= 20; ++i) ASSERT_TRUE(s->commit(create_batch(i, i)).ok());
}

void expect_error(const StatusOr<std::unique_ptr<SqliteStore>>& r, Code code,
                  const std::string& path, const std::string& cause) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), code) << r.status().to_string();
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().to_string();
  EXPECT_NE(r.status().message().find(cause), std::string::npos) << r.status().to_string();
}

TEST(SqliteStoreErrors, TextFileIsRefusedAsNotADatabase) {
  TempDir dir;
  const std::string path = dir.file("notes.txt");
  write_file(path, "these are my trading notes, not a database\n" + std::string(5000, 'x'));
  expect_error(SqliteStore::open(path, "a"), Code::corruption, path, "not an SQLite database");
  // Nothing was written into the foreign file.
  std::ifstream f(path);
  std::string first;
  std::getline(f, first);
  EXPECT_EQ(first, "these are my trading notes, not a database");
}

TEST(SqliteStoreErrors, PngIsRefusedAsNotADatabase) {
  TempDir dir;
  const std::string path = dir.file("chart.png");
  std::string png = "\x89PNG\r\n\x1a\n";
  png += std::string("\0\0\0\rIHDR", 8) + std::string(4096, '\x7f');
  write_file(path, png);
  const auto size_before = fs::file_size(path);
  expect_error(SqliteStore::open(path, "a"), Code::corruption, path, "not an SQLite database");
  EXPECT_EQ(fs::file_size(path), size_before);
}

TEST(SqliteStoreErrors, CorruptDatabaseIsRefused) {
  TempDir dir;
  const std::string path = dir.file("orderly.db");
  make_store(path);
  ASSERT_FALSE(fs::exists(path + "-wal") && fs::file_size(path + "-wal") > 0);
  // Keep the 100-byte header (so it still claims to be SQLite) and smash the schema page.
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(100);
    const std::string junk(3000, '\xa5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto r = SqliteStore::open(path, "a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::corruption) << r.status().to_string();
  EXPECT_NE(r.status().message().find(path), std::string::npos);
  EXPECT_NE(r.status().message().find("corrupt"), std::string::npos) << r.status().to_string();
}

// Pages whose b-tree headers were overwritten, behind an intact header and schema page: the
// schema reads fine, so only the integrity check at open can tell.
TEST(SqliteStoreErrors, DamagedPagesFailTheIntegrityCheckAtOpen) {
  TempDir dir;
  const std::string path = dir.file("orderly.db");
  make_store(path);
  constexpr std::streamoff kPage = 4096;
  ASSERT_GE(fs::file_size(path), 6u * kPage);
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    for (std::streamoff page = 1; page <= 5; ++page) {
      f.seekp(page * kPage);
      const std::string junk(8, '\x5a');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
  }
  auto r = SqliteStore::open(path, "a");
  expect_error(r, Code::corruption, path, "integrity check failed");
  EXPECT_NE(r.status().message().find("restore it from a backup"), std::string::npos)
      << r.status().to_string();
  EXPECT_NE(r.status().message().find(".recover"), std::string::npos) << r.status().to_string();
}

// A row that cannot be read at run time makes the store report a fault (for /healthz), and it
// stays reported.
TEST(SqliteStoreErrors, UnreadableRowAtRunTimeIsAFault) {
  TempDir dir;
  const std::string path = dir.file("orderly.db");
  auto s = must_open(path);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->commit(create_batch(1, 1)).ok());
  EXPECT_EQ(s->fault(), "");
  ASSERT_TRUE(s->list_orders({}).ok());
  ASSERT_TRUE(s->exec_for_test("UPDATE orders SET state = 'exploded' WHERE id = 1").ok());
  auto listed = s->list_orders({});
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.status().code(), Code::corruption);
  EXPECT_NE(s->fault().find(path), std::string::npos) << s->fault();
  EXPECT_NE(s->fault().find("exploded"), std::string::npos) << s->fault();
  ASSERT_TRUE(s->exec_for_test("UPDATE orders SET state = 'created' WHERE id = 1").ok());
  EXPECT_TRUE(s->list_orders({}).ok());
  EXPECT_FALSE(s->fault().empty());  // a damaged file does not heal while the process runs
}

// A file of an older orderly at `path`: trade 1 written, then `downgrade` (SQL taking the schema
// back to `version`); false, with a test failure, when a step fails.
bool write_older_file(const std::string& path, const std::string& downgrade, int version) {
  auto s = must_open(path);
  if (!s) return false;
  EXPECT_TRUE(s->commit(create_batch(1, 1)).ok());
  const std::string v = std::to_string(version);
  const Status st =
      s->exec_for_test(downgrade + "PRAGMA user_version = " + v + "; UPDATE meta SET value = '" +
                       v + "' WHERE key = 'schema_version'");
  EXPECT_TRUE(st.ok()) << st.to_string();
  return st.ok();
}

// A file written by the schema-1 orderly (no client_trade_id) migrates and keeps its trades.
TEST(SqliteStoreErrors, SchemaOneFileMigratesToClientTradeIds) {
  TempDir dir;
  const std::string path = dir.file("orderly.db");
  ASSERT_TRUE(write_older_file(path,
                               "DROP INDEX trades_client_trade_id; "
                               "ALTER TABLE trades DROP COLUMN client_trade_id; "
                               "ALTER TABLE trades DROP COLUMN notional; "
                               "ALTER TABLE trades DROP COLUMN entry_stop_price; "
                               "ALTER TABLE trades DROP COLUMN extended_hours; "
                               "ALTER TABLE trades DROP COLUMN sl_trail_percent; "
                               "ALTER TABLE trades DROP COLUMN sl_trail_price; "
                               "ALTER TABLE trades DROP COLUMN price_increment; "
                               "ALTER TABLE orders DROP COLUMN notional; "
                               "ALTER TABLE orders DROP COLUMN trail_price; "
                               "ALTER TABLE orders DROP COLUMN trail_percent; "
                               "ALTER TABLE orders DROP COLUMN extended_hours; ",
                               1));
  auto s = must_open(path);
  ASSERT_TRUE(s);
  auto old = s->get_trade(1);
  ASSERT_TRUE(old.ok() && old->has_value()) << old.status().to_string();
  EXPECT_EQ((*old)->spec.client_trade_id, "");
  WriteBatch b = create_batch(2, 2);
  b.trades.front().spec.client_trade_id = "strategy-7";
  ASSERT_TRUE(s->commit(b).ok());
  auto found = s->find_trade_by_client_id("strategy-7");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, 2);
}

// A file written by the schema-3 orderly (no price_increment) migrates: its trades load with
// none (the cent's rule, as they were priced), a new one keeps its pair's across a reopen.
TEST(SqliteStoreErrors, SchemaThreeFileMigratesToPriceIncrements) {
  TempDir dir;
  const std::string path = dir.file("orderly.db");
  ASSERT_TRUE(write_older_file(path, "ALTER TABLE trades DROP COLUMN price_increment; ", 3));
  auto s = must_open(path);
  ASSERT_TRUE(s);
  auto old = s->get_trade(1);
  ASSERT_TRUE(old.ok() && old->has_value()) << old.status().to_string();
  EXPECT_EQ((*old)->spec.price_increment, std::nullopt);
  WriteBatch b = create_batch(2, 2);
  b.trades.front().spec.symbol = "BTC/USD";
  b.trades.front().spec.price_increment = Decimal::must("1");
  ASSERT_TRUE(s->commit(b).ok());
  s.reset();
  s = must_open(path);
  ASSERT_TRUE(s);
  auto kept = s->get_trade(2);
  ASSERT_TRUE(kept.ok() && kept->has_value()) << kept.status().to_string();
  EXPECT_EQ((*kept)->spec.price_increment, Decimal::must("1"));
}

TEST(SqliteStoreErrors, ForeignSqliteDatabaseIsNotAdopted) {
  TempDir dir;
  const std::string path = dir.file("other.db");
  {
    auto s = must_open(dir.file("scratch.db"));
    ASSERT_TRUE(s);
    // Build a foreign database through the hook: attach a new file and give it a table.
    ASSERT_TRUE(s->exec_for_test("ATTACH DATABASE '" + path + "' AS other; "
                                 "CREATE TABLE other.customers (id INTEGER); DETACH other")
                    .ok());
  }
  expect_error(SqliteStore::open(path, "a"), Code::invalid_argument, path, "not orderly's");
}

TEST(SqliteStoreErrors, NewerSchemaIsRefusedNamingBothVersions) {
  TempDir dir;
  const std::string path = dir.file("orderly.db");
  {
    auto s = must_open(path);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->exec_for_test("PRAGMA user_version = 7; UPDATE meta SET value = '7' WHERE "
                                 "key = 'schema_version'")
                    .ok());
  }
  auto r = SqliteStore::open(path, "a");
  expect_error(r, Code::schema_too_new, path, "schema version 7");
  EXPECT_NE(r.status().message().find("up to " + std::to_string(SqliteStore::kSchemaVersion)),
            std::string::npos)
      << r.status().to_string();
}

TEST(SqliteStoreErrors, MetaDisagreeingWithTheHeaderIsCorruption) {
  TempDir dir;
  const std::string path = dir.file("orderly.db");
  {
    auto s = must_open(path);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->exec_for_test("DELETE FROM meta WHERE key = 'schema_version'").ok());
  }
  expect_error(SqliteStore::open(path, "a"), Code::corruption, path, "schema_version");
}

TEST(SqliteStoreErrors, MissingDirectoryIsAnIoError) {
  const std::string path = "/nonexistent-orderly-dir/x/orderly.db";
  auto r = SqliteStore::open(path, "a");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().to_string();
}

TEST(SqliteStoreErrors, AuditLogIsAppendOnly) {
  auto s = must_open(":memory:");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->commit(create_batch(1, 1)).ok());
  Status del = s->exec_for_test("DELETE FROM order_events");
  EXPECT_FALSE(del.ok());
  EXPECT_NE(del.message().find("append-only"), std::string::npos) << del.to_string();
  EXPECT_FALSE(s->exec_for_test("UPDATE order_events SET note = 'rewritten'").ok());
  EXPECT_EQ(s->order_events(1)->at(0).note, "created");
}

// ---- read-only ---------------------------------------------------------------------------------

// A read-only place for a database. As a normal user, permission bits do it; root ignores them,
// so as root a tmpfs is mounted and remounted read-only (skipped where mounting is not allowed).
class ReadOnlyPlace {
 public:
  ReadOnlyPlace() {
    if (geteuid() != 0) return;
    mounted_ = mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, "size=4m") == 0;
    if (!mounted_) skip_ = "running as root and cannot mount a tmpfs to make read-only";
  }
  ~ReadOnlyPlace() {
    if (mounted_) umount2(dir_.path().c_str(), MNT_DETACH);
    if (geteuid() != 0) chmod(dir_.path().c_str(), 0700);
  }
  const std::string& skip() const { return skip_; }
  std::string file(const std::string& n) const { return dir_.file(n); }
  // Makes the directory and everything in it read-only.
  bool seal() {
    if (mounted_) {
      return mount("tmpfs", dir_.path().c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=4m") == 0;
    }
    for (const auto& e : fs::directory_iterator(dir_.path())) chmod(e.path().c_str(), 0444);
    return chmod(dir_.path().c_str(), 0555) == 0;
  }

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string skip_;
};

TEST(SqliteStoreErrors, ReadOnlyDatabaseFileIsRefused) {
  ReadOnlyPlace place;
  if (!place.skip().empty()) GTEST_SKIP() << place.skip();
  const std::string path = place.file("orderly.db");
  make_store(path);
  ASSERT_TRUE(place.seal());
  expect_error(SqliteStore::open(path, "a"), Code::read_only, path, "read-only");
}

TEST(SqliteStoreErrors, NewDatabaseInAReadOnlyDirectoryIsRefused) {
  ReadOnlyPlace place;
  if (!place.skip().empty()) GTEST_SKIP() << place.skip();
  ASSERT_TRUE(place.seal());
  const std::string path = place.file("orderly.db");
  expect_error(SqliteStore::open(path, "a"), Code::read_only, path, "read-only");
}

// ---- disk full ---------------------------------------------------------------------------------

WriteBatch big_batch(int first_id, int orders) {
  WriteBatch b;
  for (int i = first_id; i < first_id + orders; ++i) {
    WriteBatch one = create_batch(i, i);
    one.events[0].payload = std::string(4000, 'p');  // a large raw broker payload
    b.trades.push_back(one.trades[0]);
    b.orders.push_back(one.orders[0]);
    b.events.push_back(one.events[0]);
  }
  return b;
}

std::size_t event_count(Store& s) { return s.events_since(0, 10000)->size(); }

// SQLite's own page limit: the engine sees exactly what a full disk gives (SQLITE_FULL).
TEST(SqliteStoreErrors, FullDatabaseRollsBackTheWholeBatch) {
  TempDir dir;
  const std::string path = dir.file("orderly.db");
  auto s = must_open(path);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->commit(create_batch(1, 1)).ok());
  // max_page_count cannot go below the current size: 1 means "not one page more".
  ASSERT_TRUE(s->exec_for_test("PRAGMA max_page_count = 1").ok());
  const WriteBatch b = big_batch(2, 50);
  Status full = s->commit(b);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.code(), Code::disk_full) << full.to_string();
  EXPECT_NE(full.message().find(path), std::string::npos) << full.to_string();
  EXPECT_EQ(event_count(*s), 1u);
  EXPECT_FALSE(s->get_order(2)->has_value());
  EXPECT_FALSE(s->get_trade(51)->has_value());
  // Space comes back: the same batch now commits whole, seq without a gap.
  ASSERT_TRUE(s->exec_for_test("PRAGMA max_page_count = 1073741823").ok());
  Status ok = s->commit(b);
  ASSERT_TRUE(ok.ok()) << ok.to_string();
  auto events = s->events_since(0, 1000);
  ASSERT_EQ(events->size(), 51u);
  EXPECT_EQ(events->back().seq - events->front().seq, 50);
}

// A real full filesystem (root only: a small tmpfs).
TEST(SqliteStoreErrors, FullFilesystemRollsBackAndRecovers) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  TempDir dir;
  if (mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here";
  }
  struct Unmount {
    std::string p;
    ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
  } unmount{dir.path()};
  const std::string path = dir.file("orderly.db");
  const std::string filler = dir.file("filler");
  {
    auto s = must_open(path);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->commit(create_batch(1, 1)).ok());
    write_file(filler, std::string(600 * 1024, 'f'));
    Status last;
    int id = 2;
    for (int round = 0; round < 100 && last.ok(); ++round, id += 20) {
      last = s->commit(big_batch(id, 20));
    }
    ASSERT_FALSE(last.ok()) << "the disk never filled up";
    EXPECT_EQ(last.code(), Code::disk_full) << last.to_string();
    EXPECT_NE(last.message().find(path), std::string::npos) << last.to_string();
    // The failed batch left nothing: its first order is absent, every stored order has its event.
    EXPECT_FALSE(s->get_order(id - 20)->has_value());
    const auto events = event_count(*s);
    EXPECT_EQ(s->load()->open_orders.size(), events);
    fs::remove(filler);
    Status again = s->commit(big_batch(id, 20));
    EXPECT_TRUE(again.ok()) << again.to_string();
  }
  auto reopened = must_open(path);
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->load()->open_orders.size(), event_count(*reopened));
}

// ---- how load() reads --------------------------------------------------------------------------

TEST(SqliteStoreLoad, ReadsOnlyThroughIndexes) {
  auto s = must_open(":memory:");
  ASSERT_TRUE(s);
  auto plans = s->load_query_plans_for_test();
  ASSERT_TRUE(plans.ok()) << plans.status().to_string();
  ASSERT_FALSE(plans->empty());
  for (const std::string& step : *plans) {
    if (!step.starts_with("SCAN") && !step.starts_with("SEARCH")) continue;  // MERGE, LIST ...
    // Only the partial indexes of open rows, or a lookup by trade: a step keyed by the account
    // alone ("SEARCH orders USING INDEX sqlite_autoindex_orders_1 (account=?)") walks the whole
    // history of the account, a plain SCAN the whole table.
    const bool open_rows_only = step.find("orders_open") != std::string::npos ||
                                step.find("trades_open") != std::string::npos ||
                                step.find("alerts_active") != std::string::npos ||
                                step.find("trade_id=?") != std::string::npos;
    EXPECT_TRUE(open_rows_only) << step;
  }
}

TEST(SqliteStoreLoad, HistoryIsNotLoaded) {
  auto s = must_open(":memory:");
  ASSERT_TRUE(s);
  WriteBatch b;
  for (int i = 1; i <= 2000; ++i) {
    b.trades.push_back(sample_trade(i, TradeState::closed));
    Order o = sample_order(i, i, OrderState::filled);
    b.orders.push_back(o);
    b.events.push_back(event_for(o, std::nullopt));
  }
  b.trades.push_back(sample_trade(2001, TradeState::open));
  b.orders.push_back(sample_order(2001, 2001, OrderState::new_));
  b.events.push_back(event_for(b.orders.back(), std::nullopt));
  ASSERT_TRUE(s->commit(b).ok());
  auto st = s->load();
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->open_orders.size(), 1u);
  EXPECT_EQ(st->open_orders[0].id, 2001);
  EXPECT_EQ(st->max_order_id, 2001);
}

TEST(SqliteStoreOpen, MemoryStoresArePrivate) {
  auto a = must_open(":memory:");
  auto b = must_open(":memory:");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->commit(create_batch(1, 1)).ok());
  EXPECT_FALSE(b->get_order(1)->has_value());
  EXPECT_NE(a->load()->instance_tag, "");
}

TEST(SqliteStoreOpen, OpenStoreUrls) {
  auto mem = open_store("sqlite::memory:", "acct");
  ASSERT_TRUE(mem.ok()) << mem.status().to_string();
  EXPECT_TRUE((*mem)->commit(create_batch(1, 1)).ok());
  EXPECT_EQ(open_store("sqlite:", "acct").status().code(), Code::invalid_argument);
  EXPECT_EQ(open_store("sqlite::memory:", "").status().code(), Code::invalid_argument);
  auto weird = open_store("mysql://root:hunter2@db/x", "acct");
  EXPECT_EQ(weird.status().code(), Code::invalid_argument);
  EXPECT_EQ(weird.status().message().find("hunter2"), std::string::npos) << weird.status().to_string();
  EXPECT_EQ(open_store("", "acct").status().code(), Code::invalid_argument);
}

}  // namespace
}  // namespace orderly::testing
