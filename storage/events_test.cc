// Events: stored field for field, read back newest first through the filters.
#include <doctest/doctest.h>

#include "core/fake_clock.h"
#include "storage/sqlite.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using test::event;
using test::open_store;
using test::TempDir;

Event floor_ms(Event e) {
  e.time = std::chrono::floor<milliseconds>(e.time);
  return e;
}

TEST_CASE("events are read back field for field, UTF-8 and quotes included") {
  TempDir dir;
  FakeClock clock;
  auto store = open_store(dir, clock);
  Event full;
  full.time = clock.wall_now() + 1234567ns;  // finer than a ms: stored cut to whole ms
  full.kind = "line_down";
  full.line = "cn2-gia-1";
  full.target = "la-reflector";
  full.reason = "silence";
  full.detail =
      "no reply for 1.02s from 2 reflectors: \"it's down\"; 线路中断 — 100 % 丢包\n"
      "second line, a 'quote' and a backslash \\";
  Event bare = event(clock.wall_now() + 5ms, "plan_new", "", "", "");  // about no line or target
  REQUIRE(store->submit_event(full));
  REQUIRE(store->submit_event(bare));
  REQUIRE(store->flush(10s));

  auto got = store->events({});
  REQUIRE(got);
  REQUIRE(got->size() == 2);
  CHECK((*got)[0] == bare);  // newest first
  CHECK((*got)[1] == floor_ms(full));
  CHECK((*got)[1].detail == full.detail);
  CHECK((*got)[1].time !=
        full.time);  // the cut really happened, so the check above means something

  const auto s = store->stats();
  CHECK(s.events_submitted == 2);
  CHECK(s.events_written == 2);
  CHECK(s.events_dropped == 0);
  CHECK(s.written == 0);  // probe result counters are apart

  // The detail is stored as given, readable by plain SQL.
  auto db = Db::open(dir.db(), SQLITE_OPEN_READONLY, 1s);
  REQUIRE(db);
  CHECK(*db->query_text("SELECT detail FROM events WHERE kind = 'line_down'", "detail") ==
        full.detail);
}

TEST_CASE("event queries filter by time, line and kind, newest first, up to the limit") {
  TempDir dir;
  FakeClock clock;
  auto store = open_store(dir, clock);
  const WallTime t0 = clock.wall_now();
  // 30 events, a second apart: line a, b or none in turn; kinds line_down / line_up by pairs.
  std::vector<Event> all;
  for (int i = 0; i < 30; ++i) {
    const char* line = i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "";
    const char* kind = (i / 2) % 2 == 0 ? "line_down" : "line_up";
    all.push_back(event(t0 + std::chrono::seconds(i), kind, line, "r", "#" + std::to_string(i)));
  }
  // Two at the very same ms: the later submitted reads first.
  all.push_back(event(t0 + 40s, "tilt", "a", "stall", "first"));
  all.push_back(event(t0 + 40s, "tilt", "a", "stall", "second"));
  for (const auto& e : all) REQUIRE(store->submit_event(e));
  REQUIRE(store->flush(10s));

  auto details = [&](const EventQuery& q) {
    auto got = store->events(q);
    REQUIRE_MESSAGE(got, got.error().message);
    std::vector<std::string> out;
    for (const auto& e : *got) out.push_back(e.detail);
    return out;
  };
  using V = std::vector<std::string>;

  EventQuery q;
  q.since = t0 + 10s;  // inclusive
  q.until = t0 + 14s;  // exclusive
  CHECK(details(q) == V{"#13", "#12", "#11", "#10"});

  q = {};
  q.line = "b";
  q.until = t0 + 12s;
  CHECK(details(q) == V{"#10", "#7", "#4", "#1"});

  q = {};
  q.line = "";  // events about no line
  q.limit = 3;
  CHECK(details(q) == V{"#29", "#26", "#23"});

  q = {};
  q.kind = "line_up";
  q.line = "a";
  CHECK(details(q) == V{"#27", "#18", "#15", "#6", "#3"});

  q = {};
  q.limit = 4;  // the newest four, not the oldest
  CHECK(details(q) == V{"second", "first", "#29", "#28"});

  q = {};
  q.kind = "tilt";
  auto tilts = store->events(q);
  REQUIRE(tilts);
  REQUIRE(tilts->size() == 2);
  CHECK(tilts->front() == all.back());

  q = {};
  q.line = "no-such-line";
  CHECK(details(q).empty());
  q = {};
  q.limit = 0;
  CHECK(details(q).empty());
  CHECK(details({}).size() == all.size());
}

TEST_CASE("a Store is an EventSink: emit() queues the event and counts it") {
  TempDir dir;
  FakeClock clock;
  auto store = open_store(dir, clock);
  EventSink& sink = *store;
  sink.emit(event(clock.wall_now(), "hold_down_started", "cu-vip-2", "rise", "30s hold-down"));
  REQUIRE(store->flush(10s));
  auto got = store->events({});
  REQUIRE(got);
  REQUIRE(got->size() == 1);
  CHECK(got->front().kind == "hold_down_started");
  CHECK(got->front().line == "cu-vip-2");
  CHECK(store->stats().events_written == 1);

  store->stop();  // after stop an emitted event is refused, and counted, never silently gone
  sink.emit(event(clock.wall_now(), "line_up", "cu-vip-2"));
  CHECK(store->stats().events_dropped == 1);
  CHECK(store->stats().events_submitted == 1);
}

}  // namespace
}  // namespace linewatch
