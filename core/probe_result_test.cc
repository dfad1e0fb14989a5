#include "core/probe_result.h"

#include <doctest/doctest.h>

using namespace linewatch;
using namespace std::chrono_literals;

TEST_CASE("names round-trip for every kind and reason") {
  for (auto k : kAllProbeKinds) CHECK(probe_kind_from_string(to_string(k)) == k);
  for (int i = 0; i <= static_cast<int>(kLastReason); ++i) {
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

TEST_CASE("protocol is a reason of its own, after the stored codes 0 to 9") {
  CHECK(to_string(Reason::protocol) == "protocol");
  CHECK(reason_from_string("protocol") == Reason::protocol);
  // Rows already stored hold these numbers; a new reason must not shift them.
  CHECK(static_cast<int>(Reason::internal) == 9);
  CHECK(static_cast<int>(Reason::protocol) == 10);
}

TEST_CASE("printable_detail keeps printable UTF-8 and escapes the rest") {
  CHECK(printable_detail("status line \"HTTP/1.1 200 ok\"") == "status line \"HTTP/1.1 200 ok\"");
  CHECK(printable_detail("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80") ==
        "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80");
  CHECK(printable_detail(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(printable_detail("\x1b[31m\t\r\n\x7f") == "\\x1b[31m\\x09\\x0d\\x0a\\x7f");
  CHECK(printable_detail("\xff\xfe") == "\\xff\\xfe");
  CHECK(printable_detail("\xc2\x85") == "\\xc2\\x85");                    // C1 control NEL
  CHECK(printable_detail("\xc0\xaf") == "\\xc0\\xaf");                    // overlong '/'
  CHECK(printable_detail("\xed\xa0\x80") == "\\xed\\xa0\\x80");           // a UTF-16 surrogate
  CHECK(printable_detail("\xe4\xb8") == "\\xe4\\xb8");                    // cut short
  CHECK(printable_detail("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // beyond U+10FFFF
}

TEST_CASE("printable_detail bounds the length at a character boundary") {
  CHECK(printable_detail(std::string(200, 'x')) == std::string(200, 'x'));
  CHECK(printable_detail(std::string(201, 'x')) == std::string(197, 'x') + "...");
  CHECK(printable_detail(std::string(100000, '\0')).size() <= kMaxDetailBytes);
  // 65 three-byte characters and "..." fit in 200 bytes; the 66th would not.
  std::string han;
  for (int i = 0; i < 80; ++i) han += "\xe4\xb8\xad";
  const std::string cut = printable_detail(han);
  CHECK(cut.size() <= kMaxDetailBytes);
  CHECK(cut == han.substr(0, 65 * 3) + "...");
  CHECK(printable_detail("abcdef", 5) == "ab...");
}
