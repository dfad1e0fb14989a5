// The series read: exact per-step figures on a hand-built series, steps
// without rounds left out, loss for kinds without echoes, range edges, and
// the read-only open used when no Store runs.
#include "storage/series_read.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "core/fake_clock.h"
#include "storage/schema.h"
#include "storage/test_util.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using test::open_store;
using test::TempDir;

// 2027-01-15T08:00:00Z.
const WallTime kT0 = WallTime(std::chrono::seconds(1'800'000'000));

// A round with its figures given directly (µs; 0 = absent), so the expected
// aggregates below are worked out by hand, not by the code under test.
ProbeResult round_at(WallTime t, ProbeKind kind, bool ok, int sent, int received, int rtt_us,
                     int min_us = 0, int max_us = 0, std::string target = "dns") {
  ProbeResult r;
  r.line = "cn2";
  r.target = std::move(target);
  r.kind = kind;
  r.time = t;
  r.ok = ok;
  r.reason = ok ? Reason::ok : Reason::timeout;
  r.duration = 1ms;
  r.sent = sent;
  r.received = received;
  auto us = [](int v) { return v ? std::optional<Duration>(microseconds(v)) : std::nullopt; };
  r.rtt = us(rtt_us);
  r.rtt_median = us(rtt_us);
  r.rtt_min = us(min_us);
  r.rtt_max = us(max_us);
  return r;
}

void write_all(Store& store, const std::vector<ProbeResult>& rounds) {
  for (const auto& r : rounds) REQUIRE(store.submit(r));
  REQUIRE(store.flush(10s));
}

// Step 0 [T0, T0+60s): ten ICMP rounds of 5 echoes, RTT 10..100 ms written in
// reverse order, min = RTT - 1 ms, max = RTT + 2 ms, the 4th losing 2 echoes.
// Step 1: nothing. Step 2: one round with every echo lost. Step 3: rounds on
// its first and last millisecond. Around them: rows just outside the range,
// and rows of other series inside it.
std::vector<ProbeResult> hand_built_icmp() {
  std::vector<ProbeResult> v;
  for (int k = 9; k >= 0; --k) {
    const int rtt = 10'000 * (k + 1);
    v.push_back(round_at(kT0 + std::chrono::seconds(k), ProbeKind::icmp, true, 5, k == 3 ? 3 : 5,
                         rtt, rtt - 1'000, rtt + 2'000));
  }
  v.push_back(round_at(kT0 + 125s, ProbeKind::icmp, false, 5, 0, 0));
  v.push_back(round_at(kT0 + 180s, ProbeKind::icmp, true, 5, 5, 7'000));  // no min/max stored
  v.push_back(round_at(kT0 + 240s - 1ms, ProbeKind::icmp, true, 5, 5, 5'000, 4'000, 6'000));
  v.push_back(round_at(kT0 - 1ms, ProbeKind::icmp, true, 5, 5, 1'000));   // before from
  v.push_back(round_at(kT0 + 240s, ProbeKind::icmp, true, 5, 5, 1'000));  // at to: excluded
  v.push_back(round_at(kT0 + 10s, ProbeKind::tcp, true, 0, 0, 1'000));    // another kind
  v.push_back(round_at(kT0 + 10s, ProbeKind::icmp, true, 5, 5, 1'000, 0, 0, "other"));
  return v;
}

SeriesQuery query(ProbeKind kind = ProbeKind::icmp) {
  SeriesQuery q;
  q.line = "cn2";
  q.target = "dns";
  q.kind = kind;
  q.from = kT0;
  q.to = kT0 + 240s;
  q.step = 60s;
  return q;
}

TEST_CASE("series points: exact figures per step, empty steps left out, edges") {
  TempDir dir;
  FakeClock clock(kT0 + 1h);
  auto store = open_store(dir, clock);
  write_all(*store, hand_built_icmp());
  auto points = store->series_points(query());
  REQUIRE_MESSAGE(points, points.error().message);
  REQUIRE(points->size() == 3);

  const SeriesPoint& a = (*points)[0];
  CHECK(a.t == kT0);
  CHECK(a.rounds == 10);
  CHECK(a.ok == 10);
  CHECK(a.sent == 50);
  CHECK(a.lost == 2);
  REQUIRE(a.loss);
  CHECK(*a.loss == doctest::Approx(0.04));
  REQUIRE(a.rtt);
  CHECK(a.rtt->min == 9ms);      // the 10 ms round's own minimum
  CHECK(a.rtt->p10 == 10ms);     // nearest rank: 1st of 10
  CHECK(a.rtt->p25 == 30ms);     // 3rd
  CHECK(a.rtt->median == 50ms);  // 5th
  CHECK(a.rtt->p75 == 80ms);     // 8th
  CHECK(a.rtt->p90 == 90ms);     // 9th
  CHECK(a.rtt->max == 102ms);    // the 100 ms round's own maximum

  const SeriesPoint& b = (*points)[1];  // step 1 had nothing: this is step 2
  CHECK(b.t == kT0 + 120s);
  CHECK(b.rounds == 1);
  CHECK(b.ok == 0);
  CHECK(b.sent == 5);
  CHECK(b.lost == 5);
  REQUIRE(b.loss);
  CHECK(*b.loss == 1.0);
  CHECK_FALSE(b.rtt);

  const SeriesPoint& c = (*points)[2];  // from inclusive, to exclusive
  CHECK(c.t == kT0 + 180s);
  CHECK(c.rounds == 2);
  CHECK(c.lost == 0);
  REQUIRE(c.loss);
  CHECK(*c.loss == 0.0);
  REQUIRE(c.rtt);
  CHECK(c.rtt->min == 4ms);  // 6 ms round: 4 ms stored; 7 ms round: none, its RTT
  CHECK(c.rtt->median == 5ms);
  CHECK(c.rtt->max == 7ms);

  SUBCASE("steps start at from, not at a multiple of step") {
    auto q = query();
    q.from = kT0 + 5s;
    q.step = 120s;
    auto shifted = store->series_points(q);
    REQUIRE(shifted);
    REQUIRE(shifted->size() == 2);
    CHECK((*shifted)[0].t == kT0 + 5s);
    CHECK((*shifted)[0].rounds == 5);  // 5..9 s
    CHECK((*shifted)[1].t == kT0 + 125s);
    CHECK((*shifted)[1].rounds == 3);  // 125 s, 180 s and 240 s - 1 ms
  }
  SUBCASE("an unknown series has no points") {
    auto q = query();
    q.target = "nowhere";
    auto none = store->series_points(q);
    REQUIRE(none);
    CHECK(none->empty());
  }
  SUBCASE("a step below 1 ms is refused") {
    auto q = query();
    q.step = 999us;
    auto bad = store->series_points(q);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == ErrorCode::invalid_argument);
  }
}

TEST_CASE("series points: kinds without echoes count rounds as sent and failures as lost") {
  TempDir dir;
  FakeClock clock(kT0 + 1h);
  auto store = open_store(dir, clock);
  write_all(*store, {round_at(kT0 + 1s, ProbeKind::tcp, true, 0, 0, 3'000),
                     round_at(kT0 + 2s, ProbeKind::tcp, false, 0, 0, 0),
                     round_at(kT0 + 3s, ProbeKind::tcp, true, 0, 0, 1'000),
                     round_at(kT0 + 4s, ProbeKind::tcp, true, 0, 0, 2'000)});
  auto points = store->series_points(query(ProbeKind::tcp));
  REQUIRE(points);
  REQUIRE(points->size() == 1);
  const SeriesPoint& p = points->front();
  CHECK(p.rounds == 4);
  CHECK(p.ok == 3);
  CHECK(p.sent == 4);
  CHECK(p.lost == 1);
  REQUIRE(p.loss);
  CHECK(*p.loss == 0.25);
  REQUIRE(p.rtt);  // over the three RTTs 1, 2, 3 ms; no min/max stored: the RTTs
  CHECK(p.rtt->min == 1ms);
  CHECK(p.rtt->p10 == 1ms);
  CHECK(p.rtt->median == 2ms);
  CHECK(p.rtt->p90 == 3ms);
  CHECK(p.rtt->max == 3ms);
}

TEST_CASE("series points: the read uses the samples_series index and scans recent rows once") {
  TempDir dir;
  FakeClock clock(kT0);
  auto store = open_store(dir, clock);
  store->stop();
  auto db = Db::open(dir.db(), SQLITE_OPEN_READONLY, 1s);
  REQUIRE(db);
  auto plan = db->prepare(std::string("EXPLAIN QUERY PLAN ") + kSelectSeriesRounds, "plan");
  REQUIRE(plan);
  std::string text;
  for (;;) {
    auto row = plan->step();
    REQUIRE(row);
    if (!*row) break;
    text += plan->column_text(3) + "\n";
  }
  // The folded rows come in order from the index (no sort on that side);
  // the recent ones are scanned once and sorted, then the two are merged.
  const auto right = text.find("RIGHT");
  REQUIRE_MESSAGE(right != std::string::npos, text);
  const std::string folded = text.substr(0, right), recent = text.substr(right);
  CHECK_MESSAGE(folded.find("SEARCH samples_folded USING INDEX samples_series (line_id=? AND "
                            "target_id=? AND kind=? AND ts_ms>? AND ts_ms<?)") != std::string::npos,
                text);
  CHECK_MESSAGE(folded.find("TEMP B-TREE") == std::string::npos, text);  // no sort step
  CHECK_MESSAGE(text.find("MERGE (UNION ALL)") != std::string::npos, text);
  CHECK_MESSAGE(recent.find("SCAN samples_recent") != std::string::npos, text);
  CHECK_MESSAGE(text.find("samples_recent") == text.rfind("samples_recent"), text);  // once
}

TEST_CASE("read-only database: the same points as the store, no write") {
  TempDir dir;
  FakeClock clock(kT0 + 1h);
  std::vector<SeriesPoint> from_store;
  {
    auto store = open_store(dir, clock);
    write_all(*store, hand_built_icmp());
    auto p = store->series_points(query());
    REQUIRE(p);
    from_store = *p;
  }  // closed: the WAL is checkpointed away, as after an agent stops
  const auto size = std::filesystem::file_size(dir.db());
  const auto mtime = std::filesystem::last_write_time(dir.db());
  auto db = ReadOnlyDatabase::open(dir.db());
  REQUIRE_MESSAGE(db, db.error().message);
  CHECK((*db)->path() == dir.db());
  auto points = (*db)->series_points(query());
  REQUIRE_MESSAGE(points, points.error().message);
  CHECK(*points == from_store);
  auto series = (*db)->series();
  REQUIRE(series);
  CHECK(series->size() == 3);  // cn2/dns icmp, cn2/dns tcp, cn2/other icmp
  CHECK(std::filesystem::file_size(dir.db()) == size);
  CHECK(std::filesystem::last_write_time(dir.db()) == mtime);
  // Nothing beside it either: side files created here would belong to the
  // CLI's user, and the agent's user could not open the database again.
  CHECK_FALSE(std::filesystem::exists(dir.db() + "-wal"));
  CHECK_FALSE(std::filesystem::exists(dir.db() + "-shm"));
}

TEST_CASE("read-only database: a missing file fails with its path and is not created") {
  TempDir dir;
  const std::string path = dir.file("linewatch.db");
  auto db = ReadOnlyDatabase::open(path);
  REQUIRE_FALSE(db);
  CHECK(db.error().code == ErrorCode::io);
  CHECK(db.error().message.find(path + ": no such database") == 0);
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("read-only database: an old schema is refused, never migrated") {
  TempDir dir;
  {
    auto w = Db::open(dir.db(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1s);
    REQUIRE(w);
    REQUIRE(migrate(*w, 1));
  }
  auto db = ReadOnlyDatabase::open(dir.db());
  REQUIRE_FALSE(db);
  CHECK(db.error().message.find(dir.db() + ": not a linewatch database of schema 2") == 0);
  auto w = Db::open(dir.db(), SQLITE_OPEN_READONLY, 1s);
  REQUIRE(w);
  CHECK(*schema_version(*w) == 1);
}

}  // namespace
}  // namespace linewatch
