#include "storage/schema.h"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <set>

#include "core/fake_clock.h"
#include "storage/sample_row.h"
#include "storage/statements.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

Db open_raw(const std::string& path) {
  auto db = Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, std::chrono::seconds(1));
  REQUIRE_MESSAGE(db, db.error().message);
  return std::move(*db);
}

std::set<std::string> objects(Db& db, const char* type) {
  auto st = db.prepare("SELECT name FROM sqlite_master WHERE type = ?1", "list objects");
  REQUIRE(st);
  st->bind(1, std::string_view(type));
  std::set<std::string> names;
  for (;;) {
    auto row = st->step();
    REQUIRE(row);
    if (!*row) break;
    names.insert(st->column_text(0));
  }
  return names;
}

std::set<std::string> columns(Db& db, const char* table) {
  auto st = db.prepare(std::string("SELECT name FROM pragma_table_info('") + table + "')", "cols");
  REQUIRE(st);
  std::set<std::string> names;
  while (*st->step()) names.insert(st->column_text(0));
  return names;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST_CASE("an empty file is migrated to the current version with all tables and indexes") {
  TempDir dir;
  FakeClock clock;
  {
    auto store = Store::open(dir.path() + "/sub/dir", {}, clock);  // creates missing dirs
    REQUIRE_MESSAGE(store, store.error().message);
  }
  Db db = open_raw(dir.path() + "/sub/dir/linewatch.db");
  CHECK(*schema_version(db) == kSchemaVersion);
  CHECK(kSchemaVersion == 7);
  CHECK(objects(db, "table") ==
        std::set<std::string>{"lines", "targets", "samples_folded", "samples_recent", "events",
                              "agent_state", "line_bandwidth", "llm_samples",
                              "availability_minutes", "availability_hours", "outbox"});
  CHECK(objects(db, "view") == std::set<std::string>{"samples"});
  CHECK(objects(db, "trigger") == std::set<std::string>{"samples_drop_llm", "samples_delete"});
  // The two tables and the view have the same columns in the same order, so
  // a fold moves rows whole.
  CHECK(columns(db, "samples_recent") == columns(db, "samples_folded"));
  CHECK(*db.query_int("SELECT count(*) FROM pragma_table_info('samples_recent') r"
                      " JOIN pragma_table_info('samples') v ON v.cid = r.cid AND v.name = r.name",
                      "same order") == 27);
  CHECK(columns(db, "llm_samples") ==
        std::set<std::string>{"sample_id", "mode", "ttft_us", "total_us", "tokens",
                              "stream_complete", "retry_after_us", "model_listed", "stream_bytes"});
  const auto idx = objects(db, "index");
  for (const char* name :
       {"samples_series", "samples_ts", "events_ts", "events_line", "line_bandwidth_series",
        "line_bandwidth_ts", "availability_minutes_ts", "availability_hours_ts", "outbox_queue"}) {
    CAPTURE(name);
    CHECK(idx.count(name) == 1);
  }
  CHECK(columns(db, "events") ==
        std::set<std::string>{"id", "ts_ms", "kind", "line", "target", "reason", "detail"});
  CHECK(columns(db, "agent_state") == std::set<std::string>{"key", "value", "ts_ms"});
  CHECK(columns(db, "line_bandwidth") ==
        std::set<std::string>{"line_id", "ts_ms", "rx_bps", "tx_bps", "utilisation"});
  CHECK(columns(db, "samples").count("rtts") == 1);
  CHECK(columns(db, "samples").count("echoes") == 1);
  CHECK(columns(db, "samples").size() == 27);  // see schema.h
  CHECK(*db.query_text("PRAGMA journal_mode", "mode") == "wal");
  // STRICT really applies: a text in an integer column is refused.
  for (const char* table : {"samples_folded", "samples_recent"}) {
    CAPTURE(table);
    CHECK_FALSE(
        db.exec(std::string("INSERT INTO lines(name) VALUES('l'); INSERT INTO targets(name) "
                            "VALUES('t'); INSERT INTO ") +
                    table +
                    "(line_id, target_id, kind, ts_ms, ok, reason,"
                    " duration_us, sent, received, http_status, body_bytes)"
                    " VALUES(1, 1, 'x', 0, 1, 0, 0, 0, 0, 0, 0)",
                "strict check"));
  }
  CHECK_FALSE(
      db.exec("INSERT INTO events(ts_ms, kind, line, target, reason, detail)"
              " VALUES('soon', 'line_down', '', '', '', '')",
              "strict events"));
  CHECK_FALSE(
      db.exec("INSERT INTO line_bandwidth(line_id, ts_ms, rx_bps, tx_bps)"
              " VALUES(1, 0, 'fast', 0)",
              "strict bandwidth"));
  CHECK_FALSE(db.exec("INSERT INTO agent_state(key, value, ts_ms) VALUES('k', 'v', 'now')",
                      "strict state"));
}

TEST_CASE("a v1 database is migrated to the current version with its rows preserved") {
  TempDir dir;
  {
    Db db = open_raw(dir.db());
    REQUIRE(migrate(db, 1));
    CHECK(*schema_version(db) == 1);
    CHECK(columns(db, "samples").count("rtts") == 0);
    CHECK(objects(db, "index").count("samples_series") == 0);
    REQUIRE(
        db.exec("INSERT INTO lines(name) VALUES('cn2');"
                "INSERT INTO targets(name) VALUES('la');"
                "INSERT INTO samples(line_id, target_id, kind, ts_ms, ok, reason, rtt_us,"
                " duration_us, sent, received, http_status, body_bytes, detail)"
                " VALUES(1, 1, 1, 1700000000123, 1, 0, 4321, 5000, 0, 0, 0, 0, 'v1 row')",
                "insert v1 row"));
  }
  FakeClock clock(WallTime(std::chrono::milliseconds(1700000000123)));
  auto store = Store::open(dir.path(), {}, clock);
  REQUIRE_MESSAGE(store, store.error().message);
  CHECK(*(*store)->count() == 1);
  SampleQuery q{"cn2", "la", ProbeKind::tcp};
  auto rows = (*store)->samples(q);
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  const ProbeResult& r = rows->front();
  CHECK(unix_ms(r.time) == 1700000000123);
  CHECK(r.rtt == std::optional<Duration>(std::chrono::microseconds(4321)));
  CHECK(r.detail == "v1 row");
  CHECK(r.rtts.empty());
  (*store)->stop();
  Db db = open_raw(dir.db());
  CHECK(*schema_version(db) == kSchemaVersion);
  CHECK(objects(db, "index").count("samples_series") == 1);
}

TEST_CASE("a v2 database is migrated to v3 in place: samples kept, new tables usable") {
  TempDir dir;
  {
    // As the previous release left it: WAL mode, rows with per-echo RTTs.
    Db db = open_raw(dir.db());
    REQUIRE(*db.query_text("PRAGMA journal_mode = WAL", "wal") == "wal");
    REQUIRE(migrate(db, 2));
    CHECK(objects(db, "table").count("events") == 0);
    REQUIRE(db.exec(
        "INSERT INTO lines(name) VALUES('cn2'), ('cu-vip');"
        "INSERT INTO targets(name) VALUES('la');"
        "INSERT INTO samples(line_id, target_id, kind, ts_ms, ok, reason, rtt_us, duration_us,"
        " sent, received, http_status, body_bytes, detail, rtts) VALUES"
        " (1, 1, 0, 1700000000000, 1, 0, 801, 5000, 3, 2, 0, 0, NULL, '[801,null,799]'),"
        " (2, 1, 0, 1700000001000, 0, 1, NULL, 5000, 3, 0, 0, 0, 'no reply', '[null,null,null]')",
        "insert v2 rows"));
  }
  FakeClock clock(WallTime(std::chrono::milliseconds(1700000002000)));
  auto store = test::open_store(dir, clock);
  CHECK(*store->count() == 2);
  auto cn2 = store->samples({"cn2", "la", ProbeKind::icmp});
  REQUIRE(cn2);
  REQUIRE(cn2->size() == 1);
  CHECK(cn2->front().rtts.size() == 3);
  CHECK(cn2->front().rtt == std::optional<Duration>(std::chrono::microseconds(801)));
  auto cu = store->samples({"cu-vip", "la", ProbeKind::icmp});
  REQUIRE(cu);
  REQUIRE(cu->size() == 1);
  CHECK(cu->front().detail == "no reply");
  CHECK(cu->front().reason == Reason::timeout);

  // The new tables start empty and take rows; bandwidth reuses the interned line.
  CHECK(store->events({})->empty());
  CHECK(*store->load_state("route_plan") == std::nullopt);
  REQUIRE(store->submit_event(test::event(clock.wall_now(), "line_down", "cn2")));
  REQUIRE(store->submit_bandwidth("cn2", clock.wall_now(), 1000, 2000, 0.5));
  REQUIRE(store->save_state("route_plan", "{}"));
  REQUIRE(store->flush(10s));
  CHECK(store->events({})->size() == 1);
  CHECK(store->bandwidth({"cn2"})->size() == 1);
  CHECK(*store->load_state("route_plan") == std::optional<std::string>("{}"));
  store->stop();
  Db db = open_raw(dir.db());
  CHECK(*schema_version(db) == kSchemaVersion);
  CHECK(*db.query_int("SELECT count(*) FROM lines", "lines") == 2);
  CHECK(*db.query_int("SELECT line_id FROM line_bandwidth", "line id") == 1);
  CHECK(*db.query_text("PRAGMA integrity_check", "integrity") == "ok");
}

TEST_CASE("a v3 database is migrated to v4: rows kept, llm figures stored beside new samples") {
  TempDir dir;
  {
    // As the previous release left it: WAL, samples of every kind it knew, events.
    Db db = open_raw(dir.db());
    REQUIRE(*db.query_text("PRAGMA journal_mode = WAL", "wal") == "wal");
    REQUIRE(migrate(db, 3));
    CHECK(objects(db, "table").count("llm_samples") == 0);
    REQUIRE(db.exec(
        "INSERT INTO lines(name) VALUES('cn2');"
        "INSERT INTO targets(name) VALUES('openai');"
        "INSERT INTO samples(line_id, target_id, kind, ts_ms, ok, reason, rtt_us, duration_us,"
        " sent, received, http_status, body_bytes, detail, rtts) VALUES"
        " (1, 1, 2, 1700000000000, 0, 6, 170000, 171000, 0, 0, 429, 80, 'status 429', NULL);"
        "INSERT INTO events(ts_ms, kind, line, target, reason, detail)"
        " VALUES(1700000000500, 'line_down', 'cn2', '', 'silence', '')",
        "insert v3 rows"));
  }
  FakeClock clock(WallTime(std::chrono::milliseconds(1700000002000)));
  auto store = test::open_store(dir, clock);
  auto http = store->samples({"cn2", "openai", ProbeKind::http});
  REQUIRE(http);
  REQUIRE(http->size() == 1);
  CHECK(http->front().http_status == 429);
  CHECK(http->front().reason == Reason::http_status);
  CHECK_FALSE(http->front().llm.has_value());
  CHECK(store->events({})->size() == 1);

  const ProbeResult llm = test::llm_result("cn2", "openai", clock.wall_now(), LlmMode::completion);
  REQUIRE(store->submit(llm));
  REQUIRE(store->flush(10s));
  auto back = store->samples({"cn2", "openai", ProbeKind::llm});
  REQUIRE(back);
  REQUIRE(back->size() == 1);
  test::check_same(back->front(), test::as_stored(llm));
  store->stop();

  Db db = open_raw(dir.db());
  CHECK(*schema_version(db) == kSchemaVersion);
  CHECK(*db.query_int("SELECT count(*) FROM samples", "samples") == 2);
  CHECK(*db.query_int("SELECT count(*) FROM llm_samples", "llm rows") == 1);
  // The figures belong to the new llm sample, not the migrated http one.
  CHECK(*db.query_int("SELECT kind FROM samples WHERE id = (SELECT sample_id FROM llm_samples)",
                      "kind") == static_cast<int>(ProbeKind::llm));
  CHECK(*db.query_text("PRAGMA integrity_check", "integrity") == "ok");
}

// One round per reason and kind, stream stalls with and without body bytes,
// spread over two hours and crossing minute edges.
std::vector<ProbeResult> one_of_each(const std::string& line, WallTime t0) {
  std::vector<ProbeResult> v;
  int n = 0;
  for (int reason = 0; reason <= static_cast<int>(kLastReason); ++reason) {
    for (ProbeKind kind : kAllProbeKinds) {
      const WallTime t = t0 + std::chrono::seconds(53 * n++);
      ProbeResult r = kind == ProbeKind::llm
                          ? test::llm_result(line, "openai", t, LlmMode::completion)
                          : test::icmp_result(line, "openai", t, {700});
      r.kind = kind;
      r.reason = static_cast<Reason>(reason);
      r.ok = r.reason == Reason::ok;
      v.push_back(r);
      if (r.reason == Reason::stream_stall && r.llm) {  // nothing came back: the path's
        r.llm->stream_bytes = 0;
        v.push_back(r);
      }
    }
  }
  return v;
}

// Stores r as schema v4 did, with the columns the v5 rollups read (every
// other column at its empty value), and its llm figures.
void insert_v4(Db& db, const ProbeResult& r) {
  REQUIRE(db.exec("INSERT OR IGNORE INTO lines(name) VALUES('" + r.line +
                      "');"
                      "INSERT OR IGNORE INTO targets(name) VALUES('" +
                      r.target + "')",
                  "names"));
  auto st = db.prepare(
      "INSERT INTO samples(line_id, target_id, kind, ts_ms, ok, reason, duration_us, sent,"
      " received, http_status, body_bytes) VALUES((SELECT id FROM lines WHERE name = ?1),"
      " (SELECT id FROM targets WHERE name = ?2), ?3, ?4, ?5, ?6, 0, 0, 0, 0, 0)",
      "insert v4 sample");
  REQUIRE(st);
  st->bind(1, std::string_view(r.line));
  st->bind(2, std::string_view(r.target));
  st->bind(3, static_cast<std::int64_t>(r.kind));
  st->bind(4, static_cast<std::int64_t>(unix_ms(r.time)));
  st->bind(5, std::int64_t{r.ok});
  st->bind(6, static_cast<std::int64_t>(r.reason));
  REQUIRE(st->run());
  if (!r.llm) return;
  auto llm = db.prepare(std::string("INSERT INTO llm_samples(") + kLlmColumns +
                            ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        "insert v4 llm");
  REQUIRE(llm);
  bind_llm(*llm, 1, sqlite3_last_insert_rowid(db.handle()), *r.llm);
  REQUIRE(llm->run());
}

TEST_CASE("a v4 database is migrated to v5: rollups filled from its samples as the writer would") {
  TempDir dir;
  const WallTime t0(std::chrono::seconds(1'800'000'000));
  const std::vector<ProbeResult> old_rounds = one_of_each("cn2", t0);
  {
    // As the previous release left it, its rows written by the same mapping.
    Db db = open_raw(dir.db());
    REQUIRE(*db.query_text("PRAGMA journal_mode = WAL", "wal") == "wal");
    REQUIRE(migrate(db, 4));
    CHECK(objects(db, "table").count("availability_minutes") == 0);
    auto tx = Transaction::begin(db);
    REQUIRE(tx);
    for (const ProbeResult& r : old_rounds) insert_v4(db, r);
    REQUIRE(tx->commit());
  }
  FakeClock clock(t0 + 3h);
  auto store = test::open_store(dir, clock);
  CHECK(*store->count() == static_cast<std::int64_t>(old_rounds.size()));
  CHECK(store->events({})->empty());

  // The same rounds through the v5 writer, on another line.
  for (ProbeResult r : one_of_each("cu-vip", t0)) REQUIRE(store->submit(std::move(r)));
  REQUIRE(store->flush(10s));
  std::int64_t failed_in_network = 0, ok = 0;
  for (const ProbeResult& r : old_rounds) {
    failed_in_network += is_network_failure(r);
    ok += r.ok;
  }
  // timeout, refused, unreachable, dns, tls for each of 4 kinds; stream_stall
  // for the 3 kinds without llm figures and the llm round with no body byte.
  REQUIRE(failed_in_network == 5 * 4 + 3 + 1);
  // 150 min reads hour rows and minute rows, 30 min minute rows only.
  const WallTime now = t0 + 1h + 5min;
  for (const auto& window : {std::chrono::minutes(150), std::chrono::minutes(30)}) {
    for (std::optional<ProbeKind> kind : {std::optional<ProbeKind>(), std::optional(ProbeKind::llm),
                                          std::optional(ProbeKind::tcp)}) {
      CAPTURE(window.count());
      CAPTURE(kind ? to_string(*kind) : "all");
      auto migrated = store->availability({"cn2", "openai", kind, window, now});
      auto written = store->availability({"cu-vip", "openai", kind, window, now});
      REQUIRE(migrated);
      REQUIRE(written);
      CHECK(*migrated == *written);
      CHECK(migrated->total > 0);
    }
  }
  auto all = store->availability({"cn2", "openai", std::nullopt, 150min, now});
  REQUIRE(all);
  CHECK(all->total == static_cast<std::int64_t>(old_rounds.size()));
  CHECK(all->ok == ok);
  CHECK(all->network_failed == failed_in_network);
  store->stop();

  Db db = open_raw(dir.db());
  CHECK(*schema_version(db) == kSchemaVersion);
  CHECK(*db.query_int("SELECT count(*) FROM outbox", "outbox rows") == 0);
  CHECK(*db.query_int("SELECT sum(rounds) FROM availability_hours", "hours") ==
        2 * static_cast<std::int64_t>(old_rounds.size()));
  CHECK(*db.query_text("PRAGMA integrity_check", "integrity") == "ok");
}

TEST_CASE("a v5 database is migrated to v6: JSON rtts still read, new rounds stored compact") {
  TempDir dir;
  {
    // As the previous release left it: per-echo RTTs as JSON text, lost echoes null.
    Db db = open_raw(dir.db());
    REQUIRE(*db.query_text("PRAGMA journal_mode = WAL", "wal") == "wal");
    REQUIRE(migrate(db, 5));
    CHECK(columns(db, "samples").count("echoes") == 0);
    REQUIRE(db.exec(
        "INSERT INTO lines(name) VALUES('cn2');"
        "INSERT INTO targets(name) VALUES('la');"
        "INSERT INTO samples(line_id, target_id, kind, ts_ms, ok, reason, rtt_us, duration_us,"
        " sent, received, rtt_min_us, rtt_max_us, http_status, body_bytes, rtts) VALUES"
        " (1, 1, 0, 1700000000000, 1, 0, 801, 5000, 3, 2, 799, 801, 0, 0, '[801,null,799]'),"
        " (1, 1, 0, 1700000001000, 0, 1, NULL, 5000, 2, 0, NULL, NULL, 0, 0, '[null,null]')",
        "insert v5 rows"));
  }
  FakeClock clock(WallTime(std::chrono::milliseconds(1700000003000)));
  auto store = test::open_store(dir, clock);
  ProbeResult fresh = test::icmp_result(
      "cn2", "la", WallTime(std::chrono::milliseconds(1700000002000)), {812, 0, 790, 0});
  REQUIRE(fresh.rtts.size() == 4);
  REQUIRE_FALSE(fresh.rtts[1].has_value());
  REQUIRE(store->submit(fresh));
  REQUIRE(store->flush(10s));
  auto rows = store->samples({"cn2", "la", ProbeKind::icmp});
  REQUIRE(rows);
  REQUIRE(rows->size() == 3);
  using std::chrono::microseconds;
  CHECK((*rows)[0].rtts ==
        std::vector<std::optional<Duration>>{microseconds(801), std::nullopt, microseconds(799)});
  CHECK((*rows)[1].rtts == std::vector<std::optional<Duration>>{std::nullopt, std::nullopt});
  test::check_same((*rows)[2], test::as_stored(fresh));
  // The series read, which never decodes echoes, sees old and new rounds alike.
  SeriesQuery sq{"cn2",
                 "la",
                 ProbeKind::icmp,
                 WallTime(std::chrono::milliseconds(1700000000000)),
                 WallTime(std::chrono::milliseconds(1700000003000)),
                 std::chrono::seconds(3)};
  auto points = store->series_points(sq);
  REQUIRE(points);
  REQUIRE(points->size() == 1);
  CHECK(points->front().rounds == 3);
  CHECK(points->front().sent == 3 + 2 + 4);
  store->stop();

  Db db = open_raw(dir.db());
  CHECK(*schema_version(db) == kSchemaVersion);
  // Nothing rewritten: old rows keep their text, the new one has only the blob.
  CHECK(*db.query_int("SELECT count(*) FROM samples WHERE rtts IS NOT NULL AND echoes IS NULL",
                      "old rows") == 2);
  CHECK(*db.query_int("SELECT count(*) FROM samples WHERE rtts IS NULL AND"
                      " typeof(echoes) = 'blob'",
                      "new rows") == 1);
  CHECK(*db.query_text("PRAGMA integrity_check", "integrity") == "ok");
}

TEST_CASE("a database from a newer version is refused and left untouched") {
  TempDir dir;
  {
    Db db = open_raw(dir.db());
    REQUIRE(
        db.exec("CREATE TABLE future(x); INSERT INTO future VALUES(1); PRAGMA user_version = 99",
                "make future db"));
  }
  const std::string before = slurp(dir.db());
  REQUIRE(!before.empty());
  FakeClock clock;
  auto store = Store::open(dir.path(), {}, clock);
  REQUIRE_FALSE(store);
  CHECK(store.error().message.find("99") != std::string::npos);
  CHECK(store.error().message.find(dir.db()) != std::string::npos);
  CHECK(slurp(dir.db()) == before);
  CHECK_FALSE(std::filesystem::exists(dir.db() + "-wal"));
}

TEST_CASE("SQLite errors name the file and carry SQLite's message") {
  TempDir dir;
  std::ofstream(dir.db()) << "this is not an SQLite database, just some text long enough";
  FakeClock clock;
  auto store = Store::open(dir.path(), {}, clock);
  REQUIRE_FALSE(store);
  CHECK(store.error().code == ErrorCode::io);
  CHECK(store.error().message.find(dir.db()) != std::string::npos);
  CHECK(store.error().message.find("file is not a database") != std::string::npos);

  // A data_dir that cannot be created names the directory.
  auto nested = Store::open(dir.db() + "/below-a-file", {}, clock);
  REQUIRE_FALSE(nested);
  CHECK(nested.error().message.find(dir.db() + "/below-a-file") != std::string::npos);

  Db db = open_raw(dir.path() + "/other.db");
  auto st = db.prepare("SELECT * FROM no_such_table", "bad query");
  REQUIRE_FALSE(st);
  CHECK(st.error().message.find("other.db: bad query: no such table: no_such_table") !=
        std::string::npos);
}

TEST_CASE("migrate rejects versions it does not know") {
  TempDir dir;
  Db db = open_raw(dir.db());
  CHECK_FALSE(migrate(db, kSchemaVersion + 1));
  CHECK_FALSE(migrate(db, -1));
  CHECK(*schema_version(db) == 0);
}

}  // namespace
}  // namespace linewatch
