// Notices into the notifier outbox, on a real SQLite file and a fake clock:
// the conversion, the order, writes retried while the file is locked, the
// stop that writes what is queued, and the re-sends to Alertmanager. The
// thread is never started; the tests call step() as it would.
#include "agent/outbox_notices.h"

#include <Poco/Net/ServerSocket.h>
#include <doctest/doctest.h>

#include "core/fake_clock.h"
#include "storage/outbox.h"
#include "storage/test_util.h"

using namespace linewatch;
using namespace linewatch::test;
using namespace std::chrono_literals;

namespace {

class NoEvents final : public EventSink {
 public:
  void emit(const Event&) override {}
};

// A loopback port with nothing listening: connections to it are refused.
std::uint16_t closed_port() {
  Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
  const std::uint16_t port = s.address().port();
  s.close();
  return port;
}

NotifierSpec receiver(std::string id, NotifierKind kind) {
  NotifierSpec s;
  s.id = std::move(id);
  s.kind = kind;
  s.url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  s.timeout = 1s;
  return s;
}

AlertNotice firing_notice(const std::string& tag = "firing") {
  AlertNotice n;
  n.id = "bj-gw-1/api-slow/cn2-bj-1:openai:http/1800000000000-1/" + tag;
  n.rule = "api-slow";
  n.severity = "critical";
  n.summary = "openai answers slowly over cn2-bj-1";
  n.labels = {{"line", "cn2-bj-1"},
              {"target", "openai"},
              {"kind", "http"},
              {"rule", "api-slow"},
              {"severity", "critical"}};
  n.value_text = "3412 ms";
  n.value = 3412;
  n.threshold_text = "3000 ms";
  n.threshold = 3000;
  n.starts_at = WallTime(std::chrono::milliseconds(1'800'000'000'000));
  return n;
}

AlertNotice resolved_notice() {
  AlertNotice n = firing_notice("resolved");
  n.resolved = true;
  n.value_text = "2100 ms";
  n.value = 2100;
  n.ends_at = WallTime(std::chrono::milliseconds(1'800'000'090'500));
  return n;
}

struct Rig {
  explicit Rig(std::vector<NotifierSpec> specs = {receiver("ops", NotifierKind::webhook),
                                                  receiver("am", NotifierKind::alertmanager)},
               OutboxNoticesOptions options = {}) {
    OutboxTuning tuning;
    tuning.busy_timeout = 20ms;  // a locked file fails a write at once
    auto o = Outbox::open(dir.path(), tuning);
    REQUIRE_MESSAGE(o, o.error().message);
    outbox = std::move(*o);
    auto s = OutboxSender::create(*outbox, specs, events, clock);
    REQUIRE_MESSAGE(s, s.error().message);
    sender = std::move(*s);
    notices = std::make_unique<OutboxNotices>(*sender, "bj-gw-1", specs, clock, options);
  }

  // The ids of the notifications queued for `receiver`, in sending order.
  std::vector<std::string> ids(const std::string& receiver) const {
    std::vector<std::string> out;
    for (const Notification& n : notifications(receiver)) out.push_back(n.id);
    return out;
  }
  std::vector<Notification> notifications(const std::string& receiver) const {
    auto rows = outbox->rows(receiver);
    REQUIRE_MESSAGE(rows, rows.error().message);
    std::vector<Notification> out;
    for (const OutboxRow& r : *rows) {
      auto n = notification_from_payload(r.notification);
      REQUIRE_MESSAGE(n, n.error().message);
      out.push_back(*n);
    }
    return out;
  }

  TempDir dir;
  FakeClock clock;
  NoEvents events;
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<OutboxSender> sender;
  std::unique_ptr<OutboxNotices> notices;
};

const std::string kEpisode = "bj-gw-1/api-slow/cn2-bj-1:openai:http/1800000000000-1";

}  // namespace

