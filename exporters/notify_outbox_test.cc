// The outbox sender against real SQLite files and real loopback receivers:
// order kept through failures, parking that holds up no one, restarts, the
// back-off on the injected clock, secrets read per attempt, and stop().
#include "exporters/notify_outbox.h"

#include <doctest/doctest.h>

#include "core/fake_clock.h"
#include "exporters/notify_outbox_test_support.h"
#include "exporters/notify_test_support.h"
#include "exporters/push_test_support.h"
#include "storage/store.h"

using namespace linewatch;
using namespace linewatch::test;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<Outbox> open_outbox(const TempDir& dir, OutboxBackoff backoff = {}) {
  OutboxTuning tuning;
  tuning.backoff = backoff;
  auto o = Outbox::open(dir.path(), tuning);
  REQUIRE_MESSAGE(o, o.error().message);
  return std::move(*o);
}

// Fast enough that a test of real threads retries many times in a second.
const OutboxBackoff kFast{5ms, 20ms, 50ms};

// Secrets from fake_env, not the process environment.
OutboxSenderOptions test_options() {
  OutboxSenderOptions o;
  o.env = fake_env;
  return o;
}

std::unique_ptr<OutboxSender> make_sender(Outbox& outbox, std::vector<NotifierSpec> specs,
                                          EventSink& events, const Clock& clock,
                                          const OutboxSenderOptions& options = test_options()) {
  auto s = OutboxSender::create(outbox, std::move(specs), events, clock, options);
  REQUIRE_MESSAGE(s, s.error().message);
  return std::move(*s);
}

void enqueue_numbered(OutboxSender& sender, const std::string& prefix, int from, int to,
                      const std::vector<std::string>& receivers) {
  for (int i = from; i < to; ++i) {
    auto ids = sender.enqueue(numbered(prefix, i), receivers);
    REQUIRE_MESSAGE(ids, ids.error().message);
  }
}

std::int64_t pending(const Outbox& o, const std::string& receiver) {
  auto rows = o.rows(receiver);
  REQUIRE(rows);
  std::int64_t n = 0;
  for (const auto& r : *rows) n += !r.parked;
  return n;
}

// "notify_failed:http_5xx@ops ..." for compact checks.
std::string kinds_at(const RecordingSink& sink) {
  std::string out;
  for (const Event& e : sink.events())
    out += (out.empty() ? "" : " ") + e.kind + ":" + e.reason + "@" + e.target;
  return out;
}

}  // namespace

TEST_CASE("outbox payload keeps every notification field") {
  Notification n = sample_notification();
  n.status = NotifyStatus::resolved;
  n.ends_at = n.starts_at + 90s + 5ms;
  n.link = "https://grafana.example/d/lines?var-line=cn2-bj-1";
  n.summary = "线路 \"cn2\" 变慢\n第二行 \\ tab\t";
  n.value = 0.1;
  n.threshold = -1.5e-7;
  n.labels["empty"] = "";
  const std::string json = outbox_payload(n);
  auto back = notification_from_payload(json);
  REQUIRE_MESSAGE(back, back.error().message);
  CHECK(back->id == n.id);
  CHECK(back->agent == n.agent);
  CHECK(back->rule == n.rule);
  CHECK(back->status == n.status);
  CHECK(back->severity == n.severity);
  CHECK(back->summary == n.summary);
  CHECK(back->labels == n.labels);
  CHECK(back->value_text == n.value_text);
  CHECK(back->value == n.value);  // exact: shortest round-trip form
  CHECK(back->threshold_text == n.threshold_text);
  CHECK(back->threshold == n.threshold);
  CHECK(back->starts_at == n.starts_at);
  CHECK(back->ends_at == n.ends_at);
  CHECK(back->link == n.link);
  // The request it makes is the one the original makes.
  const Secrets s{"http://127.0.0.1:9/hook", "k-0123456789"};
  const auto spec = spec_of(NotifierKind::webhook);
  CHECK(format(spec, *back, s, sample_now())->body == format(spec, n, s, sample_now())->body);

  Notification bare = sample_notification();
  bare.status = NotifyStatus::test;
  bare.value.reset();
  bare.threshold.reset();
  auto bare_back = notification_from_payload(outbox_payload(bare));
  REQUIRE(bare_back);
  CHECK_FALSE(bare_back->value.has_value());
  CHECK_FALSE(bare_back->ends_at.has_value());
  CHECK(bare_back->status == NotifyStatus::test);
}

