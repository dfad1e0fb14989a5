#include "core/round_codec.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

using Rng = std::mt19937_64;

int pick(Rng& rng, int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); }

constexpr Duration::rep kMin = std::numeric_limits<Duration::rep>::min();
constexpr Duration::rep kMax = std::numeric_limits<Duration::rep>::max();

// Any 64-bit value, biased towards the edges and the everyday range.
std::int64_t any_i64(Rng& rng) {
  switch (pick(rng, 8)) {
    case 0:
      return kMin + pick(rng, 3);
    case 1:
      return kMax - pick(rng, 3);
    case 2:
      return static_cast<std::int64_t>(rng());  // anything, negative included
    case 3:
      return -pick(rng, 1'000'000);
    case 4:
      return 0;
    default:
      return pick(rng, 2'000'000'000);  // up to 2 s in nanoseconds
  }
}

Duration any_duration(Rng& rng) { return Duration(any_i64(rng)); }

std::optional<Duration> maybe(Rng& rng) {
  if (pick(rng, 3) == 0) return std::nullopt;
  return any_duration(rng);
}

int any_int(Rng& rng) {
  switch (pick(rng, 4)) {
    case 0:
      return std::numeric_limits<int>::min() + pick(rng, 2);
    case 1:
      return std::numeric_limits<int>::max() - pick(rng, 2);
    case 2:
      return -pick(rng, 100);
    default:
      return pick(rng, 30);
  }
}

std::string any_text(Rng& rng) {
  std::string s(static_cast<std::size_t>(pick(rng, 3) == 0 ? pick(rng, 5000) : pick(rng, 40)), ' ');
  for (char& c : s) c = static_cast<char>(rng());  // every byte value, NUL included
  return s;
}

// A round with every field drawn at random, each often at its default.
ProbeResult random_result(Rng& rng) {
  ProbeResult r;
  r.line = "line-" + std::to_string(rng() % 100);
  r.target = "target-" + std::to_string(rng() % 100);
  r.kind = static_cast<ProbeKind>(pick(rng, 256));
  r.reason = static_cast<Reason>(pick(rng, 256));
  r.time = WallTime(WallTime::duration(any_i64(rng)));
  r.ok = pick(rng, 2);
  if (pick(rng, 2)) r.detail = any_text(rng);
  r.rtt = maybe(rng);
  if (pick(rng, 2)) r.duration = any_duration(rng);
  if (pick(rng, 2)) r.sent = any_int(rng);
  if (pick(rng, 2)) r.received = any_int(rng);
  r.rtt_min = maybe(rng);
  r.rtt_median = maybe(rng);
  r.rtt_avg = maybe(rng);
  r.rtt_max = maybe(rng);
  r.rtt_stddev = maybe(rng);
  const int echoes = pick(rng, 4) == 0 ? pick(rng, 300) : pick(rng, 6);
  const int lost_one_in = 1 + pick(rng, 4);  // 1: every echo lost
  for (int i = 0; i < echoes; ++i)
    r.rtts.push_back(pick(rng, lost_one_in) == 0 ? std::nullopt
                                                 : std::optional<Duration>(any_duration(rng)));
  r.phases = Phases{maybe(rng), maybe(rng), maybe(rng), maybe(rng), maybe(rng)};
  if (pick(rng, 2)) r.http_status = any_int(rng);
  if (pick(rng, 2)) r.cert_expiry = WallTime(WallTime::duration(any_i64(rng)));
  if (pick(rng, 2)) r.body_bytes = pick(rng, 2) ? rng() : rng() % 1000;
  if (pick(rng, 2)) {
    LlmFigures& l = r.llm.emplace();
    l.mode = static_cast<LlmMode>(pick(rng, 256));
    l.ttft = maybe(rng);
    l.total = maybe(rng);
    l.tokens = pick(rng, 2) ? any_int(rng) : 0;
    l.stream_complete = pick(rng, 2);
    l.retry_after = maybe(rng);
    if (pick(rng, 2)) l.model_listed = pick(rng, 2) == 0;
    if (pick(rng, 2)) l.stream_bytes = pick(rng, 2) ? rng() : rng() % 1000;
  }
  return r;
}

void check_same_llm(const LlmFigures& got, const LlmFigures& want) {
  CHECK(got.mode == want.mode);
  CHECK(got.ttft == want.ttft);
  CHECK(got.total == want.total);
  CHECK(got.tokens == want.tokens);
  CHECK(got.stream_complete == want.stream_complete);
  CHECK(got.retry_after == want.retry_after);
  CHECK(got.model_listed == want.model_listed);
  CHECK(got.stream_bytes == want.stream_bytes);
}

// Every field of ProbeResult, Phases and LlmFigures (see the size checks in
// round_codec.cc).
void check_same(const ProbeResult& got, const ProbeResult& want) {
  CHECK(got.line == want.line);
  CHECK(got.target == want.target);
  CHECK(got.kind == want.kind);
  CHECK(got.time == want.time);
  CHECK(got.ok == want.ok);
  CHECK(got.reason == want.reason);
  CHECK(got.detail == want.detail);
  CHECK(got.rtt == want.rtt);
  CHECK(got.duration == want.duration);
  CHECK(got.sent == want.sent);
  CHECK(got.received == want.received);
  CHECK(got.rtt_min == want.rtt_min);
  CHECK(got.rtt_median == want.rtt_median);
  CHECK(got.rtt_avg == want.rtt_avg);
  CHECK(got.rtt_max == want.rtt_max);
  CHECK(got.rtt_stddev == want.rtt_stddev);
  CHECK(got.rtts == want.rtts);
  CHECK(got.phases.dns == want.phases.dns);
  CHECK(got.phases.connect == want.phases.connect);
  CHECK(got.phases.tls == want.phases.tls);
  CHECK(got.phases.ttfb == want.phases.ttfb);
  CHECK(got.phases.transfer == want.phases.transfer);
  CHECK(got.http_status == want.http_status);
  CHECK(got.cert_expiry == want.cert_expiry);
  CHECK(got.body_bytes == want.body_bytes);
  REQUIRE(got.llm.has_value() == want.llm.has_value());
  if (want.llm) check_same_llm(*got.llm, *want.llm);
}

std::vector<std::uint8_t> encoded(const ProbeResult& r) {
  std::vector<std::uint8_t> out;
  encode_round(r, out);
  return out;
}

// Decodes into a result that already holds r's line and target (the codec
// leaves them) and every other field set to something else.
ProbeResult round_trip(const ProbeResult& r, const ProbeResult& stale) {
  ProbeResult back = stale;
  back.line = r.line;
  back.target = r.target;
  REQUIRE(decode_round(encoded(r), back));
  return back;
}

ProbeResult one_ping(Duration rtt) {
  ProbeResult r;
  r.kind = ProbeKind::icmp;
  r.time = WallTime(1'800'000'000s + 123'456'789ns);
  r.rtts = {rtt};
  summarise_echoes(r);
  r.ok = true;
  r.reason = Reason::ok;
  r.duration = rtt + 3us;
  return r;
}

}  // namespace

TEST_CASE("the round codec gives back every field of seeded random rounds exactly") {
  Rng rng(20261130);
  ProbeResult stale = random_result(rng);  // decoding must overwrite, not merge
  int with_llm = 0, with_lost = 0, with_detail = 0;
  for (int i = 0; i < 3000; ++i) {
    const ProbeResult r = random_result(rng);
    CAPTURE(i);
    check_same(round_trip(r, stale), r);
    stale = r;
    with_llm += r.llm.has_value();
    with_detail += !r.detail.empty();
    for (const auto& v : r.rtts) {
      if (!v) {
        ++with_lost;
        break;
      }
    }
  }
  // The feed reached the cases it is meant to cover.
  CHECK(with_llm > 1000);
  CHECK(with_detail > 1000);
  CHECK(with_lost > 300);
}

TEST_CASE("the round codec keeps extreme and default rounds exactly") {
  ProbeResult empty;  // every field at its default
  Rng rng(1);
  ProbeResult full = random_result(rng);
  full.llm.emplace();
  check_same(round_trip(empty, full), empty);

  ProbeResult r;
  r.kind = ProbeKind::icmp;
  r.time = WallTime(WallTime::duration(kMin));
  r.cert_expiry = WallTime(WallTime::duration(kMax));
  r.duration = Duration(kMin);
  r.rtt = Duration(kMax);
  r.rtt_min = Duration(kMin);  // as far from the headline as can be
  r.rtt_median = Duration(kMax);
  r.rtt_avg = -1ns;
  r.rtt_max = Duration(kMin + 1);
  r.rtt_stddev = Duration(kMax);
  r.sent = std::numeric_limits<int>::min();
  r.received = std::numeric_limits<int>::max();
  r.http_status = -1;
  r.body_bytes = std::numeric_limits<std::uint64_t>::max();
  r.detail = std::string(100'000, '\0') + "end";
  for (int i = 0; i < 1000; ++i) {  // gaps, runs of losses, wild swings
    if (i % 3 == 0 || (i > 500 && i < 530))
      r.rtts.push_back(std::nullopt);
    else
      r.rtts.push_back(Duration(i % 2 ? kMin + i : kMax - i));
  }
  r.phases = Phases{Duration(kMin), Duration(kMax), 0ns, -5ns, Duration(kMax)};
  r.llm = LlmFigures{LlmMode::completion,
                     Duration(kMin),
                     Duration(kMax),
                     std::numeric_limits<int>::min(),
                     true,
                     Duration(kMax),
                     false,
                     std::numeric_limits<std::uint64_t>::max()};
  check_same(round_trip(r, empty), r);

  ProbeResult all_lost;
  all_lost.rtts.assign(17, std::nullopt);
  check_same(round_trip(all_lost, r), all_lost);
  all_lost.llm = LlmFigures{};
  all_lost.llm->model_listed = true;
  check_same(round_trip(all_lost, r), all_lost);
}

TEST_CASE("the round codec refuses a cut or padded encoding") {
  Rng rng(77);
  for (int i = 0; i < 200; ++i) {
    const std::vector<std::uint8_t> bytes = encoded(random_result(rng));
    ProbeResult out;
    for (std::size_t n = 0; n < bytes.size(); n += 1 + bytes.size() / 50) {
      CAPTURE(n);
      CHECK_FALSE(decode_round(std::span(bytes.data(), n), out));
    }
    std::vector<std::uint8_t> padded = bytes;
    padded.push_back(0);
    CHECK_FALSE(decode_round(padded, out));
  }
}

TEST_CASE("a one-ping ICMP round encodes in about 30 bytes") {
  // What the status board pays for a series' latest round (status_board.h).
  CHECK(encoded(one_ping(52'345ns)).size() <= 32);
  CHECK(encoded(one_ping(150'123'456ns)).size() <= 36);
  ProbeResult failed;
  failed.kind = ProbeKind::tcp;
  failed.time = WallTime(1'800'000'000s);
  failed.reason = Reason::refused;
  failed.duration = 1ms;
  failed.detail = "connect: Connection refused (127.0.0.1:9)";
  failed.phases.connect = 1ms;
  CHECK(encoded(failed).size() <= failed.detail.size() + 24);
}
