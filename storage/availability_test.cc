// Availability from the rollups: exact counts against the stored rounds over
// windows that cross minute and hour edges, per kind and over all kinds, a
// retried batch counted once, a reopened file, and retention that keeps the
// rollups past the samples.
#include <doctest/doctest.h>

#include <thread>

#include "core/fake_clock.h"
#include "storage/rollup.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using test::open_store;
using test::TempDir;
using test::wait_until;

// 2027-01-15T08:00:00Z, on the hour.
const WallTime kT0 = WallTime(std::chrono::seconds(1'800'000'000));

ProbeResult round_at(WallTime t, ProbeKind kind, Reason reason, std::string line = "cn2",
                     std::string target = "openai") {
  ProbeResult r;
  r.line = std::move(line);
  r.target = std::move(target);
  r.kind = kind;
  r.time = t;
  r.ok = reason == Reason::ok;
  r.reason = reason;
  r.duration = 1ms;
  return r;
}

// ICMP every 7 s (every 13th lost: a network failure) and HTTP every 60 s at
// :30 (every 5th a 503: the endpoint's failure) for 26 hours from kT0.
std::vector<ProbeResult> day_of_rounds() {
  std::vector<ProbeResult> v;
  for (int i = 0; i * 7 < 26 * 3600; ++i)
    v.push_back(round_at(kT0 + std::chrono::seconds(i * 7), ProbeKind::icmp,
                         i % 13 == 0 ? Reason::timeout : Reason::ok));
  for (int i = 0; i * 60 + 30 < 26 * 3600; ++i)
    v.push_back(round_at(kT0 + std::chrono::seconds(i * 60 + 30), ProbeKind::http,
                         i % 5 == 0 ? Reason::http_status : Reason::ok));
  return v;
}

// What the window [from, to) holds, counted one round at a time.
Availability brute(const std::vector<ProbeResult>& rounds, WallTime from, WallTime to,
                   std::optional<ProbeKind> kind = std::nullopt) {
  Availability a;
  for (const ProbeResult& r : rounds) {
    if (r.time < from || r.time >= to || (kind && r.kind != *kind)) continue;
    ++a.total;
    a.ok += r.ok;
    a.network_failed += is_network_failure(r);
  }
  if (a.total > 0) {
    a.ratio = static_cast<double>(a.ok) / static_cast<double>(a.total);
    a.line_ratio = static_cast<double>(a.total - a.network_failed) / static_cast<double>(a.total);
  }
  return a;
}

Availability query(const Store& store, Duration window, WallTime now,
                   std::optional<ProbeKind> kind = std::nullopt, std::string line = "cn2") {
  auto a = store.availability({line, "openai", kind, window, now});
  REQUIRE_MESSAGE(a, a.error().message);
  return *a;
}

void submit_all(Store& store, const std::vector<ProbeResult>& rounds) {
  for (const ProbeResult& r : rounds) REQUIRE(store.submit(r));
  REQUIRE(store.flush(30s));
}

std::int64_t rows_in(const std::string& db_path, const std::string& sql) {
  auto db = Db::open(db_path, SQLITE_OPEN_READONLY, 1s);
  REQUIRE(db);
  auto n = db->query_int(sql, "count");
  REQUIRE_MESSAGE(n, n.error().message);
  return *n;
}

TEST_CASE("availability counts exactly the rounds of its window across minute and hour edges") {
  TempDir dir;
  FakeClock clock(kT0 + 27h);
  auto store = open_store(dir, clock);
  std::vector<ProbeResult> rounds = day_of_rounds();
  // Out of order, as late results arrive: each still lands in its own bucket.
  std::reverse(rounds.begin(), rounds.end());
  submit_all(*store, rounds);

  struct Case {
    const char* name;
    Duration window;
    WallTime now;
    WallTime from, to;  // the window as store.h words it
  };
  const Case cases[] = {
      // store.h's example: 1 h at 10:30:20 counts from 09:31:00 on.
      {"1h mid-hour", 1h, kT0 + 10h + 30min + 20s, kT0 + 9h + 31min, kT0 + 10h + 31min},
      {"59m30s rounds up to 1h", 59min + 30s, kT0 + 10h + 30min + 20s, kT0 + 9h + 31min,
       kT0 + 10h + 31min},
      {"90m: minutes, one hour, minutes", 90min, kT0 + 25h + 10min, kT0 + 23h + 41min,
       kT0 + 25h + 11min},
      {"24h whole hours", 24h, kT0 + 25h + 59min + 59s + 999ms, kT0 + 2h, kT0 + 26h},
      {"24h reaching before the first round", 24h, kT0 + 10h + 30min + 20s, kT0 - 13h - 29min,
       kT0 + 10h + 31min},
      {"1 minute on the hour", 1min, kT0 + 3h, kT0 + 3h, kT0 + 3h + 1min},
      {"a window of no rounds", 1h, kT0 - 5h, kT0 - 6h + 1min, kT0 - 5h + 1min},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Availability want = brute(rounds, c.from, c.to);
    CHECK(query(*store, c.window, c.now) == want);
    for (ProbeKind kind : {ProbeKind::icmp, ProbeKind::http}) {
      CAPTURE(to_string(kind));
      CHECK(query(*store, c.window, c.now, kind) == brute(rounds, c.from, c.to, kind));
    }
  }
  // The edges themselves: a round at 09:30:59 is out, one at 09:31:00 in.
  const Availability edge = query(*store, 1h, kT0 + 10h + 30min + 20s, ProbeKind::icmp);
  const Availability wider = query(*store, 61min, kT0 + 10h + 30min + 20s, ProbeKind::icmp);
  CHECK(wider.total - edge.total == 9);  // icmp every 7 s: 09:30:04 .. 09:30:57

  // Spot figures, so the brute force is not the only witness: 24 whole hours
  // of icmp are 24 * 3600 / 7 rounds (rounded by where they fall) and the
  // http ratio is 4 in 5.
  const Availability day = query(*store, 24h, kT0 + 25h + 59min, ProbeKind::http);
  CHECK(day.total == 24 * 60);
  CHECK(day.ok == 24 * 60 * 4 / 5);
  CHECK(day.network_failed == 0);
  CHECK(*day.ratio == doctest::Approx(0.8));
  CHECK(*day.line_ratio == 1.0);
  const Availability none = query(*store, 1h, kT0 - 5h);
  CHECK(none.total == 0);
  CHECK_FALSE(none.ratio.has_value());
  CHECK_FALSE(none.line_ratio.has_value());
  // Unknown names match nothing rather than failing.
  CHECK(query(*store, 1h, kT0 + 2h, std::nullopt, "no-such-line").total == 0);
}

TEST_CASE("availability over 30 days reads minute edges and hour middles and survives a reopen") {
  TempDir dir;
  FakeClock clock(kT0 + 34 * 24h);
  StorageOptions opt;
  opt.retention = 40 * 24h;  // nothing expires: retention has its own test
  std::vector<ProbeResult> rounds;
  // Every 10 minutes for 33 days, offset so rounds sit inside minutes; every
  // 17th refused, every 23rd a 429.
  for (int i = 0; i < 33 * 24 * 6; ++i) {
    const Reason reason =
        i % 17 == 0 ? Reason::refused : (i % 23 == 0 ? Reason::rate_limited : Reason::ok);
    rounds.push_back(round_at(kT0 + std::chrono::seconds(i * 600 + 37), ProbeKind::tcp, reason));
  }
  const WallTime now = kT0 + 32 * 24h + 7h + 25min + 3s;
  const WallTime to = kT0 + 32 * 24h + 7h + 26min;
  const WallTime from = to - 30 * 24h;
  Availability before;
  {
    auto store = open_store(dir, clock, opt);
    submit_all(*store, rounds);
    before = query(*store, 30 * 24h, now);
    CHECK(before == brute(rounds, from, to));
    CHECK(before.total == 30 * 24 * 6);
    CHECK(before.network_failed > 0);
    CHECK(before.ok < before.total - before.network_failed);  // 429s are down, not the line's
  }
  // A new Store on the same file reads the same figures: they are rows, not memory.
  auto reopened = open_store(dir, clock, opt);
  CHECK(query(*reopened, 30 * 24h, now) == before);
  CHECK(query(*reopened, 24h, now) == brute(rounds, to - 24h, to));
}

TEST_CASE("a batch that fails and is retried counts its rounds once") {
  TempDir dir;
  FakeClock clock(kT0 + 2h);
  StoreTuning tuning;
  tuning.busy_timeout = 10ms;  // the lock below fails each attempt at once
  tuning.retry_min = 5ms;
  tuning.retry_max = 20ms;
  auto store = open_store(dir, clock, {}, tuning);
  std::vector<ProbeResult> rounds;
  for (int i = 0; i < 300; ++i)
    rounds.push_back(round_at(kT0 + std::chrono::seconds(i * 11), ProbeKind::icmp,
                              i % 4 == 0 ? Reason::unreachable : Reason::ok));
  {
    Db lock = test::lock_exclusively(dir.db());
    for (const ProbeResult& r : rounds) REQUIRE(store->submit(r));
    REQUIRE(wait_until([&] { return store->stats().write_errors >= 2; }));
  }  // the lock goes: the kept batch commits
  REQUIRE(store->flush(30s));
  CHECK(query(*store, 2h, kT0 + 1h + 59min) == brute(rounds, kT0, kT0 + 2h));
  CHECK(query(*store, 2h, kT0 + 1h + 59min).total == 300);
}

TEST_CASE("rollups equal the committed samples after batches that failed halfway (full disk)") {
  TempDir dir;
  FakeClock clock(kT0 + 1h);
  {
    // Ballast the test frees later, as an operator would free disk space.
    Db db = [&] {
      auto d = Db::open(dir.db(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1s);
      REQUIRE(d);
      return std::move(*d);
    }();
    REQUIRE(migrate(db));
    REQUIRE(
        db.exec("CREATE TABLE ballast(b BLOB);"
                "INSERT INTO ballast VALUES(zeroblob(200000))",
                "ballast"));
  }
  StorageOptions opt;
  opt.batch_max = 50;
  opt.flush_interval = 2ms;
  StoreTuning tuning;
  tuning.retry_min = 5ms;
  tuning.retry_max = 20ms;
  tuning.max_db_bytes = 400 * 1024;
  auto store = open_store(dir, clock, opt, tuning);
  // Rounds spread over many minutes, so each batch upserts many rollup rows.
  for (int i = 0; i < 20'000 && store->stats().state == StoreState::ok; ++i) {
    store->submit(round_at(kT0 + std::chrono::seconds((i * 37) % 3600), ProbeKind::icmp,
                           i % 3 ? Reason::ok : Reason::timeout));
    if (i % 50 == 49) std::this_thread::sleep_for(1ms);
  }
  REQUIRE(wait_until([&] { return store->stats().write_errors >= 3; }));
  {
    auto db = Db::open(dir.db(), SQLITE_OPEN_READWRITE, 5s);
    REQUIRE(db);
    REQUIRE(db->exec("DROP TABLE ballast", "free space"));
  }
  REQUIRE(store->flush(30s));
  REQUIRE(store->stats().state == StoreState::ok);
  const std::int64_t samples = *store->count();
  const std::string db = dir.db();
  CHECK(samples == static_cast<std::int64_t>(store->stats().written));
  CHECK(rows_in(db, "SELECT sum(rounds) FROM availability_minutes") == samples);
  CHECK(rows_in(db, "SELECT sum(rounds) FROM availability_hours") == samples);
  CHECK(rows_in(db, "SELECT sum(ok) FROM availability_minutes") ==
        rows_in(db, "SELECT count(*) FROM samples WHERE ok = 1"));
  CHECK(query(*store, 1h, kT0 + 59min).total == samples);
}

TEST_CASE("retention keeps minute rollups 2 days and hour rollups 32 days past shorter samples") {
  TempDir dir;
  const WallTime now = kT0 + 40 * 24h;
  FakeClock clock(now);
  StorageOptions opt;
  opt.retention = 1h;
  StoreTuning tuning;
  tuning.retention_every = 1min;
  tuning.retention_chunk = 500;  // several chunks per pass
  tuning.idle_poll = 5ms;
  auto store = open_store(dir, clock, opt, tuning);
  REQUIRE(wait_until([&] { return store->stats().retention_runs == 1; }));

  std::vector<ProbeResult> rounds;  // every 5 minutes for 40 days, up to now
  for (int i = 0; i < 40 * 24 * 12; ++i)
    rounds.push_back(round_at(kT0 + std::chrono::seconds(i * 300 + 1), ProbeKind::icmp,
                              i % 9 == 0 ? Reason::timeout : Reason::ok));
  submit_all(*store, rounds);
  const Availability day = query(*store, 24h, now);
  REQUIRE(day == brute(rounds, now - 24h + 1min, now + 1min));

  clock.advance(1min);
  REQUIRE(wait_until([&] { return store->stats().retention_runs == 2; }));
  const WallTime t = clock.wall_now();
  // Samples keep storage.retention (1 h); the rollups their own floors, a
  // row going once all of its minute (hour) is past it.
  CHECK(*store->count() == brute(rounds, t - 1h, WallTime::max()).total);
  const std::string db = dir.db();
  const std::int64_t oldest_minute = rows_in(db, "SELECT min(bucket_ms) FROM availability_minutes");
  CHECK(oldest_minute >= unix_ms(t - 48h - 1min));
  CHECK(oldest_minute < unix_ms(t - 47h));
  const std::int64_t oldest_hour = rows_in(db, "SELECT min(bucket_ms) FROM availability_hours");
  CHECK(oldest_hour >= unix_ms(t - 32 * 24h - 1h));
  CHECK(oldest_hour < unix_ms(t - 31 * 24h));
  CHECK(store->stats().retention_deleted > 0);

  // The day is whole although its samples are gone.
  CHECK(query(*store, 24h, now) == day);
  // 30 days: the minute rows of its first, partial hour are gone, so it
  // starts on its first whole hour (store.h).
  const WallTime to = now + 1min;  // now is on the hour
  CHECK(query(*store, 30 * 24h, now) == brute(rounds, to - 30 * 24h + 59min, to));
  CHECK(store->stats().write_errors == 0);
}

TEST_CASE("retention longer than the rollup floors keeps rollups as long as samples") {
  TempDir dir;
  const WallTime now = kT0 + 50 * 24h;
  FakeClock clock(now);
  StorageOptions opt;
  opt.retention = 45 * 24h;
  StoreTuning tuning;
  tuning.retention_every = 1min;
  tuning.idle_poll = 5ms;
  auto store = open_store(dir, clock, opt, tuning);
  REQUIRE(wait_until([&] { return store->stats().retention_runs == 1; }));  // the pass at start
  std::vector<ProbeResult> rounds;
  for (int day = 0; day <= 50; ++day)  // one round a day, 10 minutes past the hour
    rounds.push_back(round_at(kT0 + day * 24h + 10min, ProbeKind::icmp, Reason::ok));
  submit_all(*store, rounds);
  clock.advance(1min);
  REQUIRE(wait_until([&] { return store->stats().retention_runs == 2; }));
  // 45 days of samples, minute and hour rows alike: days 5 .. 50 (day 5 is
  // 45 days less 9 minutes old, so inside, and so is its hour).
  CHECK(*store->count() == 46);
  const std::string db = dir.db();
  CHECK(rows_in(db, "SELECT count(*) FROM availability_minutes") == 46);
  CHECK(rows_in(db, "SELECT count(*) FROM availability_hours") == 46);
  CHECK(query(*store, 44 * 24h, now).total == 44);
}

TEST_CASE("without rollups the writer stores samples and availability finds no rounds") {
  TempDir dir;
  FakeClock clock(kT0 + 1h);
  StoreTuning tuning;
  tuning.rollups = false;
  auto store = open_store(dir, clock, {}, tuning);
  submit_all(*store, {round_at(kT0 + 5min, ProbeKind::icmp, Reason::ok)});
  CHECK(*store->count() == 1);
  CHECK(query(*store, 1h, kT0 + 30min).total == 0);
}

TEST_CASE("bucket_start floors, also before 1970") {
  CHECK(bucket_start(0, kRollupMinuteMs) == 0);
  CHECK(bucket_start(59'999, kRollupMinuteMs) == 0);
  CHECK(bucket_start(60'000, kRollupMinuteMs) == 60'000);
  CHECK(bucket_start(-1, kRollupMinuteMs) == -60'000);
  CHECK(bucket_start(-60'000, kRollupMinuteMs) == -60'000);
  CHECK(bucket_start(unix_ms(kT0) + 3'599'999, kRollupHourMs) == unix_ms(kT0));
}

}  // namespace
}  // namespace linewatch
