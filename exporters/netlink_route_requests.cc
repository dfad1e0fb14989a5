// The requests of exporters/netlink_route.h that change the kernel, and the
// route lookup that finds a gateway's device.
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>

#include "exporters/netlink_route.h"

namespace linewatch {
namespace {

// The route header and the attributes every route request carries.
rtmsg* route_header(NlMessage& msg, const RouteSlot& slot) {
  auto* rtm = msg.header<rtmsg>();
  rtm->rtm_family = static_cast<unsigned char>(slot.prefix.address.family);
  rtm->rtm_dst_len = static_cast<unsigned char>(slot.prefix.length);
  rtm->rtm_table = slot.table < 256 ? static_cast<unsigned char>(slot.table)
                                    : static_cast<unsigned char>(RT_TABLE_UNSPEC);
  rtm->rtm_protocol = slot.protocol;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  if (slot.prefix.length > 0)
    msg.put(RTA_DST, slot.prefix.address.bytes.data(), slot.prefix.address.size());
  msg.put_u32(RTA_TABLE, slot.table);
  msg.put_u32(RTA_PRIORITY, slot.metric);
  return rtm;
}

// Gateways have the route's family: the applier refuses mixed plans.
void put_gateway(NlMessage& msg, const IpAddress& gateway) {
  if (!gateway.empty()) msg.put(RTA_GATEWAY, gateway.bytes.data(), gateway.size());
}

void put_multipath(NlMessage& msg, const std::vector<KernelHop>& hops) {
  nlattr* nest = msg.nest_start(RTA_MULTIPATH);
  for (const KernelHop& hop : hops) {
    auto* rtnh = static_cast<rtnexthop*>(msg.reserve(sizeof(rtnexthop)));
    if (rtnh == nullptr) return;
    rtnh->rtnh_ifindex = static_cast<int>(hop.oif);
    rtnh->rtnh_hops = static_cast<unsigned char>(hop.weight - 1);
    put_gateway(msg, hop.gateway);
    rtnh->rtnh_len =
        static_cast<unsigned short>(static_cast<char*>(msg.tail()) - reinterpret_cast<char*>(rtnh));
  }
  msg.nest_end(nest);
}

}  // namespace

NlAnswer add_nexthop(NetlinkSocket& socket, std::uint32_t id, std::uint8_t protocol, int family,
                     const KernelHop& hop) {
  NlMessage msg(RTM_NEWNEXTHOP, NLM_F_CREATE | NLM_F_EXCL);
  auto* nhm = msg.header<nhmsg>();
  nhm->nh_family = static_cast<unsigned char>(family);
  nhm->nh_protocol = protocol;
  msg.put_u32(NHA_ID, id);
  msg.put_u32(NHA_OIF, hop.oif);
  if (!hop.gateway.empty()) msg.put(NHA_GATEWAY, hop.gateway.bytes.data(), hop.gateway.size());
  return socket.request(msg);
}

NlAnswer add_group(NetlinkSocket& socket, std::uint32_t id, std::uint8_t protocol,
                   const std::vector<std::pair<std::uint32_t, std::uint32_t>>& members) {
  NlMessage msg(RTM_NEWNEXTHOP, NLM_F_CREATE | NLM_F_EXCL);
  auto* nhm = msg.header<nhmsg>();
  nhm->nh_family = AF_UNSPEC;
  nhm->nh_protocol = protocol;
  msg.put_u32(NHA_ID, id);
  std::vector<nexthop_grp> group;
  for (const auto& [member, weight] : members) {
    nexthop_grp g{};
    g.id = member;
    g.weight = static_cast<__u8>(weight - 1);
    group.push_back(g);
  }
  msg.put(NHA_GROUP, group.data(), group.size() * sizeof(nexthop_grp));
  msg.put_u16(NHA_GROUP_TYPE, NEXTHOP_GRP_TYPE_MPATH);
  return socket.request(msg);
}

NlAnswer delete_nexthop(NetlinkSocket& socket, std::uint32_t id) {
  NlMessage msg(RTM_DELNEXTHOP, 0);
  msg.header<nhmsg>();
  msg.put_u32(NHA_ID, id);
  return socket.request(msg);
}

NlAnswer replace_route(NetlinkSocket& socket, const RouteSlot& slot, std::uint32_t nexthop_id) {
  NlMessage msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
  route_header(msg, slot);
  msg.put_u32(RTA_NH_ID, nexthop_id);
  return socket.request(msg);
}

NlAnswer replace_route(NetlinkSocket& socket, const RouteSlot& slot,
                       const std::vector<KernelHop>& hops) {
  NlMessage msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
  rtmsg* rtm = route_header(msg, slot);
  bool any_gateway = false;
  for (const KernelHop& hop : hops) any_gateway = any_gateway || !hop.gateway.empty();
  // A route straight onto a link is scope link, as `ip route` makes it.
  if (!any_gateway) rtm->rtm_scope = RT_SCOPE_LINK;
  if (hops.size() == 1) {
    msg.put_u32(RTA_OIF, hops[0].oif);
    put_gateway(msg, hops[0].gateway);
  } else {
    put_multipath(msg, hops);
  }
  return socket.request(msg);
}

NlAnswer delete_route(NetlinkSocket& socket, const RouteSlot& slot) {
  NlMessage msg(RTM_DELROUTE, 0);
  rtmsg* rtm = route_header(msg, slot);
  rtm->rtm_scope = RT_SCOPE_NOWHERE;  // any scope
  rtm->rtm_type = RTN_UNSPEC;         // any type; the protocol still has to be ours
  return socket.request(msg);
}

NlAnswer lookup_route(NetlinkSocket& socket, const IpAddress& address, RouteLookup& out) {
  NlMessage msg(RTM_GETROUTE, 0);
  auto* rtm = msg.header<rtmsg>();
  rtm->rtm_family = static_cast<unsigned char>(address.family);
  rtm->rtm_dst_len = static_cast<unsigned char>(address.size() * 8);
  msg.put(RTA_DST, address.bytes.data(), address.size());
  out = {};
  return socket.request(msg, [&](const nlmsghdr& nlh) {
    if (nlh.nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(&nlh) < sizeof(rtmsg)) return;
    out.type = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(&nlh))->rtm_type;
    for_each_attribute(nlh, sizeof(rtmsg), [&](const nlattr& a) {
      const nlattr* attr = &a;
      const auto kind = mnl_attr_get_type(attr);
      if (kind == RTA_OIF) out.hop.oif = mnl_attr_get_u32(attr);
      if (kind == RTA_GATEWAY && mnl_attr_get_payload_len(attr) == address.size()) {
        out.hop.gateway.family = address.family;
        std::memcpy(out.hop.gateway.bytes.data(), mnl_attr_get_payload(attr), address.size());
      }
    });
  });
}

Result<std::uint32_t> device_towards(NetlinkSocket& socket, const IpAddress& gateway) {
  RouteLookup found;
  const NlAnswer a = lookup_route(socket, gateway, found);
  if (!a.ok()) return invalid("no link reaches " + gateway.str() + ": " + a.text());
  if (found.hop.oif == 0) return invalid("the kernel names no device towards " + gateway.str());
  if (found.type != RTN_UNICAST)
    return invalid(gateway.str() + " is not a gateway on a link (route type " +
                   std::to_string(found.type) + ", e.g. a local address)");
  if (!found.hop.gateway.empty())
    return invalid(gateway.str() + " is on no link; the kernel reaches it only " +
                   describe(found.hop, false));
  return found.hop.oif;
}

}  // namespace linewatch
