#include "agent/failover_line.h"

#include <algorithm>
#include <cmath>

#include "rules/path_outcome.h"

namespace linewatch {

FailoverLine::FailoverLine(const LineSpec& spec, const LivenessOptions& liveness,
                           const HealthOptions& health, const Clock& clock)
    : clock_(clock),
      id_(spec.id),
      via_(spec.gateway),
      dev_(spec.binding.interface),
      capacity_bps_(spec.capacity_bps),
      liveness_(liveness, clock.now()),
      echoes_(liveness.miss_timeout),
      quality_(health.sla),
      health_(spec.id, health, clock),
      hold_limit_(2 * health.destination.confirm) {}

void FailoverLine::on_sent(const EchoSentInput& in) {
  liveness_.on_sent(in.reflector, in.seq, in.sent);
  echoes_.sent(in.reflector, in.seq, in.sent);
}

void FailoverLine::on_reply(const EchoReplyInput& in) {
  liveness_.on_reply(in.reflector, in.seq, in.sent, in.received);
  echoes_.replied(in.reflector, in.seq);
  quality_.add_echo(in.reflector, in.received, in.rtt);
}

void FailoverLine::on_tick(MonoTime now, std::vector<Event>& events) {
  const auto change = liveness_.tick(now);
  if (!change) return;
  if (change->kind == LivenessChangeKind::tilt) {
    events.push_back(tilt_event(id_, *change, clock_.wall_now()));
  } else if (change->kind == LivenessChangeKind::silent) {
    silence_detail_ = change->detail;
  } else if (change->kind == LivenessChangeKind::alive) {
    // Back from a silence: the losses of the silence were judged as down and
    // must not degrade the line afterwards. Quality starts afresh; echoes sent
    // before the first reply and missed are the outage's, not the line's.
    quality_.clear();
    breaches_ = {};
    outage_end_ = change->since;
  }
}

void FailoverLine::on_round(const RoundInput& in) {
  quality_.add_round(*in.result, in.at);
  if (path_outcome(*in.result) != PathOutcome::failed) return;
  // A reflector's echoes are the line's own evidence: never held, so their
  // losses degrade the line as soon as they are missed.
  const std::vector<std::string> echoed = echoes_.reflectors();
  if (!std::binary_search(echoed.begin(), echoed.end(), in.result->target))
    held_.insert(in.result->target);
}

void FailoverLine::expire_echoes(MonoTime now) {
  echoes_.expire(now, [&](const std::string& reflector, MonoTime sent) {
    if (!outage_end_ || sent >= *outage_end_) quality_.add_echo(reflector, now, std::nullopt);
  });
}

void FailoverLine::report_echoes(DestinationJudge& judge) {
  for (const auto& [reflector, outcome] : echoes_.take_period())
    judge.record(id_, reflector, outcome);
}

void FailoverLine::settle(const DestinationJudge& judge) {
  std::erase_if(held_, [&](const std::string& target) {
    const int failures = judge.failures_in_row(id_, target);
    return failures == 0 || failures >= hold_limit_ || !judge.deciding(target);
  });
}

void FailoverLine::refresh_quality(MonoTime now, const std::set<std::string>& excluded) {
  const std::set<std::string>* skip = &excluded;
  std::set<std::string> both;
  if (!held_.empty()) {
    both = excluded;
    both.insert(held_.begin(), held_.end());
    skip = &both;
  }
  figures_ = quality_.figures(now, *skip);
  breaches_ = quality_.breaches(now, *skip);
}

void FailoverLine::evaluate_health(const DestinationJudge& judge, std::vector<Event>& events) {
  HealthInput in;
  in.alive = liveness_.alive();
  in.silence_excused = !in.alive && judge.all_down(echoes_.reflectors());
  in.silence_detail = silence_detail_;
  in.breaches = breaches_;
  for (Event& e : health_.evaluate(in)) events.push_back(std::move(e));
}

LineUsage FailoverLine::usage(MonoTime now, Duration stale) const {
  LineUsage u;
  u.line = id_;
  u.rtt_median = figures_.median;
  u.capacity_bps = capacity_bps_;
  if (bandwidth_ && now - bandwidth_->at <= stale) {
    u.used_bps = std::max(bandwidth_->rx_bps, bandwidth_->tx_bps);
    // The sampler may know a capacity the config does not (the link speed).
    const auto util = bandwidth_->utilisation;
    if ((!u.capacity_bps || *u.capacity_bps == 0) && util && *util > 0 && std::isfinite(*util))
      u.capacity_bps = static_cast<std::uint64_t>(static_cast<double>(*u.used_bps) / *util);
  }
  return u;
}

PlanLine FailoverLine::plan_line() const {
  PlanLine p;
  p.line = id_;
  p.takes_traffic = health_.takes_traffic();
  switch (health_.state()) {
    case LineState::up:
      p.condition = LineCondition::up;
      break;
    case LineState::degraded:
      p.condition = LineCondition::degraded;
      break;
    case LineState::down:
      p.condition = LineCondition::down;
      break;
  }
  p.score = score_;
  p.via = via_;
  p.dev = dev_;
  p.fresh = fresh();
  return p;
}

FailoverLineView FailoverLine::view() const {
  const HealthSnapshot h = health_.snapshot();
  FailoverLineView v;
  v.line = id_;
  v.state = h.state;
  v.since = h.since_wall;
  v.reason = h.reason;
  v.takes_traffic = h.takes_traffic;
  v.penalty = h.penalty;
  v.score = score_;
  v.alive = liveness_.alive();
  v.fresh = fresh();
  v.hold_down_until = h.hold_down_until_wall;
  v.rtt_median = figures_.median;
  v.loss = figures_.loss;
  return v;
}

}  // namespace linewatch
