// RoutePlan: the route table the agent wants, as applied locally (netlink) and
// pushed to gateways (exporters/plan_codec.h). Plain value types.
//
// Every route has at least one next hop: the planner never makes an empty one
// and the codec refuses to read one. Equality ignores `version` and `time`,
// so `a == b` asks "would applying b change anything after a?".
//
// No thread-safety concerns of their own: values are copied between threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/time.h"

namespace linewatch {

struct NextHop {
  std::string line;          // the line id this hop sends traffic through
  std::string via;           // gateway address (IPv4 or IPv6 literal); "" for a device route
  std::string dev;           // outgoing device; "" to let the kernel pick from `via`
  std::uint32_t weight = 1;  // multipath weight 1..255; 1 when the route has one hop

  bool operator==(const NextHop&) const = default;
};

struct RouteEntry {
  std::string prefix;             // "198.19.255.0/24", host bits zero
  std::vector<NextHop> nexthops;  // never empty; in routes[].lines order

  bool operator==(const RouteEntry&) const = default;
};

struct RoutePlan {
  std::string agent;          // agent.id of the agent that made the plan
  std::uint64_t version = 0;  // grows by one per real change; never reused across restarts
  WallTime time{};            // when this version was made
  bool panic = false;         // some route kept a line that does not take traffic (no better one)
  std::vector<RouteEntry> routes;  // in routes[] order

  // Same agent, panic flag and routes; version and time are not compared.
  bool operator==(const RoutePlan& o) const {
    return agent == o.agent && panic == o.panic && routes == o.routes;
  }
};

}  // namespace linewatch
