// Schema v7's two sample tables: rows land in samples_recent and are folded
// into the indexed samples_folded. Every read sees every committed row,
// wherever it is; ids and llm rows survive a fold; retention and upgrades
// cover both tables.
#include <doctest/doctest.h>

#include <set>
#include <thread>

#include "core/fake_clock.h"
#include "storage/sample_row.h"
#include "storage/schema.h"
#include "storage/series_read.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using test::icmp_result;
using test::llm_result;
using test::open_store;
using test::TempDir;
using test::wait_until;

const WallTime kT0 = WallTime(milliseconds(1'700'000'000'000));

std::int64_t rows_in(const TempDir& dir, const std::string& sql) {
  auto db = Db::open(dir.db(), SQLITE_OPEN_READONLY, 1s);
  REQUIRE_MESSAGE(db, db.error().message);
  auto n = db->query_int(sql, sql);
  REQUIRE_MESSAGE(n, n.error().message);
  return *n;
}

std::int64_t recent_rows(const TempDir& dir) {
  return rows_in(dir, "SELECT count(*) FROM samples_recent");
}

std::int64_t folded_rows(const TempDir& dir) {
  return rows_in(dir, "SELECT count(*) FROM samples_folded");
}

// Folds after every 10 rows, never by age (the tests decide when).
StoreTuning fold_every_10() {
  StoreTuning t;
  t.fold_rows = 10;
  t.fold_age = 24h;
  return t;
}

void write_all(Store& store, const std::vector<ProbeResult>& rows) {
  for (const auto& r : rows) REQUIRE(store.submit(r));
  REQUIRE(store.flush(10s));
}

TEST_CASE("fold: reads see folded and recent rows alike, merged in time order") {
  TempDir dir;
  FakeClock clock(kT0 + 1h);
  auto store = open_store(dir, clock, {}, fold_every_10());
  // Ten rounds at even seconds are folded; then three at odd seconds, two of
  // them older than the newest folded one, stay recent.
  std::vector<ProbeResult> folded, recent;
  for (int i = 0; i < 10; ++i)
    folded.push_back(icmp_result("cn2", "la", kT0 + std::chrono::seconds(2 * i), {100 + i}));
  write_all(*store, folded);
  REQUIRE(wait_until([&] { return store->stats().folds == 1; }));
  for (int i : {1, 5, 21})
    recent.push_back(icmp_result("cn2", "la", kT0 + std::chrono::seconds(i), {500 + i}));
  recent.push_back(icmp_result("cn2", "tokyo", kT0 + 3s, {700}));  // a series only recent
  write_all(*store, recent);
  CHECK(folded_rows(dir) == 10);
  CHECK(recent_rows(dir) == 4);

  auto check_reads = [&] {
    CHECK(*store->count() == 14);
    auto rows = store->samples({"cn2", "la", ProbeKind::icmp});
    REQUIRE(rows);
    REQUIRE(rows->size() == 13);
    for (std::size_t i = 1; i < rows->size(); ++i) CHECK((*rows)[i - 1].time < (*rows)[i].time);
    CHECK((*rows)[1].time == kT0 + 1s);  // recent, between two folded rows
    // Limited reads take the newest or oldest across both tables.
    auto newest = store->samples({"cn2", "la", ProbeKind::icmp, {}, WallTime::max(), 2, true});
    REQUIRE(newest);
    REQUIRE(newest->size() == 2);
    CHECK(newest->at(0).time == kT0 + 18s);  // folded
    CHECK(newest->at(1).time == kT0 + 21s);  // recent
    auto latest = store->latest("cn2", "la", ProbeKind::icmp);
    REQUIRE(latest);
    REQUIRE(latest->has_value());
    CHECK((**latest).time == kT0 + 21s);
    auto series = store->series();
    REQUIRE(series);
    REQUIRE(series->size() == 2);
    CHECK(series->at(0).target == "la");
    CHECK(series->at(0).latest == kT0 + 21s);
    CHECK(series->at(1).target == "tokyo");
    CHECK(series->at(1).latest == kT0 + 3s);
    auto points = store->series_points({"cn2", "la", ProbeKind::icmp, kT0, kT0 + 30s, 10s});
    REQUIRE(points);
    REQUIRE(points->size() == 3);
    CHECK(points->at(0).rounds == 7);  // 0 2 4 6 8 folded, 1 5 recent
    CHECK(points->at(1).rounds == 5);
    CHECK(points->at(2).rounds == 1);
    CHECK(points->at(2).rtt->median == std::chrono::microseconds(521));
  };
  SUBCASE("before the recent rows are folded") { check_reads(); }
  SUBCASE("after they are folded at stop") {
    store->stop();
    CHECK(store->stats().folds == 2);
    CHECK(recent_rows(dir) == 0);
    CHECK(folded_rows(dir) == 14);
    check_reads();
  }
}

