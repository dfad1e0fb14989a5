#include "core/units.h"

#include <doctest/doctest.h>

#include <limits>

using namespace linewatch;
using namespace std::chrono_literals;

namespace {
std::string err(const Result<Duration>& r) { return r.ok() ? "(ok)" : r.error().message; }
std::string err(const Result<std::uint64_t>& r) { return r.ok() ? "(ok)" : r.error().message; }
}  // namespace

TEST_CASE("parse_duration accepts every unit, chains and fractions") {
  CHECK(*parse_duration("250ms") == 250ms);
  CHECK(*parse_duration("10s") == 10s);
  CHECK(*parse_duration("1m") == 1min);
  CHECK(*parse_duration("1h30m") == 90min);
  CHECK(*parse_duration("2d") == 48h);
  CHECK(*parse_duration("1m30s") == 90s);
  CHECK(*parse_duration("7ns") == 7ns);
  CHECK(*parse_duration("15us") == 15us);
  CHECK(*parse_duration("1.5s") == 1500ms);
  CHECK(*parse_duration("0.001ms") == 1us);
  CHECK(*parse_duration("0s") == 0s);
  CHECK(*parse_duration("1d2h3m4s5ms6us7ns") == 26h + 3min + 4s + 5ms + 6us + 7ns);
}

TEST_CASE("parse_duration rejects bad text with a clear message") {
  CHECK(err(parse_duration("10")) == "\"10\": a unit is required (ns, us, ms, s, m, h or d)");
  CHECK(err(parse_duration("-5s")) == "\"-5s\": negative durations are not allowed");
  CHECK(err(parse_duration("5x")) == "\"5x\": unknown unit \"x\" (use ns, us, ms, s, m, h or d)");
  CHECK(err(parse_duration("s")) ==
        "\"s\": not a duration (a number then a unit: ns, us, ms, s, m, h or d)");
  CHECK(err(parse_duration("1s1m")) == "\"1s1m\": units must go from largest to smallest");
  CHECK(err(parse_duration("1s1s")) == "\"1s1s\": units must go from largest to smallest");
  CHECK(err(parse_duration("0.5ns")) == "\"0.5ns\": not a whole number of ns");
  CHECK(err(parse_duration("1.5.s")) ==
        "\"1.5.s\": not a duration (a number then a unit: ns, us, ms, s, m, h or d)");
  CHECK(err(parse_duration("")) == "empty duration");
  CHECK(err(parse_duration("10 s")) ==
        "\"10 s\": not a duration (a number then a unit: ns, us, ms, s, m, h or d)");
  // int64 nanoseconds hold about 292 years.
  CHECK(parse_duration("106751d").ok());
  CHECK(err(parse_duration("106752d")) == "\"106752d\": too large");
  CHECK(err(parse_duration("99999999999999999999999s")) ==
        "\"99999999999999999999999s\": too large");
  CHECK(err(parse_duration("106751d23h47m16s854ms775us808ns")) ==
        "\"106751d23h47m16s854ms775us808ns\": too large");
  CHECK(*parse_duration("106751d23h47m16s854ms775us807ns") == Duration::max());
}

TEST_CASE("format_duration is exact and round-trips") {
  CHECK(format_duration(1500ms) == "1.5s");
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(90s) == "1m30s");
  CHECK(format_duration(0s) == "0s");
  CHECK(format_duration(48h) == "2d");
  CHECK(format_duration(1h + 500ms) == "1h500ms");
  CHECK(format_duration(1500ns) == "1.5us");
  CHECK(format_duration(7ns) == "7ns");
  CHECK(format_duration(-2s) == "-2s");
  const Duration samples[] = {1ns,     999ns,    1001ns,          123456789ns, 10ms,
                              59s,     61s,      25h + 1ns,       30 * 24h,    Duration::max(),
                              2h + 3s, 1s + 1ns, 86399999999999ns};
  for (Duration d : samples) {
    auto back = parse_duration(format_duration(d));
    REQUIRE_MESSAGE(back.ok(), format_duration(d));
    CHECK(*back == d);
  }
}

TEST_CASE("bitrates use SI prefixes and round-trip") {
  CHECK(*parse_bitrate("500Mbps") == 500'000'000);
  CHECK(*parse_bitrate("1Gbps") == 1'000'000'000);
  CHECK(*parse_bitrate("64kbps") == 64'000);
  CHECK(*parse_bitrate("64Kbps") == 64'000);
  CHECK(*parse_bitrate("100bps") == 100);
  CHECK(*parse_bitrate("1.5Gbps") == 1'500'000'000);
  CHECK(*parse_bitrate("2Tbps") == 2'000'000'000'000);
  CHECK(err(parse_bitrate("500")) == "\"500\": a unit is required (bps, kbps, Mbps, Gbps or Tbps)");
  CHECK(err(parse_bitrate("500MB")) ==
        "\"500MB\": unknown unit \"MB\" (use bps, kbps, Mbps, Gbps or Tbps)");
  CHECK(err(parse_bitrate("1Mbps1kbps")) == "\"1Mbps1kbps\": only one unit allowed");
  CHECK(err(parse_bitrate("-1Mbps")) == "\"-1Mbps\": negative bitrates are not allowed");
  CHECK(err(parse_bitrate("0.5bps")) == "\"0.5bps\": not a whole number of bps");
  CHECK(err(parse_bitrate("18446745Tbps")) == "\"18446745Tbps\": too large");
  CHECK(format_bitrate(1'500'000) == "1.5Mbps");
  CHECK(format_bitrate(64'000) == "64kbps");
  CHECK(format_bitrate(0) == "0bps");
  for (std::uint64_t v : {std::uint64_t{1}, std::uint64_t{999}, std::uint64_t{1001},
                          std::uint64_t{123'456'789}, std::numeric_limits<std::uint64_t>::max()}) {
    CHECK(*parse_bitrate(format_bitrate(v)) == v);
  }
}

TEST_CASE("byte sizes accept binary and decimal units and round-trip") {
  CHECK(*parse_bytes("1MiB") == 1'048'576);
  CHECK(*parse_bytes("512KiB") == 524'288);
  CHECK(*parse_bytes("64B") == 64);
  CHECK(*parse_bytes("1MB") == 1'000'000);
  CHECK(*parse_bytes("1kB") == 1'000);
  CHECK(*parse_bytes("1.5KiB") == 1'536);
  CHECK(*parse_bytes("2GiB") == 2ULL << 30);
  CHECK(err(parse_bytes("0.1KiB")) == "\"0.1KiB\": not a whole number of B");
  CHECK(err(parse_bytes("64")) ==
        "\"64\": a unit is required (B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)");
  CHECK(err(parse_bytes("1Mb")) ==
        "\"1Mb\": unknown unit \"Mb\" (use B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)");
  CHECK(format_bytes(1'048'576) == "1MiB");
  CHECK(format_bytes(1'000) == "1kB");
  CHECK(format_bytes(1'500) == "1500B");
  CHECK(format_bytes(0) == "0B");
  for (std::uint64_t v : {std::uint64_t{1}, std::uint64_t{1536}, std::uint64_t{65'536'000},
                          std::numeric_limits<std::uint64_t>::max()}) {
    CHECK(*parse_bytes(format_bytes(v)) == v);
  }
}
