// The outbox table through its API: one row per receiver in one
// transaction, per-receiver order, back-off that doubles and caps, parking
// that holds up no one, and rows that outlive the connection.
#include "storage/outbox.h"

#include <doctest/doctest.h>

#include "core/fake_clock.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

const WallTime kNow = WallTime(std::chrono::seconds(1'800'000'000));

std::unique_ptr<Outbox> open_outbox(const TempDir& dir, const OutboxTuning& tuning = {}) {
  auto o = Outbox::open(dir.path(), tuning);
  REQUIRE_MESSAGE(o, o.error().message);
  return std::move(*o);
}

std::optional<OutboxRow> head_of(const Outbox& o, const std::string& receiver) {
  auto h = o.head(receiver);
  REQUIRE_MESSAGE(h, h.error().message);
  return *h;
}

std::vector<std::int64_t> enqueue(Outbox& o, const std::vector<std::string>& to,
                                  const std::string& n, WallTime now = kNow) {
  auto ids = o.enqueue(to, n, now);
  REQUIRE_MESSAGE(ids, ids.error().message);
  return *ids;
}

TEST_CASE("outbox retry delay doubles from first, caps at max and honours Retry-After") {
  const OutboxBackoff b;  // 1 s doubling to 5 min; Retry-After up to 1 h
  const Duration want[] = {1s, 2s, 4s, 8s, 16s, 32s, 64s, 128s, 256s, 300s, 300s, 300s};
  for (int i = 0; i < static_cast<int>(std::size(want)); ++i) {
    CAPTURE(i + 1);
    CHECK(outbox_retry_delay(i + 1, std::nullopt, b) == want[i]);
  }
  CHECK(outbox_retry_delay(1000, std::nullopt, b) == 300s);  // no overflow far out
  CHECK(outbox_retry_delay(1, 20s, b) == 20s);               // the receiver asks for longer
  CHECK(outbox_retry_delay(4, 3s, b) == 8s);                 // back-off already longer
  CHECK(outbox_retry_delay(2, 600s, b) == 600s);             // past max: still honoured
  CHECK(outbox_retry_delay(2, 5h, b) == 1h);                 // up to retry_after_max
  OutboxBackoff fast{10ms, 35ms, 50ms};
  CHECK(outbox_retry_delay(1, std::nullopt, fast) == 10ms);
  CHECK(outbox_retry_delay(2, std::nullopt, fast) == 20ms);
  CHECK(outbox_retry_delay(3, std::nullopt, fast) == 35ms);
}

TEST_CASE("outbox enqueue writes one row per receiver and each receiver's head goes in order") {
  TempDir dir;
  auto o = open_outbox(dir);
  const auto first = enqueue(*o, {"ops", "chat"}, R"({"n":1})");
  const auto second = enqueue(*o, {"ops", "chat"}, R"({"n":2})", kNow + 1s);
  REQUIRE(first.size() == 2);
  REQUIRE(second.size() == 2);
  CHECK(first[0] < first[1]);
  CHECK(first[1] < second[0]);
  CHECK(enqueue(*o, {}, "{}").empty());

  auto h = head_of(*o, "ops");
  REQUIRE(h);
  CHECK(*h == OutboxRow{first[0], "ops", R"({"n":1})", kNow, 0, WallTime{}, "", false});
  REQUIRE(o->delivered(first[0]));
  REQUIRE(o->delivered(first[0]));  // twice: already gone is fine
  h = head_of(*o, "ops");
  REQUIRE(h);
  CHECK(h->id == second[0]);
  CHECK(h->created == kNow + 1s);
  CHECK(head_of(*o, "chat")->id == first[1]);  // untouched by ops' progress
  REQUIRE(o->delivered(second[0]));
  CHECK_FALSE(head_of(*o, "ops").has_value());
  CHECK_FALSE(head_of(*o, "nobody").has_value());

  auto bad = o->enqueue({"ops", ""}, "{}", kNow);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("notify[].id") != std::string::npos);
  CHECK(o->rows("ops")->empty());  // all or nothing
}

TEST_CASE("outbox failed attempts grow the wait to the cap and keep the last error") {
  TempDir dir;
  auto o = open_outbox(dir);
  const std::int64_t id = enqueue(*o, {"ops"}, "{}")[0];
  WallTime now = kNow;
  const Duration want[] = {1s, 2s, 4s, 8s, 16s, 32s, 64s, 128s, 256s, 300s, 300s};
  for (int i = 0; i < static_cast<int>(std::size(want)); ++i) {
    CAPTURE(i);
    auto wait = o->failed(id, "127.0.0.1:9 answered HTTP 503", std::nullopt, now);
    REQUIRE_MESSAGE(wait, wait.error().message);
    CHECK(*wait == want[i]);
    const auto h = head_of(*o, "ops");
    REQUIRE(h);
    CHECK(h->attempts == i + 1);
    CHECK(h->next_attempt == now + want[i]);
    CHECK(h->last_error == "127.0.0.1:9 answered HTTP 503");
    now += *wait;
  }
  auto asked = o->failed(id, "429", 900s, now);  // Retry-After beyond the cap
  REQUIRE(asked);
  CHECK(*asked == 900s);
  CHECK(head_of(*o, "ops")->next_attempt == now + 900s);

  REQUIRE(o->delivered(id));
  auto missing = o->failed(id, "x", std::nullopt, now);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::not_found);
  CHECK(o->park(id, "x", now).error().code == ErrorCode::not_found);
}

