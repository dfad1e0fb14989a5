#include "exporters/plan_signature.h"

#include <doctest/doctest.h>

#include <set>

#include "core/fake_clock.h"
#include "exporters/plan_codec.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

const std::string kKey = "gw1-shared-secret-0123456789";

RoutePlan plan(std::uint64_t version) {
  return {"bj-gw-1",
          version,
          WallTime(1'800'000'000'000ms),
          false,
          {{"198.19.255.0/24", {{"cn2-gia-1", "198.18.1.2", "eth1", 1}}}}};
}

PushVerdict check(const PlanVerifier& v, const SignedPlan& s) {
  return v.verify(s.signature, s.timestamp, s.body);
}

}  // namespace

TEST_CASE("HMAC-SHA256 matches the RFC 4231 test vectors") {
  // Test case 1: 20-byte key of 0x0b.
  CHECK(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There") ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: a key shorter than the output.
  CHECK(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block, hashed first.
  CHECK(hmac_sha256_hex(std::string(131, '\xaa'),
                        "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("a signed plan covers the timestamp and the body") {
  FakeClock clock;
  SignedPlan s = sign_plan(plan(7), kKey, clock.wall_now());
  CHECK(s.body == encode_plan(plan(7)));
  CHECK(s.timestamp == std::to_string(unix_ms(clock.wall_now())));
  CHECK(s.signature == "sha256=" + hmac_sha256_hex(kKey, s.timestamp + "." + s.body));
}

TEST_CASE("the verifier accepts a fresh and correctly signed newer plan") {
  FakeClock clock;
  PlanVerifier v(clock, kKey, 6);
  SignedPlan s = sign_plan(plan(7), kKey, clock.wall_now());
  clock.advance(29s);
  auto verdict = check(v, s);
  REQUIRE(verdict.ok());
  CHECK(*verdict.plan == plan(7));
  CHECK(verdict.plan->version == 7);
  CHECK(v.last_applied() == 6);  // verify alone changes nothing
}

TEST_CASE("the verifier rejects a tampered body or timestamp") {
  FakeClock clock;
  PlanVerifier v(clock, kKey, 0);
  SignedPlan s = sign_plan(plan(7), kKey, clock.wall_now());
  SignedPlan body = s;
  body.body.replace(body.body.find("cn2-gia-1"), 9, "cu-vip-22");
  CHECK(check(v, body).rejection == PushRejection::bad_signature);
  SignedPlan stamp = s;
  stamp.timestamp = std::to_string(std::stoll(s.timestamp) + 1);
  CHECK(check(v, stamp).rejection == PushRejection::bad_signature);
  CHECK_FALSE(check(v, body).ok());
}

TEST_CASE("the verifier rejects a plan signed with another key") {
  FakeClock clock;
  PlanVerifier v(clock, kKey, 0);
  auto verdict = check(v, sign_plan(plan(7), "another-key", clock.wall_now()));
  CHECK_FALSE(verdict.ok());
  CHECK(verdict.rejection == PushRejection::bad_signature);
  PlanVerifier keyless(clock, "", 0);
  CHECK(check(keyless, sign_plan(plan(7), "", clock.wall_now())).rejection ==
        PushRejection::bad_signature);
}

TEST_CASE("the verifier rejects timestamps outside the freshness window") {
  FakeClock clock;
  PlanVerifier v(clock, kKey, 0, 30s);
  SignedPlan old = sign_plan(plan(7), kKey, clock.wall_now());
  clock.advance(30s);
  CHECK(check(v, old).ok());  // exactly at the edge
  clock.advance(1ms);
  auto verdict = check(v, old);
  CHECK(verdict.rejection == PushRejection::stale_timestamp);
  CHECK(verdict.detail.find("30.001s in the past") != std::string::npos);
  SignedPlan ahead = sign_plan(plan(7), kKey, clock.wall_now() + 31s);
  CHECK(check(v, ahead).rejection == PushRejection::stale_timestamp);
}

TEST_CASE("the verifier rejects a replayed or older version") {
  FakeClock clock;
  PlanVerifier v(clock, kKey, 0);
  SignedPlan s = sign_plan(plan(7), kKey, clock.wall_now());
  REQUIRE(check(v, s).ok());
  v.applied(7);
  auto replay = check(v, s);
  CHECK(replay.rejection == PushRejection::stale_version);
  CHECK(replay.detail.find("version 7") != std::string::npos);
  CHECK(check(v, sign_plan(plan(6), kKey, clock.wall_now())).rejection ==
        PushRejection::stale_version);
  CHECK(check(v, sign_plan(plan(8), kKey, clock.wall_now())).ok());
  v.applied(3);  // never lowers
  CHECK(v.last_applied() == 7);
}

TEST_CASE("the verifier rejects missing and malformed headers") {
  FakeClock clock;
  PlanVerifier v(clock, kKey, 0);
  SignedPlan s = sign_plan(plan(7), kKey, clock.wall_now());
  CHECK(v.verify(std::nullopt, s.timestamp, s.body).rejection == PushRejection::missing_signature);
  CHECK(v.verify(s.signature, std::nullopt, s.body).rejection == PushRejection::missing_timestamp);
  const std::string hex = s.signature.substr(7);
  for (std::string bad :
       {std::string(""), hex, "sha1=" + hex, "sha256=" + hex.substr(1), "sha256=" + hex + "0",
        "sha256=" + hex.substr(0, 63) + "g", "SHA256=" + hex, "sha256= " + hex.substr(1)}) {
    CAPTURE(bad);
    CHECK(v.verify(bad, s.timestamp, s.body).rejection == PushRejection::malformed_signature);
  }
  std::string upper = hex;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(v.verify("sha256=" + upper, s.timestamp, s.body).ok());  // hex case does not matter
  for (std::string bad : {std::string(""), std::string("-1"), std::string("+1800000000000"),
                          std::string(" 1800000000000"), std::string("1800000000000ms"),
                          std::string("99999999999999999999")}) {
    CAPTURE(bad);
    CHECK(v.verify(s.signature, bad, s.body).rejection == PushRejection::malformed_timestamp);
  }
}

TEST_CASE("the verifier rejects a correctly signed body that is not a plan") {
  FakeClock clock;
  PlanVerifier v(clock, kKey, 0);
  std::string stamp = std::to_string(unix_ms(clock.wall_now()));
  std::string body = R"({"agent":"bj-gw-1"})";
  auto verdict = v.verify("sha256=" + hmac_sha256_hex(kKey, stamp + "." + body), stamp, body);
  CHECK(verdict.rejection == PushRejection::malformed_plan);
  CHECK(verdict.detail.find("version: missing") != std::string::npos);
}

TEST_CASE("rejection codes are distinct and details never hold a secret") {
  std::set<std::string_view> codes;
  for (int r = 0; r <= static_cast<int>(PushRejection::stale_version); ++r) {
    codes.insert(to_string(static_cast<PushRejection>(r)));
  }
  CHECK(codes.size() == 8);
  CHECK_FALSE(codes.count("unknown"));

  FakeClock clock;
  PlanVerifier v(clock, kKey, 7);
  SignedPlan good = sign_plan(plan(7), kKey, clock.wall_now());
  SignedPlan wrong = sign_plan(plan(9), "other", clock.wall_now());
  const std::string expected = hmac_sha256_hex(kKey, wrong.timestamp + "." + wrong.body);
  std::vector<PushVerdict> verdicts{check(v, good), check(v, wrong),
                                    v.verify("sha256=zz", good.timestamp, good.body)};
  clock.advance(1h);
  verdicts.push_back(check(v, sign_plan(plan(9), kKey, WallTime{})));
  for (const auto& verdict : verdicts) {
    CAPTURE(verdict.detail);
    CHECK_FALSE(verdict.ok());
    CHECK_FALSE(verdict.detail.empty());
    CHECK(verdict.detail.find(kKey) == std::string::npos);
    CHECK(verdict.detail.find(expected) == std::string::npos);
  }
}

TEST_CASE("the example in docs/route-push.md verifies") {
  // Body, stamp and signature as printed in the document; the signature was
  // made with the openssl CLI, independently of this code.
  const std::string body =
      R"({"agent":"bj-gw-1","version":42,"time":"2027-01-15T08:00:00.123Z","panic":false,)"
      R"("routes":[{"prefix":"198.19.255.0/24","nexthops":[{"line":"cn2-gia-1",)"
      R"("via":"198.18.1.2","dev":"eth1","weight":1}]},{"prefix":"198.19.0.0/16",)"
      R"("nexthops":[{"line":"cn2-gia-1","via":"198.18.1.2","dev":"eth1","weight":255},)"
      R"({"line":"cu-vip-2","via":"198.18.2.2","dev":"eth2","weight":128}]}]})";
  FakeClock clock(WallTime(1'800'000'000'123ms));
  PlanVerifier v(clock, "example-secret-do-not-use", 41);
  auto verdict = v.verify("sha256=1242c43cc81f94dd18a9ea0cfb6672ba95ec9150e0bb80a45138e873526cf5ae",
                          "1800000000123", body);
  REQUIRE(verdict.ok());
  CHECK(encode_plan(*verdict.plan) == body);
  CHECK(verdict.plan->routes.size() == 2);
}
