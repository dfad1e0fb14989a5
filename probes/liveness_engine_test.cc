#include "probes/liveness_engine.h"

#include <doctest/doctest.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "probes/netns_test_support.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

SocketAddress address(const char* host) {
  SocketAddress a;
  CHECK(parse_numeric_address(host, 0, a));
  return a;
}

EchoStream::Options raw_echo() {
  EchoStream::Options o;
  o.kind = EchoSocket::Kind::raw;  // the tests run as root; ping sockets need ping_group_range
  return o;
}

LivenessOptions every(Duration interval) {
  LivenessOptions o;
  o.interval = interval;
  return o;
}

// A rules-free observer: records every call, per line and reflector. The
// engine calls it on its loop thread; the test reads it through snapshot().
class Recorder final : public LivenessObserver {
 public:
  struct Sent {
    std::uint64_t seq;
    MonoTime at;
  };
  struct Reply {
    std::uint64_t seq;
    MonoTime sent, received;
    Duration rtt;
  };
  struct Flow {
    std::vector<Sent> sent;
    std::vector<Reply> replies;
    std::vector<EchoError> errors;
  };
  struct Record {
    std::map<std::string, Flow> flows;  // "line/reflector"
    std::vector<MonoTime> ticks;
    std::vector<std::thread::id> threads;  // distinct threads that called
    std::uint64_t calls = 0;
  };

  void on_sent(const std::string& line, const std::string& reflector, std::uint64_t seq,
               MonoTime sent) override {
    {
      std::lock_guard lock(mutex_);
      note();
      record_.flows[line + "/" + reflector].sent.push_back({seq, sent});
    }
    if (stall_once_ >
        Duration::zero()) {  // simulates a stalled loop, which an observer must never do
      std::this_thread::sleep_for(std::exchange(stall_once_, Duration::zero()));
      stall_end_ = Steady::now();
    }
  }
  void on_reply(const std::string& line, const std::string& reflector, std::uint64_t seq,
                MonoTime sent, MonoTime received, Duration rtt) override {
    std::lock_guard lock(mutex_);
    note();
    record_.flows[line + "/" + reflector].replies.push_back({seq, sent, received, rtt});
  }
  void on_error(const std::string& line, const std::string& reflector, std::uint64_t,
                EchoError error) override {
    std::lock_guard lock(mutex_);
    note();
    record_.flows[line + "/" + reflector].errors.push_back(error);
  }
  void on_tick(MonoTime now) override {
    std::lock_guard lock(mutex_);
    note();
    record_.ticks.push_back(now);
  }

  Record snapshot() const {
    std::lock_guard lock(mutex_);
    return record_;
  }
  // The next on_sent sleeps `d` (set before the engine starts).
  void stall_once(Duration d) { stall_once_ = d; }
  MonoTime stall_end() const { return stall_end_; }

 private:
  void note() {
    ++record_.calls;
    const auto id = std::this_thread::get_id();
    if (std::find(record_.threads.begin(), record_.threads.end(), id) == record_.threads.end())
      record_.threads.push_back(id);
  }

  mutable std::mutex mutex_;
  Record record_;
  Duration stall_once_{};              // loop thread only once started
  std::atomic<MonoTime> stall_end_{};  // written on the loop thread
};

std::unique_ptr<LivenessEngine> started(Recorder& recorder, EchoStream::Options echo = raw_echo()) {
  auto engine = LivenessEngine::start(recorder, echo);
  REQUIRE_MESSAGE(engine.ok(), engine.error().message);
  return std::move(engine).value();
}

// |t - anchor| folded onto the interval: how far t is from anchor's grid.
Duration off_grid(MonoTime t, MonoTime anchor, Duration interval) {
  Duration d = (t - anchor) % interval;
  if (d < Duration::zero()) d += interval;
  return std::min(d, interval - d);
}

