// Round codec: one ProbeResult, all but its line and target, packed into a few
// dozen bytes, so the status board can keep each series' latest round, and the
// storage writer each queued round, without holding a 456-byte ProbeResult
// (and its heap) per round.
//
// Exact: every field decodes to itself, durations and times to the
// nanosecond, negative and extreme values included. A presence bitmask says
// which fields differ from their defaults; integers are zigzag varints; the
// ICMP figures (rtt_min .. rtt_max and each echo) are differences from the
// headline RTT, so a 1-ping ICMP round takes about 30 bytes and a failed TCP
// round with a 40-byte detail about 60.
//
// Also the varint helpers the status board's window encoding shares.
//
// Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/probe_result.h"

namespace linewatch {

// Appends the encoding of `r`, every field but line and target, to `out`.
void encode_round(const ProbeResult& r, std::vector<std::uint8_t>& out);

// Decodes what encode_round wrote into `out`: every field but line and target,
// which it leaves as they are. False when `bytes` is not exactly one whole
// encoding; `out` is then unspecified.
bool decode_round(std::span<const std::uint8_t> bytes, ProbeResult& out);

// Zigzag: signed values near zero as small unsigned ones (0, -1, 1, -2 ...).
inline std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline std::int64_t unzigzag(std::uint64_t u) {
  return static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
}

// Appends `u` as a little-endian base-128 varint: 1 byte under 128, at most 10.
inline void put_varint(std::vector<std::uint8_t>& out, std::uint64_t u) {
  for (; u >= 0x80; u >>= 7) out.push_back(static_cast<std::uint8_t>(u | 0x80));
  out.push_back(static_cast<std::uint8_t>(u));
}

}  // namespace linewatch
