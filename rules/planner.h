// RoutePlanner: from line health and scores to the route plan.
//
// Per route (routes[] order):
//   primary-backup  one hop: the first line of the ranking's preferred order
//                   that takes traffic; lines missing from that order come
//                   after it, by score, then routes[].lines order.
//   weighted        one hop per line that takes traffic, in routes[].lines
//                   order, weight = max(1, round(255 * score / best score))
//                   (all 255 when every score is 0). To keep score noise
//                   from making a new version every update, a line keeps its
//                   previous weight while the new one is within weight_band
//                   (relative) of it. A route with one hop gets weight 1.
//
// Never blackhole (the panic rule): when no line of a route takes traffic,
// the route keeps one hop on the least bad line: best condition
// (up > degraded > down; an up line may be in hold-down), then the line the
// route already used (no churn between dead lines), then score, then
// routes[].lines order. The plan is marked panic and one "plan_panic" event is
// emitted when the route enters panic, none while it stays there. A route whose
// lines have no input at all keeps its previous entry (or is left out if it
// never had one) and is in panic too.
//
// Versions: the constructor takes the last version handed out (persisted by
// the caller); each real change (RoutePlan::operator==) takes the next one and
// emits "plan_new". Nothing changes -> same version, no event.
//
// Startup: given the plan in force before a restart, the planner keeps it
// unchanged until every line named by the routes has fresh evidence, or a
// line that plan uses is seen down (traffic must move now), or
// startup_grace has passed, so a restart alone causes no route churn. Then
// the plan is rebuilt as usual against the start plan: weighted hops keep its
// weights within weight_band, and a primary-backup route keeps its line when
// `preferred` still puts it first (the caller seeds its Ranking with the start
// plan's primaries, rules/score.h).
//
// Single-threaded: one decision thread owns the planner. `clock` must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/route_options.h"
#include "core/time.h"
#include "rules/plan.h"

namespace linewatch {

// A line's health condition as the planner needs it, worst first. Mirrors the
// health state machine's states (up, degraded, down); the caller maps them.
enum class LineCondition : std::uint8_t {
  down,      // not usable: liveness silent
  degraded,  // answers but breaks the SLA
  up,        // healthy (it may still be in hold-down and not take traffic)
};

// What the planner knows about one line at one update.
struct PlanLine {
  std::string line;
  bool takes_traffic = false;  // health's verdict: traffic may be put on this line now
  LineCondition condition = LineCondition::down;
  double score = 0;    // rules/score.h, 0..1, higher is better
  std::string via;     // gateway address of the line
  std::string dev;     // device of the line
  bool fresh = false;  // health has judged the line since the agent started
};

struct PlannerOptions {
  std::string agent;  // agent.id, copied into every plan
  // Longest time a restart's plan is kept while waiting for fresh evidence
  // on every line. Default: 30s.
  Duration startup_grace = std::chrono::seconds(30);
  // A weighted route's hop keeps its weight while the new weight is within
  // this fraction of it. Fed from scoring.margin. Default: 0.10.
  double weight_band = 0.10;
};

class RoutePlanner {
 public:
  // `last_version`: the highest version ever handed out (0 on a first start).
  // `start_plan`: the plan in force before a restart, kept through startup;
  // nullopt means no startup phase. Versions continue from the larger of the two.
  RoutePlanner(const Clock& clock, PlannerOptions options, std::vector<RouteSpec> routes,
               std::uint64_t last_version, std::optional<RoutePlan> start_plan);

  // Rebuilds the plan from `lines` (one entry per line; a line absent counts
  // as having no input) and `preferred` (the ranking's order, best first).
  // Returns the events of this update: "plan_panic" per route entering panic,
  // then "plan_new" when a new version was made. Empty when nothing changed.
  std::vector<Event> update(const std::vector<PlanLine>& lines,
                            const std::vector<std::string>& preferred);

  // The plan in force: the start plan during startup, else the latest.
  // Before the first update without a start plan: no routes, last_version.
  const RoutePlan& plan() const { return plan_; }

  // True while the start plan is being kept.
  bool starting() const { return starting_; }

 private:
  bool startup_over(const std::vector<PlanLine>& lines) const;

  const Clock& clock_;
  PlannerOptions options_;
  std::vector<RouteSpec> routes_;
  MonoTime started_;
  bool starting_;
  std::uint64_t last_version_;  // the highest version handed out
  RoutePlan plan_;
  std::set<std::string> panicking_;  // prefixes in a panic episode
};

}  // namespace linewatch