TEST_CASE("outbox payload refuses text it did not write, naming the field") {
  const std::string good = outbox_payload(sample_notification());
  struct Bad {
    std::string json, says;
  };
  std::string v2 = good;
  v2.replace(v2.find("\"v\":1"), 5, "\"v\":2");
  std::string no_rule = good;
  no_rule.replace(no_rule.find("\"rule\""), 6, "\"rulex\"");
  std::string bad_status = good;
  bad_status.replace(bad_status.find("\"firing\""), 8, "\"burning\"");
  const Bad cases[] = {{"not json", "not valid JSON"},
                       {"[1,2]", "must be a JSON object"},
                       {v2, "v: must be 1"},
                       {no_rule, "rule: missing"},
                       {bad_status, "status: must be firing, resolved or test"}};
  for (const Bad& b : cases) {
    CAPTURE(b.json);
    auto r = notification_from_payload(b.json);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::invalid_argument);
    CHECK(r.error().message.find(b.says) != std::string::npos);
  }
}

TEST_CASE("outbox sender refuses duplicate receiver ids and unknown receivers") {
  TempDir dir;
  auto outbox = open_outbox(dir);
  RecordingSink sink;
  SystemClock clock;
  auto dup = OutboxSender::create(
      *outbox, {hook_spec("ops", "http://127.0.0.1:9/"), hook_spec("ops", "http://127.0.0.1:9/")},
      sink, clock);
  REQUIRE_FALSE(dup);
  CHECK(dup.error().message == "notify[1].id: \"ops\" is used twice");
  auto sender = make_sender(*outbox, {hook_spec("ops", "http://127.0.0.1:9/")}, sink, clock);
  auto r = sender->enqueue(numbered("n", 0), {"ops", "chat"});
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("\"chat\", which is not in notify[]") != std::string::npos);
  CHECK(outbox->rows("ops")->empty());  // nothing written
}

TEST_CASE("outbox sender: a receiver answering 503 for a while then 200 gets everything in order") {
  TempDir dir;
  auto outbox = open_outbox(dir, kFast);
  RecordingSink sink;
  SystemClock clock;
  ScriptedHook hook([](int i) { return ScriptedHook::Reply{i < 12 ? 503 : 200, {}}; });
  auto sender = make_sender(*outbox, {hook_spec("ops", hook.url())}, sink, clock);
  sender->start();
  enqueue_numbered(*sender, "n", 0, 10, {"ops"});
  REQUIRE(eventually([&] { return hook.taken().size() == 10; }));
  enqueue_numbered(*sender, "n", 10, 15, {"ops"});  // after recovery: sent at once
  REQUIRE(eventually([&] { return hook.taken().size() == 15; }));
  sender->stop();

  CHECK(joined(hook.taken()) == ids("n", 0, 15));
  // The 503s all fell on the head row: nothing overtook it.
  const auto seen = hook.seen();
  REQUIRE(seen.size() == 27);
  for (int i = 0; i < 13; ++i) CHECK(seen[static_cast<std::size_t>(i)] == "n/0");
  CHECK(pending(*outbox, "ops") == 0);
  CHECK(kinds_at(sink) == "notify_failed:http_5xx@ops notify_delivered:recovered@ops");
  const auto events = sink.events();
  CHECK(events[0].detail.find("HTTP 503") != std::string::npos);
  CHECK(events[1].detail.find("after 12 failed attempts") != std::string::npos);
  const ReceiverStatus st = sender->status().at(0);
  CHECK(st.delivered == 15);
  CHECK(st.failures == 12);
  CHECK(st.attempts == 27);
  CHECK_FALSE(st.failing);
  CHECK(st.last_reason == "ok");
  // The key signs each request; it is in no row and no event.
  for (const Event& e : events) CHECK(e.detail.find(kHookKey) == std::string::npos);
}

TEST_CASE("outbox sender: a 400-forever receiver is parked and holds up no other") {
  TempDir dir;
  auto outbox = open_outbox(dir, kFast);
  RecordingSink sink;
  SystemClock clock;
  ScriptedHook refusing(always(400));
  ScriptedHook taking(always(200));
  auto sender = make_sender(
      *outbox, {hook_spec("strict", refusing.url()), hook_spec("ops", taking.url())}, sink, clock);
  sender->start();
  enqueue_numbered(*sender, "n", 0, 6, {"strict", "ops"});
  REQUIRE(eventually([&] { return taking.taken().size() == 6 && refusing.requests() == 6; }));
  REQUIRE(eventually([&] { return sender->status().at(0).parked == 6; }));
  CHECK(joined(taking.taken()) == ids("n", 0, 6));
  CHECK(joined(refusing.seen()) == ids("n", 0, 6));  // each tried once, in order
  auto parked = outbox->parked();
  REQUIRE(parked);
  CHECK(parked->size() == 6);
  CHECK(parked->front().last_error.find("HTTP 400") != std::string::npos);
  CHECK(pending(*outbox, "strict") == 0);
  CHECK(pending(*outbox, "ops") == 0);
  const auto events = sink.events();
  REQUIRE(events.size() == 6);
  for (const Event& e : events) {
    CHECK(e.kind == "notify_parked");
    CHECK(e.reason == "http_4xx");
    CHECK(e.target == "strict");
  }

  // Fixed: the parked rows go again, oldest first.
  refusing.set_script(always(200));
  auto n = sender->retry_parked(std::string("strict"));
  REQUIRE(n);
  CHECK(*n == 6);
  REQUIRE(eventually([&] { return refusing.taken().size() == 6; }));
  CHECK(joined(refusing.taken()) == ids("n", 0, 6));
  CHECK(outbox->parked()->empty());
}