Duration percentile(std::vector<Duration> v, double q) {
  REQUIRE_FALSE(v.empty());
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

TEST_CASE("two lines on one loop echo their reflectors on a grid and get stamped replies") {
  Recorder recorder;
  auto engine = started(recorder);
  const LineBinding any;
  REQUIRE(
      engine
          ->add_line("a", any, {{"v4", address("127.0.0.1")}, {"v6", address("::1")}}, every(10ms))
          .ok());
  const MonoTime b_added = Steady::now();
  REQUIRE(engine->add_line("b", any, {{"v4", address("127.0.0.2")}}, every(10ms)).ok());
  std::this_thread::sleep_for(1s);
  engine->stop();
  const Recorder::Record record = recorder.snapshot();
  const LivenessEngineStats stats = engine->stats();

  CHECK(record.threads.size() == 1);
  CHECK(record.threads.front() != std::this_thread::get_id());
  REQUIRE(record.flows.size() == 3);
  std::uint64_t sent_total = 0, replies_total = 0;
  for (const auto& [name, flow] : record.flows) {
    CAPTURE(name);
    REQUIRE(flow.sent.size() >= 50);  // 100 slots in the second, minus a loaded machine's misses
    CHECK(flow.errors.empty());
    // Sequence numbers count up from 0 without a gap.
    for (std::size_t i = 0; i < flow.sent.size(); ++i) CHECK(flow.sent[i].seq == i);
    // Pipelined replies: all but the last few (in flight at stop) came back.
    CHECK(flow.replies.size() + 3 >= flow.sent.size());
    for (const Recorder::Reply& r : flow.replies) {
      REQUIRE(r.seq < flow.sent.size());
      CHECK(r.sent == flow.sent[r.seq].at);
      CHECK(r.received >= r.sent);
      CHECK(r.rtt > 0ns);
      CHECK(r.rtt < 10ms);
    }
    // No drift: sends stay on their first send's grid (a schedule that
    // re-armed relative to each late firing would walk off it).
    std::vector<Duration> off;
    for (const Recorder::Sent& s : flow.sent)
      off.push_back(off_grid(s.at, flow.sent.front().at, 10ms));
    CHECK(percentile(off, 0.9) < 2500us);
    sent_total += flow.sent.size();
    replies_total += flow.replies.size();
  }
  // Not in lockstep: the first line starts at once, the second 0.618 of an
  // interval after it was added.
  CHECK(record.flows.at("b/v4").sent.front().at - b_added >= 6ms);
  // Ticks at least every interval / 2 (a loaded machine may delay a few).
  REQUIRE(record.ticks.size() >= 100);
  std::vector<Duration> gaps;
  for (std::size_t i = 1; i < record.ticks.size(); ++i)
    gaps.push_back(record.ticks[i] - record.ticks[i - 1]);
  // Nominally 5 ms apart; each tick lands a wake-up later than due, never early.
  CHECK(percentile(gaps, 0.5) <= 6ms);
  CHECK(stats.echoes == sent_total);
  CHECK(stats.replies == replies_total);
  CHECK(stats.send_errors == 0);
  CHECK(stats.ticks == record.ticks.size());
}

// The reflector is the namespace's own loopback; after 300 ms it stops
// answering (icmp_echo_ignore_all). Sends must go on as before: they never
// wait for replies.
TEST_CASE("a reflector that stops answering: replies stop while sends go on on schedule") {
  Recorder recorder;
  MonoTime cut{};
  std::string setup;
  LivenessEngineStats stats;
  std::thread([&] {
    setup = testing::enter_private_namespace();
    if (!setup.empty()) return;
    auto engine = LivenessEngine::start(recorder, raw_echo());
    CHECK(engine.ok());
    if (!engine.ok()) return;
    CHECK(engine.value()->add_line("l", {}, {{"r", address("127.0.0.1")}}, every(10ms)).ok());
    std::this_thread::sleep_for(300ms);
    setup = testing::set_sysctl("net/ipv4/icmp_echo_ignore_all", "1");
    cut = Steady::now();
    std::this_thread::sleep_for(500ms);
    engine.value()->stop();
    stats = engine.value()->stats();
  }).join();
  REQUIRE(setup == "");
  const Recorder::Record record = recorder.snapshot();
  const Recorder::Flow& flow = record.flows.at("l/r");
  std::size_t before = 0, after = 0;
  for (const Recorder::Sent& s : flow.sent) (s.at < cut ? before : after) += 1;
  CHECK(before >= 15);
  CHECK(after >= 25);  // 50 slots in the 500 ms, minus a loaded machine's misses
  for (const Recorder::Reply& r : flow.replies) CHECK(r.sent < cut);
  CHECK(flow.replies.size() + 3 >= before);
  CHECK(flow.errors.empty());
  CHECK(stats.send_errors == 0);
  // Ticks went on through the silence.
  CHECK(std::count_if(record.ticks.begin(), record.ticks.end(),
                      [&](MonoTime t) { return t > cut; }) >= 50);
}

// The observer stalls the loop for 150 ms once: the 10 ms slots that passed
// are counted as missed and skipped, not sent in a burst when it resumes.
TEST_CASE("after a stall, missed slots are counted and skipped, not sent in a burst") {
  Recorder recorder;
  recorder.stall_once(150ms);
  auto engine = started(recorder);
  REQUIRE(engine->add_line("l", {}, {{"r", address("127.0.0.1")}}, every(10ms)).ok());
  std::this_thread::sleep_for(400ms);
  engine->stop();
  const LivenessEngineStats stats = engine->stats();
  const Recorder::Flow flow = recorder.snapshot().flows.at("l/r");
  const MonoTime resumed = recorder.stall_end();
  CHECK(stats.missed_slots >= 13);  // 150 ms of 10 ms slots, the first one sent
  CHECK(stats.loop_lag_max >= 140ms);
  std::size_t burst = 0;
  for (const Recorder::Sent& s : flow.sent) burst += s.at >= resumed && s.at < resumed + 10ms;
  CHECK(burst <= 2);  // the late slot, then at most the next one on the grid
  CHECK(flow.sent.size() + stats.missed_slots >= 30);
}

TEST_CASE("sequence numbers past 65535 reach the observer unwrapped") {
  Recorder recorder;
  EchoStream::Options echo = raw_echo();
  echo.first_seq = 65530;
  auto engine = started(recorder, echo);
  REQUIRE(engine->add_line("l", {}, {{"r", address("127.0.0.1")}}, every(10ms)).ok());
  const MonoTime deadline = Steady::now() + 3s;
  while (Steady::now() < deadline && recorder.snapshot().flows["l/r"].replies.size() < 12)
    std::this_thread::sleep_for(10ms);
  engine->stop();
  const Recorder::Flow flow = recorder.snapshot().flows.at("l/r");
  REQUIRE(flow.replies.size() >= 12);
  for (std::size_t i = 0; i < flow.replies.size(); ++i) CHECK(flow.replies[i].seq == 65530 + i);
}

TEST_CASE("stop is prompt and no observer call follows it") {
  Recorder recorder;
  auto engine = started(recorder);
  REQUIRE(engine->add_line("slow", {}, {{"r", address("127.0.0.1")}}, every(1h)).ok());
  REQUIRE(engine->add_line("fast", {}, {{"r", address("127.0.0.1")}}, every(1ms)).ok());
  std::this_thread::sleep_for(50ms);
  const MonoTime start = Steady::now();
  engine->stop();
  CHECK(Steady::now() - start < 1s);  // did not wait for the hour-long slot
  const std::uint64_t calls = recorder.snapshot().calls;
  CHECK(calls > 0);
  std::this_thread::sleep_for(30ms);
  CHECK(recorder.snapshot().calls == calls);
  engine.reset();
}

TEST_CASE("remove_line ends that line's echoes only") {
  Recorder recorder;
  auto engine = started(recorder);
  REQUIRE(engine->add_line("gone", {}, {{"r", address("127.0.0.1")}}, every(5ms)).ok());
  REQUIRE(engine->add_line("kept", {}, {{"r", address("127.0.0.1")}}, every(5ms)).ok());
  std::this_thread::sleep_for(100ms);
  engine->remove_line("gone");
  engine->remove_line("never-added");
  const std::size_t gone = recorder.snapshot().flows["gone/r"].sent.size();
  const std::size_t kept = recorder.snapshot().flows["kept/r"].sent.size();
  std::this_thread::sleep_for(100ms);
  engine->stop();
  CHECK(gone > 0);
  CHECK(recorder.snapshot().flows["gone/r"].sent.size() == gone);
  CHECK(recorder.snapshot().flows["kept/r"].sent.size() > kept);
}

TEST_CASE("add_line refuses bad input with a message naming the line") {
  Recorder recorder;
  auto engine = started(recorder);
  const SocketAddress lo = address("127.0.0.1");
  REQUIRE(engine->add_line("l", {}, {{"r", lo}}, every(10ms)).ok());

  Status twice = engine->add_line("l", {}, {{"r", lo}}, every(10ms));
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().message == "line l: added twice");

  Status none = engine->add_line("m", {}, {}, every(10ms));
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message == "line m: liveness: no reflectors");

  Status dup = engine->add_line("m", {}, {{"r", lo}, {"r", lo}}, every(10ms));
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().message == "line m: liveness: reflector r given twice");

  Status zero = engine->add_line("m", {}, {{"r", lo}}, every(0ms));
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error().message == "line m: liveness: interval must be positive");

  Status bind =
      engine->add_line("m", LineBinding{"198.18.255.254", {}, {}}, {{"r", lo}}, every(10ms));
  REQUIRE_FALSE(bind.ok());
  CHECK(bind.error().code == ErrorCode::io);
  CHECK(bind.error().message ==
        "line m: liveness: IPv4 reflector r: source 198.18.255.254: Cannot assign requested "
        "address");
  engine->stop();
}

}  // namespace
}  // namespace linewatch
