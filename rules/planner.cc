#include "rules/planner.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace linewatch {

namespace {

using LineMap = std::map<std::string, const PlanLine*>;

// One route as built for one update.
struct Built {
  std::optional<RouteEntry> entry;
  bool panic = false;
  std::string kept;    // the line kept in panic ("" when none)
  std::string reason;  // panic reason code
  std::string detail;  // panic text
};

std::string_view condition_name(LineCondition c) {
  switch (c) {
    case LineCondition::down:
      return "down";
    case LineCondition::degraded:
      return "degraded";
    case LineCondition::up:
      return "up";
  }
  return "unknown";
}

const RouteEntry* find_route(const RoutePlan& plan, const std::string& prefix) {
  for (const auto& r : plan.routes) {
    if (r.prefix == prefix) return &r;
  }
  return nullptr;
}

const NextHop* find_hop(const RouteEntry* entry, const std::string& line) {
  if (!entry) return nullptr;
  for (const auto& h : entry->nexthops) {
    if (h.line == line) return &h;
  }
  return nullptr;
}

NextHop hop(const PlanLine& l, std::uint32_t weight) { return {l.line, l.via, l.dev, weight}; }

// `taking` is in routes[].lines order, so min_element keeps that order on ties.
const PlanLine* pick_primary(const std::vector<const PlanLine*>& taking,
                             const std::vector<std::string>& preferred) {
  auto rank = [&](const PlanLine* l) {
    auto it = std::find(preferred.begin(), preferred.end(), l->line);
    return std::make_tuple(it - preferred.begin(), -l->score);
  };
  return *std::min_element(taking.begin(), taking.end(),
                           [&](auto* a, auto* b) { return rank(a) < rank(b); });
}

std::vector<NextHop> weigh(const std::vector<const PlanLine*>& taking, const RouteEntry* previous,
                           double band) {
  if (taking.size() == 1) return {hop(*taking.front(), 1)};
  double best = 0;
  for (auto* l : taking) best = std::max(best, l->score);
  std::vector<NextHop> hops;
  for (auto* l : taking) {
    double ideal = best > 0 ? std::round(255.0 * std::max(0.0, l->score) / best) : 255.0;
    auto weight = static_cast<std::uint32_t>(std::clamp(ideal, 1.0, 255.0));
    if (const NextHop* prev = find_hop(previous, l->line)) {
      if (std::abs(ideal - prev->weight) <= band * prev->weight) weight = prev->weight;
    }
    hops.push_back(hop(*l, weight));
  }
  return hops;
}

// Best condition, then already used by the route, then score; ties keep
// routes[].lines order.
const PlanLine* least_bad(const std::vector<const PlanLine*>& candidates,
                          const RouteEntry* previous) {
  auto key = [&](const PlanLine* l) {
    return std::make_tuple(l->condition, find_hop(previous, l->line) != nullptr, l->score);
  };
  return *std::max_element(candidates.begin(), candidates.end(),
                           [&](auto* a, auto* b) { return key(a) < key(b); });
}

Built build_route(const RouteSpec& spec, const LineMap& by_line,
                  const std::vector<std::string>& preferred, const RoutePlan& before, double band) {
  const RouteEntry* previous = find_route(before, spec.prefix);
  std::vector<const PlanLine*> candidates, taking;
  for (const auto& name : spec.lines) {
    auto it = by_line.find(name);
    if (it == by_line.end()) continue;
    candidates.push_back(it->second);
    if (it->second->takes_traffic) taking.push_back(it->second);
  }
  Built b;
  if (!taking.empty()) {
    RouteEntry e{spec.prefix, {}};
    if (spec.policy == RouteSpec::Policy::weighted) {
      e.nexthops = weigh(taking, previous, band);
    } else {
      e.nexthops = {hop(*pick_primary(taking, preferred), 1)};
    }
    b.entry = std::move(e);
    return b;
  }
  b.panic = true;
  if (candidates.empty()) {
    if (previous) b.entry = *previous;
    b.reason = "no_line_known";
    b.detail = "no line of " + spec.prefix + " has any input; " +
               (previous ? "keeping its previous next hops" : "the route is not installed");
    return b;
  }
  const PlanLine* keep = least_bad(candidates, previous);
  b.entry = RouteEntry{spec.prefix, {hop(*keep, 1)}};
  b.kept = keep->line;
  b.reason = "all_lines_down";
  b.detail = "no line of " + spec.prefix + " takes traffic (";
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    b.detail += (i ? ", " : "") + candidates[i]->line + " " +
                std::string(condition_name(candidates[i]->condition));
  }
  b.detail += "); keeping " + keep->line;
  return b;
}