TEST_CASE("outbox parked rows are skipped, listed, put back first by unpark, or dropped") {
  TempDir dir;
  auto o = open_outbox(dir);
  const auto a = enqueue(*o, {"ops", "chat"}, "A");
  const auto b = enqueue(*o, {"ops", "chat"}, "B", kNow + 1s);
  REQUIRE(o->park(a[0], "127.0.0.1:9 answered HTTP 400: bad labels", kNow + 2s));
  // ops moves on to B; chat still has A first.
  CHECK(head_of(*o, "ops")->id == b[0]);
  CHECK(head_of(*o, "chat")->id == a[1]);

  auto parked = o->parked();
  REQUIRE(parked);
  REQUIRE(parked->size() == 1);
  CHECK(parked->front() == OutboxRow{a[0], "ops", "A", kNow, 1, kNow + 2s,
                                     "127.0.0.1:9 answered HTTP 400: bad labels", true});
  auto sum = o->summary();
  REQUIRE(sum);
  REQUIRE(sum->size() == 2);
  CHECK(sum->at(0).receiver == "chat");
  CHECK(sum->at(0).pending == 2);
  CHECK(sum->at(0).parked == 0);
  CHECK(sum->at(0).oldest == std::optional<WallTime>(kNow));
  CHECK_FALSE(sum->at(0).next_attempt.has_value());
  CHECK(sum->at(1).receiver == "ops");
  CHECK(sum->at(1).pending == 1);
  CHECK(sum->at(1).parked == 1);
  CHECK(sum->at(1).oldest == std::optional<WallTime>(kNow + 1s));

  REQUIRE(o->failed(b[0], "timeout", std::nullopt, kNow + 3s));
  CHECK(o->summary()->at(1).attempts == 1);
  CHECK(o->summary()->at(1).next_attempt == std::optional<WallTime>(kNow + 4s));
  CHECK(o->summary()->at(1).last_error == "timeout");

  // Unpark for another receiver touches nothing; for ops, A is the head again.
  CHECK(*o->unpark(std::string("chat"), kNow + 5s) == 0);
  CHECK(*o->unpark(std::string("ops"), kNow + 5s) == 1);
  auto h = head_of(*o, "ops");
  REQUIRE(h);
  CHECK(h->id == a[0]);
  CHECK(h->attempts == 0);
  CHECK(h->next_attempt == kNow + 5s);
  CHECK_FALSE(h->parked);

  REQUIRE(o->park(a[0], "400", kNow + 6s));
  REQUIRE(o->park(a[1], "400", kNow + 6s));
  CHECK(*o->drop_parked(std::string("ops")) == 1);
  CHECK(o->parked()->size() == 1);
  CHECK(*o->drop_parked(std::nullopt) == 1);
  CHECK(o->parked()->empty());
  CHECK(head_of(*o, "ops")->id == b[0]);
  CHECK(head_of(*o, "chat")->id == b[1]);
}

TEST_CASE("outbox rows outlive the connection, attempts and parking included") {
  TempDir dir;
  std::vector<std::int64_t> ids;
  {
    auto o = open_outbox(dir);
    ids = enqueue(*o, {"ops", "ops", "chat"}, R"({"id":"x"})");
    REQUIRE(o->failed(ids[0], "refused", std::nullopt, kNow));
    REQUIRE(o->park(ids[2], "400", kNow));
  }
  auto o = open_outbox(dir);
  auto all = o->rows("ops");
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK(all->at(0).attempts == 1);
  CHECK(all->at(0).next_attempt == kNow + 1s);
  CHECK(all->at(1).attempts == 0);
  CHECK(o->parked()->size() == 1);
  CHECK(o->parked()->front().receiver == "chat");
}

TEST_CASE("outbox and store share the file: each writes beside the other") {
  TempDir dir;
  FakeClock clock(kNow);
  auto o = open_outbox(dir);  // first: it creates and migrates the file
  auto store = test::open_store(dir, clock);
  for (int i = 0; i < 200; ++i) {
    REQUIRE(store->submit(test::icmp_result("cn2", "la", kNow + std::chrono::seconds(i), {800})));
    enqueue(*o, {"ops"}, std::to_string(i));
  }
  REQUIRE(store->flush(10s));
  CHECK(*store->count() == 200);
  CHECK(o->rows("ops")->size() == 200);
  CHECK(store->stats().write_errors == 0);
}

TEST_CASE("outbox enqueue against a locked database fails whole, naming the file") {
  TempDir dir;
  OutboxTuning tuning;
  tuning.busy_timeout = 10ms;
  auto o = open_outbox(dir, tuning);
  {
    Db lock = test::lock_exclusively(dir.db());
    auto r = o->enqueue({"ops", "chat"}, "{}", kNow);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find(dir.db()) != std::string::npos);
    CHECK(r.error().message.find("locked") != std::string::npos);
  }
  CHECK(o->rows("ops")->empty());
  CHECK(enqueue(*o, {"ops", "chat"}, "{}").size() == 2);
}

}  // namespace
}  // namespace linewatch
