// RouteApplier: puts a RoutePlan into one routing table of the local kernel
// over netlink (never by running `ip`), and keeps it there. The local apply
// of failover, and what a gateway does with a plan it was pushed.
//
// Make-before-break. For each route that has to change, the applier first
// creates new nexthop objects (one per hop: gateway and device) and, for more
// than one hop, a weighted multipath group of them; then swaps the route to
// the new object with one RTM_NEWROUTE NLM_F_CREATE|NLM_F_REPLACE, which the
// kernel does atomically (no lookup ever finds the prefix without a route);
// then deletes the objects the route used before. When the kernel has no
// nexthop objects (detected once, from RTM_GETNEXTHOP or RTM_NEWNEXTHOP
// answering EOPNOTSUPP), or when the options say so, a route carries its hops
// itself (RTA_MULTIPATH with weights) and is swapped by the same single replace.
//
// Ownership. Routes and nexthop objects are marked with `protocol`; nexthop
// ids come from a reserved range. A prefix is ours once we applied it, or when
// the table already holds a route of our protocol for it (a restart adopts its
// routes without touching them when they are right). The applier
//  - never overwrites or deletes a route of another protocol: a planned prefix
//    that already has one (any metric) is a conflict, reported and skipped;
//  - removes routes of its protocol in the table that the plan no longer has;
//  - deletes nexthop objects of its protocol in its id range that no route of
//    the table uses (left over by a crash), so give each applier on a host
//    its own table and id range.
// Drift. reconcile() compares the kernel with what the last apply put there,
// and puts back what was changed behind its back: a deleted route, a route
// replaced by anyone (even with another protocol: the prefix is ours), a
// nexthop object deleted or changed. Each repair is an outcome with what was
// found; the caller turns it into a "route_restored" event.
//
// Errors name the route's prefix, the next hop (via, dev, line) and the
// kernel's own words (strerror and the extended ack message).
//
// Thread-safety: none. Use one applier per thread, constructed and called on
// that thread: its netlink socket (opened on first use) and its device
// lookups belong to the network namespace of that thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "exporters/netlink.h"
#include "exporters/netlink_route.h"
#include "rules/plan.h"

namespace linewatch {

// The RTPROT value that marks linewatch's routes and nexthop objects: 76, the
// ASCII code of 'L'. Unassigned in iproute2's rt_protos and <linux/rtnetlink.h>;
// `echo "76 linewatch" > /etc/iproute2/rt_protos.d/linewatch.conf` makes
// `ip route` print "proto linewatch".
inline constexpr std::uint8_t kLinewatchProtocol = 76;

enum class NexthopObjects {
  automatic,  // nexthop objects and groups when the kernel has them, else multipath routes
  never,      // always classic multipath routes (RTA_MULTIPATH)
};

struct RouteApplyOptions {
  // Routing table the routes go into (config apply.table). Default: main (254).
  std::uint32_t table = 254;
  // Marks our routes and nexthop objects; must be above RTPROT_STATIC (4).
  std::uint8_t protocol = kLinewatchProtocol;
  // Nexthop object ids [nexthop_id_first, nexthop_id_first + nexthop_id_count)
  // are reserved for this applier. Default 0x4c570000.. ("LW"), 65536 ids.
  std::uint32_t nexthop_id_first = 0x4c570000;
  std::uint32_t nexthop_id_count = 0x10000;
  // Route metric (priority). IPv6 stores 0 as 1024, as `ip -6 route` does. Default 0.
  std::uint32_t metric = 0;
  NexthopObjects nexthop_objects = NexthopObjects::automatic;
  // Bound on waiting for the kernel's answer to one request.
  Duration timeout = NetlinkSocket::kDefaultTimeout;
};

// Success, or invalid_argument naming the option: table 0, 252 (compat) and
// 255 (local) are refused, a protocol of 4 or below, an empty or overflowing
// id range.
Status check_options(const RouteApplyOptions& options);

// apply.table as written in the config: "main" or a number. Failure:
// invalid_argument naming apply.table and the text.
Result<std::uint32_t> parse_route_table(std::string_view text);

enum class RouteChange {
  unchanged,  // the kernel already had the route as planned: nothing written
  added,      // a new route
  switched,   // the route now goes over other hops or weights
  removed,    // a route of ours the plan no longer has
  restored,   // drift: the kernel's route differed from what we applied; put back
  conflict,   // another protocol's route holds the prefix: left alone, not applied
  failed,     // the kernel refused, or the entry is invalid; the old route stays
};
std::string_view to_string(RouteChange change);

struct RouteOutcome {
  std::string prefix;
  RouteChange change = RouteChange::unchanged;
  std::string found;  // restored, and failed repairs: what the kernel had instead
  std::string error;  // conflict, failed: prefix, next hop and the kernel's words
};

struct RouteReport {
  WallTime time{};         // when the pass started (wall clock, for events)
  Duration took{};         // how long it took (monotonic)
  bool multipath = false;  // routes carried their own hops (no nexthop objects)
  // apply(): one per plan route in plan order, then one per removed route.
  // reconcile(): one per route that had drifted.
  std::vector<RouteOutcome> routes;
  // Things that did not fail a route but someone should know, e.g. an old
  // nexthop object that could not be deleted (it is retried on the next apply).
  std::vector<std::string> notes;

