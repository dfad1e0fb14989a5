// bench_availability: what the availability rollups cost to keep and what
// they save to read.
//
// One line x target probed every --interval-ms for --days (30 days of 1 s
// rounds: 2,592,000 ICMP rounds, every 500th lost) goes through the real
// Store in a temporary data directory, removed afterwards:
//
//  1. Ingest, twice: with the rollups (the default) and without
//     (StoreTuning::rollups = false). Every round is submitted (a full queue
//     is waited out, never dropped) and the run ends when all are committed:
//     rows/s and process CPU per 1,000 rows, side by side.
//  2. Query: Store::availability() over 1 h, 24 h and 30 d ending at the last
//     round, --queries times each: median and p95. The peer is the same count
//     straight from the samples (count and sum over the samples_series index
//     for the window), as a reader without rollups would do it; both must
//     agree, and the bench fails if they do not.
//  3. Upgrade: the no-rollup run's file set back to schema v4 and migrated to
//     v5, which fills the rollups from its samples: seconds.
//
// Flags:
//   --days D          days of rounds, default 30
//   --interval-ms I   one round every I ms, default 1000
//   --queries N       queries per window, default 201
//   --dir PATH        parent of the temporary data dirs, default /tmp
#include <CLI/CLI.hpp>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "bench/bench_util.h"
#include "core/fake_clock.h"
#include "storage/schema.h"
#include "storage/sqlite.h"
#include "storage/store.h"
#include "tests/support/temp_dir.h"

