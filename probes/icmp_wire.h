// ICMP echo packets on the wire, for IPv4 and IPv6: building a request,
// recognising its reply, and the kernel filter that lets a raw socket see only
// replies to its own identifier. Pure functions; no sockets here, so every
// byte-level rule is tested without privileges (icmp_wire_test.cc).
//
// Layout of a request: type, code, checksum, identifier, sequence (8 bytes,
// network order), then `payload_bytes` bytes: the round's 8-byte cookie (or
// its first payload_bytes bytes when the payload is shorter), then 'x'. The
// cookie ties a reply to this round, so a late reply to an earlier round with
// the same identifier and sequence is not taken for this one.
#pragma once

#include <linux/filter.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace linewatch::icmp_wire {

inline constexpr std::size_t kHeaderBytes = 8;
inline constexpr std::size_t kCookieBytes = 8;
using Cookie = std::array<std::uint8_t, kCookieBytes>;

// The Internet checksum (RFC 1071) of `data`, ready to store in network order
// at bytes 2..3: a packet whose checksum field holds it sums to zero.
std::uint16_t checksum(std::span<const std::uint8_t> data);

// An echo request for `family` (AF_INET: type 8, checksum filled in; AF_INET6:
// type 128, checksum left 0 because the kernel computes ICMPv6 checksums over
// the pseudo-header). `payload_bytes` must be >= 0.
std::vector<std::uint8_t> echo_request(int family, std::uint16_t id, std::uint16_t seq,
                                       const Cookie& cookie, int payload_bytes);

// What the reply to one request must look like.
struct Expected {
  int family = 0;                   // AF_INET or AF_INET6
  bool ip_header = false;           // packet starts with an IPv4 header (raw IPv4 sockets)
  std::optional<std::uint16_t> id;  // nullopt: the kernel already matched it (ping sockets)
  std::uint16_t seq = 0;
  Cookie cookie{};
  int payload_bytes = 0;
};

// True when `packet`, as read from the socket, is the echo reply to the
// request built from the same figures: reply type, code 0, identifier (when
// expected), sequence, and the cookie's bytes. Never reads past the span;
// truncated or malformed packets are simply not replies.
bool is_reply(std::span<const std::uint8_t> packet, const Expected& expected);

// The sequence number of our echo request quoted in `packet` (what an ICMP
// error hands back: the request's ICMP header onwards), when it is an echo
// request of `family` with `id` (unchecked when nullopt); else nullopt.
std::optional<std::uint16_t> quoted_request_seq(std::span<const std::uint8_t> packet, int family,
                                                std::optional<std::uint16_t> id);

// A classic BPF program for SO_ATTACH_FILTER on a raw socket of `family` that
// accepts echo replies carrying `id` and drops everything else, so a raw
// socket is not woken by the host's other ICMP traffic. IPv4 programs skip the
// IP header by its IHL; IPv6 raw sockets see the ICMPv6 header first.
std::vector<sock_filter> reply_filter(int family, std::uint16_t id);

}  // namespace linewatch::icmp_wire
