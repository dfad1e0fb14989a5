#include "tests/lab/linesim/packet.h"

#include <arpa/inet.h>

#include <charconv>
#include <string>

namespace linewatch::linesim {

Result<Ipv4Prefix> parse_prefix(std::string_view text) {
  auto bad = [&](const char* why) {
    return invalid("far prefix \"" + std::string(text) + "\": " + why);
  };
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return bad("expected ADDRESS/LENGTH");
  std::string addr(text.substr(0, slash));
  std::string_view len_text = text.substr(slash + 1);
  in_addr a{};
  if (::inet_pton(AF_INET, addr.c_str(), &a) != 1) return bad("not an IPv4 address");
  unsigned len = 0;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (len_text.empty() || ec != std::errc() || end != len_text.data() + len_text.size() || len > 32)
    return bad("length must be 0..32");
  Ipv4Prefix p;
  p.mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
  p.network = ntohl(a.s_addr);
  if ((p.network & ~p.mask) != 0) return bad("host bits set");
  return p;
}

Dir classify(std::span<const std::uint8_t> packet, const Ipv4Prefix& far) {
  if (packet.size() < 20 || (packet[0] >> 4) != 4) return Dir::down;
  std::uint32_t dst = (std::uint32_t{packet[16]} << 24) | (std::uint32_t{packet[17]} << 16) |
                      (std::uint32_t{packet[18]} << 8) | std::uint32_t{packet[19]};
  return far.contains(dst) ? Dir::up : Dir::down;
}

}  // namespace linewatch::linesim
