// Availability for the alert rules from a real store's rollups: exact
// figures for series, line and target keys, the cache that answers from
// memory and reads again only every refresh, failed reads that keep the last
// figure, and keys forgotten once no longer asked for. The thread is never
// started; the tests call refresh() as it would.
#include "agent/store_availability.h"

#include <doctest/doctest.h>

#include "core/fake_clock.h"
#include "storage/test_util.h"

using namespace linewatch;
using namespace linewatch::test;
using namespace std::chrono_literals;

namespace {

ProbeResult round_of(const std::string& line, const std::string& target, ProbeKind kind,
                     Reason reason, WallTime at) {
  ProbeResult r;
  r.line = line;
  r.target = target;
  r.kind = kind;
  r.time = at;
  r.ok = reason == Reason::ok;
  r.reason = reason;
  r.duration = 1ms;
  return r;
}

// Over the last half hour:
//   l1 x t1 http: 10 rounds, 1 refused (network), 1 http_status (the endpoint's)
//   l1 x t1 icmp:  4 rounds, 1 timeout (network)
//   l1 x t2 http:  5 rounds, 1 timeout (network)
//   l2 x t1 http:  4 rounds, 2 http_status
// and one l1 x t1 http round two hours ago, outside a 1 h window.
struct Rig {
  Rig() {
    store = open_store(dir, clock);
    const WallTime t = clock.wall_now() - 30min;
    auto add = [&](const char* line, const char* target, ProbeKind kind, int ok,
                   std::vector<Reason> failed) {
      int i = 0;
      for (; i < ok; ++i)
        REQUIRE(store->submit(round_of(line, target, kind, Reason::ok, t + i * 10s)));
      for (Reason r : failed)
        REQUIRE(store->submit(round_of(line, target, kind, r, t + i++ * 10s)));
    };
    add("l1", "t1", ProbeKind::http, 8, {Reason::refused, Reason::http_status});
    add("l1", "t1", ProbeKind::icmp, 3, {Reason::timeout});
    add("l1", "t2", ProbeKind::http, 4, {Reason::timeout});
    add("l2", "t1", ProbeKind::http, 2, {Reason::http_status, Reason::http_status});
    REQUIRE(store->submit(
        round_of("l1", "t1", ProbeKind::http, Reason::refused, clock.wall_now() - 2h)));
    REQUIRE(store->flush(30s));
  }

  StoreAvailability::Reader reader() {
    return [this](const AvailabilityQuery& q) {
      ++reads;
      return fail ? Result<Availability>(io_error("database is locked")) : store->availability(q);
    };
  }

  TempDir dir;
  FakeClock clock;
  std::unique_ptr<Store> store;
  int reads = 0;
  bool fail = false;
};

const AlertScopeKey kSeries{"l1", "t1", "http"};
const AlertScopeKey kLine1{"l1", "", ""};
const AlertScopeKey kLine2{"l2", "", ""};
const AlertScopeKey kTarget1{"", "t1", ""};

}  // namespace

TEST_CASE("store availability: exact figures for series, line and target keys") {
  Rig rig;
  StoreAvailability a(rig.reader(), {"l1", "l2"}, {"t1", "t2"}, rig.clock);
  const WallTime now = rig.clock.wall_now();
  auto figure = [&](const AlertScopeKey& key, Duration window = 1h) {
    auto v = a.read(key, window, now);
    REQUIRE_MESSAGE(v, v.error().message);
    return *v;
  };
  // A series: every failed round is down, the endpoint's answer too.
  CHECK(figure(kSeries) == 8.0 / 10.0);
  CHECK(figure({"l1", "t1", "icmp"}) == 3.0 / 4.0);
  CHECK(figure({"l2", "t1", "http"}) == 2.0 / 4.0);
  // A line: its targets' and kinds' rounds summed, only network failures down:
  // 10 + 4 + 5 rounds, 1 + 1 + 1 of them network failures.
  CHECK(figure(kLine1) == 16.0 / 19.0);
  CHECK(figure(kLine2) == 1.0);  // the endpoint's 503s are not the line's
  // A target: across lines, every failure down: (8 + 3 + 2) ok of 10 + 4 + 4.
  CHECK(figure(kTarget1) == 13.0 / 18.0);
  CHECK(figure({"", "t2", ""}) == 4.0 / 5.0);
  // The old round counts only in a window that reaches it.
  CHECK(figure(kSeries, 3h) == 8.0 / 11.0);
  // No rounds, or no such kind: no value, not 100 %.
  CHECK_FALSE(figure({"l2", "t2", "http"}).has_value());
  CHECK_FALSE(figure({"l1", "t1", "carrier-pigeon"}).has_value());
}

