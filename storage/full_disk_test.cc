// A full database, for real: StoreTuning::max_db_bytes sets SQLite's
// max_page_count on the writer's connection, so SQLite itself fails with
// SQLITE_FULL "database or disk is full". Space is freed the way an operator
// would: by deleting rows through another connection.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/fake_clock.h"
#include "storage/sqlite.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using test::icmp_result;
using test::TempDir;
using test::wait_until;

// Events from the writer thread, read by the test.
class Events {
 public:
  void add(const StoreEvent& e) {
    std::lock_guard lk(mu_);
    v_.push_back(e);
  }
  std::size_t size() const {
    std::lock_guard lk(mu_);
    return v_.size();
  }
  StoreEvent at(std::size_t i) const {
    std::lock_guard lk(mu_);
    return v_.at(i);
  }

 private:
  mutable std::mutex mu_;
  std::vector<StoreEvent> v_;
};

struct Small {
  StorageOptions options;
  StoreTuning tuning;
  Small(Events& events) {
    options.queue_capacity = 10'000;
    options.batch_max = 50;
    options.flush_interval = 2ms;
    tuning.retry_min = 5ms;
    tuning.retry_max = 20ms;
    tuning.failing_queue = 100;
    tuning.max_db_bytes = 128 * 1024;  // 32 pages: the schema (16) and a few hundred rows
    tuning.on_state_change = [&events](const StoreEvent& e) { events.add(e); };
  }
};

std::unique_ptr<Store> open_store(const TempDir& dir, const Clock& clock, const Small& cfg) {
  auto s = Store::open(dir.path(), cfg.options, clock, cfg.tuning);
  REQUIRE_MESSAGE(s, s.error().message);
  return std::move(*s);
}

// Submits rows until the store says it is failing; bounded.
void fill(Store& store, const Clock& clock) {
  for (int i = 0; i < 20'000 && store.stats().state == StoreState::ok; ++i) {
    store.submit(icmp_result("cn2", "la", clock.wall_now(), {800 + i % 100, 0, 790}));
    if (i % 50 == 49) std::this_thread::sleep_for(1ms);  // let batches commit
  }
  REQUIRE(wait_until([&] { return store.stats().state == StoreState::failing; }));
}

// Deletes every row through a connection of the test's own: the pages go to
// the free list, where the writer can use them again.
void free_space(const TempDir& dir) {
  auto db = Db::open(dir.db(), SQLITE_OPEN_READWRITE, 5s);
  REQUIRE_MESSAGE(db, db.error().message);
  auto s = db->exec("DELETE FROM samples", "free space");
  REQUIRE_MESSAGE(s, s.error().message);
}

void check_failing_event(const StoreEvent& e, const TempDir& dir) {
  CHECK(e.state == StoreState::failing);
  CHECK(e.error == "database or disk is full");
  CHECK(e.sqlite_code == SQLITE_FULL);
  CHECK_FALSE(e.operation.empty());
  CHECK(e.file == dir.db());
}

