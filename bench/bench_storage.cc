// bench_storage: rows per second the storage writer sustains on this machine,
// and bytes on disk per stored result.
//
// Realistic results (ICMP rounds with 5 echoes and their summary; HTTP rounds
// with dns/connect/tls/ttfb/transfer phases, status, certificate expiry) for
// `lines` × `targets` series go through the real Store in a temporary data
// directory, removed afterwards.
//
//  1. Raw: one thread submits as fast as submit() returns for --raw-seconds
//     (or --max-rows). The queue fills and the rest is dropped; rows written
//     in the window / window length is the writer's maximum rate.
//  2. Paced: submits at a fixed rate for --paced-seconds, starting at
//     --paced-rate (default 80 % of the raw rate) and halving, at most three
//     tries, until a run has no drops: that rate is sustainable.
//     Each run also prints, per row stored, the writer thread's CPU (the
//     process's less the submitting thread's) and its wall time inside
//     committed batches (WriterStats::batch_time_total) and in folds
//     (fold_time_total): the cost of storing a row, steadier than rows/s on a
//     shared machine where the submitting thread and other work compete with
//     the writer for the cores. The CPU is counted up to the store's close,
//     so it includes the fold at stop.
//  3. Size: the raw run's files (db + WAL + shm, after the Store closed and
//     checkpointed) divided by the rows stored.
//
// Flags:
//   --raw-seconds S     raw run length, default 10
//   --max-rows N        raw run stops after N submits (accepted or dropped),
//                       default 4,000,000,000 (the time bound comes first)
//   --paced-seconds S   each paced run's length, default 8
//   --paced-rate R      first paced rate in rows/s; 0 = 80 % of raw, default 0
//   --lines L           lines, default 4
//   --targets T         targets, default 50
//   --http-share F      fraction of HTTP results (the rest ICMP), default 0.2
//   --queue Q           storage queue capacity, default 65536
//   --batch B           rows per transaction, default 1000
//   --fold-rows N       fold samples_recent into the indexed table at N rows
//                       (StoreTuning::fold_rows), default the store's
//   --fold-age S        ... or when its oldest batch is S seconds old
//                       (StoreTuning::fold_age), default the store's
//   --dir PATH          parent of the temporary data dirs, default /tmp
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <thread>

#include "bench/bench_util.h"
#include "storage/store.h"
#include "tests/support/temp_dir.h"

namespace linewatch::bench {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

struct Options {
  double raw_s = 10;
  std::uint64_t max_rows = 4'000'000'000;
  double paced_s = 8;
  double paced_rate = 0;
  int lines = 4;
  int targets = 50;
  double http_share = 0.2;
  std::size_t queue = 65536;
  std::size_t batch = 1000;
  std::optional<std::size_t> fold_rows;
  std::optional<double> fold_age_s;
  std::string dir = "/tmp";
};

// A mkdtemp directory under `parent`, removed with its contents on destruction.
using TempDir = linewatch::testing::TempDir;

ProbeResult icmp_sample(std::mt19937& rng, const std::string& line, const std::string& target) {
  std::uniform_int_distribution<int> base(5'000, 80'000), jitter(0, 3'000), lost(0, 99);
  ProbeResult r;
  r.line = line;
  r.target = target;
  r.kind = ProbeKind::icmp;
  const int b = base(rng);
  for (int i = 0; i < 5; ++i) {
    if (lost(rng) < 2)
      r.rtts.push_back(std::nullopt);
    else
      r.rtts.push_back(microseconds(b + jitter(rng)));
  }
  summarise_echoes(r);
  r.ok = r.received > 0;
  r.reason = r.ok ? Reason::ok : Reason::timeout;
  if (!r.ok) r.detail = "no reply from 192.0.2.1 to 5 echo requests";
  r.duration = milliseconds(800) + microseconds(b);
  return r;
}

ProbeResult http_sample(std::mt19937& rng, const std::string& line, const std::string& target) {
  std::uniform_int_distribution<int> us(1'000, 90'000), fail(0, 99);
  ProbeResult r;
  r.line = line;
  r.target = target;
  r.kind = ProbeKind::http;
  r.phases.dns = microseconds(us(rng) / 10);
  r.phases.connect = microseconds(us(rng));
  r.phases.tls = microseconds(us(rng) * 2);
  r.phases.ttfb = microseconds(us(rng));
  r.phases.transfer = microseconds(us(rng) / 5);
  r.rtt = *r.phases.dns + *r.phases.connect + *r.phases.tls + *r.phases.ttfb + *r.phases.transfer;
  r.duration = *r.rtt + microseconds(50);
  r.http_status = fail(rng) < 3 ? 503 : 200;
  r.ok = r.http_status == 200;
  r.reason = r.ok ? Reason::ok : Reason::http_status;
  if (!r.ok) r.detail = "status 503 not in the expected set";
  r.cert_expiry = std::chrono::system_clock::now() + std::chrono::hours(24 * 60);
  r.body_bytes = 1024 + static_cast<std::uint64_t>(us(rng) % 4096);
  return r;
}

// A pool of results across every series, copied on submit so building them
// does not count against the writer.
std::vector<ProbeResult> make_pool(const Options& o) {
  std::mt19937 rng(42);
  std::bernoulli_distribution http(o.http_share);
  std::vector<ProbeResult> pool;
  const int series = o.lines * o.targets;
  for (int i = 0; i < std::max(4096, series); ++i) {
    const std::string line = "line-" + std::to_string(i % o.lines);
    const std::string target = "target-" + std::to_string((i / o.lines) % o.targets);
    pool.push_back(http(rng) ? http_sample(rng, line, target) : icmp_sample(rng, line, target));
  }
  return pool;
}

std::unique_ptr<Store> open_store(const Options& o, const std::string& dir, const Clock& clock) {
  StorageOptions so;
  so.queue_capacity = o.queue;
  so.batch_max = o.batch;
  StoreTuning tuning;
  if (o.fold_rows) tuning.fold_rows = *o.fold_rows;
  if (o.fold_age_s)
    tuning.fold_age =
        std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*o.fold_age_s));
  auto store = Store::open(dir, so, clock, tuning);
  if (!store) throw std::runtime_error(store.error().message);
  return std::move(store).value();
}

