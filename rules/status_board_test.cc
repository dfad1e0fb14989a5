#include "rules/status_board.h"

#include <doctest/doctest.h>

#include "core/fake_clock.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

ProbeResult icmp_round(std::vector<std::optional<Duration>> rtts) {
  ProbeResult r;
  r.line = "l1";
  r.target = "t1";
  r.kind = ProbeKind::icmp;
  r.rtts = std::move(rtts);
  summarise_echoes(r);
  r.ok = r.received > 0;
  r.reason = r.ok ? Reason::ok : Reason::timeout;
  return r;
}

ProbeResult tcp_round(bool ok, Duration rtt, Reason reason = Reason::ok) {
  ProbeResult r;
  r.line = "l1";
  r.target = "t1";
  r.kind = ProbeKind::tcp;
  r.ok = ok;
  r.reason = ok ? Reason::ok : reason;
  if (ok) r.rtt = rtt;
  return r;
}

}  // namespace

TEST_CASE("quantile uses nearest rank") {
  std::vector<Duration> v;
  for (int i = 100; i >= 1; --i) v.push_back(std::chrono::milliseconds(i));
  CHECK(*quantile(v, 0.95) == 95ms);
  CHECK(*quantile(v, 0.5) == 50ms);
  CHECK(*quantile(v, 1.0) == 100ms);
  CHECK(*quantile(v, 0.0) == 1ms);
  std::vector<Duration> empty;
  CHECK_FALSE(quantile(empty, 0.5).has_value());
}

TEST_CASE("ICMP loss counts echoes, availability counts rounds") {
  FakeClock clock;
  StatusBoard board(clock, 5min);
  board.record(icmp_round({10ms, 12ms, std::nullopt, 14ms}));
  board.record(icmp_round({std::nullopt, std::nullopt, std::nullopt, std::nullopt}));
  auto snap = board.snapshot();
  REQUIRE(snap.size() == 1);
  const auto& s = snap[0];
  CHECK(s.rounds == 2);
  CHECK(s.ok_rounds == 1);
  CHECK(s.availability == doctest::Approx(0.5));
  CHECK(s.loss == doctest::Approx(5.0 / 8.0));
  CHECK(*s.rtt_median == 12ms);
  CHECK(*s.rtt_p95 == 14ms);
  CHECK(*s.jitter == 2ms);
  REQUIRE(s.last_failure.has_value());
  CHECK(*s.last_failure == Reason::timeout);
  CHECK(s.latest.received == 0);
}

TEST_CASE("TCP loss is the failed-round ratio and the last failure is remembered") {
  FakeClock clock;
  StatusBoard board(clock, 5min);
  board.record(tcp_round(true, 3ms));
  board.record(tcp_round(false, 0ms, Reason::refused));
  board.record(tcp_round(true, 5ms));
  board.record(tcp_round(true, 4ms));
  const auto s = board.snapshot().at(0);
  CHECK(s.rounds == 4);
  CHECK(s.loss == doctest::Approx(0.25));
  CHECK(*s.last_failure == Reason::refused);
  CHECK(s.latest.ok);
  CHECK(*s.rtt_median == 4ms);
}

TEST_CASE("rounds age out of the window on the monotonic clock") {
  FakeClock clock;
  StatusBoard board(clock, 5min);
  board.record(tcp_round(false, 0ms, Reason::timeout));
  clock.advance(4min);
  board.record(tcp_round(true, 7ms));
  CHECK(board.snapshot().at(0).rounds == 2);
  clock.step_wall(-1h);  // a wall step must not matter
  clock.advance(90s);    // the first round is now 5.5 min old
  auto s = board.snapshot().at(0);
  CHECK(s.rounds == 1);
  CHECK(s.availability == 1.0);
  CHECK_FALSE(s.last_failure.has_value());
  clock.advance(10min);
  s = board.snapshot().at(0);
  CHECK(s.rounds == 0);
  CHECK(s.latest.ok);  // the latest round stays visible
}

TEST_CASE("series are kept apart by line, target and kind") {
  FakeClock clock;
  StatusBoard board(clock, 5min);
  auto a = tcp_round(true, 1ms);
  auto b = a;
  b.line = "l2";
  auto c = a;
  c.kind = ProbeKind::http;
  board.record(a);
  board.record(b);
  board.record(c);
  auto snap = board.snapshot();
  REQUIRE(snap.size() == 3);
  CHECK(snap[0].key.line == "l1");
  CHECK(snap[2].key.line == "l2");
}
