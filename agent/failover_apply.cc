#include "agent/failover_apply.h"

#include <utility>

#include "core/units.h"

namespace linewatch {
namespace {

std::string outcomes_text(const RouteReport& report) {
  std::string out;
  for (const RouteOutcome& r : report.routes) {
    if (!out.empty()) out += ", ";
    out += r.prefix + " " + std::string(to_string(r.change));
  }
  return out.empty() ? "no routes" : out;
}

std::string errors_text(const RouteReport& report) {
  std::string out;
  for (const RouteOutcome& r : report.routes) {
    if (r.error.empty()) continue;
    if (!out.empty()) out += "; ";
    out += r.error;
  }
  return out;
}

bool has_conflict(const RouteReport& report) {
  for (const RouteOutcome& r : report.routes)
    if (r.change == RouteChange::conflict) return true;
  return false;
}

}  // namespace

LocalApplySink::LocalApplySink(LocalApplyOptions options, const Clock& clock, EventSink& events,
                               std::optional<RoutePlan> initial)
    : options_(std::move(options)), clock_(clock), events_(events), pending_(std::move(initial)) {
  thread_ = std::thread([this] { run(); });
}

LocalApplySink::~LocalApplySink() { stop(); }

void LocalApplySink::on_plan(const RoutePlan& plan) {
  {
    std::lock_guard lock(mu_);
    if (pending_) ++stats_.skipped;
    pending_ = plan;
  }
  cv_.notify_one();
}

void LocalApplySink::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

LocalApplyStats LocalApplySink::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void LocalApplySink::run() {
  RouteApplier applier(options_.route, clock_);
  // Real time, not the injected clock: this is how long the thread sleeps.
  auto next_check = std::chrono::steady_clock::now() + options_.reconcile_every;
  while (true) {
    std::optional<RoutePlan> plan;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_check, [&] { return stopping_ || pending_.has_value(); });
      if (stopping_) return;
      plan = std::exchange(pending_, std::nullopt);
    }
    if (plan) {
      apply(applier, *plan, false);
      continue;
    }
    next_check = std::chrono::steady_clock::now() + options_.reconcile_every;
    if (unapplied_) {
      const RoutePlan retry = *unapplied_;
      apply(applier, retry, true);
    } else if (applied_any_) {
      reconcile(applier);
    }
  }
}

void LocalApplySink::apply(RouteApplier& applier, const RoutePlan& plan, bool retry) {
  const std::string version = "version " + std::to_string(plan.version);
  auto report = applier.apply(plan);
  const bool ok = report.ok() && report->ok();
  {
    std::lock_guard lock(mu_);
    ++stats_.applies;
    if (ok) {
      stats_.applied_version = plan.version;
    } else {
      ++stats_.failures;
    }
  }
  if (report.ok()) applied_any_ = true;
  if (ok) {
    unapplied_.reset();
    events_.emit(
        {report->time, "apply_ok", "", "", retry ? "retried" : "applied",
         version + ": " + outcomes_text(*report) + " in " + format_duration(report->took)});
    return;
  }
  const bool first_failure = !unapplied_ || unapplied_->version != plan.version;
  unapplied_ = plan;
  if (!first_failure) return;  // a retry failing again is not news
  if (!report.ok()) {
    events_.emit({clock_.wall_now(), "apply_failed", "", "", "netlink",
                  version + ": " + report.error().message});
    return;
  }
  events_.emit({report->time, "apply_failed", "", "",
                has_conflict(*report) ? "conflict" : "route_failed",
                version + ": " + errors_text(*report)});
}

void LocalApplySink::reconcile(RouteApplier& applier) {
  auto report = applier.reconcile();
  std::uint64_t restored = 0;
  std::string failure;
  if (!report.ok()) {
    failure = report.error().message;
  } else {
    for (const RouteOutcome& r : report->routes) {
      if (r.change == RouteChange::restored) {
        ++restored;
        events_.emit({report->time, "route_restored", "", "", "drift",
                      r.prefix + ": found " + (r.found.empty() ? "something else" : r.found) +
                          "; put back"});
      } else if (!r.error.empty()) {
        failure += (failure.empty() ? "" : "; ") + r.error;
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    ++stats_.reconciles;
    stats_.restored += restored;
  }
  if (!failure.empty() && !reconcile_failing_) {
    events_.emit({clock_.wall_now(), "apply_failed", "", "", "reconcile", failure});
  }
  reconcile_failing_ = !failure.empty();
}

}  // namespace linewatch
