// agent_state: the newest value per key, written with the next batch, kept
// across restarts.
#include <doctest/doctest.h>

#include "core/fake_clock.h"
#include "storage/sqlite.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using test::icmp_result;
using test::lock_exclusively;
using test::open_store;
using test::TempDir;
using test::wait_until;

using Loaded = std::optional<std::string>;

const std::string kPlan =
    R"({"agent":"bj-gw-1","version":42,"routes":[{"prefix":"198.19.255.0/24",)"
    R"("nexthops":[{"line":"cn2-gia-1","via":"198.18.1.2","dev":"eth1","weight":1}]}],)"
    R"("note":"线路 'primary'"})";

TEST_CASE("state values are saved, loaded, replaced, and kept across a restart") {
  TempDir dir;
  FakeClock clock;
  {
    auto store = open_store(dir, clock);
    CHECK(*store->load_state("route_plan") == std::nullopt);
    REQUIRE(store->save_state("route_plan", kPlan));
    REQUIRE(store->save_state("plan_version", "42"));
    REQUIRE(store->save_state("health/cn2-gia-1", "down"));
    REQUIRE(store->save_state("empty", ""));
    REQUIRE(store->flush(10s));
    CHECK(*store->load_state("route_plan") == Loaded(kPlan));
    CHECK(*store->load_state("plan_version") == Loaded("42"));
    CHECK(*store->load_state("empty") == Loaded(""));  // saved as empty, not absent
    CHECK(*store->load_state("health/cu-vip-2") == std::nullopt);

    clock.advance(5s);
    REQUIRE(store->save_state("health/cn2-gia-1", "up"));  // a later batch replaces the row
    REQUIRE(store->flush(10s));
    CHECK(*store->load_state("health/cn2-gia-1") == Loaded("up"));
    const auto s = store->stats();
    CHECK(s.state_saved == 5);
    CHECK(s.state_written == 5);
    CHECK(s.state_coalesced == 0);
    CHECK(s.state_pending == 0);
  }
  auto db = Db::open(dir.db(), SQLITE_OPEN_READONLY, 1s);
  REQUIRE(db);
  CHECK(*db->query_int("SELECT count(*) FROM agent_state", "count") == 4);
  CHECK(*db->query_int("SELECT ts_ms FROM agent_state WHERE key = 'health/cn2-gia-1'", "ts") ==
        unix_ms(clock.wall_now()));  // stamped when saved

  auto reopened = open_store(dir, clock);  // a restart finds what the last run saved
  CHECK(*reopened->load_state("route_plan") == Loaded(kPlan));
  CHECK(*reopened->load_state("health/cn2-gia-1") == Loaded("up"));
}

TEST_CASE("saves of one key made before the writer takes them are coalesced into one write") {
  TempDir dir;
  FakeClock clock;
  StorageOptions opt;
  opt.flush_interval = 1h;  // nothing is taken before flush()
  auto store = open_store(dir, clock, opt);
  for (int i = 0; i < 100; ++i) REQUIRE(store->save_state("route_plan", "v" + std::to_string(i)));
  REQUIRE(store->save_state("plan_version", "7"));
  auto s = store->stats();
  CHECK(s.state_saved == 101);
  CHECK(s.state_coalesced == 99);
  CHECK(s.state_pending == 2);
  CHECK(*store->load_state("route_plan") == std::nullopt);  // committed values only

  REQUIRE(store->flush(10s));
  s = store->stats();
  CHECK(s.state_written == 2);
  CHECK(s.state_pending == 0);
  CHECK(s.batches == 1);
  CHECK(*store->load_state("route_plan") == Loaded("v99"));
}

TEST_CASE("at most state_keys keys wait, and a pending key can always be saved again") {
  TempDir dir;
  FakeClock clock;
  StorageOptions opt;
  opt.flush_interval = 1h;
  StoreTuning tuning;
  tuning.state_keys = 2;
  auto store = open_store(dir, clock, opt, tuning);
  CHECK(store->save_state("a", "1"));
  CHECK(store->save_state("b", "1"));
  CHECK_FALSE(store->save_state("c", "1"));
  CHECK(store->save_state("a", "2"));
  auto s = store->stats();
  CHECK(s.state_dropped == 1);
  CHECK(s.state_saved == 3);
  REQUIRE(store->flush(10s));
  CHECK(*store->load_state("a") == Loaded("2"));
  CHECK(*store->load_state("c") == std::nullopt);
  CHECK(store->save_state("c", "1"));  // room again once written
  REQUIRE(store->flush(10s));
  CHECK(*store->load_state("c") == Loaded("1"));
}

TEST_CASE("state is accepted while probe results fill the queue of a locked database") {
  TempDir dir;
  FakeClock clock;
  StorageOptions opt;
  opt.queue_capacity = 10;
  opt.flush_interval = 5ms;
  StoreTuning tuning;
  tuning.busy_timeout = 20ms;
  tuning.retry_min = 10ms;
  tuning.retry_max = 20ms;
  auto store = open_store(dir, clock, opt, tuning);
  Db blocker = lock_exclusively(dir.db());
  int accepted = 0;
  while (store->submit(icmp_result("l", "t", clock.wall_now(), {100})) && accepted < 1000)
    ++accepted;
  CHECK(accepted == 10);
  CHECK_FALSE(store->submit_event(test::event(clock.wall_now(), "plan_new", "")));
  CHECK(store->save_state("route_plan", "p1"));
  REQUIRE(wait_until([&] { return store->stats().write_errors >= 2; }));
  CHECK(store->save_state("route_plan", "p2"));
  CHECK_FALSE(store->flush(50ms));

  REQUIRE(blocker.exec("ROLLBACK", "unlock"));
  REQUIRE(store->flush(10s));
  CHECK(*store->load_state("route_plan") == Loaded("p2"));
  const auto s = store->stats();
  CHECK(s.state_dropped == 0);
  CHECK(s.events_dropped == 1);
  CHECK(s.state_lost == 0);
  CHECK(s.state_saved == s.state_written + s.state_coalesced);
}

TEST_CASE("stop() writes pending state, and later saves are refused and counted") {
  TempDir dir;
  FakeClock clock;
  StorageOptions opt;
  opt.flush_interval = 1h;
  {
    auto store = open_store(dir, clock, opt);
    REQUIRE(store->save_state("plan_version", "9"));
    store->stop();
    CHECK_FALSE(store->save_state("plan_version", "10"));
    CHECK(store->stats().state_dropped == 1);
    CHECK(store->stats().state_written == 1);
  }
  auto reopened = open_store(dir, clock);
  CHECK(*reopened->load_state("plan_version") == Loaded("9"));
}

}  // namespace
}  // namespace linewatch
