// What one routing table holds, as the kernel tells it over netlink, and the
// few requests that change it: nexthop objects (RTM_*NEXTHOP, with groups) and
// routes (RTM_*ROUTE, pointing at a nexthop object or carrying their own hops).
// The building blocks of the route applier (exporters/route_apply.h); exposed
// so tests can read the kernel with the same code.
//
// Thread-safety: plain values and free functions on a caller-owned socket;
// use a socket from one thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exporters/netlink.h"

namespace linewatch {

// An IPv4 or IPv6 address in network byte order.
struct IpAddress {
  int family = 0;  // AF_INET, AF_INET6, or 0 for "none"
  std::array<unsigned char, 16> bytes{};

  // A literal ("198.18.1.2", "2001:2::1"); nullopt when it is neither.
  static std::optional<IpAddress> parse(std::string_view text);
  std::size_t size() const;  // 4, 16 or 0
  bool empty() const { return family == 0; }
  std::string str() const;  // "" for none
  bool operator==(const IpAddress&) const = default;
};

struct IpPrefix {
  IpAddress address;
  int length = 0;

  // "198.19.1.0/24" or "2001:2:0:ff00::/56" with the host bits zero; nullopt otherwise.
  static std::optional<IpPrefix> parse(std::string_view text);
  std::string str() const;
  bool operator==(const IpPrefix&) const = default;
};

// One way out: a gateway on a device, with its multipath weight (1..256).
struct KernelHop {
  IpAddress gateway;  // empty for a device route
  std::uint32_t oif = 0;
  std::uint32_t weight = 1;
  bool operator==(const KernelHop&) const = default;
};

// A route of the table, with what the kernel reports of it.
struct KernelRoute {
  IpPrefix prefix;
  std::uint32_t table = 0;
  std::uint8_t protocol = 0;     // RTPROT_*: who installed it
  std::uint8_t type = 0;         // RTN_*
  std::uint32_t metric = 0;      // RTA_PRIORITY
  std::uint32_t nexthop_id = 0;  // RTA_NH_ID; 0 when the route carries its own hops
  std::vector<KernelHop> hops;   // the route's own hops (the kernel expands nexthop objects too)
};

struct KernelNexthop {
  std::uint32_t id = 0;
  std::uint8_t protocol = 0;
  int family = 0;
  KernelHop hop;  // a single nexthop: gateway and device (weight unused)
  std::vector<std::pair<std::uint32_t, std::uint32_t>> group;  // members: id, weight 1..256
  bool blackhole = false;
};

// One table's routes (IPv4 and IPv6) and every nexthop object of the namespace.
struct KernelView {
  std::vector<KernelRoute> routes;
  std::map<std::uint32_t, KernelNexthop> nexthops;
  bool nexthops_supported = true;  // false when the kernel has no nexthop objects
  std::string nexthops_error;      // why, when it has none

  // Routes of the table for exactly `prefix`, any protocol and metric.
  std::vector<const KernelRoute*> routes_for(const IpPrefix& prefix) const;
  const KernelNexthop* nexthop(std::uint32_t id) const;
  // The hops a route forwards over: its nexthop object's (a group's members
  // with their weights) when it has one, else its own. nullopt when the
  // object or a member is missing.
  std::optional<std::vector<KernelHop>> effective_hops(const KernelRoute& route) const;
};

// Dumps table `table` (both families, filtered in the kernel) and all nexthop
// objects. Failure: io naming the dump and the kernel's words. A table that
// does not exist yet reads as empty.
Result<KernelView> read_kernel_view(NetlinkSocket& socket, std::uint32_t table);

// "main" for 254, "local" for 255, else the number.
std::string table_name(std::uint32_t table);
// "d1", or "if7" when the index has no name (any more).
std::string device_name(std::uint32_t oif);
// "via 198.18.1.2 dev d1 weight 3"; weight left out when `with_weight` is false.
std::string describe(const KernelHop& hop, bool with_weight);
// What a route is, for drift and conflict messages:
// "proto 3 metric 0 via 198.18.1.2 dev d1 (nexthop 17)".
std::string describe(const KernelRoute& route, const KernelView& view);
// "boot", "static", ... for the common RTPROT values, else the number.
std::string protocol_name(std::uint8_t protocol);

// Where the kernel would send a packet for `address` (RTM_GETROUTE, as
// `ip route get` does): the route type (RTN_*) and the hop, whose gateway is
// empty when `address` is on the link itself. Failure: the kernel's answer,
// e.g. ENETUNREACH when no route covers `address`.
struct RouteLookup {
  std::uint8_t type = 0;
  KernelHop hop;
};
NlAnswer lookup_route(NetlinkSocket& socket, const IpAddress& address, RouteLookup& out);

// The device `gateway` is on. Failure: invalid_argument saying why ("no link
// reaches", a local address, or reached only through another gateway).
Result<std::uint32_t> device_towards(NetlinkSocket& socket, const IpAddress& gateway);

// What the requests below need to know of a route's place in the table.
struct RouteSlot {
  IpPrefix prefix;
  std::uint32_t table = 0;
  std::uint8_t protocol = 0;
  std::uint32_t metric = 0;
};

// RTM_NEWNEXTHOP, NLM_F_CREATE|NLM_F_EXCL: one gateway/device nexthop of
// `family` (the gateway's, or the route's for a device-only hop).
NlAnswer add_nexthop(NetlinkSocket& socket, std::uint32_t id, std::uint8_t protocol, int family,
                     const KernelHop& hop);
// RTM_NEWNEXTHOP, NLM_F_CREATE|NLM_F_EXCL: a multipath group of existing
// nexthops with weights 1..256.
NlAnswer add_group(NetlinkSocket& socket, std::uint32_t id, std::uint8_t protocol,
                   const std::vector<std::pair<std::uint32_t, std::uint32_t>>& members);
NlAnswer delete_nexthop(NetlinkSocket& socket, std::uint32_t id);

// RTM_NEWROUTE, NLM_F_CREATE|NLM_F_REPLACE: one atomic swap of whatever the
// slot held, to the nexthop object `nexthop_id`.
NlAnswer replace_route(NetlinkSocket& socket, const RouteSlot& slot, std::uint32_t nexthop_id);
// The same with the route's own hops (RTA_GATEWAY/RTA_OIF for one, RTA_MULTIPATH for more).
NlAnswer replace_route(NetlinkSocket& socket, const RouteSlot& slot,
                       const std::vector<KernelHop>& hops);
// RTM_DELROUTE of the slot; the kernel deletes only a route with this protocol.
NlAnswer delete_route(NetlinkSocket& socket, const RouteSlot& slot);

}  // namespace linewatch
