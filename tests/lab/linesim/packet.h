// Which direction a packet read from the TUN travels: "up" when its IPv4
// destination is inside the far prefix, "down" for everything else
// (including IPv6 and runts). Thread-safety: pure functions, plain values.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/error.h"

namespace linewatch::linesim {

enum class Dir { up = 0, down = 1 };

struct Ipv4Prefix {
  std::uint32_t network = 0;  // host byte order, host bits zero
  std::uint32_t mask = 0;     // host byte order
  bool contains(std::uint32_t addr) const { return (addr & mask) == network; }
};

// "198.19.0.0/16". Failure: invalid_argument (bad address, length > 32, host
// bits set).
Result<Ipv4Prefix> parse_prefix(std::string_view text);

// The direction of one raw IP packet (no packet-information header).
Dir classify(std::span<const std::uint8_t> packet, const Ipv4Prefix& far);

}  // namespace linewatch::linesim