TEST_CASE("fold: ids stay unique and llm rows stay joined across folds and reopening") {
  TempDir dir;
  FakeClock clock(kT0 + 1h);
  auto round = [&](int i) {
    ProbeResult r = llm_result("cn2", "openai", kT0 + std::chrono::seconds(i), LlmMode::completion);
    r.llm->tokens = i;  // tells the rows apart
    return r;
  };
  int written = 0;
  for (int run = 0; run < 3; ++run) {
    {
      auto store = open_store(dir, clock, {}, fold_every_10());
      std::vector<ProbeResult> batch;
      for (int i = 0; i < 7; ++i) batch.push_back(round(written++));
      write_all(*store, batch);  // a fold after 10 rows, another at stop
    }
    if (run == 1) {
      // A row left in samples_recent, as a crash before the fold at stop
      // leaves it: the next run's ids must continue after it.
      auto db = Db::open(dir.db(), SQLITE_OPEN_READWRITE, 1s);
      REQUIRE(db);
      REQUIRE(
          db->exec("INSERT INTO samples_recent SELECT * FROM samples_folded"
                   " WHERE id = (SELECT max(id) FROM samples_folded);"
                   "UPDATE samples_recent SET id = id + 1, ts_ms = ts_ms + 1000;"
                   "INSERT INTO llm_samples SELECT sample_id + 1, mode, ttft_us, total_us,"
                   " tokens + 1, stream_complete, retry_after_us, model_listed, stream_bytes"
                   " FROM llm_samples WHERE sample_id = (SELECT max(id) FROM samples_folded)",
                   "leave a recent row"));
      ++written;
    }
  }
  auto store = open_store(dir, clock, {}, fold_every_10());
  CHECK(rows_in(dir, "SELECT count(DISTINCT id) FROM samples") == written);
  CHECK(rows_in(dir, "SELECT count(*) FROM samples") == written);
  CHECK(rows_in(dir, "SELECT count(*) FROM llm_samples") == written);
  CHECK(rows_in(dir, "SELECT count(*) FROM llm_samples m JOIN samples s ON s.id = m.sample_id") ==
        written);
  auto rows = store->samples({"cn2", "openai", ProbeKind::llm, {}, WallTime::max(), 1000});
  REQUIRE(rows);
  REQUIRE(static_cast<int>(rows->size()) == written);
  for (int i = 0; i < written; ++i) {
    const ProbeResult& r = (*rows)[static_cast<std::size_t>(i)];
    REQUIRE(r.llm.has_value());
    CHECK(r.llm->tokens == i);
    CHECK(r.time == kT0 + std::chrono::seconds(i));
  }
}

TEST_CASE("fold: the llm rows of the samples it moves stay") {
  TempDir dir;
  FakeClock clock(kT0 + 1h);
  StoreTuning tuning;  // defaults: nothing folds before stop
  auto store = open_store(dir, clock, {}, tuning);
  std::vector<ProbeResult> rows;
  for (int i = 0; i < 5; ++i)
    rows.push_back(llm_result("cn2", "openai", kT0 + std::chrono::seconds(i), LlmMode::models));
  write_all(*store, rows);
  CHECK(recent_rows(dir) == 5);
  CHECK(rows_in(dir, "SELECT count(*) FROM llm_samples") == 5);
  store->stop();  // folds
  CHECK(store->stats().folds == 1);
  CHECK(store->stats().folded == 5);
  CHECK(recent_rows(dir) == 0);
  CHECK(folded_rows(dir) == 5);
  CHECK(rows_in(dir, "SELECT count(*) FROM llm_samples") == 5);
  CHECK(rows_in(dir,
                "SELECT count(*) FROM llm_samples m JOIN samples_folded s"
                " ON s.id = m.sample_id") == 5);
}