TEST_CASE("outbox sender: a receiver that hangs holds up no other, and stop() cuts it") {
  TempDir dir;
  auto outbox = open_outbox(dir, kFast);
  RecordingSink sink;
  SystemClock clock;
  SilentHook silent;
  ScriptedHook taking(always(200));
  auto sender = make_sender(
      *outbox, {hook_spec("slow", silent.url(), 60s), hook_spec("ops", taking.url())}, sink, clock);
  sender->start();
  enqueue_numbered(*sender, "n", 0, 5, {"slow", "ops"});
  REQUIRE(eventually([&] { return taking.taken().size() == 5; }));
  // All five taken while the slow receiver's first attempt is still out.
  CHECK(sender->status().at(0).attempts == 0);
  sender->stop();  // bounded by the test's timeout, not the receiver's 60 s
  CHECK(sender->status().at(0).attempts == 0);
  CHECK(sink.events().empty());  // a cut attempt is not an outcome
  auto rows = outbox->rows("slow");
  REQUIRE(rows);
  REQUIRE(rows->size() == 5);
  CHECK(rows->front().attempts == 0);  // untouched: the next sender sends it
}

TEST_CASE("outbox sender: a new sender on the same file delivers what the last one left") {
  TempDir dir;
  RecordingSink sink;
  SystemClock clock;
  const std::string refused = "http://127.0.0.1:" + std::to_string(free_port()) + "/hook";
  {
    auto outbox = open_outbox(dir, kFast);
    auto sender = make_sender(*outbox, {hook_spec("ops", refused)}, sink, clock);
    sender->start();
    enqueue_numbered(*sender, "n", 0, 4, {"ops"});
    REQUIRE(eventually([&] { return sender->status().at(0).failures >= 3; }));
    sender->stop();
    CHECK(kinds_at(sink) == "notify_failed:refused@ops");
  }
  ScriptedHook hook(always(200));
  auto outbox = open_outbox(dir, kFast);
  CHECK(outbox->rows("ops")->front().attempts >= 3);
  auto sender = make_sender(*outbox, {hook_spec("ops", hook.url())}, sink, clock);
  sender->start();
  REQUIRE(eventually([&] { return hook.taken().size() == 4; }));
  CHECK(joined(hook.taken()) == ids("n", 0, 4));
  REQUIRE(eventually([&] { return pending(*outbox, "ops") == 0; }));
}

TEST_CASE("outbox sender back-off grows and caps on the injected clock, Retry-After honoured") {
  TempDir dir;
  auto outbox = open_outbox(dir);  // 1 s doubling to 5 min
  RecordingSink sink;
  FakeClock clock;
  int retry_after = 0;
  ScriptedHook hook([&](int) {
    if (retry_after > 0)
      return ScriptedHook::Reply{503, {{"Retry-After", std::to_string(retry_after)}}};
    return ScriptedHook::Reply{503, {}};
  });
  auto sender = make_sender(*outbox, {hook_spec("ops", hook.url())}, sink, clock);
  enqueue_numbered(*sender, "n", 0, 2, {"ops"});

  const Duration want[] = {1s, 2s, 4s, 8s, 16s, 32s, 64s, 128s, 256s, 300s, 300s};
  for (std::size_t i = 0; i < std::size(want); ++i) {
    CAPTURE(i);
    MonoTime next = sender->send_due();
    REQUIRE(hook.requests() == i + 1);
    CHECK(next - clock.now() == want[i]);
    CHECK(outbox->rows("ops")->front().next_attempt == clock.wall_now() + want[i]);
    // Not a moment early: no request until the wait is over.
    clock.advance(want[i] - 1ms);
    next = sender->send_due();
    CHECK(hook.requests() == i + 1);
    CHECK(next - clock.now() == 1ms);
    clock.advance(1ms);
  }
  retry_after = 1200;  // 20 min: past the 5 min cap, within the 1 h limit
  sender->send_due();
  CHECK(hook.requests() == std::size(want) + 1);
  CHECK(outbox->rows("ops")->front().next_attempt == clock.wall_now() + 1200s);
  // Only the head was ever tried.
  for (const std::string& id : hook.seen()) CHECK(id == "n/0");
  CHECK(kinds_at(sink) == "notify_failed:http_5xx@ops");

  // A new sender, as after a restart, waits out what is left of the stored wait.
  clock.advance(200s);
  auto again = make_sender(*outbox, {hook_spec("ops", hook.url())}, sink, clock);
  const std::size_t before = hook.requests();
  CHECK(again->send_due() - clock.now() == 1000s);
  CHECK(hook.requests() == before);
  clock.advance(1000s);
  again->send_due();
  CHECK(hook.requests() == before + 1);
}

