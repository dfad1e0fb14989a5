// RouteApplier: comparing a planned route with the kernel's, writing it
// make-before-break, and cleaning up routes and nexthop objects of ours.
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cerrno>

#include "exporters/route_apply.h"

namespace linewatch {
namespace {

bool hop_less(const KernelHop& a, const KernelHop& b) {
  if (a.gateway.family != b.gateway.family) return a.gateway.family < b.gateway.family;
  if (a.gateway.bytes != b.gateway.bytes) return a.gateway.bytes < b.gateway.bytes;
  if (a.oif != b.oif) return a.oif < b.oif;
  return a.weight < b.weight;
}

// The same hops with the same weights, in any order. One hop has no weight.
bool same_hops(std::vector<KernelHop> a, std::vector<KernelHop> b) {
  if (a.size() != b.size()) return false;
  if (a.size() == 1) a[0].weight = b[0].weight = 1;
  std::sort(a.begin(), a.end(), hop_less);
  std::sort(b.begin(), b.end(), hop_less);
  return a == b;
}

std::vector<KernelHop> hops_of(const RouteApplier::WantedRoute& wanted) {
  std::vector<KernelHop> hops;
  for (const auto& w : wanted.hops) hops.push_back(w.hop);
  return hops;
}

bool same_wanted(const RouteApplier::WantedRoute& a, const RouteApplier::WantedRoute& b) {
  return a.prefix == b.prefix && same_hops(hops_of(a), hops_of(b));
}

std::string hop_list(const RouteApplier::WantedRoute& wanted) {
  std::string out;
  for (const auto& w : wanted.hops) out += (out.empty() ? "" : ", ") + w.label;
  return out;
}

}  // namespace

std::uint32_t RouteApplier::slot_metric(const IpPrefix& prefix) const {
  // The kernel stores an IPv6 metric of 0 as 1024 (IP6_RT_PRIO_USER).
  if (prefix.address.family == AF_INET6 && options_.metric == 0) return 1024;
  return options_.metric;
}

RouteSlot RouteApplier::slot_for(const IpPrefix& prefix, std::uint32_t metric) const {
  return {prefix, options_.table, options_.protocol, metric};
}

const KernelRoute* RouteApplier::route_in_slot(const Pass& pass, const IpPrefix& prefix) const {
  for (const KernelRoute* r : pass.view.routes_for(prefix))
    if (r->metric == slot_metric(prefix)) return r;
  return nullptr;
}

bool RouteApplier::matches(const Pass& pass, const WantedRoute& wanted,
                           const KernelRoute& route) const {
  if (route.protocol != options_.protocol || route.type != RTN_UNICAST) return false;
  if (use_objects() != (route.nexthop_id != 0)) return false;
  if (route.nexthop_id != 0 && !in_range(route.nexthop_id)) return false;
  const auto hops = pass.view.effective_hops(route);
  return hops && same_hops(*hops, hops_of(wanted));
}

RouteOutcome RouteApplier::sync(Pass& pass, const WantedRoute& wanted,
                                const WantedRoute* previous) {
  RouteOutcome out{wanted.prefix.str(), RouteChange::unchanged, "", ""};
  const KernelRoute* current = route_in_slot(pass, wanted.prefix);
  std::vector<const KernelRoute*> foreign;
  bool ours_in_table = false;
  for (const KernelRoute* r : pass.view.routes_for(wanted.prefix)) {
    if (r->protocol == options_.protocol)
      ours_in_table = true;
    else
      foreign.push_back(r);
  }
  if (previous == nullptr && !ours_in_table && !foreign.empty()) {
    out.change = RouteChange::conflict;
    out.error = "route " + out.prefix + ": table " + table_name(options_.table) +
                " already has a route for this prefix that linewatch did not make (" +
                describe(*foreign.front(), pass.view) +
                "); it is left alone. Remove it, or take the prefix out of routes[]";
    return out;
  }
  if (current != nullptr && matches(pass, wanted, *current)) return out;
  if (previous != nullptr && same_wanted(*previous, wanted)) {
    out.change = RouteChange::restored;
    out.found = current ? "route " + describe(*current, pass.view) : "no route";
  } else {
    out.change = current != nullptr && current->protocol == options_.protocol
                     ? RouteChange::switched
                     : RouteChange::added;
  }
  out.error = install(pass, wanted, current);
  if (!out.error.empty()) out.change = RouteChange::failed;
  return out;
}

std::string RouteApplier::install(Pass& pass, const WantedRoute& wanted,
                                  const KernelRoute* current) {
  std::string error;
  if (use_objects()) {
    bool unsupported = false;
    error = install_objects(pass, wanted, unsupported);
    if (unsupported) {
      objects_unavailable_ = true;
      pass.report.multipath = true;
      pass.report.notes.push_back("the kernel refused nexthop objects (" + error +
                                  "): routes carry their own hops");
      error = install_multipath(pass, wanted);
    }
  } else {
    error = install_multipath(pass, wanted);
  }
  // Break only after make: the route now uses what was just written.
  if (error.empty() && current != nullptr) release(pass, *current);
  return error;
}

std::string RouteApplier::install_objects(Pass& pass, const WantedRoute& wanted,
                                          bool& unsupported) {
  const std::string where = "route " + wanted.prefix.str();
  const std::size_t n = wanted.hops.size();
  auto ids = allocate_ids(pass, n == 1 ? 1 : n + 1);
  if (!ids.ok()) return where + ": " + ids.error().message;
  std::vector<std::uint32_t> created;
  auto undo = [&](std::string error) {
    std::reverse(created.begin(), created.end());  // the group before its members
    delete_nexthops(pass, created);
    return error;
  };
  std::vector<std::pair<std::uint32_t, std::uint32_t>> members;
  for (std::size_t i = 0; i < n; ++i) {
    const WantedHop& w = wanted.hops[i];
    const NlAnswer a = add_nexthop(*socket_, ids.value()[i], options_.protocol,
                                   wanted.prefix.address.family, w.hop);
    if (!a.ok()) {
      unsupported = a.error == EOPNOTSUPP;
      return undo(where + ": next hop " + w.label + ": " + a.text());
    }
    created.push_back(ids.value()[i]);
    members.emplace_back(ids.value()[i], w.hop.weight);
  }
  const std::uint32_t top = ids.value().back();
  if (n > 1) {
    const NlAnswer a = add_group(*socket_, top, options_.protocol, members);
    if (!a.ok()) return undo(where + ": nexthop group of " + hop_list(wanted) + ": " + a.text());
    created.push_back(top);
  }
  const NlAnswer a =
      replace_route(*socket_, slot_for(wanted.prefix, slot_metric(wanted.prefix)), top);
  if (!a.ok())
    return undo(where + " via " + hop_list(wanted) + ": pointing it at nexthop " +
                std::to_string(top) + " in table " + table_name(options_.table) + ": " + a.text());
  return "";
}

std::string RouteApplier::install_multipath(Pass&, const WantedRoute& wanted) {
  const NlAnswer a =
      replace_route(*socket_, slot_for(wanted.prefix, slot_metric(wanted.prefix)), hops_of(wanted));
  if (a.ok()) return "";
  return "route " + wanted.prefix.str() + " via " + hop_list(wanted) + " in table " +
         table_name(options_.table) + ": " + a.text();
}

Result<std::vector<std::uint32_t>> RouteApplier::allocate_ids(Pass& pass, std::size_t n) {
  std::vector<std::uint32_t> ids;
  // Allocation moves on round the range, so a just-deleted id is not reused at once.
  for (std::uint32_t tried = 0; tried < options_.nexthop_id_count && ids.size() < n; ++tried) {
    const std::uint32_t id = options_.nexthop_id_first + next_id_;
    next_id_ = (next_id_ + 1) % options_.nexthop_id_count;
    if (pass.view.nexthops.count(id) == 0 && pass.taken.insert(id).second) ids.push_back(id);
  }
  if (ids.size() < n)
    return io_error("no free nexthop id in " + std::to_string(options_.nexthop_id_first) + ".." +
                    std::to_string(options_.nexthop_id_first + options_.nexthop_id_count - 1));
  return ids;
}

void RouteApplier::release(Pass& pass, const KernelRoute& route) {
  if (route.nexthop_id == 0 || !in_range(route.nexthop_id)) return;
  // Another route of the table still using the object keeps it.
  for (const KernelRoute& other : pass.view.routes)
    if (&other != &route && other.nexthop_id == route.nexthop_id) return;
  std::vector<std::uint32_t> ids{route.nexthop_id};
  if (const KernelNexthop* nh = pass.view.nexthop(route.nexthop_id)) {
    if (nh->protocol != options_.protocol) return;
    for (const auto& member : nh->group) {
      const KernelNexthop* m = pass.view.nexthop(member.first);
      if (m != nullptr && in_range(m->id) && m->protocol == options_.protocol) ids.push_back(m->id);
    }
  }
  delete_nexthops(pass, ids);
}

void RouteApplier::delete_nexthops(Pass& pass, const std::vector<std::uint32_t>& ids) {
  for (std::uint32_t id : ids) {
    const NlAnswer a = delete_nexthop(*socket_, id);
    if (!a.ok() && a.error != ENOENT)
      pass.report.notes.push_back("could not delete nexthop " + std::to_string(id) + ": " +
                                  a.text() + " (tried again on the next apply)");
  }
}

void RouteApplier::remove_unplanned(Pass& pass, const std::set<std::string>& planned) {
  for (const KernelRoute& r : pass.view.routes) {
    if (r.protocol != options_.protocol) continue;
    if (planned.count(r.prefix.str()) != 0 && r.metric == slot_metric(r.prefix)) continue;
    RouteOutcome out{r.prefix.str(), RouteChange::removed, "", ""};
    const NlAnswer a = delete_route(*socket_, slot_for(r.prefix, r.metric));
    if (!a.ok() && a.error != ESRCH) {
      out.change = RouteChange::failed;
      out.error = "route " + out.prefix + ": removing it from table " + table_name(options_.table) +
                  ": " + a.text();
    } else {
      release(pass, r);
    }
    pass.report.routes.push_back(std::move(out));
  }
}

void RouteApplier::collect_garbage(Pass& pass) {
  // Objects of ours that no route of the table used when the pass began:
  // left by a crash between make and break, or by a failed delete.
  std::set<std::uint32_t> used;
  for (const KernelRoute& r : pass.view.routes) {
    if (r.nexthop_id == 0) continue;
    used.insert(r.nexthop_id);
    if (const KernelNexthop* nh = pass.view.nexthop(r.nexthop_id))
      for (const auto& member : nh->group) used.insert(member.first);
  }
  std::vector<std::uint32_t> orphans;
  for (const auto& [id, nh] : pass.view.nexthops)
    if (in_range(id) && nh.protocol == options_.protocol && used.count(id) == 0)
      orphans.push_back(id);
  // Groups before their members.
  std::stable_partition(orphans.begin(), orphans.end(),
                        [&](std::uint32_t id) { return !pass.view.nexthop(id)->group.empty(); });
  delete_nexthops(pass, orphans);
}

}  // namespace linewatch
