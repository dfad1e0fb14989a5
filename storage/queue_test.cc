// The bounded queue and write errors, with the database really locked by a
// second connection holding BEGIN EXCLUSIVE.
#include <doctest/doctest.h>

#include "core/fake_clock.h"
#include "core/round_codec.h"
#include "storage/sqlite.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using test::icmp_result;
using test::lock_exclusively;
using test::TempDir;
using test::wait_until;

struct Locked {
  StorageOptions options;
  StoreTuning tuning;
  Locked() {
    options.queue_capacity = 100;
    options.batch_max = 10;
    options.flush_interval = 5ms;
    tuning.busy_timeout = 50ms;
    tuning.retry_min = 10ms;
    tuning.retry_max = 40ms;
  }
};

TEST_CASE("a full queue refuses without blocking, counts drops, and loses nothing accepted") {
  TempDir dir;
  FakeClock clock;
  Locked cfg;
  auto opened = Store::open(dir.path(), cfg.options, clock, cfg.tuning);
  REQUIRE_MESSAGE(opened, opened.error().message);
  auto& store = **opened;
  REQUIRE(wait_until([&] { return store.stats().retention_runs == 1; }));  // keep stats exact
  Db blocker = lock_exclusively(dir.db());

  const int total = 150;
  int accepted = 0;
  std::vector<bool> took(total);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < total; ++i) {
    ProbeResult r = icmp_result("l", "t", clock.wall_now(), {100 + i});
    r.detail = std::to_string(i);
    took[i] = store.submit(std::move(r));
    accepted += took[i];
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < 50ms);
  CHECK(accepted == 100);
  for (int i = 0; i < total; ++i) CHECK(took[i] == (i < 100));  // the excess, not random ones

  // The writer keeps trying, and says why it cannot.
  REQUIRE(wait_until([&] { return store.stats().write_errors >= 2; }));
  auto s = store.stats();
  CHECK(s.submitted == 100);
  CHECK(s.dropped == 50);
  CHECK(s.written == 0);
  CHECK(s.pending == 100);
  CHECK(s.last_error.find(dir.db()) != std::string::npos);
  CHECK(s.last_error.find("locked") != std::string::npos);
  CHECK(*store.count() == 0);  // reads still work under WAL while writes are locked out
  CHECK_FALSE(store.flush(100ms));

  REQUIRE(blocker.exec("ROLLBACK", "unlock"));
  REQUIRE(store.flush(10s));
  s = store.stats();
  CHECK(s.written == 100);
  CHECK(s.pending == 0);
  CHECK(s.lost == 0);
  auto rows = store.samples({"l", "t", ProbeKind::icmp});
  REQUIRE(rows);
  REQUIRE(rows->size() == 100);
  for (int i = 0; i < 100; ++i) CHECK((*rows)[i].detail == std::to_string(i));
}

TEST_CASE(
    "stop() on a database that stays locked gives up after stop_timeout and counts the loss") {
  TempDir dir;
  FakeClock clock;
  Locked cfg;
  cfg.tuning.stop_timeout = 300ms;
  auto opened = Store::open(dir.path(), cfg.options, clock, cfg.tuning);
  REQUIRE_MESSAGE(opened, opened.error().message);
  auto& store = **opened;
  for (int i = 0; i < 5; ++i) REQUIRE(store.submit(icmp_result("l", "t", clock.wall_now(), {1})));
  REQUIRE(store.flush(10s));
  Db blocker = lock_exclusively(dir.db());
  for (int i = 0; i < 30; ++i) REQUIRE(store.submit(icmp_result("l", "t", clock.wall_now(), {1})));
  const auto start = std::chrono::steady_clock::now();
  store.stop();
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 250ms);
  CHECK(took < 3s);
  auto s = store.stats();
  CHECK(s.written == 5);
  CHECK(s.lost == 30);
  CHECK(s.pending == 0);
  CHECK(s.write_errors > 0);
  CHECK_FALSE(store.flush(100ms));  // those 30 never made it
  REQUIRE(blocker.exec("ROLLBACK", "unlock"));
  CHECK(*store.count() == 5);
}

TEST_CASE("a write error does not kill the writer: it recovers when the lock goes") {
  TempDir dir;
  FakeClock clock;
  Locked cfg;
  auto opened = Store::open(dir.path(), cfg.options, clock, cfg.tuning);
  REQUIRE_MESSAGE(opened, opened.error().message);
  auto& store = **opened;
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    Db blocker = lock_exclusively(dir.db());
    const auto errors = store.stats().write_errors;
    for (int i = 0; i < 7; ++i) REQUIRE(store.submit(icmp_result("l", "t", clock.wall_now(), {1})));
    REQUIRE(wait_until([&] { return store.stats().write_errors > errors; }));
    REQUIRE(blocker.exec("ROLLBACK", "unlock"));
    REQUIRE(store.flush(10s));
    CHECK(*store.count() == 7 * (round + 1));
  }
  CHECK(store.stats().lost == 0);
}

