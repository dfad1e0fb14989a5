#include "rules/quality.h"

#include <doctest/doctest.h>

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

const MonoTime t0{};

// `n` answered echoes towards `target`, one every 100 ms from `from`, RTT from `rtt_of(i)`.
template <class F>
MonoTime echoes(LineQuality& q, const std::string& target, MonoTime from, int n, F rtt_of) {
  MonoTime t = from;
  for (int i = 0; i < n; ++i, t += 100ms) q.add_echo(target, t, rtt_of(i));
  return t;
}

ProbeResult round_of(ProbeKind kind, Reason reason, const std::string& target = "api") {
  ProbeResult r;
  r.line = "cn2";
  r.target = target;
  r.kind = kind;
  r.ok = reason == Reason::ok;
  r.reason = reason;
  return r;
}

}  // namespace

TEST_CASE("quality: a clean line breaks nothing") {
  LineQuality q(SlaOptions{});
  const MonoTime end = echoes(q, "edge", t0, 100, [](int i) { return 150ms + (i % 2) * 4ms; });
  const QualityFigures f = q.figures(end);
  CHECK(f.answered == 100);
  CHECK(f.loss == 0);
  CHECK(*f.median == 150ms);
  CHECK(*f.p95 == 154ms);
  CHECK(*f.jitter == 4ms);
  const SlaBreaches b = q.breaches(end);
  CHECK_FALSE(b.any());
  CHECK(b.reason() == "");
  CHECK(b.detail == "");
}

TEST_CASE("quality: rtt_p95 above the bound is a breach") {
  LineQuality q(SlaOptions{});
  // 90 % at 150 ms, 10 % at 450 ms: the p95 is 450 ms, the median 150 ms.
  const MonoTime end =
      echoes(q, "edge", t0, 100, [](int i) { return i % 10 == 0 ? 450ms : 150ms; });
  const SlaBreaches b = q.breaches(end);
  CHECK(b.rtt_p95);
  CHECK_FALSE(b.loss);
  CHECK(b.reason() == "rtt_p95");
  CHECK(b.detail.find("rtt_p95 450ms > 400ms") != std::string::npos);
  CHECK(*q.figures(end).median == 150ms);
}

TEST_CASE("quality: loss above the bound is a breach") {
  LineQuality q(SlaOptions{});
  MonoTime t = t0;
  for (int i = 0; i < 100; ++i, t += 100ms) {
    q.add_echo("edge", t, i % 20 == 0 ? std::nullopt : std::optional<Duration>(150ms));
  }
  const SlaBreaches b = q.breaches(t);
  CHECK(b.loss);
  CHECK_FALSE(b.rtt_p95);
  CHECK_FALSE(b.jitter);
  CHECK(b.reason() == "loss");
  CHECK(b.detail == "loss 5.0% > 2.0%");
}

TEST_CASE("quality: jitter above the bound is a breach") {
  LineQuality q(SlaOptions{});
  // Alternating 150/210 ms: every consecutive pair differs by 60 ms; p95 stays under 400 ms.
  const MonoTime end = echoes(q, "edge", t0, 100, [](int i) { return 150ms + (i % 2) * 60ms; });
  const SlaBreaches b = q.breaches(end);
  CHECK(b.jitter);
  CHECK_FALSE(b.rtt_p95);
  CHECK(b.reason() == "jitter");
  CHECK(*q.figures(end).jitter == 60ms);
}

TEST_CASE("quality: jitter pairs RTTs towards the same target only") {
  LineQuality q(SlaOptions{});
  MonoTime t = t0;
  // Two steady reflectors 100 ms apart, interleaved: no jitter at all.
  for (int i = 0; i < 50; ++i, t += 100ms) {
    q.add_echo("near", t, 50ms);
    q.add_echo("far", t, 150ms);
  }
  CHECK(*q.figures(t).jitter == 0ms);
  CHECK_FALSE(q.breaches(t).jitter);
}

TEST_CASE("quality: too few samples judge nothing") {
  SlaOptions o;
  o.min_samples = 20;
  LineQuality q(o);
  MonoTime t = t0;
  for (int i = 0; i < 19; ++i, t += 100ms) q.add_echo("edge", t, std::nullopt);
  CHECK_FALSE(q.breaches(t).any());
  q.add_echo("edge", t, std::nullopt);
  CHECK(q.breaches(t).loss);
}

TEST_CASE("quality: samples leave the window on monotonic time") {
  SlaOptions o;
  o.window = 10s;
  LineQuality q(o);
  MonoTime t = t0;
  for (int i = 0; i < 50; ++i, t += 100ms) q.add_echo("edge", t, std::nullopt);
  CHECK(q.breaches(t).loss);
  // 10 s later the losses are older than the window, even with nothing added.
  CHECK(q.figures(t + 10s).answered + q.figures(t + 10s).lost == 0);
  CHECK_FALSE(q.breaches(t + 10s).any());
  t = echoes(q, "edge", t + 10s, 50, [](int) { return 150ms; });
  CHECK(q.figures(t).lost == 0);
  CHECK(q.size() == 50);
}

TEST_CASE("quality: memory is capped at max_samples") {
  SlaOptions o;
  o.max_samples = 64;
  LineQuality q(o);
  MonoTime t = t0;
  for (int i = 0; i < 1000; ++i, t += 1ms)
    q.add_echo("edge", t, i < 900 ? std::nullopt : std::optional<Duration>(10ms));
  CHECK(q.size() == 64);
  CHECK(q.figures(t).lost == 0);  // the newest 64 were all answered
}

TEST_CASE("quality: TCP and HTTP rounds count only network reasons as loss") {
  LineQuality q(SlaOptions{});
  for (Reason r : {Reason::ok, Reason::http_status, Reason::body_mismatch, Reason::protocol}) {
    q.add_round(round_of(ProbeKind::http, r), t0);
  }
  for (Reason r : {Reason::bind, Reason::internal}) q.add_round(round_of(ProbeKind::tcp, r), t0);
  QualityFigures f = q.figures(t0);
  CHECK(f.answered == 4);
  CHECK(f.lost == 0);
  CHECK(f.rtt_samples == 0);
  for (Reason r :
       {Reason::timeout, Reason::refused, Reason::unreachable, Reason::dns, Reason::tls}) {
    q.add_round(round_of(ProbeKind::tcp, r), t0);
  }
  f = q.figures(t0);
  CHECK(f.answered == 4);
  CHECK(f.lost == 5);
}

TEST_CASE("quality: every echo of an ICMP round is a sample") {
  LineQuality q(SlaOptions{});
  ProbeResult r = round_of(ProbeKind::icmp, Reason::ok);
  r.rtts = {10ms, std::nullopt, 12ms, 14ms};
  q.add_round(r, t0);
  const QualityFigures f = q.figures(t0);
  CHECK(f.answered == 3);
  CHECK(f.lost == 1);
  CHECK(f.rtt_samples == 3);
  CHECK(*f.median == 12ms);
  CHECK(*f.jitter == 2ms);
}

TEST_CASE("quality: failures towards an excluded destination are left out") {
  LineQuality q(SlaOptions{});
  MonoTime t = echoes(q, "edge", t0, 100, [](int) { return 150ms; });
  for (int i = 0; i < 10; ++i) q.add_round(round_of(ProbeKind::http, Reason::timeout, "api"), t);
  CHECK(q.breaches(t).loss);  // 10 / 110 lost
  const SlaBreaches b = q.breaches(t, {"api"});
  CHECK_FALSE(b.any());
  CHECK(q.figures(t, {"api"}).answered == 100);
}