TEST_CASE("retention deletes old rows from both tables with their llm rows") {
  TempDir dir;
  FakeClock clock(kT0);
  StorageOptions opt;
  opt.retention = 1h;
  StoreTuning tuning = fold_every_10();
  tuning.retention_every = 1min;
  tuning.retention_chunk = 3;  // several chunks per table
  tuning.idle_poll = 5ms;
  auto store = open_store(dir, clock, opt, tuning);
  REQUIRE(wait_until([&] { return store->stats().retention_runs == 1; }));
  const WallTime now = clock.wall_now();
  // Folded: 6 old llm rounds and 4 kept icmp ones; recent: 4 old llm rounds
  // and 3 kept llm rounds.
  std::vector<ProbeResult> first, second;
  for (int i = 0; i < 6; ++i)
    first.push_back(llm_result("l", "api", now - 2h + milliseconds(i), LlmMode::completion));
  for (int i = 0; i < 4; ++i) first.push_back(icmp_result("l", "la", now - 30min, {100}));
  write_all(*store, first);
  REQUIRE(wait_until([&] { return store->stats().folds == 1; }));
  for (int i = 0; i < 4; ++i)
    second.push_back(llm_result("l", "api", now - 3h + milliseconds(i), LlmMode::models));
  for (int i = 0; i < 3; ++i)
    second.push_back(llm_result("l", "api", now - 10min + milliseconds(i), LlmMode::models));
  write_all(*store, second);
  REQUIRE(folded_rows(dir) == 10);
  REQUIRE(recent_rows(dir) == 7);
  REQUIRE(rows_in(dir, "SELECT count(*) FROM llm_samples") == 13);

  clock.advance(1min);
  REQUIRE(wait_until([&] { return store->stats().retention_runs == 2; }));
  CHECK(folded_rows(dir) == 4);
  CHECK(recent_rows(dir) == 3);
  CHECK(rows_in(dir, "SELECT count(*) FROM llm_samples") == 3);
  CHECK(rows_in(dir,
                "SELECT count(*) FROM llm_samples m JOIN samples_recent s"
                " ON s.id = m.sample_id") == 3);
  CHECK(store->stats().retention_deleted == 10);
  auto kept = store->samples({"l", "api", ProbeKind::llm});
  REQUIRE(kept);
  CHECK(kept->size() == 3);
  CHECK(store->stats().write_errors == 0);
}

TEST_CASE("deleting through the samples view deletes from either table with the llm rows") {
  TempDir dir;
  FakeClock clock(kT0 + 1h);
  auto store = open_store(dir, clock, {}, fold_every_10());
  std::vector<ProbeResult> rows;
  for (int i = 0; i < 12; ++i)
    rows.push_back(llm_result("cn2", "openai", kT0 + std::chrono::seconds(i), LlmMode::models));
  write_all(*store, rows);
  REQUIRE(wait_until([&] { return store->stats().folds == 1; }));
  store->stop();
  REQUIRE(recent_rows(dir) + folded_rows(dir) == 12);
  auto db = Db::open(dir.db(), SQLITE_OPEN_READWRITE, 1s);
  REQUIRE(db);
  REQUIRE(db->exec("DELETE FROM samples WHERE ts_ms % 2000 = 0", "delete through the view"));
  CHECK(rows_in(dir, "SELECT count(*) FROM samples") == 6);
  CHECK(rows_in(dir, "SELECT count(*) FROM llm_samples") == 6);
}