TEST_CASE("events and bandwidth share the queue bound and count their drops apart") {
  TempDir dir;
  FakeClock clock;
  Locked cfg;
  auto opened = Store::open(dir.path(), cfg.options, clock, cfg.tuning);
  REQUIRE_MESSAGE(opened, opened.error().message);
  auto& store = **opened;
  Db blocker = lock_exclusively(dir.db());
  const WallTime t = clock.wall_now();
  // 100 fit: 60 results, 30 events, 10 bandwidth samples.
  for (int i = 0; i < 60; ++i) REQUIRE(store.submit(icmp_result("l", "t", t, {1})));
  for (int i = 0; i < 30; ++i)
    REQUIRE(store.submit_event(test::event(t, "line_down", "l", "silence", std::to_string(i))));
  for (int i = 0; i < 10; ++i) REQUIRE(store.submit_bandwidth("l", t, 1, 1));
  for (int i = 0; i < 5; ++i) CHECK_FALSE(store.submit_event(test::event(t, "line_up", "l")));
  for (int i = 0; i < 3; ++i) CHECK_FALSE(store.submit_bandwidth("l", t, 1, 1));
  for (int i = 0; i < 2; ++i) CHECK_FALSE(store.submit(icmp_result("l", "t", t, {1})));
  REQUIRE(wait_until([&] { return store.stats().write_errors >= 1; }));
  auto s = store.stats();
  CHECK(s.pending == 100);
  CHECK(s.dropped == 2);
  CHECK(s.events_dropped == 5);
  CHECK(s.bandwidth_dropped == 3);
  CHECK(s.events_submitted == 30);
  CHECK(s.bandwidth_submitted == 10);

  REQUIRE(blocker.exec("ROLLBACK", "unlock"));
  REQUIRE(store.flush(10s));
  s = store.stats();
  CHECK(s.written == 60);
  CHECK(s.events_written == 30);
  CHECK(s.bandwidth_written == 10);
  auto events = store.events({});
  REQUIRE(events);
  REQUIRE(events->size() == 30);
  CHECK(events->front().detail == "29");  // every accepted one, none of the refused
  CHECK(store.bandwidth({"l"})->size() == 10);
}

TEST_CASE("stop() on a locked database counts lost events, bandwidth and state apart") {
  TempDir dir;
  FakeClock clock;
  Locked cfg;
  cfg.tuning.stop_timeout = 200ms;
  auto opened = Store::open(dir.path(), cfg.options, clock, cfg.tuning);
  REQUIRE_MESSAGE(opened, opened.error().message);
  auto& store = **opened;
  Db blocker = lock_exclusively(dir.db());
  const WallTime t = clock.wall_now();
  for (int i = 0; i < 4; ++i) REQUIRE(store.submit(icmp_result("l", "t", t, {1})));
  for (int i = 0; i < 3; ++i) REQUIRE(store.submit_event(test::event(t, "line_down", "l")));
  for (int i = 0; i < 2; ++i) REQUIRE(store.submit_bandwidth("l", t, 1, 1));
  REQUIRE(store.save_state("route_plan", "{}"));
  REQUIRE(store.save_state("plan_version", "1"));
  store.stop();
  const auto s = store.stats();
  CHECK(s.lost == 4);
  CHECK(s.events_lost == 3);
  CHECK(s.bandwidth_lost == 2);
  CHECK(s.state_lost == 2);
  CHECK(s.pending == 0);
  CHECK(s.state_pending == 0);
  CHECK(s.written + s.events_written + s.bandwidth_written + s.state_written == 0);
  CHECK_FALSE(store.flush(100ms));
  REQUIRE(blocker.exec("ROLLBACK", "unlock"));
  CHECK(store.events({})->empty());
}

TEST_CASE("a queued ICMP round holds at most 128 bytes besides its encoding") {
  TempDir dir;
  FakeClock clock;
  Locked cfg;
  auto opened = Store::open(dir.path(), cfg.options, clock, cfg.tuning);
  REQUIRE_MESSAGE(opened, opened.error().message);
  auto& store = **opened;
  Db blocker = lock_exclusively(dir.db());
  // Five echoes, two lost, ids as short as most: the commonest row at scale.
  const ProbeResult r = icmp_result("cn2", "198.18.0.1", clock.wall_now(), {812, 0, 790, 1001, 0});
  std::vector<std::uint8_t> encoded;
  encode_round(r, encoded);
  const int rows = 100;
  for (int i = 0; i < rows; ++i) REQUIRE(store.submit(r));
  REQUIRE(wait_until([&] { return store.stats().write_errors >= 1; }));  // a batch in flight too
  auto s = store.stats();
  REQUIRE(s.pending == rows);
  CAPTURE(s.queued_bytes);
  CAPTURE(encoded.size());
  CHECK(s.queued_bytes <= rows * (128 + encoded.size()));
  CHECK(s.queued_bytes >= rows * encoded.size());  // the encodings are counted

  REQUIRE(blocker.exec("ROLLBACK", "unlock"));
  REQUIRE(store.flush(10s));
  s = store.stats();
  CHECK(s.written == rows);
  CHECK(s.queued_bytes == 0);
}

}  // namespace
}  // namespace linewatch