TEST_CASE("outbox notices: a notice becomes a notification field by field") {
  const Notification f = to_notification(firing_notice(), "bj-gw-1");
  CHECK(f.id == kEpisode + "/firing");
  CHECK(f.agent == "bj-gw-1");
  CHECK(f.rule == "api-slow");
  CHECK(f.status == NotifyStatus::firing);
  CHECK(f.severity == "critical");
  CHECK(f.summary == "openai answers slowly over cn2-bj-1");
  CHECK(f.labels == std::map<std::string, std::string>{{"kind", "http"},
                                                       {"line", "cn2-bj-1"},
                                                       {"rule", "api-slow"},
                                                       {"severity", "critical"},
                                                       {"target", "openai"}});
  CHECK(f.value_text == "3412 ms");
  CHECK(f.value == 3412);
  CHECK(f.threshold_text == "3000 ms");
  CHECK(f.threshold == 3000);
  CHECK(f.starts_at == WallTime(std::chrono::milliseconds(1'800'000'000'000)));
  CHECK_FALSE(f.ends_at);
  CHECK(f.link.empty());

  AlertNotice repeat = firing_notice("repeat-2");
  repeat.repeat = 2;
  CHECK(to_notification(repeat, "a").status == NotifyStatus::firing);

  const Notification r = to_notification(resolved_notice(), "bj-gw-1");
  CHECK(r.status == NotifyStatus::resolved);
  CHECK(r.value_text == "2100 ms");
  CHECK(r.ends_at == WallTime(std::chrono::milliseconds(1'800'000'090'500)));
  CHECK(episode_of(r.id) == kEpisode);
  CHECK(episode_of("no-slash") == "no-slash");
}

TEST_CASE("outbox notices: written to the outbox in order, for their receivers only") {
  Rig rig;
  rig.notices->enqueue(firing_notice(), {"ops", "am"});
  AlertNotice other = firing_notice();
  other.id = "bj-gw-1/loss/cn2-bj-1/1800000000500-1/firing";
  rig.notices->enqueue(other, {"ops"});
  // Nothing is written on the caller's thread.
  CHECK(rig.ids("ops").empty());
  CHECK(rig.notices->stats().queued == 2);

  rig.notices->step();
  CHECK(rig.ids("ops") == std::vector<std::string>{kEpisode + "/firing", other.id});
  CHECK(rig.ids("am") == std::vector<std::string>{kEpisode + "/firing"});
  // The stored payload is the conversion, whole.
  const Notification stored = rig.notifications("ops").front();
  const Notification want = to_notification(firing_notice(), "bj-gw-1");
  CHECK(stored.labels == want.labels);
  CHECK(stored.summary == want.summary);
  CHECK(stored.value == want.value);
  CHECK(stored.threshold_text == want.threshold_text);
  CHECK(stored.starts_at == want.starts_at);
  const OutboxNoticesStats st = rig.notices->stats();
  CHECK(st.written == 2);
  CHECK(st.queued == 0);
}

TEST_CASE("outbox notices: a locked outbox holds the notices back and they follow in order") {
  Rig rig;
  {
    Db lock = lock_exclusively(rig.outbox->path());
    rig.notices->enqueue(firing_notice(), {"ops"});
    rig.notices->enqueue(resolved_notice(), {"ops"});
    const MonoTime next = rig.notices->step();
    CHECK(next == rig.clock.now() + 1s);  // write_retry
    const OutboxNoticesStats st = rig.notices->stats();
    CHECK(st.write_failures == 1);
    CHECK(st.queued == 2);
    CHECK(st.written == 0);
  }
  rig.clock.advance(1s);
  rig.notices->step();
  CHECK(rig.ids("ops") == std::vector<std::string>{kEpisode + "/firing", kEpisode + "/resolved"});
  CHECK(rig.notices->stats().queued == 0);
}

