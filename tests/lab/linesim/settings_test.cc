#include "tests/lab/linesim/settings.h"

#include <doctest/doctest.h>

#include <cmath>

#include "tests/lab/linesim/packet.h"

namespace linewatch::linesim {
namespace {

using namespace std::chrono_literals;

SetCommand must_set(std::string_view line) {
  auto c = parse_command(line);
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
  REQUIRE(std::holds_alternative<SetCommand>(*c));
  return std::get<SetCommand>(*c);
}

std::string error_of(std::string_view line) {
  auto c = parse_command(line);
  REQUIRE_FALSE(c.ok());
  return c.error().message;
}

TEST_CASE("set parses every key and leaves absent keys empty") {
  SetCommand c = must_set("set up delay=150ms jitter=2.5ms dist=uniform loss=2% rate=12Mbps\r");
  CHECK(c.target == Target::up);
  CHECK(c.delay == Duration(150ms));
  CHECK(c.jitter == Duration(2500us));
  CHECK(c.dist == Dist::uniform);
  CHECK(*c.loss == doctest::Approx(0.02));
  CHECK(c.rate_bps == 12'000'000u);
  SetCommand d = must_set("set  down \t loss=0.3");
  CHECK(d.target == Target::down);
  CHECK_FALSE(d.delay.has_value());
  CHECK_FALSE(d.rate_bps.has_value());
  CHECK(*d.loss == doctest::Approx(0.3));
  CHECK(must_set("set both delay=0 rate=0").delay == Duration::zero());
}

TEST_CASE("the simple commands take no arguments") {
  CHECK(std::holds_alternative<CutCommand>(*parse_command("down")));
  CHECK(std::holds_alternative<RestoreCommand>(*parse_command("up")));
  CHECK(std::holds_alternative<ShowCommand>(*parse_command(" show ")));
  CHECK(error_of("show me") == "show takes no arguments");
}

TEST_CASE("bad commands name what is wrong") {
  CHECK(error_of("set up delay=-5ms").find("negative") != std::string::npos);
  CHECK(error_of("set up loss=101%").find("above 100 %") != std::string::npos);
  CHECK(error_of("set up loss=1.5").find("above 100 %") != std::string::npos);
  CHECK(error_of("set up loss=-1%").find("negative") != std::string::npos);
  CHECK(error_of("set up loss=lots").find("not a number") != std::string::npos);
  CHECK(error_of("set up colour=red").find("unknown key \"colour\"") != std::string::npos);
  CHECK(error_of("set up delay=10parsecs").find("delay:") != std::string::npos);
  CHECK(error_of("set up delay=10").find("delay:") != std::string::npos);  // no unit
  CHECK(error_of("set up rate=fast").find("rate:") != std::string::npos);
  CHECK(error_of("set up dist=pareto").find("normal or uniform") != std::string::npos);
  CHECK(error_of("set sideways delay=1ms").find("unknown direction \"sideways\"") !=
        std::string::npos);
  CHECK(error_of("set up").find("at least one") != std::string::npos);
  CHECK(error_of("set").find("direction") != std::string::npos);
  CHECK(error_of("set up delay=1ms delay=2ms").find("twice") != std::string::npos);
  CHECK(error_of("set up delay").find("key=value") != std::string::npos);
  CHECK(error_of("set up delay=2m").find("1m maximum") != std::string::npos);
  CHECK(error_of("reboot").find("unknown command") != std::string::npos);
  CHECK(error_of("").find("empty") != std::string::npos);
}

TEST_CASE("apply changes only the given keys of the given direction") {
  LineSettings s;
  s = apply(s, must_set("set both delay=10ms loss=1%"));
  s = apply(s, must_set("set down jitter=3ms dist=uniform"));
  CHECK(s.up.delay == Duration(10ms));
  CHECK(s.down.delay == Duration(10ms));
  CHECK(s.up.jitter == Duration::zero());
  CHECK(s.down.jitter == Duration(3ms));
  CHECK(s.up.dist == Dist::normal);
  CHECK(s.down.dist == Dist::uniform);
  CHECK(s.up.loss == doctest::Approx(0.01));
}

TEST_CASE("rt splits round-trip figures over the two directions") {
  LineSettings s = apply({}, must_set("set rt delay=150ms jitter=10ms loss=19% rate=1Mbps"));
  for (const DirSettings* d : {&s.up, &s.down}) {
    CHECK(d->delay == Duration(75ms));
    CHECK(to_ms(d->jitter) == doctest::Approx(10.0 / std::sqrt(2.0)).epsilon(1e-6));
    CHECK(d->loss == doctest::Approx(0.1));  // 1 - 0.9^2 = 0.19
    CHECK(d->rate_bps == 1'000'000u);
  }
  LineSettings t = apply({}, must_set("set rt loss=2%"));
  CHECK(1 - (1 - t.up.loss) * (1 - t.down.loss) == doctest::Approx(0.02));
}

TEST_CASE("far prefix parsing and direction of packets") {
  auto p = parse_prefix("198.19.0.0/16");
  REQUIRE(p.ok());
  std::uint8_t pkt[20] = {0x45};
  auto dst = [&](int a, int b, int c, int d) {
    pkt[16] = static_cast<std::uint8_t>(a), pkt[17] = static_cast<std::uint8_t>(b);
    pkt[18] = static_cast<std::uint8_t>(c), pkt[19] = static_cast<std::uint8_t>(d);
    return classify(pkt, *p);
  };
  CHECK(dst(198, 19, 255, 1) == Dir::up);
  CHECK(dst(198, 19, 0, 0) == Dir::up);
  CHECK(dst(198, 18, 1, 1) == Dir::down);
  CHECK(dst(198, 20, 0, 1) == Dir::down);
  pkt[0] = 0x60;  // IPv6
  CHECK(dst(198, 19, 0, 1) == Dir::down);
  CHECK(classify(std::span<const std::uint8_t>(pkt, 10), *p) == Dir::down);
  CHECK_FALSE(parse_prefix("198.19.0.1/16").ok());
  CHECK_FALSE(parse_prefix("198.19.0.0/33").ok());
  CHECK_FALSE(parse_prefix("198.19.0.0").ok());
  CHECK_FALSE(parse_prefix("nope/8").ok());
  CHECK(parse_prefix("0.0.0.0/0")->contains(0x01020304));
}

}  // namespace
}  // namespace linewatch::linesim
