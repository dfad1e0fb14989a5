#include "exporters/netlink_route.h"

#include <arpa/inet.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace linewatch {
namespace {

// The address of an RTA_GATEWAY/RTA_DST/NHA_GATEWAY attribute of `family`.
IpAddress address_of(const nlattr* attr, int family) {
  IpAddress a;
  const std::size_t want = family == AF_INET ? 4u : family == AF_INET6 ? 16u : 0u;
  if (want == 0 || mnl_attr_get_payload_len(attr) != want) return a;
  a.family = family;
  std::memcpy(a.bytes.data(), mnl_attr_get_payload(attr), want);
  return a;
}

// RTA_VIA: an rtvia (family + address), used for IPv4 routes via IPv6 gateways.
IpAddress via_of(const nlattr* attr) {
  IpAddress a;
  const auto len = mnl_attr_get_payload_len(attr);
  if (len < sizeof(rtvia)) return a;
  const auto* via = static_cast<const rtvia*>(mnl_attr_get_payload(attr));
  const std::size_t want = via->rtvia_family == AF_INET    ? 4u
                           : via->rtvia_family == AF_INET6 ? 16u
                                                           : 0u;
  if (want == 0 || len < sizeof(rtvia) + want) return a;
  a.family = via->rtvia_family;
  std::memcpy(a.bytes.data(), via->rtvia_addr, want);
  return a;
}

// The hops of an RTA_MULTIPATH payload: rtnexthop structs, each followed by
// its own attributes.
std::vector<KernelHop> multipath_hops(const nlattr* attr, int family) {
  std::vector<KernelHop> hops;
  auto left = static_cast<int>(mnl_attr_get_payload_len(attr));
  const auto* rtnh = static_cast<const rtnexthop*>(mnl_attr_get_payload(attr));
  while (left >= static_cast<int>(sizeof(rtnexthop)) && rtnh->rtnh_len >= sizeof(rtnexthop) &&
         rtnh->rtnh_len <= left) {
    KernelHop hop{{}, static_cast<std::uint32_t>(rtnh->rtnh_ifindex), rtnh->rtnh_hops + 1u};
    const auto* data = reinterpret_cast<const char*>(rtnh) + RTNH_LENGTH(0);
    const auto data_len = static_cast<std::size_t>(rtnh->rtnh_len - RTNH_LENGTH(0));
    for (auto* a = reinterpret_cast<const nlattr*>(data);
         mnl_attr_ok(a, static_cast<int>(data + data_len - reinterpret_cast<const char*>(a)));
         a = mnl_attr_next(a)) {
      if (mnl_attr_get_type(a) == RTA_GATEWAY) hop.gateway = address_of(a, family);
      if (mnl_attr_get_type(a) == RTA_VIA) hop.gateway = via_of(a);
    }
    hops.push_back(hop);
    left -= static_cast<int>(RTNH_ALIGN(rtnh->rtnh_len));
    rtnh = RTNH_NEXT(rtnh);
  }
  return hops;
}

std::optional<KernelRoute> parse_route(const nlmsghdr& nlh) {
  if (nlh.nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(&nlh) < sizeof(rtmsg))
    return std::nullopt;
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(&nlh));
  if ((rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
      (rtm->rtm_flags & RTM_F_CLONED))
    return std::nullopt;
  KernelRoute r;
  r.prefix.address.family = rtm->rtm_family;  // 0.0.0.0 or :: until RTA_DST says otherwise
  r.prefix.length = rtm->rtm_dst_len;
  r.table = rtm->rtm_table;
  r.protocol = rtm->rtm_protocol;
  r.type = rtm->rtm_type;
  KernelHop single;
  for_each_attribute(nlh, sizeof(rtmsg), [&](const nlattr& a) {
    const nlattr* attr = &a;
    switch (mnl_attr_get_type(attr)) {
      case RTA_DST:
        r.prefix.address = address_of(attr, rtm->rtm_family);
        break;
      case RTA_TABLE:
        r.table = mnl_attr_get_u32(attr);
        break;
      case RTA_PRIORITY:
        r.metric = mnl_attr_get_u32(attr);
        break;
      case RTA_NH_ID:
        r.nexthop_id = mnl_attr_get_u32(attr);
        break;
      case RTA_OIF:
        single.oif = mnl_attr_get_u32(attr);
        break;
      case RTA_GATEWAY:
        single.gateway = address_of(attr, rtm->rtm_family);
        break;
      case RTA_VIA:
        single.gateway = via_of(attr);
        break;
      case RTA_MULTIPATH:
        r.hops = multipath_hops(attr, rtm->rtm_family);
        break;
      default:
        break;
    }
  });
  if (r.hops.empty() && (single.oif != 0 || !single.gateway.empty())) r.hops.push_back(single);
  return r;
}

std::optional<KernelNexthop> parse_nexthop(const nlmsghdr& nlh) {
  if (nlh.nlmsg_type != RTM_NEWNEXTHOP || mnl_nlmsg_get_payload_len(&nlh) < sizeof(nhmsg))
    return std::nullopt;
  const auto* nhm = static_cast<const nhmsg*>(mnl_nlmsg_get_payload(&nlh));
  KernelNexthop nh;
  nh.family = nhm->nh_family;
  nh.protocol = nhm->nh_protocol;
  for_each_attribute(nlh, sizeof(nhmsg), [&](const nlattr& a) {
    const nlattr* attr = &a;
    switch (mnl_attr_get_type(attr)) {
      case NHA_ID:
        nh.id = mnl_attr_get_u32(attr);
        break;
      case NHA_OIF:
        nh.hop.oif = mnl_attr_get_u32(attr);
        break;
      case NHA_GATEWAY:
        nh.hop.gateway = address_of(attr, nhm->nh_family);
        break;
      case NHA_BLACKHOLE:
        nh.blackhole = true;
        break;
      case NHA_GROUP: {
        const auto* g = static_cast<const nexthop_grp*>(mnl_attr_get_payload(attr));
        const std::size_t n = mnl_attr_get_payload_len(attr) / sizeof(nexthop_grp);
        for (std::size_t i = 0; i < n; ++i) nh.group.emplace_back(g[i].id, g[i].weight + 1u);
        break;
      }
      default:
        break;
    }
  });
  if (nh.id == 0) return std::nullopt;
  return nh;
}

// Dumps `msg` into `out` via `parse`, again from scratch when the kernel
// flags the dump as interrupted by a change (a few times, then gives up).
template <class T, class Parse>
NlAnswer dump_all(NetlinkSocket& socket, const std::function<void(NlMessage&)>& build,
                  std::vector<T>& out, Parse parse) {
  NlAnswer answer;
  for (int attempt = 0; attempt < 4; ++attempt) {
    out.clear();
    NlMessage msg(0, 0);
    build(msg);
    answer = socket.dump(msg, [&](const nlmsghdr& nlh) {
      if (auto v = parse(nlh)) out.push_back(std::move(*v));
    });
    if (!answer.interrupted) break;
  }
  return answer;
}

Status read_routes(NetlinkSocket& socket, int family, std::uint32_t table,
                   std::vector<KernelRoute>& out) {
  std::vector<KernelRoute> routes;
  const NlAnswer a = dump_all(
      socket,
      [&](NlMessage& msg) {
        msg.get()->nlmsg_type = RTM_GETROUTE;
        auto* rtm = msg.header<rtmsg>();
        rtm->rtm_family = static_cast<unsigned char>(family);
        rtm->rtm_table = table < 256 ? static_cast<unsigned char>(table)
                                     : static_cast<unsigned char>(RT_TABLE_UNSPEC);
        msg.put_u32(RTA_TABLE, table);
      },
      routes, parse_route);
  // A table with no route yet does not exist; for us it is empty.
  if (a.error == ENOENT) return ok_status();
  if (!a.ok())
    return io_error(std::string("reading the ") + (family == AF_INET ? "IPv4" : "IPv6") +
                    " routes of table " + table_name(table) + ": " + a.text());
  for (auto& r : routes)
    if (r.table == table) out.push_back(std::move(r));
  return ok_status();
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  const std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

std::size_t IpAddress::size() const {
  if (family == AF_INET) return 4;
  return family == AF_INET6 ? 16 : 0;
}

std::string IpAddress::str() const {
  if (empty()) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = IpAddress::parse(text.substr(0, slash));
  const std::string_view len_text = text.substr(slash + 1);
  int len = -1;
  const auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (!address || ec != std::errc() || end != len_text.data() + len_text.size() || len < 0 ||
      len > static_cast<int>(address->size() * 8))
    return std::nullopt;
  for (int bit = len; bit < static_cast<int>(address->size() * 8); ++bit)
    if (address->bytes[bit / 8] & (0x80 >> (bit % 8))) return std::nullopt;
  return IpPrefix{*address, len};
}

std::string IpPrefix::str() const { return address.str() + "/" + std::to_string(length); }

std::vector<const KernelRoute*> KernelView::routes_for(const IpPrefix& prefix) const {
  std::vector<const KernelRoute*> out;
  for (const auto& r : routes)
    if (r.prefix == prefix) out.push_back(&r);
  return out;
}

const KernelNexthop* KernelView::nexthop(std::uint32_t id) const {
  auto it = nexthops.find(id);
  return it == nexthops.end() ? nullptr : &it->second;
}

std::optional<std::vector<KernelHop>> KernelView::effective_hops(const KernelRoute& route) const {
  if (route.nexthop_id == 0) return route.hops;
  const KernelNexthop* nh = nexthop(route.nexthop_id);
  if (nh == nullptr) return std::nullopt;
  if (nh->group.empty()) return std::vector<KernelHop>{{nh->hop.gateway, nh->hop.oif, 1}};
  std::vector<KernelHop> hops;
  for (const auto& [id, weight] : nh->group) {
    const KernelNexthop* member = nexthop(id);
    if (member == nullptr || !member->group.empty()) return std::nullopt;
    hops.push_back({member->hop.gateway, member->hop.oif, weight});
  }
  return hops;
}

Result<KernelView> read_kernel_view(NetlinkSocket& socket, std::uint32_t table) {
  KernelView view;
  for (int family : {AF_INET, AF_INET6}) {
    if (Status s = read_routes(socket, family, table, view.routes); !s.ok()) return s.error();
  }
  std::vector<KernelNexthop> nexthops;
  const NlAnswer a = dump_all(
      socket,
      [](NlMessage& msg) {
        msg.get()->nlmsg_type = RTM_GETNEXTHOP;
        msg.header<nhmsg>();
      },
      nexthops, parse_nexthop);
  if (a.error == EOPNOTSUPP) {
    view.nexthops_supported = false;
    view.nexthops_error = a.text();
  } else if (!a.ok()) {
    return io_error("reading the nexthop objects: " + a.text());
  }
  for (auto& nh : nexthops) view.nexthops.emplace(nh.id, std::move(nh));
  return view;
}

std::string table_name(std::uint32_t table) {
  if (table == RT_TABLE_MAIN) return "main";
  if (table == RT_TABLE_LOCAL) return "local";
  return std::to_string(table);
}

std::string device_name(std::uint32_t oif) {
  char name[IF_NAMESIZE] = {};
  if (oif != 0 && if_indextoname(oif, name) != nullptr) return name;
  return "if" + std::to_string(oif);
}

std::string protocol_name(std::uint8_t protocol) {
  switch (protocol) {
    case RTPROT_REDIRECT:
      return "redirect";
    case RTPROT_KERNEL:
      return "kernel";
    case RTPROT_BOOT:
      return "boot";
    case RTPROT_STATIC:
      return "static";
    case RTPROT_ZEBRA:
      return "zebra";
    case RTPROT_BIRD:
      return "bird";
    case RTPROT_DHCP:
      return "dhcp";
    case RTPROT_KEEPALIVED:
      return "keepalived";
    case RTPROT_BGP:
      return "bgp";
    case RTPROT_OSPF:
      return "ospf";
    default:
      return std::to_string(protocol);
  }
}

std::string describe(const KernelHop& hop, bool with_weight) {
  std::string out;
  if (!hop.gateway.empty()) out += "via " + hop.gateway.str() + " ";
  out += "dev " + device_name(hop.oif);
  if (with_weight) out += " weight " + std::to_string(hop.weight);
  return out;
}

std::string describe(const KernelRoute& route, const KernelView& view) {
  std::string out =
      "proto " + protocol_name(route.protocol) + " metric " + std::to_string(route.metric);
  if (route.type != RTN_UNICAST) out += " type " + std::to_string(route.type);
  const auto hops = view.effective_hops(route);
  const std::vector<KernelHop>& shown = hops ? *hops : route.hops;
  for (std::size_t i = 0; i < shown.size(); ++i)
    out += (i == 0 ? " " : ", ") + describe(shown[i], shown.size() > 1);
  if (route.nexthop_id != 0) {
    out += " (nexthop " + std::to_string(route.nexthop_id);
    out += hops ? ")" : ", missing or incomplete)";
  }
  return out;
}

}  // namespace linewatch
