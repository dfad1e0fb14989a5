// bench_series: what GET /api/v1/series costs over a month of one series.
//
// One line x target (ICMP, 5 echoes a round, every 500th round lost) goes
// through the real Store in a temporary data directory, removed afterwards:
//
//  1. Fill: --days of one round every 10 s (30 d: 259,200 rounds), then
//     --days-1s of one round every 1 s (3 d: the same 259,200 rounds): rows/s
//     and the file's size per round.
//  2. Query each fill over its whole range at the API's default step
//     (range / 300, rounded up to a second) and at step 1h, --runs times
//     each: median and p95 of Store::series_points() alone and of the whole
//     answer (series_answer(): parse, read, JSON document). The peer is the
//     read the endpoint avoids: Store::samples() of the same range (whole
//     rows, per-echo RTTs decoded), which would then still need aggregating.
//     A 30 d range at 1 s holds 10 x the 3 d rows, and a read costs per row:
//     multiply the 3 d figures by 10 for it.
//  3. Reads beside a full samples_recent (schema v7): the rows not yet folded
//     into the indexed table are scanned by every read. --fold-rows - 1 rows
//     of 200 other series (a round each 10 s, the newest hour) wait there
//     beside the 1 h of the series read; each read is timed, median of
//     --runs, once with them recent and once after the store folded them.
//
// Flags:
//   --days D       days of 10 s rounds, default 30
//   --days-1s D    days of 1 s rounds, default 3
//   --runs N       queries per figure, default 15
//   --fold-rows N  the store's fold threshold (StoreTuning::fold_rows),
//                  default the store's
//   --dir PATH     parent of the temporary data dirs, default /tmp
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "agent/api_series.h"
#include "bench/bench_util.h"
#include "core/fake_clock.h"
#include "core/units.h"
#include "storage/store.h"
#include "tests/support/temp_dir.h"