std::string describe_entry(const RouteEntry* e) {
  if (!e) return "none";
  std::string out;
  for (const auto& h : e->nexthops) {
    if (!out.empty()) out += ", ";
    out += h.line + "(" + std::to_string(h.weight) + ")";
  }
  return out;
}

std::string describe_changes(const RoutePlan& before, const RoutePlan& after) {
  std::string out = "version " + std::to_string(after.version) + (after.panic ? " (panic)" : "");
  for (const auto& r : after.routes) {
    const RouteEntry* old = find_route(before, r.prefix);
    if (old && *old == r) continue;
    out += "; " + r.prefix + " -> " + describe_entry(&r) + " (was " + describe_entry(old) + ")";
  }
  for (const auto& r : before.routes) {
    if (!find_route(after, r.prefix)) out += "; " + r.prefix + " removed";
  }
  return out;
}

}  // namespace

RoutePlanner::RoutePlanner(const Clock& clock, PlannerOptions options,
                           std::vector<RouteSpec> routes, std::uint64_t last_version,
                           std::optional<RoutePlan> start_plan)
    : clock_(clock),
      options_(std::move(options)),
      routes_(std::move(routes)),
      started_(clock.now()),
      starting_(start_plan.has_value()),
      last_version_(std::max(last_version, start_plan ? start_plan->version : 0)) {
  if (start_plan) {
    plan_ = std::move(*start_plan);
  } else {
    plan_.agent = options_.agent;
    plan_.version = last_version_;
    plan_.time = clock.wall_now();
  }
}

bool RoutePlanner::startup_over(const std::vector<PlanLine>& lines) const {
  if (clock_.now() - started_ >= options_.startup_grace) return true;
  LineMap by_line;
  for (const auto& l : lines) by_line.emplace(l.line, &l);
  for (const auto& r : plan_.routes) {
    for (const auto& h : r.nexthops) {
      auto it = by_line.find(h.line);
      if (it != by_line.end() && it->second->fresh &&
          it->second->condition == LineCondition::down) {
        return true;
      }
    }
  }
  for (const auto& spec : routes_) {
    for (const auto& name : spec.lines) {
      auto it = by_line.find(name);
      if (it == by_line.end() || !it->second->fresh) return false;
    }
  }
  return true;
}

std::vector<Event> RoutePlanner::update(const std::vector<PlanLine>& lines,
                                        const std::vector<std::string>& preferred) {
  if (starting_) {
    if (!startup_over(lines)) return {};
    starting_ = false;
  }
  LineMap by_line;
  for (const auto& l : lines) by_line.emplace(l.line, &l);

  std::vector<Event> events;
  RoutePlan next;
  next.agent = options_.agent;
  std::set<std::string> panicking;
  for (const auto& spec : routes_) {
    Built b = build_route(spec, by_line, preferred, plan_, options_.weight_band);
    if (b.entry) next.routes.push_back(std::move(*b.entry));
    if (!b.panic) continue;
    next.panic = true;
    panicking.insert(spec.prefix);
    if (!panicking_.count(spec.prefix)) {
      events.push_back({clock_.wall_now(), "plan_panic", b.kept, "", b.reason, b.detail});
    }
  }
  panicking_ = std::move(panicking);
  if (next == plan_) return events;

  next.version = ++last_version_;
  next.time = clock_.wall_now();
  events.push_back({next.time, "plan_new", "", "", next.panic ? "panic" : "route_changed",
                    describe_changes(plan_, next)});
  plan_ = std::move(next);
  return events;
}

}  // namespace linewatch