TEST_CASE("store availability: answers from memory and reads again once per refresh") {
  Rig rig;
  StoreAvailability a(rig.reader(), {"l1", "l2"}, {"t1", "t2"}, rig.clock);
  // First asked: no value until the refresh reads it, and no read meanwhile.
  CHECK_FALSE(a.availability(kSeries, 1h, rig.clock.now()).has_value());
  CHECK_FALSE(a.availability(kLine1, 1h, rig.clock.now()).has_value());
  CHECK(rig.reads == 0);
  CHECK(a.refresh() == rig.clock.now() + 30s);
  CHECK(rig.reads == 3);  // one for the series, one per target of the line
  CHECK(a.availability(kSeries, 1h, rig.clock.now()) == 8.0 / 10.0);
  CHECK(a.availability(kLine1, 1h, rig.clock.now()) == 16.0 / 19.0);

  // Asked every second, read once per 30 s.
  REQUIRE(rig.store->submit(
      round_of("l1", "t1", ProbeKind::http, Reason::refused, rig.clock.wall_now() - 1s)));
  REQUIRE(rig.store->flush(30s));
  for (int s = 1; s < 30; ++s) {
    rig.clock.advance(1s);
    CHECK(a.availability(kSeries, 1h, rig.clock.now()) == 8.0 / 10.0);
    a.refresh();
  }
  CHECK(rig.reads == 3);
  rig.clock.advance(1s);
  a.availability(kSeries, 1h, rig.clock.now());
  a.refresh();
  CHECK(rig.reads == 6);
  CHECK(a.availability(kSeries, 1h, rig.clock.now()) == 8.0 / 11.0);
  // One more round, and one more network failure, for the line.
  CHECK(a.availability(kLine1, 1h, rig.clock.now()).value_or(-1) == 16.0 / 20.0);
  // Each window of a key is its own figure.
  CHECK_FALSE(a.availability(kSeries, 3h, rig.clock.now()).has_value());
  a.refresh();
  CHECK(a.availability(kSeries, 3h, rig.clock.now()) == 8.0 / 12.0);
  CHECK(a.stats().figures == 3);
  CHECK(a.stats().reads == 7);
}

TEST_CASE("store availability: a failed read keeps the last figure and is retried sooner") {
  Rig rig;
  StoreAvailability a(rig.reader(), {"l1", "l2"}, {"t1", "t2"}, rig.clock);
  a.availability(kSeries, 1h, rig.clock.now());
  a.refresh();
  rig.fail = true;
  rig.clock.advance(30s);
  a.availability(kSeries, 1h, rig.clock.now());
  CHECK(a.refresh() == rig.clock.now() + 5s);
  CHECK(a.availability(kSeries, 1h, rig.clock.now()) == 8.0 / 10.0);
  CHECK(a.stats().failures == 1);
  rig.fail = false;
  rig.clock.advance(5s);
  a.refresh();
  CHECK(rig.reads == 3);
  CHECK(a.availability(kSeries, 1h, rig.clock.now()) == 8.0 / 10.0);
}

TEST_CASE("store availability: a key no longer asked for is forgotten") {
  Rig rig;
  StoreAvailability a(rig.reader(), {"l1", "l2"}, {"t1", "t2"}, rig.clock);
  a.availability(kSeries, 1h, rig.clock.now());
  a.availability(kTarget1, 1h, rig.clock.now());
  a.refresh();
  for (int i = 0; i < 21; ++i) {  // 10.5 minutes, asking for the target only
    rig.clock.advance(30s);
    a.availability(kTarget1, 1h, rig.clock.now());
    a.refresh();
  }
  CHECK(a.stats().figures == 1);
  const int reads = rig.reads;
  rig.clock.advance(30s);
  a.refresh();
  CHECK(rig.reads == reads + 2);  // the target's two lines, not the series
}

TEST_CASE("store availability: the thread reads a new key at once") {
  Rig rig;
  StoreAvailability a(rig.reader(), {"l1", "l2"}, {"t1", "t2"}, rig.clock);
  a.start();  // its first wait is a whole refresh: only the new key ends it early
  a.availability(kSeries, 1h, rig.clock.now());
  CHECK(wait_until([&] { return a.availability(kSeries, 1h, rig.clock.now()).has_value(); }));
  a.stop();
  a.stop();
}