struct RunFigures {
  double rate = 0;  // target rows/s (paced) or 0 (raw)
  double seconds = 0;
  std::uint64_t submitted = 0, dropped = 0, written = 0;  // written within the window
  std::size_t max_pending = 0;
  double flush_s = 0;  // after the window, until everything accepted was committed
  double cpu_s = 0;
  double writer_cpu_s = 0;  // the process's CPU less the submitting thread's: the writer thread
  double busy_s = 0;        // the writer's time inside committed batches (begin to commit)
  double fold_s = 0;        // ... and inside folds
  std::uint64_t folds = 0;
  std::int64_t rows = 0;
  std::uintmax_t bytes = 0;
  double written_per_s() const { return seconds > 0 ? static_cast<double>(written) / seconds : 0; }
};

// Submits from `pool` for `seconds`: flat out when rate is 0, else in 1 ms ticks.
RunFigures submit_run(const Options& o, const std::vector<ProbeResult>& pool, double seconds,
                      double rate) {
  const SystemClock clock;
  TempDir dir("linewatch-bench", o.dir);
  RunFigures f;
  f.rate = rate;
  {
    auto store = open_store(o, dir.path(), clock);
    const WallTime t0 = clock.wall_now() - std::chrono::hours(1);
    const double cpu0 = cpu_seconds();
    const double main_cpu0 = cpu_seconds(RUSAGE_THREAD);
    const MonoTime start = Steady::now();
    const MonoTime end =
        start + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
    std::uint64_t i = 0;
    auto submit_one = [&] {
      ProbeResult r = pool[i % pool.size()];
      r.time = t0 + milliseconds(i / 8);
      store->submit(std::move(r));
      ++i;
    };
    if (rate <= 0) {
      while (i < o.max_rows && ((i & 255) != 0 || Steady::now() < end)) submit_one();
    } else {
      MonoTime tick = start;
      const double per_tick = rate / 1000.0;
      double owed = 0;
      while (tick < end) {
        owed += per_tick;
        for (; owed >= 1.0; owed -= 1.0) submit_one();
        f.max_pending = std::max(f.max_pending, store->stats().pending);
        tick += milliseconds(1);
        std::this_thread::sleep_until(tick);
      }
    }
    const MonoTime stopped = Steady::now();
    f.seconds = std::chrono::duration<double>(stopped - start).count();
    const WriterStats s = store->stats();
    f.submitted = s.submitted;
    f.dropped = s.dropped;
    f.written = s.written;
    if (!store->flush(std::chrono::seconds(120))) throw std::runtime_error("flush timed out");
    f.flush_s = std::chrono::duration<double>(Steady::now() - stopped).count();
    auto rows = store->count();
    if (!rows) throw std::runtime_error(rows.error().message);
    f.rows = *rows;
    store->stop();  // with its last fold
    f.cpu_s = cpu_seconds() - cpu0;
    f.writer_cpu_s = f.cpu_s - (cpu_seconds(RUSAGE_THREAD) - main_cpu0);
    const WriterStats done = store->stats();
    f.busy_s = std::chrono::duration<double>(done.batch_time_total).count();
    f.fold_s = std::chrono::duration<double>(done.fold_time_total).count();
    f.folds = done.folds;
  }  // the last connection closed: the WAL is checkpointed
  f.bytes = dir.bytes();
  return f;
}

std::string count(std::uint64_t n) { return fmt("%llu", static_cast<unsigned long long>(n)); }