namespace linewatch::bench {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Options {
  int days = 30;
  int days_1s = 3;
  int runs = 15;
  std::size_t fold_rows = StoreTuning{}.fold_rows;
  std::string dir = "/tmp";
};

// 2027-01-15T08:00:00Z: the rounds start here.
const WallTime kStart = WallTime(std::chrono::seconds(1'800'000'000));

ProbeResult round_at(std::int64_t i, milliseconds interval) {
  ProbeResult r;
  r.line = "cn2-bj-1";
  r.target = "la-reflector";
  r.kind = ProbeKind::icmp;
  r.time = kStart + interval * i;
  const bool lost = i % 500 == 0;
  for (int e = 0; e < 5; ++e)
    r.rtts.push_back(lost ? std::nullopt
                          : std::optional<Duration>(
                                std::chrono::microseconds(150'000 + (i * 7 + e * 131) % 4'000)));
  summarise_echoes(r);
  r.ok = !lost;
  r.reason = lost ? Reason::timeout : Reason::ok;
  r.duration = milliseconds(801);
  return r;
}

struct Fill {
  std::int64_t rows = 0;
  double seconds = 0;
  std::uintmax_t bytes = 0;
};

Fill fill(Store& store, std::int64_t rows, milliseconds interval) {
  const auto t0 = Steady::now();
  for (std::int64_t i = 0; i < rows; ++i) {
    ProbeResult r = round_at(i, interval);
    while (!store.submit(r)) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (!store.flush(std::chrono::minutes(10))) throw std::runtime_error("flush timed out");
  const double seconds = std::chrono::duration<double>(Steady::now() - t0).count();
  std::error_code ec;  // the WAL may hold pages not yet in the file
  const auto wal = std::filesystem::file_size(store.path() + "-wal", ec);
  return {rows, seconds, std::filesystem::file_size(store.path()) + (ec ? 0 : wal)};
}

// Median and p95 in ms of `runs` calls of f.
template <typename F>
std::pair<double, double> timed(int runs, F f) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Steady::now();
    f();
    ms.push_back(ms_between(t0, Steady::now()));
  }
  auto p95 = ms;
  return {quantile(ms, 0.5), quantile(p95, 0.95)};
}

std::string rfc3339(WallTime t) { return format_series_time(t); }

// The figures of one range at one step.
void query_rows(Table& t, const Store& store, const char* name, Duration range,
                std::optional<Duration> step, const Options& o) {
  const WallTime to = kStart + range;
  Config config;
  config.lines.resize(1);
  config.lines[0].id = "cn2-bj-1";
  config.targets.resize(1);
  config.targets[0].id = "la-reflector";
  config.targets[0].probes.resize(1);
  FakeClock clock(to);
  const SeriesSource source = store_series_source(config, store, clock);
  std::string query = "line=cn2-bj-1&target=la-reflector&kind=icmp&since=" + rfc3339(kStart) +
                      "&until=" + rfc3339(to);
  if (step) query += "&step=" + format_duration(*step);
  auto parsed = parse_series_query(query, to);
  if (auto* bad = std::get_if<BadParameter>(&parsed)) throw std::runtime_error(bad->message);
  const SeriesRequest& r = std::get<SeriesRequest>(parsed);
  const SeriesQuery q{r.line, r.target, ProbeKind::icmp, r.from, r.to, r.step};
  std::size_t points = 0;
  std::int64_t rounds = 0;
  auto read = timed(o.runs, [&] {
    auto p = store.series_points(q);
    if (!p) throw std::runtime_error(p.error().message);
    points = p->size();
    rounds = 0;
    for (const auto& x : *p) rounds += x.rounds;
  });
  std::size_t bytes = 0;
  auto whole = timed(o.runs, [&] {
    HttpResponse a = series_answer(source, query);
    if (a.status != 200) throw std::runtime_error(a.body);
    bytes = a.body.size();
  });
  SampleQuery sq{q.line, q.target, q.kind, q.from, q.to, std::size_t(-1), false};
  auto peer = timed(std::max(3, o.runs / 5), [&] {
    auto s = store.samples(sq);
    if (!s) throw std::runtime_error(s.error().message);
  });
  t.add({name, fmt("%llds", static_cast<long long>(r.step / std::chrono::seconds(1))),
         fmt("%zu", points), fmt("%lld", static_cast<long long>(rounds)), fmt("%.1f", read.first),
         fmt("%.1f", read.second), fmt("%.1f", whole.first), fmt("%zu", bytes),
         fmt("%.1f", peer.first)});
}

std::unique_ptr<Store> open_store(const std::string& dir, const Clock& clock, int days,
                                  std::size_t fold_rows) {
  StorageOptions so;
  so.retention = std::chrono::hours(24 * (days + 2));  // nothing expires during the bench
  StoreTuning tuning;
  tuning.fold_rows = fold_rows;
  tuning.fold_age = std::chrono::hours(24);  // only the row count folds
  auto store = Store::open(dir, so, clock, tuning);
  if (!store) throw std::runtime_error(store.error().message);
  return std::move(store).value();
}

// Section 3: what a full samples_recent adds to each read.
void recent_cost(const Options& o) {
  testing::TempDir dir("bench-series", o.dir);
  const WallTime to = kStart + std::chrono::hours(1);
  FakeClock clock(to);
  auto store = open_store(dir.path(), clock, 1, o.fold_rows);
  const std::int64_t others = static_cast<std::int64_t>(o.fold_rows) - 1 - 360;
  for (std::int64_t i = 0; i < 360; ++i) {  // the series read: 1 h at 10 s
    while (!store->submit(round_at(i, milliseconds(10'000))))
      std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  for (std::int64_t i = 0; i < others; ++i) {
    ProbeResult r = round_at(i / 200, milliseconds(10'000));
    r.target = "other-" + std::to_string(i % 200);
    while (!store->submit(r)) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (!store->flush(std::chrono::minutes(1))) throw std::runtime_error("flush timed out");
  const SeriesQuery q{"cn2-bj-1", "la-reflector",          ProbeKind::icmp, kStart,
                      to,         std::chrono::seconds(12)};
  const SampleQuery latest{q.line, q.target, q.kind, q.from, q.to, 1, true};
  Table t({"samples_recent rows", "series_points 1 h ms", "samples() newest 1 ms", "series() ms",
           "count() ms"});
  auto measure = [&](const Store& s, std::int64_t recent) {
    auto points = timed(o.runs, [&] {
      if (auto p = s.series_points(q); !p || p->empty()) throw std::runtime_error("no points");
    });
    auto newest = timed(o.runs, [&] {
      if (auto r = s.samples(latest); !r || r->size() != 1) throw std::runtime_error("no row");
    });
    auto series = timed(o.runs, [&] {
      if (auto r = s.series(); !r || r->size() != 201) throw std::runtime_error("not 201 series");
    });
    auto count = timed(o.runs, [&] {
      if (auto r = s.count(); !r || *r != others + 360) throw std::runtime_error("count");
    });
    t.add({fmt("%lld", static_cast<long long>(recent)), fmt("%.2f", points.first),
           fmt("%.2f", newest.first), fmt("%.2f", series.first), fmt("%.2f", count.first)});
  };
  const WriterStats before = store->stats();
  measure(*store, before.folds == 0 ? others + 360 : -1);
  store->stop();  // folds them
  measure(*store, 0);
  t.print(fmt("reads beside a full samples_recent (%lld rows of 201 series, fold_rows %zu)",
              static_cast<long long>(others + 360), o.fold_rows)
              .c_str());
}

void run(const Options& o) {
  std::printf("bench_series: %d d of 10 s rounds and %d d of 1 s rounds, %d runs a figure, in %s\n",
              o.days, o.days_1s, o.runs, o.dir.c_str());
  Table f({"fill", "rounds", "s", "rounds/s", "bytes/round"});
  Table q({"range", "step", "points", "rounds", "read median ms", "p95 ms", "answer median ms",
           "JSON bytes", "samples() median ms"});
  const struct {
    std::string name;
    int days;
    milliseconds interval;
  } fills[] = {{fmt("%d d at 10 s", o.days), o.days, milliseconds(10'000)},
               {fmt("%d d at 1 s", o.days_1s), o.days_1s, milliseconds(1'000)}};
  for (const auto& spec : fills) {
    testing::TempDir dir("bench-series", o.dir);
    FakeClock clock(kStart + std::chrono::hours(24 * spec.days));
    auto store = open_store(dir.path(), clock, spec.days, o.fold_rows);
    const std::int64_t rows = std::int64_t(spec.days) * 86'400'000 / spec.interval.count();
    const Fill filled = fill(*store, rows, spec.interval);
    f.add({spec.name, fmt("%lld", static_cast<long long>(rows)), fmt("%.1f", filled.seconds),
           fmt("%.0f", static_cast<double>(rows) / filled.seconds),
           fmt("%.0f", static_cast<double>(filled.bytes) / static_cast<double>(rows))});
    const Duration range = std::chrono::hours(24 * spec.days);
    query_rows(q, *store, spec.name.c_str(), range, std::nullopt, o);
    query_rows(q, *store, spec.name.c_str(), range, std::chrono::hours(1), o);
  }
  f.print("fill (every round committed)");
  q.print("series over the whole range (read: Store::series_points; answer: series_answer)");
  recent_cost(o);
}

}  // namespace
}  // namespace linewatch::bench

int main(int argc, char** argv) {
  linewatch::bench::Options o;
  CLI::App app{"bench_series: the cost of GET /api/v1/series over a month of one series"};
  app.add_option("--days", o.days, "Days of 10 s rounds")->check(CLI::Range(1, 400));
  app.add_option("--days-1s", o.days_1s, "Days of 1 s rounds")->check(CLI::Range(1, 60));
  app.add_option("--runs", o.runs, "Queries per figure")->check(CLI::Range(1, 1000));
  app.add_option("--fold-rows", o.fold_rows, "The store's fold threshold (rows)")
      ->check(CLI::Range(400, 100'000'000));
  app.add_option("--dir", o.dir, "Parent of the temporary data dirs");
  CLI11_PARSE(app, argc, argv);
  try {
    linewatch::bench::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_series: %s\n", e.what());
    return 1;
  }
  return 0;
}
