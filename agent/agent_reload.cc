// Agent::Impl::reload(): the config reload, on the reloader's thread
// (agent/reloader.h), as agent/agent.h describes it.
//
// Order. The verdict first: the file loaded and checked (llm keys, keys only
// a restart can change), then every part that can fail built beside the
// running ones (receivers, liveness sockets, gateway pushers, the alert
// engine). Then the apply, which cannot fail: the failover swapped (the old
// one stopped first, so its final plan seeds the new one), the bandwidth
// sampler, the receivers, the availability cache, the metrics series, and
// last the scheduler (the old one stopped with a grace of its longest round).
#include <algorithm>
#include <sstream>

#include "agent/agent.h"
#include "agent/agent_impl.h"
#include "agent/config_diff.h"
#include "agent/config_load.h"
#include "agent/log.h"
#include "core/units.h"

namespace linewatch {

// What prepare() built, waiting for commit().
struct PreparedReload {
  std::shared_ptr<const Config> config;
  ConfigChanges changes;
  std::unique_ptr<FailoverParts> failover;          // changes.failover and routes
  std::optional<Receivers> receivers;               // changes.notify
  std::shared_ptr<StoreAvailability> availability;  // changes.scope
};

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// The longest one round of `config` can last: the grace the old scheduler
// gets, so that no round in flight is lost.
Duration longest_round(const Config& config) {
  Duration longest = std::chrono::seconds(1);
  for (const TargetSpec& t : config.targets)
    for (const ProbeSpec& p : t.probes) {
      Duration d = p.timing.timeout;
      if (p.kind == ProbeKind::icmp) d += (p.icmp.pings - 1) * p.icmp.spacing;
      longest = std::max(longest, d);
    }
  return longest + std::chrono::seconds(1);
}

Event reload_event(const Clock& clock, std::string kind, std::string reason, std::string detail) {
  Event e;
  e.time = clock.wall_now();
  e.kind = std::move(kind);
  e.reason = std::move(reason);
  e.detail = std::move(detail);
  return e;
}

}  // namespace

void Agent::Impl::reload(std::promise<ReloadOutcome>& verdict) {
  std::shared_ptr<const Config> running;
  {
    std::shared_lock lock(parts_mu);
    running = config;
  }
  ReloadOutcome outcome;
  outcome.config = running->source_path;
  std::vector<std::string> errors;
  auto loaded = load_config_file(running->source_path);
  std::shared_ptr<const Config> next;
  if (!loaded) {
    errors = split_lines(loaded.error().message);
  } else {
    next = std::make_shared<const Config>(std::move(*loaded));
    const LlmKeyCheck keys = check_llm_keys(*next);
    for (const std::string& w : keys.warnings) log(LogLevel::warn, "msg=" + log_quote(w));
    errors = keys.errors;
    for (std::string& e : restart_only_changes(*running, *next)) errors.push_back(std::move(e));
  }
  std::unique_ptr<PreparedReload> prepared;
  if (errors.empty()) {
    auto p = prepare(*running, next);
    if (p)
      prepared = std::move(*p);
    else
      errors = split_lines(p.error().message);
  }
  if (!prepared) {
    if (errors.empty()) errors.push_back("config not reloaded");
    refuse(errors);
    outcome.errors = std::move(errors);
    {
      std::shared_lock lock(parts_mu);
      outcome.generation = generation;
    }
    verdict.set_value(std::move(outcome));
    return;
  }
  {
    std::shared_lock lock(parts_mu);
    outcome.generation = generation + 1;
  }
  outcome.ok = true;
  verdict.set_value(std::move(outcome));
  const std::string what = commit(*prepared);
  std::uint64_t now;
  {
    std::unique_lock lock(parts_mu);
    config = prepared->config;
    now = ++generation;
    reloads.last_successful = true;
    reloads.last_success = clock.wall_now();
    ++reloads.successes;
  }
  events.emit(reload_event(clock, "config_reloaded", "ok",
                           "generation " + std::to_string(now) + " from " +
                               prepared->config->source_path + ": " + what));
  // The new config's parse and the parts it replaced are freed: hand their pages back.
  heap_trim.poke();
}

void Agent::Impl::refuse(const std::vector<std::string>& errors) {
  for (const std::string& e : errors)
    log(LogLevel::error, "msg=\"config not reloaded\" error=" + log_quote(e));
  {
    std::unique_lock lock(parts_mu);
    reloads.last_successful = false;
    ++reloads.failures;
  }
  const std::string count =
      std::to_string(errors.size()) + (errors.size() == 1 ? " error" : " errors");
  events.emit(reload_event(clock, "config_reload_failed", "invalid_config",
                           errors.front() + " (" + count + "; the running config stays)"));
}