namespace linewatch::bench {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Options {
  int days = 30;
  int interval_ms = 1000;
  int queries = 201;
  std::string dir = "/tmp";
};

// 2027-01-15T08:00:00Z: the rounds start here, whole days of them.
const WallTime kStart = WallTime(std::chrono::seconds(1'800'000'000));

std::int64_t round_count(const Options& o) {
  return static_cast<std::int64_t>(o.days) * 86'400'000 / o.interval_ms;
}

WallTime last_round(const Options& o) {
  return kStart + milliseconds(static_cast<std::int64_t>(o.interval_ms) * (round_count(o) - 1));
}

ProbeResult round_at(std::int64_t i, const Options& o) {
  ProbeResult r;
  r.line = "cn2-bj-1";
  r.target = "la-reflector";
  r.kind = ProbeKind::icmp;
  r.time = kStart + milliseconds(static_cast<std::int64_t>(o.interval_ms) * i);
  const bool lost = i % 500 == 0;
  r.rtts = {lost ? std::nullopt
                 : std::optional<Duration>(std::chrono::microseconds(41'000 + i % 900))};
  summarise_echoes(r);
  r.ok = !lost;
  r.reason = lost ? Reason::timeout : Reason::ok;
  if (lost) r.detail = "no reply from 198.19.255.1 to 1 echo request";
  r.duration = milliseconds(1) + std::chrono::microseconds(i % 900);
  return r;
}

struct Ingest {
  double seconds = 0, cpu_s = 0;
  std::int64_t rows = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(rows) / seconds : 0; }
};

std::unique_ptr<Store> open_store(const std::string& dir, const Clock& clock, bool rollups,
                                  const Options& o) {
  StorageOptions so;
  so.retention = std::chrono::hours(24 * (o.days + 2));  // nothing expires during the bench
  StoreTuning tuning;
  tuning.rollups = rollups;
  auto store = Store::open(dir, so, clock, tuning);
  if (!store) throw std::runtime_error(store.error().message);
  return std::move(store).value();
}

Ingest ingest(Store& store, const Options& o) {
  Ingest f;
  const double cpu0 = cpu_seconds();
  const auto start = Steady::now();
  const std::int64_t n = round_count(o);
  for (std::int64_t i = 0; i < n; ++i) {
    ProbeResult r = round_at(i, o);
    while (!store.submit(r)) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (!store.flush(std::chrono::minutes(10))) throw std::runtime_error("flush timed out");
  f.seconds = std::chrono::duration<double>(Steady::now() - start).count();
  f.cpu_s = cpu_seconds() - cpu0;
  f.rows = n;
  const WriterStats s = store.stats();
  if (s.written != static_cast<std::uint64_t>(n))
    throw std::runtime_error("written " + std::to_string(s.written) + " of " + std::to_string(n));
  return f;
}

// count(*), sum(ok) of the samples whose ts_ms is in [from, to), as a reader
// without rollups would compute availability.
class SampleCount {
 public:
  explicit SampleCount(const std::string& path) {
    auto db = Db::open(path, SQLITE_OPEN_READONLY, std::chrono::seconds(5));
    if (!db) throw std::runtime_error(db.error().message);
    db_ = std::make_unique<Db>(std::move(*db));
  }
  std::pair<std::int64_t, std::int64_t> operator()(std::int64_t from, std::int64_t to) {
    auto st = db_->prepare(
        "SELECT count(*), coalesce(sum(ok), 0) FROM samples"
        " WHERE line_id = (SELECT id FROM lines WHERE name = 'cn2-bj-1')"
        " AND target_id = (SELECT id FROM targets WHERE name = 'la-reflector')"
        " AND kind = 0 AND ts_ms >= ?1 AND ts_ms < ?2",
        "count samples");
    if (!st) throw std::runtime_error(st.error().message);
    st->bind(1, from);
    st->bind(2, to);
    auto row = st->step();
    if (!row) throw std::runtime_error(row.error().message);
    return {st->column_int(0), st->column_int(1)};
  }

 private:
  std::unique_ptr<Db> db_;
};

struct QueryFigures {
  std::string window;
  std::int64_t rounds = 0;
  double ratio = 0;
  double median_ms = 0, p95_ms = 0;
  double peer_median_ms = 0, peer_p95_ms = 0;
};

QueryFigures time_window(const Store& store, SampleCount& peer, const char* name, Duration window,
                         const Options& o) {
  const WallTime now = last_round(o);
  const AvailabilityQuery q{"cn2-bj-1", "la-reflector", ProbeKind::icmp, window, now};
  // The window as store.h defines it: whole minutes ending with now's.
  const std::int64_t end = (unix_ms(now) / 60'000 + 1) * 60'000;
  const std::int64_t from = end - std::chrono::ceil<std::chrono::minutes>(window).count() * 60'000;
  QueryFigures f;
  f.window = name;
  std::vector<double> ours, theirs;
  Availability a;
  std::pair<std::int64_t, std::int64_t> counted;
  for (int i = 0; i < o.queries; ++i) {
    auto t0 = Steady::now();
    auto r = store.availability(q);
    auto t1 = Steady::now();
    counted = peer(from, end);
    auto t2 = Steady::now();
    if (!r) throw std::runtime_error(r.error().message);
    a = *r;
    ours.push_back(ms_between(t0, t1));
    theirs.push_back(ms_between(t1, t2));
  }
  if (a.total != counted.first || a.ok != counted.second)
    throw std::runtime_error(std::string(name) + ": rollups say " + std::to_string(a.ok) + "/" +
                             std::to_string(a.total) + ", samples " +
                             std::to_string(counted.second) + "/" + std::to_string(counted.first));
  f.rounds = a.total;
  f.ratio = a.ratio.value_or(0);
  f.median_ms = quantile(ours, 0.5);
  f.p95_ms = quantile(ours, 0.95);
  f.peer_median_ms = quantile(theirs, 0.5);
  f.peer_p95_ms = quantile(theirs, 0.95);
  return f;
}

// Sets the file back to v4 (as the previous release left it, samples kept)
// and times the migration that fills the rollups from them.
double time_upgrade(const std::string& path) {
  auto db = Db::open(path, SQLITE_OPEN_READWRITE, std::chrono::seconds(5));
  if (!db) throw std::runtime_error(db.error().message);
  if (auto s = db->exec(
          "DROP TABLE availability_minutes; DROP TABLE availability_hours; DROP TABLE outbox;"
          "PRAGMA user_version = 4",
          "back to v4");
      !s)
    throw std::runtime_error(s.error().message);
  const auto t0 = Steady::now();
  // Up to v5 only: the later steps are not what this times (v6 would add a
  // column the file already has).
  if (auto s = migrate(*db, 5); !s) throw std::runtime_error(s.error().message);
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

int run(const Options& o) {
  std::printf("bench_availability: %d days of one round every %d ms (%lld rounds), in %s\n", o.days,
              o.interval_ms, static_cast<long long>(round_count(o)), o.dir.c_str());
  std::fflush(stdout);
  FakeClock clock(last_round(o) + std::chrono::minutes(1));  // retention measures from here
  linewatch::testing::TempDir with_dir("linewatch-bench", o.dir);
  linewatch::testing::TempDir without_dir("linewatch-bench", o.dir);
  Ingest with, without;
  {
    auto store = open_store(without_dir.path(), clock, false, o);
    without = ingest(*store, o);
  }
  std::vector<QueryFigures> queries;
  auto store = open_store(with_dir.path(), clock, true, o);
  with = ingest(*store, o);
  SampleCount peer(store->path());
  queries.push_back(time_window(*store, peer, "1 h", std::chrono::hours(1), o));
  queries.push_back(time_window(*store, peer, "24 h", std::chrono::hours(24), o));
  queries.push_back(time_window(*store, peer, "30 d", std::chrono::hours(24 * 30), o));
  const double upgrade_s = time_upgrade(database_path(without_dir.path()));

  Table t({"ingest", "rows", "s", "rows/s", "CPU ms per 1,000 rows"});
  for (const auto& [name, f] :
       {std::pair{"without rollups", without}, std::pair{"with rollups", with}})
    t.add({name, fmt("%lld", static_cast<long long>(f.rows)), fmt("%.1f", f.seconds),
           fmt("%.0f", f.rate()), fmt("%.1f", 1e6 * f.cpu_s / static_cast<double>(f.rows))});
  t.add({"rollup cost", "", "", fmt("%.1f %%", 100.0 * (1.0 - with.rate() / without.rate())),
         fmt("%+.1f", 1e6 * (with.cpu_s - without.cpu_s) / static_cast<double>(with.rows))});
  t.print("ingest (all rounds committed)");

  Table q({"window", "rounds", "ratio", "rollups median ms", "p95 ms", "samples median ms",
           "p95 ms", "speed-up"});
  for (const auto& f : queries)
    q.add({f.window, fmt("%lld", static_cast<long long>(f.rounds)), fmt("%.5f", f.ratio),
           fmt("%.3f", f.median_ms), fmt("%.3f", f.p95_ms), fmt("%.3f", f.peer_median_ms),
           fmt("%.3f", f.peer_p95_ms), fmt("%.0fx", f.peer_median_ms / f.median_ms)});
  q.print(fmt("availability(), %d queries per window", o.queries));

  Table u({"figure", "value"});
  u.add({"v4 -> v5 upgrade, rollups filled from the samples (s)", fmt("%.2f", upgrade_s)});
  u.print("upgrade");
  return 0;
}

}  // namespace
}  // namespace linewatch::bench

int main(int argc, char** argv) {
  linewatch::bench::Options o;
  CLI::App app{"Availability rollups: ingest cost, query time against the samples, upgrade time"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--days", o.days, "days of rounds")->check(CLI::Range(1, 400));
  app.add_option("--interval-ms", o.interval_ms, "one round every this many ms")
      ->check(CLI::Range(10, 3'600'000));
  app.add_option("--queries", o.queries, "queries per window")->check(CLI::Range(1, 100000));
  app.add_option("--dir", o.dir, "parent of the temporary data dirs")
      ->check(CLI::ExistingDirectory);
  CLI11_PARSE(app, argc, argv);
  try {
    return linewatch::bench::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_availability: %s\n", e.what());
    return 1;
  }
}
