#include "agent/failover.h"

#include <algorithm>
#include <utility>

#include "agent/failover_liveness.h"

namespace linewatch {
namespace {

// Without a plan from before a restart, the planner still starts in its
// startup phase, from a plan with no routes, so the first plan waits for
// evidence on every line.
RoutePlan start_plan(const Config& config, const Clock& clock, const FailoverStart& start) {
  if (start.last_plan) return *start.last_plan;
  RoutePlan empty;
  empty.agent = config.agent.id;
  empty.version = start.last_version;
  empty.time = clock.wall_now();
  return empty;
}

// The primaries of the plan in force before the restart, in routes[] order:
// the ranking's incumbents, so that waking up moves no route. Weighted routes
// state no preference (their hops are in routes[].lines order) and lines the
// failover no longer watches are left out.
std::vector<std::string> saved_primaries(const Config& config, const FailoverStart& start) {
  std::vector<std::string> out;
  if (!start.last_plan) return out;
  const auto watched = failover_lines(config);
  for (const RouteSpec& spec : config.routes) {
    if (spec.policy != RouteSpec::Policy::primary_backup) continue;
    for (const RouteEntry& entry : start.last_plan->routes) {
      if (entry.prefix != spec.prefix || entry.nexthops.empty()) continue;
      const std::string& line = entry.nexthops.front().line;
      const bool known = std::any_of(watched.begin(), watched.end(),
                                     [&](const LineSpec* l) { return l->id == line; });
      if (known && std::find(out.begin(), out.end(), line) == out.end()) out.push_back(line);
    }
  }
  return out;
}

PlannerOptions planner_options(const Config& config, const FailoverOptions& options) {
  PlannerOptions p;
  p.agent = config.agent.id;
  p.startup_grace = options.startup_grace;
  p.weight_band = config.scoring.margin;
  return p;
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

Failover::Failover(const Config& config, const Clock& clock, EventSink& events,
                   std::vector<PlanSink*> sinks, FailoverStart start, FailoverOptions options)
    : clock_(clock),
      events_(events),
      sinks_(std::move(sinks)),
      options_(options),
      inbox_(options.inbox_capacity),
      judge_(config.health.destination, clock),
      ranking_(clock, config.scoring, saved_primaries(config, start)),
      planner_(clock, planner_options(config, options), config.routes, start.last_version,
               start_plan(config, clock, start)),
      delivered_version_(planner_.plan().version) {
  weights_ = config.scoring.weights;
  const auto watched = failover_lines(config);
  lines_.reserve(watched.size());
  Duration shortest = std::chrono::seconds(1);
  for (const LineSpec* l : watched) {
    const LivenessOptions liveness = line_liveness_options(config, *l);
    index_.emplace(l->id, lines_.size());
    lines_.emplace_back(*l, liveness, config.health, clock);
    shortest = std::min(shortest, liveness.interval);
  }
  // Half an interval: a silence is judged at most that long after it reached detect.
  tick_period_ = std::max<Duration>(shortest / 2, std::chrono::milliseconds(1));
  snapshot_ = make_snapshot();
}

Failover::~Failover() { stop(); }

void Failover::start() {
  if (!active() || started_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void Failover::stop() {
  inbox_.close();
  if (thread_.joinable()) thread_.join();
}

void Failover::run() {
  // Steps on the engine's ticks, at most every half tick period, and at
  // least every tick period when no tick comes (probe rounds still count).
  while (inbox_.wait(tick_period_ / 2)) {
    step();
    if (!inbox_.pause(tick_period_ / 2)) break;
  }
}

std::optional<std::size_t> Failover::line_index(const std::string& line) {
  auto it = index_.find(line);
  if (it != index_.end()) return it->second;
  unknown_line_.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

void Failover::push(FailoverInput input, bool wake) {
  inbox_.push(std::move(input), clock_.now(), wake);
}

void Failover::on_sent(const std::string& line, const std::string& reflector, std::uint64_t seq,
                       MonoTime sent) {
  if (auto i = line_index(line)) push(EchoSentInput{*i, reflector, seq, sent}, false);
}

void Failover::on_reply(const std::string& line, const std::string& reflector, std::uint64_t seq,
                        MonoTime sent, MonoTime received, Duration rtt) {
  if (auto i = line_index(line))
    push(EchoReplyInput{*i, reflector, seq, sent, received, rtt}, false);
}

void Failover::on_error(const std::string&, const std::string&, std::uint64_t, EchoError) {
  echo_errors_.fetch_add(1, std::memory_order_relaxed);
}

void Failover::on_tick(MonoTime now) {
  if (active()) push(TickInput{now}, true);
}

void Failover::on_result(const ProbeResult& result) {
  // Rounds of lines no route names are normal: not counted as unknown.
  auto it = index_.find(result.line);
  if (it == index_.end()) return;
  push(RoundInput{it->second, std::make_unique<const ProbeResult>(result), clock_.now()}, false);
}

void Failover::on_bandwidth(const std::string& line, std::uint64_t rx_bps, std::uint64_t tx_bps,
                            std::optional<double> utilisation) {
  if (auto i = line_index(line))
    push(BandwidthInput{*i, rx_bps, tx_bps, utilisation, clock_.now()}, false);
}

void Failover::step() {
  const MonoTime now = clock_.now();
  FailoverInbox::Batch batch = inbox_.take();
  std::vector<Event> events;
  for (FailoverInput& input : batch.inputs) apply(input, events);
  if (last_tick_) {
    for (FailoverLine& l : lines_) l.expire_echoes(*last_tick_);
  }
  if (!last_refresh_ || now - *last_refresh_ >= options_.quality_every) {
    last_refresh_ = now;
    judge(events);
    rescore(now);
  } else if (planner_.starting()) {
    rescore(now);  // so the first plan orders the lines by what they showed so far
  }
  const bool new_plan = decide(events);
  // Events first, so a log or store reads in causal order (plan_new, then
  // the sinks' apply_ok / push_ok); each emit only queues or writes a line.
  for (const Event& e : events) events_.emit(e);
  if (new_plan) {
    for (PlanSink* sink : sinks_) sink->on_plan(planner_.plan());
  }
  finish(batch);
}

void Failover::apply(FailoverInput& input, std::vector<Event>& events) {
  std::visit(Overloaded{
                 [&](EchoSentInput& in) { lines_[in.line].on_sent(in); },
                 [&](EchoReplyInput& in) { lines_[in.line].on_reply(in); },
                 [&](TickInput& in) {
                   last_tick_ = last_tick_ ? std::max(*last_tick_, in.now) : in.now;
                   for (FailoverLine& l : lines_) l.on_tick(in.now, events);
                 },
                 [&](RoundInput& in) {
                   lines_[in.line].on_round(in);
                   judge_.record(*in.result);
                 },
                 [&](BandwidthInput& in) { lines_[in.line].on_bandwidth(in); },
             },
             input);
}

void Failover::judge(std::vector<Event>& events) {
  for (FailoverLine& l : lines_) l.report_echoes(judge_);
  for (Event& e : judge_.evaluate()) events.push_back(std::move(e));
  for (FailoverLine& l : lines_) l.settle(judge_);
}

void Failover::rescore(MonoTime now) {
  std::vector<LineUsage> usage;
  for (FailoverLine& l : lines_) {
    l.refresh_quality(now, judge_.down());
    usage.push_back(l.usage(now, options_.bandwidth_stale));
  }
  const std::vector<LineScore> scores = score_lines(usage, weights_);
  for (std::size_t i = 0; i < lines_.size(); ++i)
    lines_[i].set_score(scores[i].score, scores[i].evidence);
}

bool Failover::decide(std::vector<Event>& events) {
  std::vector<LineScore> taking;
  std::vector<PlanLine> plan_lines;
  for (FailoverLine& l : lines_) {
    l.evaluate_health(judge_, events);
    if (l.takes_traffic()) taking.push_back(LineScore{l.id(), l.score(), 0, 0, 0, l.evidence()});
  }
  if (auto moved = ranking_.update(taking)) events.push_back(std::move(*moved));
  for (const FailoverLine& l : lines_) plan_lines.push_back(l.plan_line());
  for (Event& e : planner_.update(plan_lines, ranking_.order())) events.push_back(std::move(e));

  if (planner_.plan().version == delivered_version_) return false;
  delivered_version_ = planner_.plan().version;
  ++counters_.plans;
  return true;
}

void Failover::finish(const FailoverInbox::Batch& batch) {
  ++counters_.steps;
  counters_.inputs += batch.inputs.size();
  if (batch.oldest) {
    counters_.lag_last = clock_.now() - *batch.oldest;
    counters_.lag_max = std::max(counters_.lag_max, counters_.lag_last);
  }
  FailoverSnapshot s = make_snapshot();
  std::lock_guard lock(snapshot_mu_);
  snapshot_ = std::move(s);
}

FailoverSnapshot Failover::make_snapshot() const {
  FailoverSnapshot s;
  for (const FailoverLine& l : lines_) s.lines.push_back(l.view());
  s.plan = planner_.plan();
  s.starting = planner_.starting();
  s.preferred = ranking_.order();
  s.destinations_down.assign(judge_.down().begin(), judge_.down().end());
  s.counters = counters_;
  s.counters.inbox_dropped = inbox_.dropped();
  s.counters.unknown_line = unknown_line_.load(std::memory_order_relaxed);
  s.counters.echo_errors = echo_errors_.load(std::memory_order_relaxed);
  return s;
}

FailoverSnapshot Failover::snapshot() const {
  FailoverSnapshot s;
  {
    std::lock_guard lock(snapshot_mu_);
    s = snapshot_;
  }
  // Live, so drops show even while the decision thread is stuck.
  s.counters.inbox_dropped = inbox_.dropped();
  s.counters.unknown_line = unknown_line_.load(std::memory_order_relaxed);
  s.counters.echo_errors = echo_errors_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace linewatch
