// line_bandwidth rows, and retention over samples, events and bandwidth.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "core/fake_clock.h"
#include "storage/sqlite.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using test::open_store;
using test::TempDir;
using test::wait_until;

TEST_CASE("bandwidth samples are read back per line over a time range") {
  TempDir dir;
  FakeClock clock;
  auto store = open_store(dir, clock);
  const WallTime t0 = clock.wall_now();
  const std::uint64_t huge = std::numeric_limits<std::uint64_t>::max();
  for (int i = 0; i < 10; ++i) {
    const WallTime t = t0 + std::chrono::seconds(i);
    const std::uint64_t rx = 100'000'000ULL * static_cast<std::uint64_t>(i) + 1;
    REQUIRE(store->submit_bandwidth("cn2", t, rx, rx / 3, 0.1 * i));
    REQUIRE(store->submit_bandwidth("cu-vip", t, 5, 6));  // capacity unknown
  }
  REQUIRE(store->submit_bandwidth("cmi", t0, huge, 0, std::nan("")));
  REQUIRE(store->flush(10s));
  const auto s = store->stats();
  CHECK(s.bandwidth_submitted == 21);
  CHECK(s.bandwidth_written == 21);
  CHECK(s.written == 0);

  auto all = store->bandwidth({"cn2"});
  REQUIRE(all);
  REQUIRE(all->size() == 10);
  for (int i = 0; i < 10; ++i) {
    CAPTURE(i);
    const BandwidthSample& b = (*all)[static_cast<std::size_t>(i)];
    CHECK(b.line == "cn2");
    CHECK(b.time == t0 + std::chrono::seconds(i));  // oldest first
    CHECK(b.rx_bps == 100'000'000ULL * static_cast<std::uint64_t>(i) + 1);
    CHECK(b.tx_bps == b.rx_bps / 3);
    REQUIRE(b.utilisation.has_value());
    CHECK(*b.utilisation == 0.1 * i);  // a REAL comes back bit for bit
  }
  auto unknown = store->bandwidth({"cu-vip"});
  REQUIRE(unknown);
  REQUIRE(unknown->size() == 10);
  CHECK_FALSE(unknown->front().utilisation.has_value());
  CHECK(unknown->front().tx_bps == 6);

  auto cmi = store->bandwidth({"cmi"});
  REQUIRE(cmi);
  REQUIRE(cmi->size() == 1);
  CHECK(cmi->front().rx_bps ==
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
  CHECK_FALSE(cmi->front().utilisation.has_value());  // NaN is "unknown"

  BandwidthQuery q{"cn2", t0 + 3s, t0 + 7s};
  auto range = store->bandwidth(q);
  REQUIRE(range);
  REQUIRE(range->size() == 4);
  CHECK(range->front().time == t0 + 3s);
  CHECK(range->back().time == t0 + 6s);

  q = {"cn2", {}, WallTime::max(), 3, true};
  auto newest = store->bandwidth(q);
  REQUIRE(newest);
  REQUIRE(newest->size() == 3);
  CHECK(newest->front().time == t0 + 7s);  // the newest three, oldest of them first
  CHECK(newest->back().time == t0 + 9s);
  CHECK(store->bandwidth({"nope"})->empty());

  // Lines are interned once, shared with samples.
  REQUIRE(store->submit(test::icmp_result("cn2", "la", t0, {100})));
  REQUIRE(store->flush(10s));
  auto db = Db::open(dir.db(), SQLITE_OPEN_READONLY, 1s);
  REQUIRE(db);
  CHECK(*db->query_int("SELECT count(*) FROM lines", "lines") == 3);
}

TEST_CASE("retention deletes old samples, events and bandwidth, and keeps agent_state") {
  TempDir dir;
  FakeClock clock;
  StorageOptions opt;
  opt.retention = 1h;
  StoreTuning tuning;
  tuning.retention_every = 1min;
  tuning.retention_chunk = 4;  // several chunks per table per pass
  tuning.idle_poll = 5ms;
  auto store = open_store(dir, clock, opt, tuning);
  REQUIRE(wait_until([&] { return store->stats().retention_runs == 1; }));  // the pass at start

  const WallTime now = clock.wall_now();
  for (int i = 0; i < 10; ++i) {
    const WallTime old = now - 2h + milliseconds(i);
    const WallTime recent = now - 30min + milliseconds(i);
    REQUIRE(store->submit(test::icmp_result("l", "t", old, {100})));
    REQUIRE(store->submit_event(test::event(old, "line_down", "l", "silence", "old")));
    REQUIRE(store->submit_event(test::event(recent, "line_up", "l", "rise", "recent")));
    REQUIRE(store->submit_bandwidth("l", old, 1, 1));
    REQUIRE(store->submit_bandwidth("l", recent, 2, 2));
  }
  REQUIRE(store->save_state("route_plan", "{}"));
  REQUIRE(store->flush(10s));

  clock.advance(1min);
  REQUIRE(wait_until([&] { return store->stats().retention_runs == 2; }));
  CHECK(store->stats().retention_deleted == 30);
  CHECK(*store->count() == 0);
  auto events = store->events({});
  REQUIRE(events);
  REQUIRE(events->size() == 10);
  for (const auto& e : *events) CHECK(e.detail == "recent");
  auto bw = store->bandwidth({"l"});
  REQUIRE(bw);
  REQUIRE(bw->size() == 10);
  for (const auto& b : *bw) CHECK(b.rx_bps == 2);

  clock.advance(2h);  // everything is old now, except state: it is never expired
  REQUIRE(wait_until([&] { return store->stats().retention_runs == 3; }));
  CHECK(store->events({})->empty());
  CHECK(store->bandwidth({"l"})->empty());
  CHECK(*store->load_state("route_plan") == std::optional<std::string>("{}"));
  CHECK(store->stats().write_errors == 0);
}

}  // namespace
}  // namespace linewatch
