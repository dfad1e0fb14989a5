// Test-only helpers for the route applier's tests: plans, and the table as
// the applier's own dump and as `ip -j` read it. Call them on a lab thread
// (exporters/route_apply_lab_test_support.h) so they see the lab's namespace.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "exporters/route_apply.h"
#include "exporters/route_apply_lab_test_support.h"

// Ends the test case with a message where the lab cannot run (not root).
#define SKIP_WITHOUT_LAB()                                                  \
  do {                                                                      \
    if (auto why = ::linewatch::testing::lab_unavailable(); !why.empty()) { \
      MESSAGE("skipped: " << why);                                          \
      return;                                                               \
    }                                                                       \
  } while (0)

// Runs the lambda in a fresh lab; a failed setup fails the test case.
#define RUN_IN_LAB(...)                                                          \
  do {                                                                           \
    const std::string lab_setup = ::linewatch::testing::run_in_lab(__VA_ARGS__); \
    REQUIRE(lab_setup == "");                                                    \
  } while (0)

namespace linewatch::route_test {

inline NextHop hop(std::string line, std::string via, std::string dev, std::uint32_t weight = 1) {
  return {std::move(line), std::move(via), std::move(dev), weight};
}

inline RoutePlan plan_of(std::vector<RouteEntry> routes) {
  RoutePlan plan;
  plan.agent = "test";
  plan.routes = std::move(routes);
  return plan;
}

// One line per outcome and note, for INFO().
inline std::string summary(const RouteReport& report) {
  std::string out;
  for (const auto& r : report.routes)
    out += r.prefix + " " + std::string(to_string(r.change)) +
           (r.found.empty() ? "" : " found: " + r.found) +
           (r.error.empty() ? "" : " error: " + r.error) + "\n";
  for (const auto& n : report.notes) out += "note: " + n + "\n";
  return out;
}

// The change reported for `prefix`; failed when the report has none.
inline RouteChange change_of(const RouteReport& report, const std::string& prefix) {
  const RouteOutcome* r = report.find(prefix);
  return r != nullptr ? r->change : RouteChange::failed;
}

inline bool in_default_range(std::uint32_t id) {
  const RouteApplyOptions o;
  return id >= o.nexthop_id_first && id - o.nexthop_id_first < o.nexthop_id_count;
}

// The applier's own reading of `table`.
inline KernelView view_now(std::uint32_t table = 254) {
  auto socket = NetlinkSocket::open();
  REQUIRE(socket.ok());
  auto view = read_kernel_view(*socket, table);
  REQUIRE(view.ok());
  return std::move(view.value());
}

// The one route the view has for `prefix`, or nullptr (none or several).
inline const KernelRoute* only_route(const KernelView& view, const std::string& prefix) {
  const auto routes = view.routes_for(*IpPrefix::parse(prefix));
  return routes.size() == 1 ? routes.front() : nullptr;
}

// "198.18.1.2 d1" per hop, "198.18.1.2 d1 w10" when there are several; sorted.
inline std::vector<std::string> hops_text(const KernelView& view, const KernelRoute& route) {
  std::vector<std::string> out;
  const auto hops = view.effective_hops(route);
  if (!hops) return {"(missing nexthop object)"};
  for (const auto& h : *hops)
    out.push_back(h.gateway.str() + " " + device_name(h.oif) +
                  (hops->size() > 1 ? " w" + std::to_string(h.weight) : ""));
  std::sort(out.begin(), out.end());
  return out;
}

// `ip route show table <table> <prefix>` (an exact match): the route or null.
inline Poco::JSON::Object::Ptr ip_route(const std::string& prefix,
                                        const std::string& table = "main") {
  const std::string family = prefix.find(':') != std::string::npos ? "-6 " : "";
  auto routes = testing::ip_json(family + "route show table " + table + " " + prefix);
  return routes->size() == 1 ? routes->getObject(0) : nullptr;
}

// The same form as hops_text(), from ip's JSON (it expands nexthop objects).
inline std::vector<std::string> ip_hops(const Poco::JSON::Object::Ptr& route) {
  std::vector<std::string> out;
  if (!route) return out;
  if (auto hops = route->getArray("nexthops")) {
    for (std::size_t i = 0; i < hops->size(); ++i) {
      auto h = hops->getObject(i);
      out.push_back(h->getValue<std::string>("gateway") + " " + h->getValue<std::string>("dev") +
                    " w" + std::to_string(h->getValue<int>("weight")));
    }
  } else {
    out.push_back(route->getValue<std::string>("gateway") + " " +
                  route->getValue<std::string>("dev"));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Ids of the nexthop objects with our protocol, per `ip nexthop`.
inline std::vector<std::uint32_t> our_nexthops() {
  std::vector<std::uint32_t> ids;
  auto all = testing::ip_json("nexthop show");
  for (std::size_t i = 0; i < all->size(); ++i) {
    auto nh = all->getObject(i);
    if (nh->has("protocol") && nh->getValue<std::string>("protocol") == "76")
      ids.push_back(nh->getValue<std::uint32_t>("id"));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Where the kernel sends `address` (an `ip route get`, over our own netlink
// code): "198.18.1.2 d1", "unreachable", or "error: ...".
inline std::string gateway_for(const std::string& address) {
  auto socket = NetlinkSocket::open();
  if (!socket.ok()) return "error: " + socket.error().message;
  RouteLookup found;
  const NlAnswer a = lookup_route(*socket, *IpAddress::parse(address), found);
  if (a.error == ENETUNREACH) return "unreachable";
  if (!a.ok()) return "error: " + a.text();
  return found.hop.gateway.str() + " " + device_name(found.hop.oif);
}

// Runs a shell command in the lab; true when it exited 0 (its output goes to INFO on failure).
inline bool run(const std::string& command) {
  int status = 0;
  const std::string out = testing::shell(command, &status);
  if (status != 0) MESSAGE(command << ": " << out);
  return status == 0;
}

}  // namespace linewatch::route_test