Result<std::unique_ptr<PreparedReload>> Agent::Impl::prepare(const Config& running,
                                                             std::shared_ptr<const Config> next) {
  auto p = std::make_unique<PreparedReload>();
  p->config = std::move(next);
  const Config& c = *p->config;
  p->changes = diff_config(running, c);
  if (p->changes.notify) {
    auto r = make_receivers(c);
    if (!r) return r.error();
    p->receivers = std::move(*r);
  }
  if (p->changes.failover && !c.routes.empty()) {
    auto f = prepare_failover(c);
    if (!f) return f.error();
    p->failover = std::move(*f);
  }
  if (p->changes.scope) p->availability = make_availability(c);
  // Last: once the alerting has the new engine, the reload is under way.
  if (p->changes.alerts) {
    if (Status s = alerting->reconfigure(c, &availability); !s) {
      if (p->availability) p->availability->stop();
      return s.error();
    }
  }
  return p;
}

// The old failover stops first: its final plan and version seed the new one
// exactly as a restart's stored plan would (agent/plan_state.h), so the plan
// in force carries over and no route moves because of the reload. Without a
// failover before, the stored plan seeds it, as at a start.
void Agent::Impl::replace_failover(PreparedReload& p) {
  FailoverStart start;
  if (failover) {
    failover->stop();
    const FailoverSnapshot last = failover->failover->snapshot();
    start.last_version = last.plan.version;
    if (!last.plan.routes.empty()) start.last_plan = last.plan;
  } else if (p.failover) {
    LoadedPlanState loaded = load_plan_state(*store);
    for (const std::string& w : loaded.warnings) log(LogLevel::warn, "msg=" + log_quote(w));
    start = std::move(loaded.start);
  }
  if (p.failover) {
    finish_failover(*p.failover, *p.config, start);
    // Gateways built anew get the plan in force now, not at its next version.
    if (p.failover->pusher && start.last_plan) p.failover->pusher->publish(*start.last_plan);
  }
  std::unique_ptr<FailoverParts> old;
  {
    std::unique_lock lock(parts_mu);
    old = std::move(failover);
    failover = std::move(p.failover);
  }
}

// The old notices are written to the outbox before the old sender stops, and
// the new sender starts only then: one sender per receiver at a time.
void Agent::Impl::replace_receivers(PreparedReload& p) {
  Receivers old;
  {
    std::unique_lock lock(parts_mu);
    old = std::move(receivers);
    receivers = std::move(*p.receivers);
  }
  if (receivers.notices)
    notices.set(*receivers.notices);
  else
    notices.set(notice_log);
  if (old.notices) old.notices->stop();
  if (old.sender) old.sender->stop();
  if (receivers.sender) {
    receivers.sender->start();
    receivers.notices->start();
  }
}

void Agent::Impl::replace_probing(const std::shared_ptr<const Config>& next) {
  Probing* old = probing.get();
  const bool joined = old->scheduler->stop(longest_round(*old->config));
  // Between the schedulers: no round of a series that goes counts as unknown.
  metrics->reconfigure(*next, metrics_sources());
  auto fresh = make_probing(next);
  std::unique_ptr<Probing> done;
  {
    std::unique_lock lock(parts_mu);
    retired = scheduler_stats_locked();
    retired_engine = engine_stats_locked();
    done = std::move(probing);
    probing = std::move(fresh);
    if (started) probing->scheduler->start();
  }
  if (!joined) {
    log(LogLevel::warn, "msg=\"reload: rounds still running after the grace; left to finish\"");
    abandoned.push_back(std::move(done));
  }
}

std::string Agent::Impl::commit(PreparedReload& p) {
  const Config& c = *p.config;
  std::vector<std::string> what;
  // The sampler's consumer holds the failover: it goes with it.
  const bool new_bandwidth = p.changes.failover || p.changes.lines;
  if (new_bandwidth) bandwidth->stop();
  if (p.changes.failover) {
    replace_failover(p);
    what.push_back(failover ? "failover rebuilt" : "failover off");
  } else if (failover) {
    what.push_back("failover kept");
  }
  if (new_bandwidth) {
    auto fresh = make_bandwidth(c, failover ? failover->failover.get() : nullptr);
    std::unique_ptr<BandwidthSampler> old;
    std::unique_lock lock(parts_mu);
    old = std::move(bandwidth);
    bandwidth = std::move(fresh);
  }
  if (p.changes.notify) {
    replace_receivers(p);
    what.push_back("receivers rebuilt");
  }
  if (p.availability) {
    availability.set(p.availability);
    std::shared_ptr<StoreAvailability> old;
    {
      std::unique_lock lock(parts_mu);
      old = std::move(store_availability);
      store_availability = p.availability;
    }
    old->stop();
  }
  if (p.changes.alerts) what.push_back("alert rules adopted");
  replace_probing(p.config);
  what.push_back(std::to_string(job_count(c)) + " probe jobs");
  std::string out;
  for (const std::string& w : what) out += (out.empty() ? "" : ", ") + w;
  return out;
}

}  // namespace linewatch
