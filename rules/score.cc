#include "rules/score.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace linewatch {

namespace {

constexpr double kNeutral = 0.5;
constexpr Duration kRttFloor = std::chrono::microseconds(1);

Status check_part(const char* key, double w) {
  if (!std::isfinite(w) || w < 0) {
    return invalid(std::string("scoring.weights.") + key + ": must be a number >= 0, got " +
                   std::to_string(w));
  }
  return ok_status();
}

bool known_capacity(const LineUsage& u) { return u.capacity_bps && *u.capacity_bps > 0; }

std::uint64_t headroom(const LineUsage& u) {
  std::uint64_t cap = *u.capacity_bps;
  return cap - std::min(u.used_bps.value_or(0), cap);
}

std::string two_decimals(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string describe(const std::vector<std::string>& order,
                     const std::map<std::string, double>& s) {
  std::string out;
  for (const auto& line : order) {
    if (!out.empty()) out += " > ";
    out += line;
    auto it = s.find(line);
    if (it != s.end()) out += " (" + two_decimals(it->second) + ")";
  }
  return out.empty() ? "(none)" : out;
}

}  // namespace

Status validate(const ScoringOptions& o) {
  for (auto [key, w] : {std::pair{"latency", o.weights.latency}, std::pair{"load", o.weights.load},
                        std::pair{"bandwidth", o.weights.bandwidth}}) {
    if (auto st = check_part(key, w); !st) return st;
  }
  if (o.weights.latency + o.weights.load + o.weights.bandwidth <= 0) {
    return invalid("scoring.weights: at least one weight must be above 0");
  }
  if (!std::isfinite(o.margin) || o.margin < 0) {
    return invalid("scoring.margin: must be 0% or more, got " + std::to_string(o.margin));
  }
  if (o.margin_for < Duration::zero()) return invalid("scoring.margin_for: must not be negative");
  return ok_status();
}

std::vector<LineScore> score_lines(const std::vector<LineUsage>& lines, const ScoringWeights& w) {
  std::optional<Duration> best_rtt;
  std::uint64_t max_headroom = 0;
  for (const auto& u : lines) {
    if (u.rtt_median && (!best_rtt || *u.rtt_median < *best_rtt)) best_rtt = u.rtt_median;
    if (known_capacity(u)) max_headroom = std::max(max_headroom, headroom(u));
  }
  double wl = w.latency, wo = w.load, wb = w.bandwidth;
  if (!(wl + wo + wb > 0)) wl = wo = wb = 1;  // invalid weights: equal rather than divide by 0
  const double sum = wl + wo + wb;

  std::vector<LineScore> out;
  out.reserve(lines.size());
  for (const auto& u : lines) {
    LineScore s;
    s.line = u.line;
    if (u.rtt_median) {
      double best = static_cast<double>(std::max(*best_rtt, kRttFloor).count());
      s.latency = best / static_cast<double>(std::max(*u.rtt_median, kRttFloor).count());
    }
    if (known_capacity(u) && u.used_bps) {
      double use = static_cast<double>(*u.used_bps) / static_cast<double>(*u.capacity_bps);
      s.load = 1.0 - std::min(1.0, use);
    } else {
      s.load = kNeutral;
    }
    if (known_capacity(u)) {
      s.bandwidth = max_headroom > 0 ? static_cast<double>(headroom(u)) / max_headroom : 0.0;
    } else {
      s.bandwidth = kNeutral;
    }
    s.evidence = u.rtt_median.has_value();
    s.score = (wl * s.latency + wo * s.load + wb * s.bandwidth) / sum;
    out.push_back(std::move(s));
  }
  return out;
}

Ranking::Ranking(const Clock& clock, ScoringOptions options, std::vector<std::string> seed)
    : clock_(clock), options_(options) {
  for (auto& line : seed) {
    if (seed_.emplace(line, seed_.size()).second) claims_.insert(std::move(line));
  }
}

void Ranking::track_challenges(const std::map<std::string, double>& score, MonoTime now) {
  std::map<Pair, MonoTime> next;
  for (const auto& [a, sa] : score) {
    for (const auto& [b, sb] : score) {
      if (a == b || !(sa > sb * (1.0 + options_.margin) && sa > sb)) continue;
      auto it = beating_since_.find({a, b});
      next[{a, b}] = it != beating_since_.end() ? it->second : now;
    }
  }
  beating_since_ = std::move(next);
}

bool Ranking::matured(const std::string& challenger, const std::string& incumbent,
                      MonoTime now) const {
  auto it = beating_since_.find({challenger, incumbent});
  return it != beating_since_.end() && now - it->second >= options_.margin_for;
}

std::vector<std::string> Ranking::start_order(const std::vector<std::string>& by_score,
                                              const std::map<std::string, double>& score,
                                              bool& reverted,
                                              std::vector<std::string>& seeded) const {
  // The previous order of the lines placed before and still here.
  std::vector<std::string> kept;
  for (const auto& line : order_) {
    if (score.count(line) && placed_.count(line)) kept.push_back(line);
  }
  // First evidence: a claimed line to its seed rank, ahead of every unseeded
  // line; any other straight to its place by score behind the seeded lines,
  // ahead of the first lower one.
  std::vector<std::string> joiners;
  std::set<std::string> in_kept(kept.begin(), kept.end());
  for (const auto& line : by_score) {
    if (in_kept.count(line)) continue;
    if (placed_.count(line)) {
      joiners.push_back(line);
      continue;
    }
    std::vector<std::string>::iterator at;
    if (claims_.count(line)) {
      const std::size_t rank = seed_.at(line);
      at = std::find_if(kept.begin(), kept.end(), [&](const auto& k) {
        auto r = seed_.find(k);
        return r == seed_.end() || r->second > rank;
      });
      seeded.push_back(line);
    } else {
      at = std::find_if(kept.begin(), kept.end(), [&](const auto& k) {
        return !seed_.count(k) && score.at(k) < score.at(line);
      });
    }
    kept.insert(at, line);
  }
  // The primary back: first again unless the first line beats it by the margin.
  auto p = primary_ ? std::find(joiners.begin(), joiners.end(), *primary_) : joiners.end();
  if (p != joiners.end()) {
    const std::string* first = nullptr;
    if (!kept.empty()) {
      first = &kept.front();
    } else if (joiners.size() > 1) {
      first = p == joiners.begin() ? &joiners[1] : &joiners.front();
    }
    const double sp = score.at(*p);
    if (!first || !(score.at(*first) > sp * (1.0 + options_.margin))) {
      kept.insert(kept.begin(), *p);
      joiners.erase(p);
      reverted = true;
    }
  }
  kept.insert(kept.end(), joiners.begin(), joiners.end());
  return kept;
}

void Ranking::end_claims(const std::set<std::string>& seen) {
  for (auto it = claims_.begin(); it != claims_.end();) {
    if (!seen.count(*it)) {
      seed_.erase(*it);  // gone: it was never placed by the seed
      it = claims_.erase(it);
    } else if (placed_.count(*it)) {
      it = claims_.erase(it);  // placed: its rank still holds off unseeded newcomers
    } else {
      ++it;
    }
  }
  if (claims_.empty()) seed_.clear();
}

std::vector<std::string> Ranking::apply_band(std::vector<std::string> remaining,
                                             const std::map<std::string, double>& score,
                                             MonoTime now, std::string& mover,
                                             std::string& displaced) const {
  std::vector<std::string> next;
  while (!remaining.empty()) {
    auto pick = remaining.begin();
    for (auto it = remaining.begin() + 1; it != remaining.end(); ++it) {
      if (matured(*it, remaining.front(), now) &&
          (pick == remaining.begin() || score.at(*it) > score.at(*pick))) {
        pick = it;
      }
    }
    if (pick != remaining.begin() && mover.empty()) {
      mover = *pick;
      displaced = remaining.front();
    }
    next.push_back(*pick);
    remaining.erase(pick);
  }
  return next;
}

std::optional<Event> Ranking::update(const std::vector<LineScore>& scores) {
  const MonoTime now = clock_.now();
  std::map<std::string, double> score;  // the lines with evidence
  std::set<std::string> seen;
  std::vector<std::string> by_score;  // with evidence: input order, then sorted by score
  std::vector<std::string> unplaced;  // without evidence, in input order
  for (const auto& s : scores) {
    if (!seen.insert(s.line).second) continue;
    if (s.evidence) {
      score.emplace(s.line, s.score);
      by_score.push_back(s.line);
    } else {
      unplaced.push_back(s.line);
    }
  }
  std::stable_sort(by_score.begin(), by_score.end(),
                   [&](const auto& a, const auto& b) { return score[a] > score[b]; });
  track_challenges(score, now);

  bool reverted = false;
  std::string mover, displaced;
  std::vector<std::string> seeded;
  std::vector<std::string> next =
      apply_band(start_order(by_score, score, reverted, seeded), score, now, mover, displaced);
  next.insert(next.end(), unplaced.begin(), unplaced.end());

  for (const auto& line : by_score) placed_.insert(line);
  for (const auto& line : unplaced) placed_.erase(line);
  end_claims(seen);
  if (primary_ && seen.count(*primary_)) primary_.reset();
  if (!order_.empty() && !seen.count(order_.front()) && !primary_) primary_ = order_.front();
  if (next == order_) return std::nullopt;

  Event e;
  e.time = clock_.wall_now();
  e.kind = "score_moved";
  e.line = next.empty() ? "" : next.front();
  e.detail = "order " + describe(next, score) + ", was " + describe(order_, score);
  if (!started_) {
    e.reason = "first_scores";
  } else if (!mover.empty()) {
    e.reason = "margin_held";
    e.detail += "; " + mover + " beat " + displaced + " by more than " +
                two_decimals(options_.margin * 100) + "% for " +
                two_decimals(std::chrono::duration<double>(options_.margin_for).count()) + "s";
  } else if (reverted) {
    e.reason = "revert";
    e.detail += "; " + next.front() + " is the primary back within " +
                two_decimals(options_.margin * 100) + "% of the best";
  } else {
    e.reason = "lines_changed";
  }
  for (const auto& line : seeded)
    e.detail += "; " + line + " keeps its place from before the restart";
  order_ = std::move(next);
  started_ = true;
  return e;
}

}  // namespace linewatch