TEST_CASE("a full database reports failing once and recovered once per episode") {
  TempDir dir;
  FakeClock clock;
  Events events;
  Small cfg(events);
  auto store = open_store(dir, clock, cfg);

  for (std::size_t episode = 0; episode < 2; ++episode) {
    CAPTURE(episode);
    const WriterStats before = store->stats();
    fill(*store, clock);
    // Many retries, still one event.
    const auto errors = store->stats().write_errors;
    REQUIRE(wait_until([&] { return store->stats().write_errors >= errors + 5; }));
    REQUIRE(events.size() == 2 * episode + 1);
    const StoreEvent failing = events.at(2 * episode);
    check_failing_event(failing, dir);
    auto s = store->stats();
    CHECK(s.state == StoreState::failing);
    CHECK(s.since == failing.at);
    CHECK(s.last_error.find("database or disk is full") != std::string::npos);

    // While failing, only failing_queue results wait in memory. Rows queued
    // before the failure was noticed stay, and may already be more.
    CHECK(s.queue_limit == 100);
    const auto dropped = s.dropped;
    const auto queued = s.pending;  // fixed while the disk is full: nothing commits
    REQUIRE(queued > 0);
    int accepted = 0;
    for (int i = 0; i < 300; ++i)
      accepted += store->submit(icmp_result("cn2", "la", clock.wall_now(), {1}));
    s = store->stats();
    CHECK(s.pending == std::max<std::size_t>(queued, 100));
    CHECK(static_cast<std::size_t>(accepted) == 100 - std::min<std::size_t>(queued, 100));
    CHECK(s.dropped == dropped + (300 - accepted));

    free_space(dir);
    REQUIRE(wait_until([&] { return events.size() == 2 * episode + 2; }));
    const StoreEvent ok = events.at(2 * episode + 1);
    CHECK(ok.state == StoreState::ok);
    REQUIRE(store->flush(10s));
    s = store->stats();
    CHECK(s.state == StoreState::ok);
    CHECK(s.since == ok.at);
    CHECK(s.queue_limit == 10'000);
    CHECK(s.pending == 0);
    CHECK(s.lost == 0);
    // Every failure and every refusal since the fill began is this episode's.
    CHECK(ok.failed_attempts == s.write_errors - before.write_errors);
    CHECK(ok.failed_attempts >= 6);
    CHECK(ok.rows_dropped == s.dropped - before.dropped);
    CHECK(ok.rows_dropped >= 300 - static_cast<std::uint64_t>(accepted));
    CHECK(ok.lasted > 0s);
  }
  CHECK(events.size() == 4);
}

// No retry of the writer's own falls inside these tests: an attempt after the
// fill can only be the one stop() asks for.
struct Stopping : Small {
  explicit Stopping(Events& events) : Small(events) {
    tuning.retry_min = 30s;
    tuning.retry_max = 30s;
    tuning.stop_timeout = 1s;
  }
};

TEST_CASE(
    "stop() on a database failing for longer than stop_timeout tries once and counts the loss") {
  TempDir dir;
  FakeClock clock;
  Events events;
  Stopping cfg(events);
  auto store = open_store(dir, clock, cfg);
  fill(*store, clock);
  std::this_thread::sleep_for(1200ms);  // the failure is now older than stop_timeout
  const WriterStats before = store->stats();
  REQUIRE(before.pending > 0);

  const auto start = std::chrono::steady_clock::now();
  store->stop();
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < cfg.tuning.stop_timeout);  // no waiting on a disk that has been full for long

  const WriterStats s = store->stats();
  CHECK(s.write_errors == before.write_errors + 1);  // the one last attempt
  CHECK(s.written == before.written);
  CHECK(s.lost == before.pending);
  CHECK(s.pending == 0);
  CHECK(s.written + s.lost == s.submitted);
  CHECK(*store->count() == static_cast<std::int64_t>(s.written));
  CHECK(events.size() == 1);  // failing, never recovered
}

TEST_CASE("stop() writes everything when its last attempt finds space again") {
  TempDir dir;
  FakeClock clock;
  Events events;
  Stopping cfg(events);
  auto store = open_store(dir, clock, cfg);
  fill(*store, clock);
  std::this_thread::sleep_for(1200ms);
  const WriterStats before = store->stats();
  REQUIRE(before.pending > 0);
  free_space(dir);  // the writer would not look again for 30 s

  store->stop();
  const WriterStats s = store->stats();
  CHECK(s.lost == 0);
  CHECK(s.pending == 0);
  CHECK(s.written == s.submitted);
  CHECK(*store->count() == static_cast<std::int64_t>(s.written - before.written));
  REQUIRE(events.size() == 2);
  CHECK(events.at(1).state == StoreState::ok);
}

TEST_CASE("the WAL is checkpointed and truncated once it outgrows wal_limit") {
  TempDir dir;
  FakeClock clock;
  StorageOptions options;
  options.batch_max = 100;
  options.flush_interval = 1ms;
  StoreTuning tuning;
  tuning.wal_limit = 64 * 1024;
  auto opened = Store::open(dir.path(), options, clock, tuning);
  REQUIRE_MESSAGE(opened, opened.error().message);
  auto& store = **opened;
  std::uintmax_t wal_max = 0;
  for (int i = 0; i < 5000; ++i) {
    REQUIRE(store.submit(icmp_result("cn2", "la", clock.wall_now(), {800 + i % 100, 0, 790})));
    if (i % 100 == 99) {
      REQUIRE(store.flush(10s));
      wal_max = std::max(wal_max, std::filesystem::file_size(dir.db() + "-wal"));
    }
  }
  CHECK(*store.count() == 5000);
  CHECK(wal_max <= tuning.wal_limit);
  CHECK(store.stats().wal_checkpoints > 0);
}

}  // namespace
}  // namespace linewatch