TEST_CASE("outbox notices: stop writes what is queued and refuses later notices") {
  Rig rig;
  rig.notices->enqueue(firing_notice(), {"ops"});
  rig.notices->stop();
  CHECK(rig.ids("ops") == std::vector<std::string>{kEpisode + "/firing"});
  rig.notices->enqueue(resolved_notice(), {"ops"});
  rig.notices->stop();
  CHECK(rig.ids("ops").size() == 1);
  const OutboxNoticesStats st = rig.notices->stats();
  CHECK(st.written == 1);
  CHECK(st.dropped == 1);
  CHECK(st.lost == 0);
}

TEST_CASE("outbox notices: past capacity a notice is dropped and counted") {
  OutboxNoticesOptions options;
  options.capacity = 2;
  Rig rig({receiver("ops", NotifierKind::webhook)}, options);
  for (int i = 0; i < 3; ++i) rig.notices->enqueue(firing_notice(), {"ops"});
  CHECK(rig.notices->stats().dropped == 1);
  rig.notices->step();
  CHECK(rig.ids("ops").size() == 2);
}

TEST_CASE("outbox notices: a firing alert goes to alertmanager again every minute until resolved") {
  Rig rig;
  rig.notices->enqueue(firing_notice(), {"ops", "am"});
  CHECK(rig.notices->step() == rig.clock.now() + 60s);
  rig.clock.advance(59s);
  rig.notices->step();
  CHECK(rig.ids("am").size() == 1);

  rig.clock.advance(1s);
  CHECK(rig.notices->step() == rig.clock.now() + 60s);
  rig.clock.advance(60s);
  rig.notices->step();
  CHECK(rig.ids("am") == std::vector<std::string>{kEpisode + "/firing", kEpisode + "/resend-1",
                                                  kEpisode + "/resend-2"});
  // The copy is the firing notice under a fresh id; the webhook gets none.
  const Notification copy = rig.notifications("am").back();
  CHECK(copy.status == NotifyStatus::firing);
  CHECK(copy.value_text == "3412 ms");
  CHECK(copy.labels.at("line") == "cn2-bj-1");
  CHECK(rig.ids("ops") == std::vector<std::string>{kEpisode + "/firing"});
  CHECK(rig.notices->stats().resent == 2);

  // A repeat restarts the period and is what the copies repeat.
  AlertNotice repeat = firing_notice("repeat-1");
  repeat.repeat = 1;
  repeat.value_text = "3900 ms";
  rig.clock.advance(30s);
  rig.notices->enqueue(repeat, {"ops", "am"});
  rig.notices->step();
  rig.clock.advance(59s);
  rig.notices->step();
  CHECK(rig.ids("am").size() == 4);
  rig.clock.advance(1s);
  rig.notices->step();
  CHECK(rig.ids("am").back() == kEpisode + "/resend-3");
  CHECK(rig.notifications("am").back().value_text == "3900 ms");

  // Resolved: no copy is written after it.
  rig.notices->enqueue(resolved_notice(), {"ops", "am"});
  CHECK(rig.notices->step() == MonoTime::max());
  rig.clock.advance(10min);
  rig.notices->step();
  CHECK(rig.ids("am").back() == kEpisode + "/resolved");
  CHECK(rig.ids("am").size() == 6);
}

TEST_CASE("outbox notices: no re-send to an alertmanager not among the alert's receivers") {
  Rig rig;
  rig.notices->enqueue(firing_notice(), {"ops"});
  CHECK(rig.notices->step() == MonoTime::max());
  rig.clock.advance(5min);
  rig.notices->step();
  CHECK(rig.ids("am").empty());
  CHECK(rig.ids("ops").size() == 1);
}

TEST_CASE("outbox notices: no copies pile up behind an alertmanager that is failing") {
  Rig rig({receiver("am", NotifierKind::alertmanager)});
  rig.notices->enqueue(firing_notice(), {"am"});
  rig.notices->step();
  rig.sender->send_due();  // refused: the row stays, the receiver is failing
  REQUIRE(rig.sender->status().front().failing);
  rig.clock.advance(60s);
  rig.notices->step();
  CHECK(rig.ids("am") == std::vector<std::string>{kEpisode + "/firing"});
  CHECK(rig.notices->stats().resent == 0);
}