TEST_CASE("a fold that fails leaves the rows recent and readable, the store ok, and is retried") {
  TempDir dir;
  FakeClock clock(kT0 + 1h);
  StoreTuning tuning = fold_every_10();
  tuning.retry_min = 1ms;
  tuning.retry_max = 5ms;
  auto store = open_store(dir, clock, {}, tuning);
  std::vector<ProbeResult> first, second;
  for (int i = 0; i < 5; ++i)
    first.push_back(icmp_result("cn2", "la", kT0 + std::chrono::seconds(i), {100 + i}));
  for (int i = 5; i < 10; ++i)
    second.push_back(icmp_result("cn2", "la", kT0 + std::chrono::seconds(i), {100 + i}));
  write_all(*store, first);
  {
    // A row of the same id in the indexed table: the fold's insert fails
    // (as it would on a full disk) until it is gone.
    auto db = Db::open(dir.db(), SQLITE_OPEN_READWRITE, 1s);
    REQUIRE(db);
    REQUIRE(
        db->exec("INSERT INTO samples_folded SELECT * FROM samples_recent WHERE id ="
                 " (SELECT max(id) FROM samples_recent)",
                 "block the fold"));
  }
  write_all(*store, second);
  REQUIRE(wait_until([&] { return store->stats().fold_errors == 1; }));
  WriterStats s = store->stats();
  CHECK(s.state == StoreState::ok);
  CHECK(s.write_errors == 0);
  CHECK(s.folds == 0);
  CHECK(s.last_fold_error.find("UNIQUE") != std::string::npos);
  CHECK(recent_rows(dir) == 10);
  CHECK(store->samples({"cn2", "la", ProbeKind::icmp})->size() == 11);  // the blocker too
  {
    auto db = Db::open(dir.db(), SQLITE_OPEN_READWRITE, 1s);
    REQUIRE(db);
    REQUIRE(db->exec("DELETE FROM samples_folded", "unblock the fold"));
  }
  std::this_thread::sleep_for(10ms);  // past the back-off
  write_all(*store, {icmp_result("cn2", "la", kT0 + 10s, {110})});
  REQUIRE(wait_until([&] { return store->stats().folds == 1; }));
  CHECK(recent_rows(dir) == 0);
  CHECK(folded_rows(dir) == 11);
  CHECK(store->stats().state == StoreState::ok);
  CHECK(store->samples({"cn2", "la", ProbeKind::icmp})->size() == 11);
}

TEST_CASE("a v6 database is upgraded to v7 with every row readable and ids continued") {
  TempDir dir;
  {
    // As the previous release left it: one indexed samples table.
    auto opened = Db::open(dir.db(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1s);
    REQUIRE(opened);
    Db& db = *opened;
    REQUIRE(*db.query_text("PRAGMA journal_mode = WAL", "wal") == "wal");
    REQUIRE(migrate(db, 6));
    REQUIRE(
        db.exec("INSERT INTO lines(name) VALUES('cn2');"
                "INSERT INTO targets(name) VALUES('la');"
                "INSERT INTO targets(name) VALUES('openai');"
                "INSERT INTO samples(id, line_id, target_id, kind, ts_ms, ok, reason, rtt_us,"
                " duration_us, sent, received, http_status, body_bytes) VALUES"
                " (41, 1, 1, 0, 1700000000000, 1, 0, 801, 5000, 1, 1, 0, 0),"
                " (42, 1, 2, 3, 1700000001000, 1, 0, 9000, 9000, 1, 1, 200, 10);"
                "INSERT INTO llm_samples(sample_id, mode, tokens, stream_complete, stream_bytes)"
                " VALUES(42, 0, 0, 1, 10)",
                "insert v6 rows"));
    // The v6 file is read, read-only, as it is (the CLI with an old agent).
    auto ro = ReadOnlyDatabase::open(dir.db());
    REQUIRE_MESSAGE(ro, ro.error().message);
    auto series = (*ro)->series();
    REQUIRE_MESSAGE(series, series.error().message);
    CHECK(series->size() == 2);
  }
  FakeClock clock(kT0 + 1h);
  auto store = open_store(dir, clock, {}, fold_every_10());
  CHECK(rows_in(dir, "PRAGMA user_version") == 7);
  REQUIRE(store->submit(icmp_result("cn2", "la", kT0 + 2s, {700})));
  REQUIRE(store->flush(10s));
  CHECK(*store->count() == 3);
  auto icmp = store->samples({"cn2", "la", ProbeKind::icmp});
  REQUIRE(icmp);
  REQUIRE(icmp->size() == 2);
  CHECK(icmp->at(0).rtt == std::optional<Duration>(std::chrono::microseconds(801)));
  auto llm = store->samples({"cn2", "openai", ProbeKind::llm});
  REQUIRE(llm);
  REQUIRE(llm->size() == 1);
  CHECK(llm->front().llm.has_value());
  auto series = store->series();
  REQUIRE(series);
  CHECK(series->size() == 2);
  CHECK(rows_in(dir, "SELECT id FROM samples_recent") == 43);  // after the upgraded rows
  // The renamed table keeps its trigger: deleting the old llm sample takes its row.
  store->stop();
  auto db = Db::open(dir.db(), SQLITE_OPEN_READWRITE, 1s);
  REQUIRE(db);
  REQUIRE(db->exec("DELETE FROM samples_folded WHERE id = 42", "delete"));
  CHECK(rows_in(dir, "SELECT count(*) FROM llm_samples") == 0);
  CHECK(*db->query_text("PRAGMA integrity_check", "integrity") == "ok");
}

}  // namespace
}  // namespace linewatch
