#include "exporters/push_worker.h"

#include <algorithm>
#include <cmath>

namespace linewatch {

PlanPusher::Worker::Worker(GatewayStatus identity, std::unique_ptr<PlanReceiver> receiver,
                           const PushOptions& options, EventSink& events, const Clock& clock)
    : receiver_(std::move(receiver)),
      options_(options),
      events_(events),
      clock_(clock),
      rng_(std::random_device{}()),
      status_(std::move(identity)),
      thread_([this](std::stop_token stop) { run(stop); }) {}

PlanPusher::Worker::~Worker() { stop(); }

void PlanPusher::Worker::stop() {
  std::lock_guard join(join_mu_);
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void PlanPusher::Worker::offer(std::shared_ptr<const RoutePlan> plan) {
  {
    std::lock_guard lk(mu_);
    if (latest_ && plan->version < latest_->version) return;
    if (latest_ && plan->version > latest_->version && pending()) ++status_.superseded;
    latest_ = std::move(plan);
  }
  cv_.notify_all();
}

GatewayStatus PlanPusher::Worker::status() const {
  std::lock_guard lk(mu_);
  GatewayStatus s = status_;
  if (pending()) s.pending = latest_->version;
  return s;
}

bool PlanPusher::Worker::pending() const {
  return latest_ && (!status_.delivered || latest_->version > *status_.delivered);
}

void PlanPusher::Worker::run(std::stop_token stop) {
  while (std::shared_ptr<const RoutePlan> plan = next_plan(stop)) {
    const bool retry = last_tried_ == plan->version;
    last_tried_ = plan->version;
    const DeliveryOutcome o = receiver_->deliver(*plan, stop);
    if (o.kind == DeliveryOutcome::Kind::cancelled) return;
    if (std::optional<Event> ev = record(*plan, o, retry)) events_.emit(*ev);
  }
}

std::shared_ptr<const RoutePlan> PlanPusher::Worker::next_plan(std::stop_token stop) {
  std::unique_lock lk(mu_);
  while (!stop.stop_requested()) {
    if (!pending()) {
      cv_.wait(lk, stop, [this] { return pending(); });
    } else if (backing_off_ == latest_->version && Steady::now() < retry_at_) {
      // Waits out the back-off, unless a newer plan arrives: that one goes at once.
      const std::uint64_t version = latest_->version;
      cv_.wait_until(lk, stop, retry_at_, [&] { return latest_->version != version; });
    } else {
      return latest_;
    }
  }
  return nullptr;
}

std::optional<Event> PlanPusher::Worker::record(const RoutePlan& plan, const DeliveryOutcome& o,
                                                bool retry) {
  std::lock_guard lk(mu_);
  ++status_.attempts;
  if (retry) ++status_.retries;
  status_.last_attempt = clock_.wall_now();
  status_.last_reason = o.reason;
  if (o.kind == DeliveryOutcome::Kind::applied) {
    const bool newer = !status_.delivered || plan.version > *status_.delivered;
    const std::uint64_t failed_before = status_.failing_for;
    if (newer) status_.delivered = plan.version;
    status_.last_error.clear();
    status_.failing_for = 0;
    streak_ = 0;
    backing_off_.reset();
    outcome_key_ = "applied";
    if (!newer) return std::nullopt;
    std::string detail = "version " + std::to_string(plan.version) + " in force at " + status_.id +
                         " in " + duration_text(o.took);
    if (failed_before > 0)
      detail += " after " + std::to_string(failed_before) +
                (failed_before == 1 ? " failed attempt" : " failed attempts");
    return make_event(o, detail + " (" + o.detail + ")");
  }
  ++status_.failures;
  ++status_.failing_for;
  status_.last_error = o.detail;
  const Duration wait = retry_delay(o);
  backing_off_ = plan.version;
  retry_at_ = Steady::now() + wait;
  // A retry that fails the same way is no news; a different failure is.
  std::string key = o.reason + "/" + std::to_string(o.status);
  if (key == outcome_key_) return std::nullopt;
  outcome_key_ = std::move(key);
  std::string next = o.kind == DeliveryOutcome::Kind::rejected
                         ? "sent again in " + duration_text(wait) + " or with the next plan"
                         : "retrying with back-off, first in " + duration_text(wait);
  return make_event(o, "version " + std::to_string(plan.version) + " not in force at " +
                           status_.id + ": " + o.detail + "; " + next);
}

Duration PlanPusher::Worker::retry_delay(const DeliveryOutcome& o) {
  if (o.kind == DeliveryOutcome::Kind::rejected) return options_.rejected_retry;
  streak_ = std::min(streak_ + 1, 62);
  using Seconds = std::chrono::duration<double>;
  const double max = Seconds(options_.backoff_max).count();
  const double base =
      std::min(max, Seconds(options_.backoff_initial).count() * std::ldexp(1.0, streak_ - 1));
  const double jitter = std::clamp(options_.jitter, 0.0, 1.0);
  std::uniform_real_distribution<double> factor(1.0 - jitter, 1.0 + jitter);
  return std::chrono::duration_cast<Duration>(Seconds(std::min(max, base * factor(rng_))));
}

Event PlanPusher::Worker::make_event(const DeliveryOutcome& o, std::string detail) const {
  Event e;
  e.time = clock_.wall_now();
  e.kind = o.kind == DeliveryOutcome::Kind::applied ? "push_ok" : "push_failed";
  e.target = status_.id;
  e.reason = o.reason;
  e.detail = std::move(detail);
  return e;
}

}  // namespace linewatch
