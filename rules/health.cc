#include "rules/health.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "rules/figures.h"

namespace linewatch {
namespace {

int severity(LineState s) {
  switch (s) {
    case LineState::up:
      return 0;
    case LineState::degraded:
      return 1;
    case LineState::down:
      return 2;
  }
  return 2;
}

std::string penalty_text(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", p);
  return buf;
}

}  // namespace

std::string_view to_string(LineState s) {
  switch (s) {
    case LineState::up:
      return "up";
    case LineState::degraded:
      return "degraded";
    case LineState::down:
      return "down";
  }
  return "down";
}

LineHealth::LineHealth(std::string line, HealthOptions options, const Clock& clock)
    : line_(std::move(line)),
      options_(std::move(options)),
      clock_(clock),
      since_(clock.now()),
      since_wall_(clock.wall_now()),
      penalty_at_(since_) {}

std::vector<Event> LineHealth::evaluate(const HealthInput& input) {
  const MonoTime now = clock_.now();
  const WallTime wall = clock_.wall_now();
  std::vector<Event> events;
  decay(now);
  evaluated_ = true;

  const Grade g = grade(input);
  if (severity(g.state) > severity(state_)) {
    worsen(g, now, wall, events);
  } else if (severity(g.state) < severity(state_)) {
    // Rise towards the worst grade seen in this run of better evaluations.
    if (rise_count_ == 0) {
      rise_started_ = now;
      rise_grade_ = g;
    } else if (severity(g.state) > severity(rise_grade_.state)) {
      rise_grade_ = g;
    }
    rise_count_ = options_.rise_interval > Duration::zero()
                      ? 1 + static_cast<int>((now - rise_started_) / options_.rise_interval)
                      : rise_count_ + 1;
    improve(now, wall, events);
  } else {
    rise_count_ = 0;
  }
  update_traffic(now, wall, events);
  return events;
}

LineHealth::Grade LineHealth::grade(const HealthInput& in) const {
  if (!in.alive && !in.silence_excused) {
    return {LineState::down, "silence",
            in.silence_detail.empty() ? "no reply from any reflector" : in.silence_detail};
  }
  if (in.breaches.any()) return {LineState::degraded, in.breaches.reason(), in.breaches.detail};
  return {LineState::up, "", ""};
}

void LineHealth::decay(MonoTime now) {
  // Only a healthy line earns its penalty back (RFC 2439 decays always; here a
  // line that stays down keeps its history until it proves itself up).
  if (state_ == LineState::up && penalty_ > 0) {
    penalty_ *= std::exp2(-std::chrono::duration<double>(now - penalty_at_).count() /
                          std::chrono::duration<double>(options_.half_life).count());
  }
  penalty_at_ = now;
}

void LineHealth::worsen(const Grade& g, MonoTime now, WallTime wall, std::vector<Event>& events) {
  std::string detail =
      g.detail + " after " + duration_text(now - since_) + " " + std::string(to_string(state_));
  if (state_ == LineState::up) {  // a failure: it costs penalty
    penalty_ = std::min(options_.max_penalty, penalty_ + options_.penalty_per_failure);
    if (penalty_ >= options_.suppress) suppressed_ = true;
    detail += "; flap penalty " + penalty_text(penalty_) + (suppressed_ ? " (suppressed)" : "");
  }
  state_ = g.state;
  since_ = now;
  since_wall_ = wall;
  reason_ = g.reason;
  rise_count_ = 0;
  hold_down_until_.reset();
  hold_down_until_wall_.reset();
  holding_ = false;
  events.push_back(
      event(wall, g.state == LineState::down ? "line_down" : "line_degraded", g.reason, detail));
}

void LineHealth::improve(MonoTime now, WallTime wall, std::vector<Event>& events) {
  if (rise_count_ < options_.rise || now - since_ < options_.min_dwell) return;
  const Grade g = rise_grade_;
  const std::string was =
      " after " + duration_text(now - since_) + " " + std::string(to_string(state_));
  const bool from_down = state_ == LineState::down;
  Event e;
  if (g.state == LineState::up) {
    e = event(wall, from_down ? "line_up" : "line_recovered", "rise",
              std::to_string(rise_count_) + " evaluations in a row within the SLA over " +
                  duration_text(now - rise_started_) + was);
    hold_down_until_ = now + options_.hold_down;
    hold_down_until_wall_ =
        wall + std::chrono::duration_cast<WallTime::duration>(options_.hold_down);
  } else {
    e = event(wall, "line_degraded", g.reason, "alive again" + was + ", but " + g.detail);
  }
  state_ = g.state;
  since_ = now;
  since_wall_ = wall;
  reason_ = e.reason;
  rise_count_ = 0;
  events.push_back(std::move(e));
}

void LineHealth::update_traffic(MonoTime now, WallTime wall, std::vector<Event>& events) {
  const bool was_suppressed = suppressed_;
  if (suppressed_ && penalty_ < options_.reuse) suppressed_ = false;
  const bool held = hold_down_until_ && now < *hold_down_until_;
  const bool takes = state_ == LineState::up && !held && !suppressed_;

  if (state_ == LineState::up && !takes && !holding_) {
    holding_ = true;
    std::string detail = "out of traffic for " + duration_text(options_.hold_down);
    if (suppressed_) {
      const double half_lives = std::log2(penalty_ / options_.reuse);
      detail +=
          ", and until flap penalty " + penalty_text(penalty_) + " decays below " +
          penalty_text(options_.reuse) + " (about " +
          duration_text(std::chrono::duration_cast<Duration>(options_.half_life * half_lives)) +
          " up)";
    }
    events.push_back(
        event(wall, "hold_down_started", suppressed_ ? "flap_penalty" : "rise", detail));
  }
  if (takes && !takes_traffic_ && holding_) {
    events.push_back(event(wall, "hold_down_ended",
                           was_suppressed ? "penalty_decayed" : "hold_down_elapsed",
                           "takes traffic again after " + duration_text(now - since_) +
                               " up; flap penalty " + penalty_text(penalty_)));
  }
  if (takes) {
    holding_ = false;
    hold_down_until_.reset();
    hold_down_until_wall_.reset();
  }
  takes_traffic_ = takes;
}

Event LineHealth::event(WallTime wall, std::string kind, std::string reason,
                        std::string detail) const {
  return Event{wall, std::move(kind), line_, "", std::move(reason), std::move(detail)};
}

HealthSnapshot LineHealth::snapshot() const {
  HealthSnapshot s;
  s.line = line_;
  s.state = state_;
  s.since = since_;
  s.since_wall = since_wall_;
  s.reason = reason_;
  s.penalty = penalty_;
  s.suppressed = suppressed_;
  s.takes_traffic = takes_traffic_;
  s.hold_down_until = hold_down_until_;
  s.hold_down_until_wall = hold_down_until_wall_;
  s.rise_count = rise_count_;
  s.evaluated = evaluated_;
  return s;
}

}  // namespace linewatch
