#include "probes/iface_counters.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/fd.h"
#include "probes/binding.h"
#include "probes/socket.h"

namespace linewatch {
namespace {

// A reply about one link is a few kilobytes (no VF list: RTM_GETLINK leaves it
// out unless IFLA_EXT_MASK asks for it); this leaves ample room.
constexpr std::size_t kReplyBytes = 32 * 1024;

struct LinkRequest {
  nlmsghdr header;
  ifinfomsg info;
  char attributes[RTA_SPACE(IFNAMSIZ)];
};

Error netlink_error(const std::string& name, const std::string& what, int err) {
  return io_error("interface " + name + ": netlink " + what + ": " + std::strerror(err));
}

// A routing netlink socket in the calling thread's namespace. Its replies to
// a request arrive before send() returns (the kernel answers RTM_GETLINK in
// the sender's context), so the timeout only bounds a misbehaving kernel.
Result<Fd> open_netlink(const std::string& name) {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd.valid()) return netlink_error(name, "socket", errno);
  const timeval timeout{1, 0};
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0)
    return netlink_error(name, "SO_RCVTIMEO", errno);
  return fd;
}

LinkRequest link_request(const std::string& name, std::uint32_t seq) {
  LinkRequest r{};
  r.header.nlmsg_type = RTM_GETLINK;
  r.header.nlmsg_flags = NLM_F_REQUEST;
  r.header.nlmsg_seq = seq;
  r.info.ifi_family = AF_UNSPEC;  // ifi_index 0: the kernel looks the name up
  auto* attribute = reinterpret_cast<rtattr*>(r.attributes);
  attribute->rta_type = IFLA_IFNAME;
  attribute->rta_len = static_cast<unsigned short>(RTA_LENGTH(name.size() + 1));
  std::memcpy(RTA_DATA(attribute), name.c_str(), name.size() + 1);
  r.header.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg)) + RTA_SPACE(name.size() + 1);
  return r;
}

// Fills `out` from an RTM_NEWLINK message. The 32-bit IFLA_STATS is read only
// when IFLA_STATS64 is missing (kernels before 2.6.35).
void parse_link(const nlmsghdr* h, InterfaceCounters& out) {
  const auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
  out.ifindex = info->ifi_index;
  bool have64 = false;
  int length = static_cast<int>(IFLA_PAYLOAD(h));
  for (const rtattr* a = IFLA_RTA(info); RTA_OK(a, length); a = RTA_NEXT(a, length)) {
    const std::size_t payload = RTA_PAYLOAD(a);
    if (a->rta_type == IFLA_STATS64) {
      rtnl_link_stats64 s{};
      std::memcpy(&s, RTA_DATA(a), std::min(payload, sizeof(s)));
      out.rx_bytes = s.rx_bytes, out.tx_bytes = s.tx_bytes;
      out.rx_packets = s.rx_packets, out.tx_packets = s.tx_packets;
      have64 = true;
    } else if (a->rta_type == IFLA_STATS && !have64) {
      rtnl_link_stats s{};
      std::memcpy(&s, RTA_DATA(a), std::min(payload, sizeof(s)));
      out.rx_bytes = s.rx_bytes, out.tx_bytes = s.tx_bytes;
      out.rx_packets = s.rx_packets, out.tx_packets = s.tx_packets;
    }
  }
}

// Reads the reply to request `seq`: the link, or the kernel's error.
Result<InterfaceCounters> receive_link(int fd, const std::string& name, std::uint32_t seq) {
  std::vector<char> buffer(kReplyBytes);
  for (;;) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return netlink_error(name, "receive", errno);
    if (static_cast<std::size_t>(n) > buffer.size())
      return netlink_error(name, "receive", EMSGSIZE);
    int length = static_cast<int>(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buffer.data()); NLMSG_OK(h, length);
         h = NLMSG_NEXT(h, length)) {
      if (h->nlmsg_seq != seq) continue;  // not ours: a late reply cannot occur, but be exact
      if (h->nlmsg_type == NLMSG_ERROR) {
        const int err = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
        if (err == ENODEV)
          return Error{ErrorCode::not_found, "interface " + name + ": No such device"};
        return netlink_error(name, "RTM_GETLINK", err);
      }
      if (h->nlmsg_type == RTM_NEWLINK) {
        InterfaceCounters counters;
        counters.name = name;
        parse_link(h, counters);
        return counters;
      }
    }
  }
}

