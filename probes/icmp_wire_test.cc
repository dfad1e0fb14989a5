#include "probes/icmp_wire.h"

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <vector>

namespace linewatch::icmp_wire {
namespace {

const Cookie kCookie{1, 2, 3, 4, 5, 6, 7, 8};

// The reply a host sends to `request`: same bytes, reply type, checksum redone.
std::vector<std::uint8_t> reply_to(std::vector<std::uint8_t> request, int family) {
  request[0] = family == AF_INET6 ? 129 : 0;
  request[2] = request[3] = 0;
  const std::uint16_t sum = checksum(request);
  request[2] = static_cast<std::uint8_t>(sum >> 8);
  request[3] = static_cast<std::uint8_t>(sum & 0xff);
  return request;
}

// `icmp` behind a minimal IPv4 header of `words` 32-bit words.
std::vector<std::uint8_t> with_ip_header(const std::vector<std::uint8_t>& icmp, int words = 5) {
  std::vector<std::uint8_t> packet(static_cast<std::size_t>(words) * 4, 0);
  packet[0] = static_cast<std::uint8_t>(0x40 | words);
  packet.insert(packet.end(), icmp.begin(), icmp.end());
  return packet;
}

Expected expect(int family, std::uint16_t seq = 7, int payload = 56) {
  return Expected{family, false, std::uint16_t{0x1234}, seq, kCookie, payload};
}

TEST_CASE("checksum follows RFC 1071's worked example") {
  const std::vector<std::uint8_t> data{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  CHECK(checksum(data) == 0x220d);
  // An odd length pads the last byte with a zero.
  const std::vector<std::uint8_t> odd{0x01};
  CHECK(checksum(odd) == 0xfeff);
}

TEST_CASE("an IPv4 request carries type 8, id, seq, cookie, padding and a checksum that verifies") {
  const auto p = echo_request(AF_INET, 0x1234, 0xabcd, kCookie, 56);
  REQUIRE(p.size() == 8 + 56);
  CHECK(p[0] == 8);
  CHECK(p[1] == 0);
  CHECK(p[4] == 0x12);
  CHECK(p[5] == 0x34);
  CHECK(p[6] == 0xab);
  CHECK(p[7] == 0xcd);
  CHECK(std::vector<std::uint8_t>(p.begin() + 8, p.begin() + 16) ==
        std::vector<std::uint8_t>(kCookie.begin(), kCookie.end()));
  CHECK(p[16] == 'x');
  CHECK(p.back() == 'x');
  CHECK(checksum(p) == 0);
}

TEST_CASE("an IPv6 request has type 128 and leaves the checksum to the kernel") {
  const auto p = echo_request(AF_INET6, 1, 2, kCookie, 0);
  REQUIRE(p.size() == 8);
  CHECK(p[0] == 128);
  CHECK(p[2] == 0);
  CHECK(p[3] == 0);
}

TEST_CASE("a payload shorter than the cookie carries its first bytes") {
  const auto p = echo_request(AF_INET, 1, 2, kCookie, 3);
  REQUIRE(p.size() == 11);
  CHECK(p[8] == 1);
  CHECK(p[10] == 3);
  CHECK(is_reply(reply_to(p, AF_INET), Expected{AF_INET, false, 1, 2, kCookie, 3}));
}

TEST_CASE("the reply to a request is recognised, IPv4 and IPv6") {
  for (int family : {AF_INET, AF_INET6}) {
    CAPTURE(family);
    const auto reply = reply_to(echo_request(family, 0x1234, 7, kCookie, 56), family);
    CHECK(is_reply(reply, expect(family)));
    // The request itself (an echo of our own packet on loopback) is not a reply.
    CHECK_FALSE(is_reply(echo_request(family, 0x1234, 7, kCookie, 56), expect(family)));
  }
}

TEST_CASE("a reply behind an IPv4 header is found by its header length, options included") {
  const auto reply = reply_to(echo_request(AF_INET, 0x1234, 7, kCookie, 56), AF_INET);
  Expected e = expect(AF_INET);
  e.ip_header = true;
  CHECK(is_reply(with_ip_header(reply), e));
  CHECK(is_reply(with_ip_header(reply, 6), e));
  CHECK_FALSE(is_reply(reply, e));  // no header where one is expected
  auto bad_version = with_ip_header(reply);
  bad_version[0] = 0x65;
  CHECK_FALSE(is_reply(bad_version, e));
  auto short_ihl = with_ip_header(reply);
  short_ihl[0] = 0x44;  // 16 bytes: less than an IPv4 header
  CHECK_FALSE(is_reply(short_ihl, e));
}

TEST_CASE("replies to other identifiers, sequences or rounds are not ours") {
  const auto good = reply_to(echo_request(AF_INET, 0x1234, 7, kCookie, 56), AF_INET);
  CHECK_FALSE(
      is_reply(reply_to(echo_request(AF_INET, 0x1235, 7, kCookie, 56), AF_INET), expect(AF_INET)));
  CHECK_FALSE(is_reply(good, expect(AF_INET, 8)));
  Cookie other = kCookie;
  other[7] = 9;
  CHECK_FALSE(
      is_reply(reply_to(echo_request(AF_INET, 0x1234, 7, other, 56), AF_INET), expect(AF_INET)));
  // A ping socket's kernel already matched the identifier, so any id passes.
  Expected any_id = expect(AF_INET);
  any_id.id = std::nullopt;
  CHECK(is_reply(reply_to(echo_request(AF_INET, 0x9999, 7, kCookie, 56), AF_INET), any_id));
  // Code must be 0.
  auto coded = good;
  coded[1] = 1;
  CHECK_FALSE(is_reply(coded, expect(AF_INET)));
  // An IPv4 reply is not an IPv6 one.
  CHECK_FALSE(is_reply(good, expect(AF_INET6)));
}

TEST_CASE("truncated packets are not replies and are never read past their end") {
  const auto good = reply_to(echo_request(AF_INET, 0x1234, 7, kCookie, 56), AF_INET);
  for (std::size_t n = 0; n < 16; ++n) {
    CAPTURE(n);
    const std::vector<std::uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    CHECK_FALSE(is_reply(cut, expect(AF_INET)));
  }
  CHECK(is_reply(std::vector<std::uint8_t>(good.begin(), good.begin() + 16), expect(AF_INET)));
  CHECK_FALSE(is_reply(std::vector<std::uint8_t>{}, Expected{AF_INET, true, 1, 1, kCookie, 0}));
}

TEST_CASE("the request quoted in an ICMP error gives back its sequence number") {
  const auto request = echo_request(AF_INET, 0x1234, 0xbeef, kCookie, 56);
  CHECK(quoted_request_seq(request, AF_INET, 0x1234) == std::optional<std::uint16_t>(0xbeef));
  CHECK(quoted_request_seq(request, AF_INET, std::nullopt) == std::optional<std::uint16_t>(0xbeef));
  CHECK_FALSE(quoted_request_seq(request, AF_INET, 0x4321).has_value());
  CHECK_FALSE(quoted_request_seq(request, AF_INET6, std::nullopt).has_value());
  CHECK_FALSE(quoted_request_seq(reply_to(request, AF_INET), AF_INET, 0x1234).has_value());
  CHECK_FALSE(quoted_request_seq(std::vector<std::uint8_t>(request.begin(), request.begin() + 7),
                                 AF_INET, 0x1234)
                  .has_value());
  const auto request6 = echo_request(AF_INET6, 7, 9, kCookie, 0);
  CHECK(quoted_request_seq(request6, AF_INET6, 7) == std::optional<std::uint16_t>(9));
}

TEST_CASE("the reply filter is a short program ending in accept and drop") {
  for (int family : {AF_INET, AF_INET6}) {
    const auto code = reply_filter(family, 0x1234);
    REQUIRE(code.size() >= 5);
    CHECK(code[code.size() - 2].k == 0xffffffffu);
    CHECK(code.back().k == 0u);
    // Every jump lands inside the program.
    for (std::size_t i = 0; i < code.size(); ++i) {
      if (BPF_CLASS(code[i].code) != BPF_JMP) continue;
      CHECK(i + 1 + code[i].jt < code.size());
      CHECK(i + 1 + code[i].jf < code.size());
    }
  }
}

}  // namespace
}  // namespace linewatch::icmp_wire
