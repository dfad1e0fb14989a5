// RouteApplier: options, the two passes (apply, reconcile) and how a plan
// route is resolved to kernel terms. Writing routes: route_apply_install.cc.
#include "exporters/route_apply.h"

#include <linux/rtnetlink.h>
#include <net/if.h>

#include <algorithm>
#include <charconv>

namespace linewatch {
namespace {

std::string label_of(const NextHop& hop) {
  std::string out;
  if (!hop.via.empty()) out += "via " + hop.via;
  if (!hop.dev.empty()) out += (out.empty() ? "dev " : " dev ") + hop.dev;
  if (!hop.line.empty()) out += " (line " + hop.line + ")";
  return out;
}

const RouteApplier::WantedRoute* find_wanted(const std::vector<RouteApplier::WantedRoute>& routes,
                                             const IpPrefix& prefix) {
  for (const auto& r : routes)
    if (r.prefix == prefix) return &r;
  return nullptr;
}

}  // namespace

Status check_options(const RouteApplyOptions& o) {
  if (o.table == RT_TABLE_UNSPEC || o.table == RT_TABLE_COMPAT || o.table == RT_TABLE_LOCAL)
    return invalid("apply.table: " + std::to_string(o.table) +
                   " is not a table routes can be applied to (use main or 1..4294967295, "
                   "not 0, 252 or 255)");
  if (o.protocol <= RTPROT_STATIC)
    return invalid("apply protocol: " + std::to_string(o.protocol) + " (" +
                   protocol_name(o.protocol) +
                   ") is interpreted by the kernel or used by administrators; pick a private "
                   "value above 4, e.g. 76");
  if (o.nexthop_id_first == 0 || o.nexthop_id_count < 2 ||
      o.nexthop_id_count - 1 > UINT32_MAX - o.nexthop_id_first)
    return invalid("apply nexthop ids: " + std::to_string(o.nexthop_id_first) + " + " +
                   std::to_string(o.nexthop_id_count) +
                   " is not a range of at least 2 ids within 1..4294967295");
  return ok_status();
}

Result<std::uint32_t> parse_route_table(std::string_view text) {
  if (text == "main") return std::uint32_t{RT_TABLE_MAIN};
  std::uint32_t table = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), table);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return invalid("apply.table: \"" + std::string(text) +
                   "\" is neither main nor a table number 1..4294967295");
  RouteApplyOptions o;
  o.table = table;
  if (Status s = check_options(o); !s.ok()) return s.error();
  return table;
}

std::string_view to_string(RouteChange change) {
  switch (change) {
    case RouteChange::unchanged:
      return "unchanged";
    case RouteChange::added:
      return "added";
    case RouteChange::switched:
      return "switched";
    case RouteChange::removed:
      return "removed";
    case RouteChange::restored:
      return "restored";
    case RouteChange::conflict:
      return "conflict";
    case RouteChange::failed:
      return "failed";
  }
  return "?";
}

bool RouteReport::ok() const {
  return std::none_of(routes.begin(), routes.end(), [](const RouteOutcome& r) {
    return r.change == RouteChange::conflict || r.change == RouteChange::failed;
  });
}

const RouteOutcome* RouteReport::find(std::string_view prefix) const {
  for (const auto& r : routes)
    if (r.prefix == prefix) return &r;
  return nullptr;
}

RouteApplier::RouteApplier(RouteApplyOptions options, const Clock& clock)
    : options_(options), clock_(clock) {}

Status RouteApplier::open_socket() {
  if (socket_) return ok_status();
  auto s = NetlinkSocket::open(options_.timeout);
  if (!s.ok()) return s.error();
  socket_.emplace(std::move(s.value()));
  return ok_status();
}

Result<RouteApplier::Pass> RouteApplier::begin_pass() {
  Pass pass;
  pass.start = clock_.now();
  pass.report.time = clock_.wall_now();
  if (Status s = check_options(options_); !s.ok()) return s.error();
  if (Status s = open_socket(); !s.ok()) return s.error();
  auto view = read_kernel_view(*socket_, options_.table);
  if (!view.ok()) {
    socket_.reset();  // a timed-out socket may still deliver stale answers: start afresh
    return view.error();
  }
  pass.view = std::move(view.value());
  if (!pass.view.nexthops_supported && !objects_unavailable_ &&
      options_.nexthop_objects == NexthopObjects::automatic) {
    objects_unavailable_ = true;
    pass.report.notes.push_back("the kernel has no nexthop objects (" + pass.view.nexthops_error +
                                "): routes carry their own hops");
  }
  pass.report.multipath = !use_objects();
  return pass;
}

