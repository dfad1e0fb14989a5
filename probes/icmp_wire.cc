#include "probes/icmp_wire.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

namespace linewatch::icmp_wire {
namespace {

constexpr std::uint8_t kEchoRequest4 = 8;
constexpr std::uint8_t kEchoReply4 = 0;
constexpr std::uint8_t kEchoRequest6 = 128;
constexpr std::uint8_t kEchoReply6 = 129;

std::uint16_t read16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

void write16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v & 0xff);
}

std::size_t cookie_bytes(int payload_bytes) {
  return std::min<std::size_t>(kCookieBytes, static_cast<std::size_t>(std::max(payload_bytes, 0)));
}

}  // namespace

std::uint16_t checksum(std::span<const std::uint8_t> data) {
  std::uint32_t sum = 0;
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += read16(&data[i]);
  if (i < data.size()) sum += static_cast<std::uint32_t>(data[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

std::vector<std::uint8_t> echo_request(int family, std::uint16_t id, std::uint16_t seq,
                                       const Cookie& cookie, int payload_bytes) {
  std::vector<std::uint8_t> packet(
      kHeaderBytes + static_cast<std::size_t>(std::max(payload_bytes, 0)), 'x');
  packet[0] = family == AF_INET6 ? kEchoRequest6 : kEchoRequest4;
  packet[1] = 0;
  write16(&packet[2], 0);
  write16(&packet[4], id);
  write16(&packet[6], seq);
  std::copy_n(cookie.begin(), cookie_bytes(payload_bytes), packet.begin() + kHeaderBytes);
  if (family != AF_INET6) write16(&packet[2], checksum(packet));
  return packet;
}

bool is_reply(std::span<const std::uint8_t> packet, const Expected& expected) {
  std::size_t offset = 0;
  if (expected.ip_header) {
    if (packet.empty() || (packet[0] >> 4) != 4) return false;
    offset = static_cast<std::size_t>(packet[0] & 0x0f) * 4;
    if (offset < 20) return false;
  }
  const std::size_t cookie = cookie_bytes(expected.payload_bytes);
  if (packet.size() < offset + kHeaderBytes + cookie) return false;
  const std::uint8_t* icmp = packet.data() + offset;
  const std::uint8_t want_type = expected.family == AF_INET6 ? kEchoReply6 : kEchoReply4;
  if (icmp[0] != want_type || icmp[1] != 0) return false;
  if (expected.id && read16(icmp + 4) != *expected.id) return false;
  if (read16(icmp + 6) != expected.seq) return false;
  return std::equal(expected.cookie.begin(), expected.cookie.begin() + static_cast<long>(cookie),
                    icmp + kHeaderBytes);
}

std::optional<std::uint16_t> quoted_request_seq(std::span<const std::uint8_t> packet, int family,
                                                std::optional<std::uint16_t> id) {
  if (packet.size() < kHeaderBytes) return std::nullopt;
  if (packet[0] != (family == AF_INET6 ? kEchoRequest6 : kEchoRequest4)) return std::nullopt;
  if (id && read16(&packet[4]) != *id) return std::nullopt;
  return read16(&packet[6]);
}

std::vector<sock_filter> reply_filter(int family, std::uint16_t id) {
  const std::uint32_t accept = 0xffffffffu;
  if (family == AF_INET6) {
    return {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),  // type
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kEchoReply6, 0, 3),
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 4),  // identifier
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, id, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, accept),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
  }
  return {
      BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),  // X = IPv4 header length
      BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0),   // type
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kEchoReply4, 0, 3),
      BPF_STMT(BPF_LD | BPF_H | BPF_IND, 4),  // identifier
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, id, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, accept),
      BPF_STMT(BPF_RET | BPF_K, 0),
  };
}

}  // namespace linewatch::icmp_wire