TEST_CASE(
    "outbox sender: a receiver down for 10 minutes gets everything within 5 minutes of return") {
  TempDir dir;
  auto outbox = open_outbox(dir);  // 1 s doubling to 5 min
  RecordingSink sink;
  FakeClock clock;
  ScriptedHook hook(always(503));
  auto sender = make_sender(*outbox, {hook_spec("ops", hook.url())}, sink, clock);
  const MonoTime down_at = clock.now();
  MonoTime next = clock.now();
  int raised = 0;
  // Down for 10 minutes; a notification is raised at every attempt.
  while (clock.now() - down_at < 10min) {
    clock.advance(next - clock.now());
    enqueue_numbered(*sender, "n", raised, raised + 1, {"ops"});
    ++raised;
    next = sender->send_due();
  }
  const MonoTime back_at = clock.now();
  hook.set_script(always(200));
  CHECK(hook.taken().empty());
  CHECK(next - back_at <= 5min);  // the next look is within the cap
  clock.advance(next - clock.now());
  sender->send_due();
  CHECK(joined(hook.taken()) == ids("n", 0, raised));
  CHECK(pending(*outbox, "ops") == 0);
  CHECK(kinds_at(sink) == "notify_failed:http_5xx@ops notify_delivered:recovered@ops");
}

TEST_CASE("outbox sender reads secrets per attempt: a missing key is retried, then sent") {
  TempDir dir;
  auto outbox = open_outbox(dir);
  RecordingSink sink;
  FakeClock clock;
  ScriptedHook hook(always(200));
  bool key_set = false;
  OutboxSenderOptions options = test_options();
  options.env = [&](const std::string& name) -> std::optional<std::string> {
    if (key_set) return fake_env(name);
    return std::nullopt;
  };
  auto sender = make_sender(*outbox, {hook_spec("ops", hook.url())}, sink, clock, options);
  enqueue_numbered(*sender, "n", 0, 2, {"ops"});
  const MonoTime next = sender->send_due();
  CHECK(next - clock.now() == 1s);
  CHECK(hook.requests() == 0);
  REQUIRE(sink.events().size() == 1);
  CHECK(sink.events()[0].reason == "secrets");
  CHECK(sink.events()[0].detail.find(kHookKeyEnv) != std::string::npos);  // names the variable
  CHECK(outbox->rows("ops")->front().last_error.find("notify[0]") != std::string::npos);

  key_set = true;  // the operator sets it: the next attempt reads it
  clock.advance(1s);
  sender->send_due();
  CHECK(joined(hook.taken()) == ids("n", 0, 2));
  CHECK(kinds_at(sink) == "notify_failed:secrets@ops notify_delivered:recovered@ops");
  // The stored rows never held the key.
  for (const std::string& body : hook.bodies()) CHECK(body.find(kHookKey) == std::string::npos);
}

TEST_CASE("outbox sender parks a row it cannot read and goes on with the next") {
  TempDir dir;
  auto outbox = open_outbox(dir);
  RecordingSink sink;
  FakeClock clock;
  ScriptedHook hook(always(200));
  auto sender = make_sender(*outbox, {hook_spec("ops", hook.url())}, sink, clock);
  REQUIRE(outbox->enqueue({"ops"}, "{\"v\":7}", clock.wall_now()));
  enqueue_numbered(*sender, "n", 0, 1, {"ops"});
  sender->send_due();
  CHECK(joined(hook.taken()) == "n/0");
  REQUIRE(outbox->parked()->size() == 1);
  CHECK(outbox->parked()->front().last_error.find("v: must be 1") != std::string::npos);
  CHECK(kinds_at(sink) == "notify_parked:bad_payload@ops");
}