Result<RouteReport> RouteApplier::apply(const RoutePlan& plan) {
  auto begun = begin_pass();
  if (!begun.ok()) return begun.error();
  Pass& pass = begun.value();
  std::vector<WantedRoute> now_applied;
  std::set<std::string> planned;
  for (const RouteEntry& entry : plan.routes) {
    auto wanted = resolve(pass, entry);
    const auto prefix = IpPrefix::parse(entry.prefix);
    const WantedRoute* previous = prefix ? find_wanted(applied_, *prefix) : nullptr;
    if (prefix && !planned.insert(prefix->str()).second) {
      pass.report.routes.push_back({entry.prefix, RouteChange::failed, "",
                                    "route " + entry.prefix + ": listed twice in the plan"});
      continue;
    }
    RouteOutcome outcome =
        wanted.ok() ? sync(pass, wanted.value(), previous)
                    : RouteOutcome{entry.prefix, RouteChange::failed, "", wanted.error().message};
    outcome.prefix = entry.prefix;
    if (outcome.change == RouteChange::failed) {
      // Make-before-break: the kernel still holds what we applied before.
      if (previous != nullptr) now_applied.push_back(*previous);
    } else if (outcome.change != RouteChange::conflict) {
      now_applied.push_back(wanted.value());
    }
    pass.report.routes.push_back(std::move(outcome));
  }
  remove_unplanned(pass, planned);
  collect_garbage(pass);
  applied_ = std::move(now_applied);
  pass.report.took = clock_.now() - pass.start;
  return std::move(pass.report);
}

Result<RouteReport> RouteApplier::reconcile() {
  if (applied_.empty()) return RouteReport{clock_.wall_now(), {}, !use_objects(), {}, {}};
  auto begun = begin_pass();
  if (!begun.ok()) return begun.error();
  Pass& pass = begun.value();
  for (const WantedRoute& wanted : applied_) {
    const KernelRoute* current = route_in_slot(pass, wanted.prefix);
    if (current != nullptr && matches(pass, wanted, *current)) continue;
    RouteOutcome outcome{wanted.prefix.str(), RouteChange::restored, "no route", ""};
    if (current != nullptr) outcome.found = "route " + describe(*current, pass.view);
    outcome.error = install(pass, wanted, current);
    if (!outcome.error.empty()) outcome.change = RouteChange::failed;
    pass.report.routes.push_back(std::move(outcome));
  }
  collect_garbage(pass);  // e.g. the objects of a route someone deleted
  pass.report.took = clock_.now() - pass.start;
  return std::move(pass.report);
}

Result<RouteApplier::WantedRoute> RouteApplier::resolve(Pass& pass, const RouteEntry& entry) {
  const std::string where = "route " + entry.prefix;
  const auto prefix = IpPrefix::parse(entry.prefix);
  if (!prefix) return invalid(where + ": not an IPv4 or IPv6 prefix with its host bits zero");
  if (entry.nexthops.empty()) return invalid(where + ": has no next hop");
  WantedRoute wanted{*prefix, {}};
  for (const NextHop& hop : entry.nexthops) {
    WantedHop w{hop.line, label_of(hop), {}};
    const std::string at = where + ": next hop " + w.label;
    if (hop.weight < 1 || hop.weight > 255)
      return invalid(at + ": weight must be 1..255, got " + std::to_string(hop.weight));
    w.hop.weight = entry.nexthops.size() == 1 ? 1 : hop.weight;
    if (!hop.via.empty()) {
      const auto via = IpAddress::parse(hop.via);
      if (!via) return invalid(at + ": " + hop.via + " is not an IP address");
      if (via->family != prefix->address.family)
        return invalid(at + ": the gateway and the prefix are not of the same IP version");
      w.hop.gateway = *via;
    }
    if (!hop.dev.empty()) {
      auto known = pass.devices.find(hop.dev);
      if (known == pass.devices.end())
        known = pass.devices.emplace(hop.dev, if_nametoindex(hop.dev.c_str())).first;
      w.hop.oif = known->second;
      if (w.hop.oif == 0) return invalid(at + ": device " + hop.dev + " does not exist");
    } else if (hop.via.empty()) {
      return invalid(at + ": needs a gateway (via), a device (dev) or both");
    } else {
      auto oif = device_towards(*socket_, w.hop.gateway);
      if (!oif.ok()) return invalid(at + ": " + oif.error().message);
      w.hop.oif = oif.value();
      w.label = "via " + hop.via + " dev " + device_name(w.hop.oif) +
                (hop.line.empty() ? "" : " (line " + hop.line + ")");
    }
    wanted.hops.push_back(std::move(w));
  }
  return wanted;
}

bool RouteApplier::use_objects() const {
  return options_.nexthop_objects == NexthopObjects::automatic && !objects_unavailable_;
}

bool RouteApplier::in_range(std::uint32_t id) const {
  return id >= options_.nexthop_id_first &&
         id - options_.nexthop_id_first < options_.nexthop_id_count;
}

}  // namespace linewatch
