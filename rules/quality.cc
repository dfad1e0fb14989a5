#include "rules/quality.h"

#include <cstdlib>
#include <utility>

#include "rules/figures.h"
#include "rules/path_outcome.h"
#include "rules/status_board.h"

namespace linewatch {

std::string SlaBreaches::reason() const {
  if (loss) return "loss";
  if (rtt_p95) return "rtt_p95";
  if (jitter) return "jitter";
  return "";
}

void LineQuality::add_echo(const std::string& target, MonoTime at, std::optional<Duration> rtt) {
  add(target, at, !rtt.has_value(), rtt);
}

void LineQuality::add_round(const ProbeResult& round, MonoTime at) {
  if (round.kind == ProbeKind::icmp) {
    for (const auto& rtt : round.rtts) add(round.target, at, !rtt.has_value(), rtt);
    return;
  }
  switch (path_outcome(round)) {
    case PathOutcome::answered:
      add(round.target, at, false, std::nullopt);
      break;
    case PathOutcome::failed:
      add(round.target, at, true, std::nullopt);
      break;
    case PathOutcome::unknown:
      break;
  }
}

void LineQuality::add(const std::string& target, MonoTime at, bool lost,
                      std::optional<Duration> rtt) {
  samples_.push_back(
      Sample{at, rtt.value_or(Duration::zero()), target_index(target), lost, rtt.has_value()});
  while (!samples_.empty() &&
         (samples_.size() > options_.max_samples || at - samples_.front().at > options_.window)) {
    samples_.pop_front();
  }
}

std::uint32_t LineQuality::target_index(const std::string& target) {
  auto [it, inserted] =
      target_ids_.try_emplace(target, static_cast<std::uint32_t>(targets_.size()));
  if (inserted) targets_.push_back(target);
  return it->second;
}

QualityFigures LineQuality::figures(MonoTime now, const std::set<std::string>& excluded) const {
  std::vector<bool> skip(targets_.size(), false);
  for (std::size_t i = 0; i < targets_.size(); ++i) skip[i] = excluded.count(targets_[i]) > 0;

  QualityFigures out;
  std::vector<Duration> rtts;
  std::vector<std::optional<Duration>> previous(targets_.size());  // last RTT per target
  double jitter_sum = 0;
  std::size_t jitter_pairs = 0;
  for (const Sample& s : samples_) {
    if (now - s.at > options_.window || skip[s.target]) continue;
    if (s.lost) {
      ++out.lost;
    } else {
      ++out.answered;
    }
    if (!s.has_rtt) continue;
    rtts.push_back(s.rtt);
    if (auto& prev = previous[s.target]) {
      jitter_sum += std::abs(static_cast<double>((s.rtt - *prev).count()));
      ++jitter_pairs;
    }
    previous[s.target] = s.rtt;
  }
  const std::size_t loss_samples = out.answered + out.lost;
  if (loss_samples > 0) out.loss = static_cast<double>(out.lost) / loss_samples;
  out.rtt_samples = rtts.size();
  if (jitter_pairs > 0)
    out.jitter = Duration(static_cast<Duration::rep>(jitter_sum / jitter_pairs));
  out.p95 = quantile(rtts, 0.95);
  out.median = quantile(rtts, 0.5);
  return out;
}

SlaBreaches LineQuality::breaches(MonoTime now, const std::set<std::string>& excluded) const {
  const QualityFigures f = figures(now, excluded);
  SlaBreaches b;
  auto note = [&b](const std::string& text) {
    if (!b.detail.empty()) b.detail += ", ";
    b.detail += text;
  };
  if (f.answered + f.lost >= options_.min_samples && f.loss > options_.loss) {
    b.loss = true;
    note("loss " + percent_text(f.loss) + " > " + percent_text(options_.loss));
  }
  if (f.rtt_samples >= options_.min_samples) {
    if (f.p95 && *f.p95 > options_.rtt_p95) {
      b.rtt_p95 = true;
      note("rtt_p95 " + duration_text(*f.p95) + " > " + duration_text(options_.rtt_p95));
    }
    if (f.jitter && *f.jitter > options_.jitter) {
      b.jitter = true;
      note("jitter " + duration_text(*f.jitter) + " > " + duration_text(options_.jitter));
    }
  }
  return b;
}

}  // namespace linewatch
