#include "storage/store.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "core/fake_clock.h"
#include "storage/test_util.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using test::check_same;
using test::icmp_result;
using test::open_store;
using test::TempDir;
using test::wait_until;

// A varied set of results across series: ICMP with lost echoes, an all-lost
// ICMP round, TCP with a connect phase, HTTP(S) with every phase and a cert,
// LLM rounds of both modes with their figures (429s, a missing model).
std::vector<ProbeResult> varied(WallTime t0) {
  std::vector<ProbeResult> v;
  for (int i = 0; i < 30; ++i) {
    const WallTime t = t0 + milliseconds(10'000LL * i + 7);
    v.push_back(icmp_result("cn2", "la", t, {812 + i, 0, 790, 1001, 0}));
    ProbeResult lost = icmp_result("cu-vip", "la", t, {0, 0, 0});
    lost.detail = "no reply";
    v.push_back(lost);

    ProbeResult tcp;
    tcp.line = "cn2";
    tcp.target = "openai";
    tcp.kind = ProbeKind::tcp;
    tcp.time = t;
    tcp.ok = i % 3 != 0;
    tcp.reason = tcp.ok ? Reason::ok : Reason::refused;
    tcp.detail = tcp.ok ? "" : "connect: Connection refused";
    tcp.phases.connect = microseconds(15'000 + i);
    tcp.rtt = tcp.phases.connect;
    tcp.duration = microseconds(15'100 + i);
    v.push_back(tcp);

    ProbeResult http;
    http.line = "cn2";
    http.target = "openai";
    http.kind = ProbeKind::http;
    http.time = t;
    http.ok = i % 5 != 0;
    http.reason = http.ok ? Reason::ok : Reason::http_status;
    http.http_status = http.ok ? 200 : 503;
    http.detail = http.ok ? "" : "status 503 not in [200]";
    http.phases = {microseconds(1200), microseconds(30'000 + i), microseconds(60'000),
                   microseconds(80'000), microseconds(2'500)};
    http.rtt = microseconds(173'700 + i);
    http.duration = microseconds(174'000 + i);
    http.cert_expiry = WallTime(milliseconds(1'900'000'000'123LL));
    http.body_bytes = 12'345 + static_cast<std::uint64_t>(i);
    v.push_back(http);

    v.push_back(test::llm_result("cn2", "openai", t, LlmMode::completion,
                                 i % 4 ? Reason::ok : Reason::rate_limited));
    v.push_back(test::llm_result("cu-vip", "openai", t, LlmMode::models,
                                 i % 7 ? Reason::ok : Reason::model_missing));
  }
  return v;
}

std::vector<ProbeResult> of_series(const std::vector<ProbeResult>& all, const std::string& line,
                                   const std::string& target, ProbeKind kind) {
  std::vector<ProbeResult> out;
  for (const auto& r : all)
    if (r.line == line && r.target == target && r.kind == kind) out.push_back(test::as_stored(r));
  return out;
}

TEST_CASE("results are read back field for field") {
  TempDir dir;
  FakeClock clock;
  auto store = open_store(dir, clock);
  const auto all = varied(clock.wall_now());
  for (const auto& r : all) REQUIRE(store->submit(r));
  REQUIRE(store->flush(10s));
  CHECK(*store->count() == static_cast<std::int64_t>(all.size()));

  struct S {
    const char *line, *target;
    ProbeKind kind;
  };
  for (const S s : {S{"cn2", "la", ProbeKind::icmp}, S{"cu-vip", "la", ProbeKind::icmp},
                    S{"cn2", "openai", ProbeKind::tcp}, S{"cn2", "openai", ProbeKind::http},
                    S{"cn2", "openai", ProbeKind::llm}, S{"cu-vip", "openai", ProbeKind::llm}}) {
    const std::string name =
        std::string(s.line) + "/" + s.target + "/" + std::string(to_string(s.kind));
    CAPTURE(name);
    const auto want = of_series(all, s.line, s.target, s.kind);
    auto got = store->samples({s.line, s.target, s.kind});
    REQUIRE(got);
    REQUIRE(got->size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) check_same((*got)[i], want[i]);
  }
  // A spot check that the lost echoes really are there, not only equal on both sides.
  auto first = store->samples({"cn2", "la", ProbeKind::icmp, {}, WallTime::max(), 1});
  REQUIRE(first);
  REQUIRE(first->size() == 1);
  REQUIRE(first->front().rtts.size() == 5);
  CHECK_FALSE(first->front().rtts[1].has_value());
  CHECK(first->front().received == 3);
  // And that the llm figures are read, not only absent on both sides.
  auto llm = store->samples({"cn2", "openai", ProbeKind::llm, {}, WallTime::max(), 1});
  REQUIRE(llm);
  REQUIRE(llm->size() == 1);
  REQUIRE(llm->front().llm.has_value());
  CHECK(llm->front().reason == Reason::rate_limited);
  CHECK(llm->front().llm->retry_after == std::optional<Duration>(17s));
  CHECK(llm->front().llm->ttft == std::optional<Duration>(microseconds(398'765)));
  auto latest = store->latest("cu-vip", "openai", ProbeKind::llm);
  REQUIRE(latest);
  REQUIRE(*latest);
  REQUIRE((*latest)->llm.has_value());
  CHECK((*latest)->llm->model_listed == std::optional<bool>(true));
  auto tcp = store->latest("cn2", "openai", ProbeKind::tcp);
  REQUIRE(tcp);
  CHECK_FALSE((**tcp).llm.has_value());
}

TEST_CASE("rounds queued while writes fail are read back field for field") {
  TempDir dir;
  FakeClock clock;
  StorageOptions options;
  options.batch_max = 25;  // several batches
  options.flush_interval = 5ms;
  StoreTuning tuning;
  tuning.busy_timeout = 50ms;
  tuning.retry_min = 10ms;
  tuning.retry_max = 40ms;
  auto store = open_store(dir, clock, options, tuning);
  REQUIRE(wait_until([&] { return store->stats().retention_runs == 1; }));  // not the one failing
  Db blocker = test::lock_exclusively(dir.db());
  auto all = varied(clock.wall_now());
  // Ids longer than a string keeps in itself, and nanoseconds the store cuts.
  const std::string line = "a-line-name-longer-than-any-short-string";
  const std::string target = "2001:db8:4006:80b::200e.example.net";
  for (int i = 0; i < 20; ++i) {
    ProbeResult r = icmp_result(line, target, clock.wall_now() + milliseconds(1000 * i + 3),
                                {900 + i, 0, 0, 1100, 950, 0, 1020});
    r.rtts[0] = *r.rtts[0] + std::chrono::nanoseconds(777);
    summarise_echoes(r);
    r.detail = i % 2 ? "" : "3 of 7 echoes lost";
    all.push_back(r);
  }
  for (const auto& r : all) REQUIRE(store->submit(r));
  REQUIRE(wait_until([&] { return store->stats().write_errors >= 2; }));  // queued, not written
  CHECK(store->stats().written == 0);
  REQUIRE(blocker.exec("ROLLBACK", "unlock"));
  REQUIRE(store->flush(10s));
  CHECK(store->stats().written == all.size());
  CHECK(*store->count() == static_cast<std::int64_t>(all.size()));

  struct S {
    std::string line, target;
    ProbeKind kind;
  };
  for (const S& s : {S{"cn2", "la", ProbeKind::icmp}, S{"cu-vip", "la", ProbeKind::icmp},
                     S{"cn2", "openai", ProbeKind::tcp}, S{"cn2", "openai", ProbeKind::http},
                     S{"cn2", "openai", ProbeKind::llm}, S{"cu-vip", "openai", ProbeKind::llm},
                     S{line, target, ProbeKind::icmp}}) {
    CAPTURE(s.line);
    CAPTURE(s.target);
    CAPTURE(s.kind);
    const auto want = of_series(all, s.line, s.target, s.kind);
    auto got = store->samples({s.line, s.target, s.kind});
    REQUIRE(got);
    REQUIRE(got->size() == want.size());
    REQUIRE_FALSE(want.empty());
    for (std::size_t i = 0; i < want.size(); ++i) check_same((*got)[i], want[i]);
  }
}

TEST_CASE("queries: time range, limit, newest, series, latest, unknown names") {
  TempDir dir;
  FakeClock clock;
  auto store = open_store(dir, clock);
  const WallTime t0 = clock.wall_now();
  const auto all = varied(t0);
  for (const auto& r : all) REQUIRE(store->submit(r));
  REQUIRE(store->flush(10s));

  SampleQuery q{"cn2", "openai", ProbeKind::http};
  q.from = t0 + milliseconds(20'007);  // rows 2.. (inclusive)
  q.to = t0 + milliseconds(50'007);    // ..4 (exclusive)
  auto range = store->samples(q);
  REQUIRE(range);
  REQUIRE(range->size() == 3);
  CHECK(range->front().time == q.from);
  CHECK(range->back().time == t0 + milliseconds(40'007));

  q = {"cn2", "openai", ProbeKind::tcp, {}, WallTime::max(), 4, true};
  auto newest = store->samples(q);
  REQUIRE(newest);
  REQUIRE(newest->size() == 4);
  CHECK(newest->front().time == t0 + milliseconds(260'007));  // oldest of the newest four first
  CHECK(newest->back().time == t0 + milliseconds(290'007));

  auto series = store->series();
  REQUIRE(series);
  REQUIRE(series->size() == 6);
  CHECK((*series)[0].line == "cn2");
  CHECK((*series)[0].target == "la");
  CHECK((*series)[0].kind == ProbeKind::icmp);
  CHECK((*series)[1].target == "openai");
  CHECK((*series)[1].kind == ProbeKind::tcp);
  CHECK((*series)[2].kind == ProbeKind::http);
  CHECK((*series)[3].kind == ProbeKind::llm);
  CHECK((*series)[4].line == "cu-vip");
  CHECK((*series)[5].kind == ProbeKind::llm);
  for (const auto& s : *series) CHECK(s.latest == t0 + milliseconds(290'007));

  auto latest = store->latest("cn2", "openai", ProbeKind::http);
  REQUIRE(latest);
  REQUIRE(latest->has_value());
  check_same(**latest, test::as_stored(of_series(all, "cn2", "openai", ProbeKind::http).back()));

  auto none = store->latest("nope", "la", ProbeKind::icmp);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  auto empty = store->samples({"cn2", "la", ProbeKind::http});
  REQUIRE(empty);
  CHECK(empty->empty());
}

TEST_CASE("flush and stop: partial batches wait for flush_interval or a flush()") {
  TempDir dir;
  FakeClock clock;
  StorageOptions opt;
  opt.flush_interval = 1h;  // only flush()/stop() can write a partial batch
  opt.batch_max = 10;
  auto store = open_store(dir, clock, opt);
  const WallTime t = clock.wall_now();
  for (int i = 0; i < 25; ++i) REQUIRE(store->submit(icmp_result("l", "t", t, {100})));
  // Two full batches go without being asked; the 5 left wait.
  REQUIRE(wait_until([&] { return store->stats().written == 20; }));
  std::this_thread::sleep_for(100ms);
  auto s = store->stats();
  CHECK(s.written == 20);
  CHECK(s.batches == 2);
  CHECK(s.pending == 5);
  CHECK(*store->count() == 20);

  CHECK(store->flush(10s));
  s = store->stats();
  CHECK(s.written == 25);
  CHECK(s.batches == 3);
  CHECK(s.pending == 0);
  CHECK(*store->count() == 25);

  for (int i = 0; i < 3; ++i) REQUIRE(store->submit(icmp_result("l", "t", t, {100})));
  store->stop();
  CHECK(*store->count() == 28);
  CHECK_FALSE(store->submit(icmp_result("l", "t", t, {100})));
  store->stop();            // idempotent
  CHECK(store->flush(1s));  // nothing pending
  s = store->stats();
  CHECK(s.submitted == 28);
  CHECK(s.written == 28);
  CHECK(s.batches == 4);
  CHECK(s.dropped == 1);
  CHECK(s.write_errors == 0);
  CHECK(s.lost == 0);
  CHECK(s.last_error.empty());
}

TEST_CASE("a partial batch is written after flush_interval without a flush()") {
  TempDir dir;
  FakeClock clock;
  StorageOptions opt;
  opt.flush_interval = 150ms;
  auto store = open_store(dir, clock, opt);
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(store->submit(icmp_result("l", "t", clock.wall_now(), {100})));
  REQUIRE(wait_until([&] { return store->stats().written == 1; }, 5000ms));
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 140ms);
  CHECK(took < 2s);
  CHECK(store->stats().batches == 1);
}

TEST_CASE("retention deletes rows older than now - retention on the injected clock") {
  TempDir dir;
  FakeClock clock;
  StorageOptions opt;
  opt.retention = 1h;
  StoreTuning tuning;
  tuning.retention_every = 1min;
  tuning.retention_chunk = 7;  // several chunks per pass
  tuning.idle_poll = 5ms;
  auto store = open_store(dir, clock, opt, tuning);
  REQUIRE(wait_until([&] { return store->stats().retention_runs == 1; }));  // the pass at start

  const WallTime now = clock.wall_now();
  for (int i = 0; i < 20; ++i)
    REQUIRE(store->submit(icmp_result("l", "old", now - 2h + milliseconds(i), {100})));
  for (int i = 0; i < 10; ++i)
    REQUIRE(store->submit(icmp_result("l", "recent", now - 30min + milliseconds(i), {100})));
  // llm figures live in a table of their own and leave with their samples.
  for (int i = 0; i < 4; ++i)
    REQUIRE(store->submit(
        test::llm_result("l", "api", now - (i < 3 ? 2h : 30min), LlmMode::completion)));
  REQUIRE(store->flush(10s));
  std::this_thread::sleep_for(50ms);  // the clock has not moved: no pass is due
  CHECK(store->stats().retention_runs == 1);
  CHECK(*store->count() == 34);
  auto llm_rows = [&] {
    auto db = Db::open(dir.db(), SQLITE_OPEN_READONLY, 1s);
    REQUIRE(db);
    return *db->query_int("SELECT count(*) FROM llm_samples", "count llm rows");
  };
  CHECK(llm_rows() == 4);

  clock.advance(1min);
  REQUIRE(wait_until([&] { return store->stats().retention_runs == 2; }));
  CHECK(*store->count() == 11);
  CHECK(store->stats().retention_deleted == 23);
  CHECK(store->samples({"l", "recent", ProbeKind::icmp})->size() == 10);
  CHECK(llm_rows() == 1);
  auto kept = store->samples({"l", "api", ProbeKind::llm});
  REQUIRE(kept);
  REQUIRE(kept->size() == 1);
  CHECK(kept->front().llm.has_value());

  clock.advance(40min);  // the "recent" rows are now 71 minutes old
  REQUIRE(wait_until([&] { return store->stats().retention_runs == 3; }));
  CHECK(*store->count() == 0);
  CHECK(store->stats().retention_deleted == 34);
  CHECK(llm_rows() == 0);
  CHECK(store->stats().write_errors == 0);
}

TEST_CASE("reads from several threads run beside the writer and see only whole batches") {
  TempDir dir;
  FakeClock clock;
  StorageOptions opt;
  opt.batch_max = 50;
  opt.flush_interval = 1h;  // only full batches of 50
  auto store = open_store(dir, clock, opt);
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int k = 0; k < 3; ++k)
    readers.emplace_back([&] {
      std::int64_t last = 0;
      while (!done) {
        auto n = store->count();
        auto rows = store->samples({"l", "t", ProbeKind::icmp, {}, WallTime::max(), 100000});
        auto series = store->series();
        // Counts never go back, and a snapshot never holds part of a batch.
        if (!n || !rows || !series || *n < last || rows->size() % 50 != 0) ++failures;
        if (n) last = *n;
      }
    });
  for (int i = 0; i < 3000; ++i) {
    while (!store->submit(icmp_result("l", "t", clock.wall_now(), {100 + i})))
      std::this_thread::sleep_for(1ms);
    if (i % 50 == 49) REQUIRE(store->flush(10s));  // paces the writes; batches stay at 50
  }
  done = true;
  for (auto& t : readers) t.join();
  CHECK(failures == 0);
  CHECK(*store->count() == 3000);
  CHECK(store->stats().batches == 60);
}

}  // namespace
}  // namespace linewatch
