#include "exporters/plan_codec.h"

#include <doctest/doctest.h>

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

const WallTime kTime = WallTime(1'800'000'000'123ms);  // 2027-01-15T08:00:00.123Z

RoutePlan sample() {
  return {"bj-gw-1",
          42,
          kTime,
          false,
          {{"198.19.255.0/24", {{"cn2-gia-1", "198.18.1.2", "eth1", 1}}},
           {"2001:db8:100::/48",
            {{"cn2-gia-1", "2001:db8::1", "eth1", 255}, {"cu-vip-2", "", "tun2", 128}}}}};
}

const std::string kSampleJson =
    R"({"agent":"bj-gw-1","version":42,"time":"2027-01-15T08:00:00.123Z","panic":false,)"
    R"("routes":[{"prefix":"198.19.255.0/24","nexthops":[{"line":"cn2-gia-1",)"
    R"("via":"198.18.1.2","dev":"eth1","weight":1}]},{"prefix":"2001:db8:100::/48",)"
    R"("nexthops":[{"line":"cn2-gia-1","via":"2001:db8::1","dev":"eth1","weight":255},)"
    R"({"line":"cu-vip-2","via":"","dev":"tun2","weight":128}]}]})";

// kSampleJson with the first `from` replaced by `to`.
std::string with(const std::string& from, const std::string& to) {
  std::string s = kSampleJson;
  auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("plan encodes to the documented JSON") { CHECK(encode_plan(sample()) == kSampleJson); }

TEST_CASE("plan survives an encode and decode round trip") {
  RoutePlan p = sample();
  p.panic = true;
  auto back = decode_plan(encode_plan(p));
  REQUIRE(back.ok());
  CHECK(*back == p);
  CHECK(back->version == 42);
  CHECK(back->time == kTime);
  // Names with quotes and non-ASCII text survive too.
  p.agent = "gw \"东\"\n";
  back = decode_plan(encode_plan(p));
  REQUIRE(back.ok());
  CHECK(back->agent == p.agent);
}

TEST_CASE("plan times are RFC 3339 UTC with milliseconds") {
  CHECK(format_time_ms(kTime) == "2027-01-15T08:00:00.123Z");
  CHECK(format_time_ms(WallTime(1'800'000'000'123'999us)) == "2027-01-15T08:00:00.123Z");
  CHECK(format_time_ms(WallTime{}) == "1970-01-01T00:00:00.000Z");
  CHECK(*parse_time_ms("2027-01-15T08:00:00.123Z") == kTime);
  CHECK(*parse_time_ms("2028-02-29T23:59:59.999Z") == WallTime(1'835'481'599'999ms));
  for (const char* bad :
       {"2027-01-15T08:00:00Z", "2027-01-15 08:00:00.123Z", "2027-01-15T08:00:00.123+00:00",
        "2027-02-29T08:00:00.123Z", "2027-01-15T24:00:00.123Z", "2027-13-15T08:00:00.123Z",
        "2027-01-15T08:60:00.123Z", "2027-01-15T08:00:0x.123Z", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_time_ms(bad).ok());
  }
}

TEST_CASE("prefixes and addresses are checked strictly") {
  CHECK(check_prefix("198.19.255.0/24").ok());
  CHECK(check_prefix("0.0.0.0/0").ok());
  CHECK(check_prefix("198.19.255.7/32").ok());
  CHECK(check_prefix("2001:db8::/32").ok());
  CHECK(check_prefix("198.19.255.1/24").error().message.find("host bits") != std::string::npos);
  CHECK(check_prefix("2001:db8::1/64").error().message.find("host bits") != std::string::npos);
  CHECK(check_prefix("198.19.0.0/33").error().message.find("0..32") != std::string::npos);
  CHECK(check_prefix("2001:db8::/129").error().message.find("0..128") != std::string::npos);
  for (const char* bad : {"198.19.255.0", "198.19.255.0/", "198.19.256.0/24", "198.19.255.0/2x",
                          "198.19.255.0/-1", "eth0/24", "/24", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(check_prefix(bad).ok());
  }
  CHECK(check_address("198.18.1.2").ok());
  CHECK(check_address("fe80::1").ok());
  CHECK_FALSE(check_address("198.18.1").ok());
  CHECK_FALSE(check_address("gw1.internal").ok());
}

TEST_CASE("plan decoding names the field and the problem") {
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"{", "route plan: not valid JSON"},
      {"[]", "route plan: must be a JSON object, got an array"},
      {with(R"("agent":"bj-gw-1",)", ""), "route plan: agent: missing"},
      {with(R"("bj-gw-1")", R"("")"), "route plan: agent: must not be empty"},
      {with("42", R"("42")"),
       "route plan: version: must be an integer 0..18446744073709551615, got a string"},
      {with("42", "-1"), "version: must be an integer 0..18446744073709551615, got -1"},
      {with("42", "4.2"), "version: must be an integer 0..18446744073709551615, got a number"},
      {with("2027-01-15T08:00:00.123Z", "2027-01-15T08:00:00Z"),
       "route plan: time: must be an RFC 3339"},
      {with("false", R"("no")"), "route plan: panic: must be true or false, got a string"},
      {with(R"("panic":false,)", R"("panic":false,"colour":1,)"),
       "route plan: colour: unknown key"},
      {R"({"agent":"a","version":1,"time":"2027-01-15T08:00:00.123Z","panic":false,"routes":{}})",
       "route plan: routes: must be an array, got an object"},
      {with(R"({"prefix":"198.19.255.0/24")", R"(7,{"prefix":"198.19.255.0/24")"),
       "route plan: routes[0]: must be an object, got an integer"},
      {with("198.19.255.0/24", "198.19.255.1/24"), "route plan: routes[0].prefix: host bits set"},
      {with("198.19.255.0/24", "198.19.256.0/24"),
       "route plan: routes[0].prefix: not an IPv4 or IPv6 prefix"},
      {with(R"("nexthops":[{"line":"cn2-gia-1","via":"198.18.1.2","dev":"eth1","weight":1}])",
            R"("nexthops":[])"),
       "route plan: routes[0].nexthops: must not be empty"},
      {with(R"("weight":1})", R"("weight":0})"),
       "routes[0].nexthops[0].weight: must be an integer 1..255, got 0"},
      {with(R"("weight":255)", R"("weight":256)"),
       "routes[1].nexthops[0].weight: must be an integer 1..255, got 256"},
      {with(R"("weight":128)", R"("weight":true)"),
       "routes[1].nexthops[1].weight: must be an integer 1..255, got a boolean"},
      {with(R"(,"weight":1})", "}"), "route plan: routes[0].nexthops[0].weight: missing"},
      {with("198.18.1.2", "gw1"),
       "route plan: routes[0].nexthops[0].via: not an IPv4 or IPv6 address"},
      {with(R"("via":"","dev":"tun2")", R"("via":"","dev":"")"),
       "route plan: routes[1].nexthops[1]: needs a via or a dev"},
      {with(R"("line":"cn2-gia-1",)", R"("line":null,)"),
       "route plan: routes[0].nexthops[0].line: must be a string, got null"},
      {with(R"("dev":"eth1",)", R"("dev":"eth1","mtu":1500,)"),
       "route plan: routes[0].nexthops[0].mtu: unknown key"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.json);
    auto r = decode_plan(c.json);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::invalid_argument);
    CHECK(r.error().message.find(c.message) != std::string::npos);
    if (r.error().message.find(c.message) == std::string::npos) MESSAGE(r.error().message);
  }
}
