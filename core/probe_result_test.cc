#include "core/probe_result.h"

#include <doctest/doctest.h>

using namespace linewatch;
using namespace std::chrono_literals;

TEST_CASE("names round-trip for every kind and reason") {
  for (auto k : kAllProbeKinds) CHECK(probe_kind_from_string(to_string(k)) == k);
  for (int i = 0; i <= static_cast<int>(Reason::internal); ++i) {
    auto r = static_cast<Reason>(i);
    CHECK(reason_from_string(to_string(r)) == r);
  }
  CHECK_FALSE(probe_kind_from_string("udp").has_value());
}

TEST_CASE("summarise_echoes computes SmokePing-style round figures") {
  ProbeResult r;
  r.rtts = {10ms, std::nullopt, 30ms, 20ms, 40ms};
  summarise_echoes(r);
  CHECK(r.sent == 5);
  CHECK(r.received == 4);
  CHECK(r.loss() == doctest::Approx(0.2));
  CHECK(*r.rtt_min == 10ms);
  CHECK(*r.rtt_max == 40ms);
  CHECK(*r.rtt_median == 25ms);  // mean of the middle two
  CHECK(*r.rtt_avg == 25ms);
  CHECK(to_ms(*r.rtt_stddev) == doctest::Approx(11.1803).epsilon(0.001));
  CHECK(*r.rtt == 25ms);
}

TEST_CASE("summarise_echoes with every echo lost leaves figures empty") {
  ProbeResult r;
  r.rtts = {std::nullopt, std::nullopt};
  summarise_echoes(r);
  CHECK(r.sent == 2);
  CHECK(r.received == 0);
  CHECK(r.loss() == 1.0);
  CHECK_FALSE(r.rtt.has_value());
  CHECK_FALSE(r.rtt_median.has_value());
}