bool same_address(const sockaddr* a, const sockaddr_storage& b) {
  if (a == nullptr || a->sa_family != b.ss_family) return false;
  if (a->sa_family == AF_INET)
    return reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(&b)->sin_addr.s_addr;
  if (a->sa_family == AF_INET6)
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(&b)->sin6_addr,
                       sizeof(in6_addr)) == 0;
  return false;
}

bool is_loopback(const SocketAddress& a) {
  if (a.family() == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(a.get())->sin_addr.s_addr) >> 24) == 127;
  return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(a.get())->sin6_addr);
}

bool is_link_local(const SocketAddress& a) {
  return a.family() == AF_INET6 &&
         IN6_IS_ADDR_LINKLOCAL(&reinterpret_cast<const sockaddr_in6*>(a.get())->sin6_addr);
}

struct Holder {
  std::string name;
  bool loopback = false;
};

// The interfaces that carry `source`, each once.
Result<std::vector<Holder>> holders_of(const SocketAddress& source) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return io_error(std::string("getifaddrs: ") + std::strerror(errno));
  const std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> owner(list, &::freeifaddrs);
  std::vector<Holder> holders;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (!same_address(i->ifa_addr, source.storage)) continue;
    const bool seen = std::any_of(holders.begin(), holders.end(),
                                  [&](const Holder& h) { return h.name == i->ifa_name; });
    if (!seen) holders.push_back({i->ifa_name, (i->ifa_flags & IFF_LOOPBACK) != 0});
  }
  return holders;
}

// The one interface holding `source`, the address the kernel chose to reach
// `gateway`, or why it cannot be told.
Result<std::string> holder_towards(const std::string& gateway, const SocketAddress& gw,
                                   const SocketAddress& source) {
  auto holders = holders_of(source);
  if (!holders.ok()) return holders.error();
  const std::string prefix = "gateway " + gateway + ": source " + source.host();
  const std::string fix = "; set lines[].counters";
  if (holders->empty()) return Error{ErrorCode::not_found, prefix + " is on no interface" + fix};
  if (holders->size() > 1) {
    std::string names;
    for (const Holder& h : *holders) names += (names.empty() ? "" : ", ") + h.name;
    return Error{ErrorCode::not_found, prefix + " is on several interfaces (" + names + ")" + fix};
  }
  const Holder& only = holders->front();
  if (only.loopback && !is_loopback(gw))
    return Error{ErrorCode::not_found, prefix + " is on loopback " + only.name +
                                           ", not the device the route leaves by" + fix};
  return only.name;
}

}  // namespace

Result<InterfaceCounters> read_interface_counters(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return invalid("interface \"" + name + "\": not an interface name (1 to " +
                   std::to_string(IFNAMSIZ - 1) + " bytes)");
  auto fd = open_netlink(name);
  if (!fd.ok()) return fd.error();
  constexpr std::uint32_t kSeq = 1;  // a fresh socket: one request, one reply
  const LinkRequest request = link_request(name, kSeq);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    const ssize_t sent = ::sendto(fd->get(), &request, request.header.nlmsg_len, 0,
                                  reinterpret_cast<const sockaddr*>(&kernel), sizeof(kernel));
    if (sent >= 0) break;
    if (errno != EINTR) return netlink_error(name, "send", errno);
  }
  return receive_link(fd->get(), name, kSeq);
}

Result<std::string> interface_towards(const std::string& gateway, const LineBinding& binding) {
  SocketAddress gw;
  if (!parse_numeric_address(gateway, 9, gw))  // port 9 (discard): connect sends nothing
    return invalid("gateway " + gateway + ": not an IPv4 or IPv6 address");
  if (is_link_local(gw) && binding.interface.empty())
    return invalid("gateway " + gateway + ": a link-local gateway needs its device; set " +
                   "lines[].counters");
  Fd fd(::socket(gw.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return io_error("gateway " + gateway + ": socket: " + std::strerror(errno));
  if (Status s = apply_binding(fd.get(), gw.family(), binding); !s.ok())
    return Error{s.error().code, "gateway " + gateway + ": " + s.error().message};
  if (::connect(fd.get(), gw.get(), gw.length) != 0)
    return Error{ErrorCode::unavailable, "gateway " + gateway + ": " + std::strerror(errno)};
  if (!binding.interface.empty()) return binding.interface;
  SocketAddress source;
  source.length = sizeof(source.storage);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&source.storage), &source.length) != 0)
    return io_error("gateway " + gateway + ": getsockname: " + std::strerror(errno));
  return holder_towards(gateway, gw, source);
}

}  // namespace linewatch
