// A writer process killed with SIGKILL in the middle of its batches and
// folds must leave a database that is intact, holds an unbroken run of complete rows
// (samples and the events queued between them), a whole state value, and
// accepts new writes.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/sqlite.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using test::icmp_result;
using test::TempDir;
using test::wait_until;

ProbeResult numbered(std::int64_t seq, WallTime t) {
  // Echo RTTs derived from seq so every column can be checked against it.
  ProbeResult r = icmp_result("cn2", "la", t, {static_cast<int>(seq % 1000) + 1, 0, 777});
  r.detail = "seq " + std::to_string(seq);
  r.duration = std::chrono::microseconds(seq);
  return r;
}

// Queued right after sample 10 * n, so the two kinds interleave in the queue.
Event numbered_event(std::int64_t n, WallTime t) {
  return test::event(t, "score_moved", "cn2", "margin_held", "event " + std::to_string(n));
}

// The child: writes numbered rows as fast as the queue takes them, until
// killed; every tenth sample is followed by an event, and every sample by a
// save of its number.
[[noreturn]] void write_forever(const std::string& dir) {
  SystemClock clock;
  StorageOptions opt;
  opt.batch_max = 200;
  opt.flush_interval = 2ms;
  StoreTuning tuning;
  tuning.fold_rows = 1000;  // a fold every five batches: kills land between and inside folds
  auto store = Store::open(dir, opt, clock, tuning);
  if (!store) _exit(2);
  const auto end = std::chrono::steady_clock::now() + 30s;  // bounded even if never killed
  std::int64_t seq = 0;
  auto until_taken = [&](auto submit) {
    while (!submit() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(100us);
  };
  while (std::chrono::steady_clock::now() < end) {
    until_taken([&] { return (*store)->submit(numbered(seq, clock.wall_now())); });
    if (seq % 10 == 0)
      until_taken(
          [&] { return (*store)->submit_event(numbered_event(seq / 10, clock.wall_now())); });
    (*store)->save_state("last_seq", std::to_string(seq));
    ++seq;
  }
  _exit(3);
}

std::int64_t count_rows(const std::string& path) {
  auto db = Db::open(path, SQLITE_OPEN_READONLY, 1s);
  if (!db) return 0;  // not created yet
  auto n = db->query_int("SELECT COUNT(*) FROM samples", "count");
  return n ? *n : 0;
}

void crash_once(std::chrono::milliseconds extra) {
  TempDir dir;
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) write_forever(dir.path());

  const bool wrote = wait_until([&] { return count_rows(dir.db()) >= 2000; }, 15000ms);
  std::this_thread::sleep_for(extra);
  REQUIRE(kill(pid, SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(wrote);
  REQUIRE(WIFSIGNALED(status));  // killed mid-stream, not finished on its own
  CHECK(WTERMSIG(status) == SIGKILL);

  SystemClock clock;  // the child stamped real times; a fake one would make them expire
  auto reopened = Store::open(dir.path(), {}, clock);
  REQUIRE_MESSAGE(reopened, reopened.error().message);
  auto& store = **reopened;
  auto db = Db::open(dir.db(), SQLITE_OPEN_READONLY, 1s);
  REQUIRE(db);
  CHECK(*db->query_text("PRAGMA integrity_check", "integrity") == "ok");
  auto fk = db->prepare("PRAGMA foreign_key_check", "fk");
  REQUIRE(fk);
  CHECK(*fk->step() == false);  // no row: no dangling line or target ids
  // Folds ran before the kill, and none left a row in both tables or in neither.
  CHECK(*db->query_int("SELECT count(*) FROM samples_folded", "folded") >= 1000);
  CHECK(*db->query_int("SELECT count(*) FROM samples_folded JOIN samples_recent USING (id)",
                       "in both") == 0);
  CHECK(*db->query_int("SELECT count(DISTINCT id) = count(*) FROM samples", "unique ids") == 1);

  // Batches commit whole and in order, so the rows are exactly seq 0..n-1
  // each one complete.
  auto rows = store.samples({"cn2", "la", ProbeKind::icmp, {}, WallTime::max(), 10'000'000});
  REQUIRE(rows);
  const auto n = static_cast<std::int64_t>(rows->size());
  CHECK(n >= 2000);
  CHECK(*store.count() == n);
  int bad = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const ProbeResult& r = (*rows)[static_cast<std::size_t>(i)];
    const ProbeResult want = test::as_stored(numbered(i, r.time));
    if (bad == 0 && r.detail != want.detail) MESSAGE(r.detail << " != " << want.detail);
    bad += r.detail != want.detail || r.duration != want.duration || r.rtts != want.rtts ||
           r.rtt_avg != want.rtt_avg || r.received != 2;
  }
  CHECK(bad == 0);
  MESSAGE("killed after " << n << " committed rows");

  // Events commit in queue order with the samples around them: event k
  // follows sample 10k, so n samples carry events 0..(n-1)/10, the last one
  // possibly not yet.
  EventQuery all;
  all.limit = 10'000'000;
  auto events = store.events(all);
  REQUIRE(events);
  const auto m = static_cast<std::int64_t>(events->size());
  CHECK(m <= (n - 1) / 10 + 1);
  CHECK(m >= (n - 1) / 10);
  for (std::int64_t k = 0; k < m; ++k) {
    const Event& e = (*events)[static_cast<std::size_t>(m - 1 - k)];  // newest first
    if (e.detail != "event " + std::to_string(k)) {
      FAIL_CHECK("event " << k << " reads '" << e.detail << "'");
      break;
    }
  }
  // The state value is whole, and no older than the samples it was saved after.
  auto last = store.load_state("last_seq");
  REQUIRE(last);
  REQUIRE(last->has_value());
  CHECK(std::stoll(**last) >= n - 2);

  REQUIRE(store.submit(numbered(n, clock.wall_now())));
  REQUIRE(store.flush(10s));
  CHECK(*store.count() == n + 1);
}

TEST_CASE("SIGKILL in the middle of writing leaves an intact database of complete rows") {
  for (auto extra : {0ms, 7ms, 33ms, 61ms}) {
    CAPTURE(extra.count());
    crash_once(extra);
  }
}

}  // namespace
}  // namespace linewatch