  bool ok() const;                                          // no conflict and no failure
  const RouteOutcome* find(std::string_view prefix) const;  // nullptr when absent
};

class RouteApplier {
 public:
  // Nothing touches the kernel until apply(). `clock` must outlive the applier.
  RouteApplier(RouteApplyOptions options, const Clock& clock);

  // Makes the table hold `plan` (see the top comment). Routes are handled one
  // by one: a refused route is an outcome, the others still apply. Failure:
  // invalid_argument for bad options, io when the netlink socket cannot be
  // opened or the table cannot be read (nothing was changed then).
  Result<RouteReport> apply(const RoutePlan& plan);

  // Reads the table and the nexthop objects back (three netlink dumps; no
  // write when nothing drifted) and repairs what differs from the last apply,
  // then deletes our nexthop objects no route uses (those of a route someone
  // deleted). Failure as for apply(). Before any apply it reads nothing.
  Result<RouteReport> reconcile();

  const RouteApplyOptions& options() const { return options_; }

  // A plan route resolved to kernel terms: prefix, gateways, device indexes.
  struct WantedHop {
    std::string line;
    std::string label;  // "via 198.18.1.2 dev d1 (line cn2-gia-1)" for messages
    KernelHop hop;
  };
  struct WantedRoute {
    IpPrefix prefix;
    std::vector<WantedHop> hops;
  };

 private:
  // One apply or reconcile: the kernel as read at its start, and the report so far.
  struct Pass {
    KernelView view;
    RouteReport report;
    std::set<std::uint32_t> taken;  // nexthop ids created during the pass
    // Device indexes by name, looked up once per pass (each lookup is a
    // socket and an ioctl, about 10 us: most of a 100-route apply).
    std::map<std::string, std::uint32_t> devices;
    MonoTime start{};
  };

  Status open_socket();
  Result<Pass> begin_pass();
  Result<WantedRoute> resolve(Pass& pass, const RouteEntry& entry);
  RouteSlot slot_for(const IpPrefix& prefix, std::uint32_t metric) const;
  std::uint32_t slot_metric(const IpPrefix& prefix) const;
  const KernelRoute* route_in_slot(const Pass& pass, const IpPrefix& prefix) const;
  bool matches(const Pass& pass, const WantedRoute& wanted, const KernelRoute& route) const;
  RouteOutcome sync(Pass& pass, const WantedRoute& wanted, const WantedRoute* previous);
  // Writes `wanted` into its slot, replacing `current`. "" or the error.
  std::string install(Pass& pass, const WantedRoute& wanted, const KernelRoute* current);
  std::string install_objects(Pass& pass, const WantedRoute& wanted, bool& unsupported);
  std::string install_multipath(Pass& pass, const WantedRoute& wanted);
  Result<std::vector<std::uint32_t>> allocate_ids(Pass& pass, std::size_t n);
  // Deletes the nexthop objects `route` used, when ours and used by no other route.
  void release(Pass& pass, const KernelRoute& route);
  // Deletes in the order given (groups before their members); ENOENT is fine.
  void delete_nexthops(Pass& pass, const std::vector<std::uint32_t>& ids);
  void remove_unplanned(Pass& pass, const std::set<std::string>& planned);
  void collect_garbage(Pass& pass);
  bool in_range(std::uint32_t id) const;
  bool use_objects() const;

  RouteApplyOptions options_;
  const Clock& clock_;
  std::optional<NetlinkSocket> socket_;
  std::vector<WantedRoute> applied_;  // what the kernel holds for us, in plan order
  bool objects_unavailable_ = false;  // the kernel said it has no nexthop objects
  std::uint32_t next_id_ = 0;         // offset into the id range where allocation resumes
};

}  // namespace linewatch
