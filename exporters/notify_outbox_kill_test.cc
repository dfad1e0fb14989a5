// A process that enqueues notifications while its sender retries them, killed
// with SIGKILL: every notification enqueue() returned for is in the file, for
// every receiver of it, and a new sender delivers them all, in order, once.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exporters/notify_outbox.h"
#include "exporters/notify_outbox_test_support.h"
#include "exporters/push_test_support.h"
#include "storage/sqlite.h"
#include "storage/store.h"

using namespace linewatch;
using namespace linewatch::test;
using namespace std::chrono_literals;

namespace {

class NullSink final : public EventSink {
 public:
  void emit(const Event&) override {}
};

// The child: a sender whose receivers refuse every connection (so rows are
// retried, updated and kept), and notifications enqueued for both receivers
// as fast as the outbox takes them, until killed (bounded even if never).
[[noreturn]] void enqueue_until_killed(const std::string& dir, const std::string& refused) {
  OutboxTuning tuning;
  tuning.backoff = {5ms, 20ms, 50ms};
  auto outbox = Outbox::open(dir, tuning);
  if (!outbox) _exit(2);
  NullSink sink;
  SystemClock clock;
  OutboxSenderOptions options;
  options.env = fake_env;
  auto sender = OutboxSender::create(**outbox, {hook_spec("a", refused), hook_spec("b", refused)},
                                     sink, clock, options);
  if (!sender) _exit(3);
  (*sender)->start();
  const auto end = std::chrono::steady_clock::now() + 30s;
  for (int seq = 0; seq < 20'000 && std::chrono::steady_clock::now() < end; ++seq)
    if (!(*sender)->enqueue(numbered("k", seq), {"a", "b"})) _exit(4);
  std::this_thread::sleep_until(end);
  _exit(5);
}

std::int64_t outbox_rows(const std::string& path) {
  auto db = Db::open(path, SQLITE_OPEN_READONLY, 1s);
  if (!db) return 0;  // not created yet
  auto n = db->query_int("SELECT count(*) FROM outbox", "count");
  return n ? *n : 0;
}

// The notification ids of `receiver`'s rows, in queue order.
std::vector<std::string> queued_ids(const Outbox& outbox, const std::string& receiver) {
  auto rows = outbox.rows(receiver, 1'000'000);
  REQUIRE(rows);
  std::vector<std::string> out;
  for (const OutboxRow& r : *rows) {
    auto n = notification_from_payload(r.notification);
    REQUIRE_MESSAGE(n, n.error().message);
    out.push_back(n->id);
  }
  return out;
}

void kill_once(std::chrono::milliseconds extra) {
  TempDir dir;
  const std::string db = database_path(dir.path());
  const std::string refused = "http://127.0.0.1:" + std::to_string(free_port()) + "/hook";
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) enqueue_until_killed(dir.path(), refused);

  const bool queued = eventually([&] { return outbox_rows(db) >= 400; }, 20s);
  std::this_thread::sleep_for(extra);
  REQUIRE(kill(pid, SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(queued);
  REQUIRE(WIFSIGNALED(status));  // killed mid-stream, not finished on its own
  CHECK(WTERMSIG(status) == SIGKILL);

  OutboxTuning tuning;
  tuning.backoff = {5ms, 20ms, 50ms};
  auto outbox = Outbox::open(dir.path(), tuning);
  REQUIRE_MESSAGE(outbox, outbox.error().message);
  {
    auto raw = Db::open(db, SQLITE_OPEN_READONLY, 1s);
    REQUIRE(raw);
    CHECK(*raw->query_text("PRAGMA integrity_check", "integrity") == "ok");
  }
  // Enqueues commit whole and in order: k/0 .. k/n-1 for both receivers.
  const auto a = queued_ids(**outbox, "a");
  const auto b = queued_ids(**outbox, "b");
  const int n = static_cast<int>(a.size());
  CHECK(n >= 200);
  CHECK(joined(a) == ids("k", 0, n));
  CHECK(joined(b) == ids("k", 0, n));
  MESSAGE("killed with " << n << " notifications queued for each receiver");

  ScriptedHook hook_a(always(200));
  ScriptedHook hook_b(always(200));
  RecordingSink sink;
  SystemClock clock;
  OutboxSenderOptions options;
  options.env = fake_env;
  auto sender = OutboxSender::create(
      **outbox, {hook_spec("a", hook_a.url()), hook_spec("b", hook_b.url())}, sink, clock, options);
  REQUIRE(sender);
  (*sender)->start();
  REQUIRE(eventually(
      [&] {
        return hook_a.taken().size() >= static_cast<std::size_t>(n) &&
               hook_b.taken().size() >= static_cast<std::size_t>(n);
      },
      120s));
  (*sender)->stop();
  CHECK(joined(hook_a.taken()) == ids("k", 0, n));
  CHECK(joined(hook_b.taken()) == ids("k", 0, n));
  CHECK((*outbox)->rows("a")->empty());
  CHECK((*outbox)->rows("b")->empty());
}

}  // namespace

TEST_CASE("outbox: SIGKILL while enqueuing and retrying loses no queued notification") {
  for (auto extra : {0ms, 7ms, 33ms}) {
    CAPTURE(extra.count());
    kill_once(extra);
  }
}