void print_runs(const std::vector<RunFigures>& runs) {
  Table t({"run", "s", "submitted", "dropped", "written in window", "rows/s written", "max pending",
           "flush s", "CPU s", "writer CPU µs/row", "writer busy µs/row", "folds", "fold µs/row"});
  for (const auto& r : runs) {
    t.add({r.rate > 0 ? fmt("paced %.0f/s", r.rate) : "raw (flat out)", fmt("%.1f", r.seconds),
           count(r.submitted), count(r.dropped), count(r.written), fmt("%.0f", r.written_per_s()),
           r.rate > 0 ? count(r.max_pending) : "-", fmt("%.2f", r.flush_s), fmt("%.2f", r.cpu_s),
           r.rows > 0 ? fmt("%.2f", 1e6 * r.writer_cpu_s / static_cast<double>(r.rows)) : "-",
           r.rows > 0 ? fmt("%.2f", 1e6 * r.busy_s / static_cast<double>(r.rows)) : "-",
           count(r.folds),
           r.rows > 0 ? fmt("%.2f", 1e6 * r.fold_s / static_cast<double>(r.rows)) : "-"});
  }
  t.print("bench_storage runs");
}

int run(const Options& o) {
  const auto pool = make_pool(o);
  std::printf("bench_storage: %d lines x %d targets, %.0f %% HTTP, queue %zu, batch %zu, in %s\n",
              o.lines, o.targets, 100 * o.http_share, o.queue, o.batch, o.dir.c_str());
  std::fflush(stdout);
  std::vector<RunFigures> runs;
  runs.push_back(submit_run(o, pool, o.raw_s, 0));
  const RunFigures raw = runs.back();
  double rate = o.paced_rate > 0 ? o.paced_rate : 0.8 * raw.written_per_s();
  std::optional<double> sustained;
  for (int attempt = 0; attempt < 3 && rate >= 1; ++attempt, rate /= 2) {
    runs.push_back(submit_run(o, pool, o.paced_s, rate));
    if (runs.back().dropped == 0) {
      sustained = rate;
      break;
    }
  }
  print_runs(runs);

  Table t({"figure", "value"});
  t.add({"raw maximum (rows/s written, queue full)", fmt("%.0f", raw.written_per_s())});
  t.add({"sustained without drops (rows/s)", sustained ? fmt("%.0f", *sustained) : "none found"});
  t.add({"rows stored (raw run)", fmt("%lld", static_cast<long long>(raw.rows))});
  t.add({"db + WAL bytes after close", count(raw.bytes)});
  t.add({"bytes per stored result",
         raw.rows > 0 ? fmt("%.1f", static_cast<double>(raw.bytes) / static_cast<double>(raw.rows))
                      : "n/a"});
  // The raw run's CPU is mostly the submit loop spinning on a full queue, so
  // the paced no-drop run is the one that says what storing costs.
  if (sustained) {
    const RunFigures& paced = runs.back();
    t.add({"process CPU per 1,000 rows (ms, paced no-drop run)",
           paced.rows > 0 ? fmt("%.1f", 1e6 * paced.cpu_s / static_cast<double>(paced.rows))
                          : "n/a"});
  }
  t.print("bench_storage figures");
  return 0;
}

}  // namespace
}  // namespace linewatch::bench

int main(int argc, char** argv) {
  linewatch::bench::Options o;
  CLI::App app{"Storage writer throughput (raw and paced) and bytes per stored result"};
  // Later flags win, so bench/run.sh can append overrides to its defaults.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--raw-seconds", o.raw_s, "raw run length (s)")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--max-rows", o.max_rows, "raw run stops after this many submits");
  app.add_option("--paced-seconds", o.paced_s, "each paced run's length (s)")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--paced-rate", o.paced_rate, "first paced rate (rows/s); 0 = 80 % of raw")
      ->check(CLI::Range(0.0, 1e8));
  app.add_option("--lines", o.lines, "lines")->check(CLI::Range(1, 1000));
  app.add_option("--targets", o.targets, "targets")->check(CLI::Range(1, 100000));
  app.add_option("--http-share", o.http_share, "fraction of HTTP results")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--queue", o.queue, "storage queue capacity")->check(CLI::Range(1, 10'000'000));
  app.add_option("--batch", o.batch, "rows per transaction")->check(CLI::Range(1, 1'000'000));
  app.add_option("--fold-rows", o.fold_rows, "fold recent rows at this many")
      ->check(CLI::Range(1, 100'000'000));
  app.add_option("--fold-age", o.fold_age_s, "fold recent rows this old (s)")
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--dir", o.dir, "parent of the temporary data dirs")
      ->check(CLI::ExistingDirectory);
  CLI11_PARSE(app, argc, argv);
  try {
    return linewatch::bench::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_storage: %s\n", e.what());
    return 1;
  }
}
