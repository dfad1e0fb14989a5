#include "rules/destination.h"

namespace linewatch {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

}  // namespace

void DestinationJudge::record(const std::string& line, const std::string& target,
                              PathOutcome outcome) {
  if (outcome == PathOutcome::unknown) return;
  Evidence& e = evidence_[{target, line}];
  e.at = clock_.now();
  e.answered = outcome == PathOutcome::answered;
  e.failures_in_row = e.answered ? 0 : e.failures_in_row + 1;
}

DestinationJudge::OnLine DestinationJudge::on_line(const Evidence& e, MonoTime now) const {
  if (now - e.at > options_.fresh) return OnLine::none;
  if (e.answered) return OnLine::answers;
  return e.failures_in_row >= options_.confirm ? OnLine::fails : OnLine::undecided;
}

std::vector<std::string> DestinationJudge::failing_lines(const std::string& target,
                                                         const Answering& answering,
                                                         MonoTime now) const {
  const bool was_down = is_down(target);
  std::vector<std::string> lines;
  bool others_answer = false;
  for (auto it = evidence_.lower_bound({target, ""});
       it != evidence_.end() && it->first.first == target; ++it) {
    const std::string& line = it->first.second;
    switch (on_line(it->second, now)) {
      case OnLine::none:
        continue;
      case OnLine::answers:
        return {};
      case OnLine::undecided:
        // Not yet confirmed here: blocks a new verdict, does not undo a held one.
        if (!was_down) return {};
        continue;
      case OnLine::fails:
        lines.push_back(line);
        // Any answering target on this line is another one: this one fails here.
        if (auto a = answering.find(line); a != answering.end() && !a->second.empty()) {
          others_answer = true;
        }
    }
  }
  if (!others_answer) return {};
  return lines;
}

std::vector<Event> DestinationJudge::evaluate() {
  const MonoTime now = clock_.now();
  Answering answering;
  std::set<std::string> targets;
  for (const auto& [key, e] : evidence_) {
    targets.insert(key.first);
    if (on_line(e, now) == OnLine::answers) answering[key.second].insert(key.first);
  }

  std::vector<Event> events;
  const WallTime wall = clock_.wall_now();
  for (const std::string& target : targets) {
    const std::vector<std::string> lines = failing_lines(target, answering, now);
    const bool was_down = is_down(target);
    if (!lines.empty() && !was_down) {
      down_.insert(target);
      events.push_back(Event{wall, "destination_down", "", target, "all_lines_fail",
                             "fails on every line with fresh evidence (" + join(lines) +
                                 ") while other targets answer there"});
    } else if (lines.empty() && was_down) {
      down_.erase(target);
      std::vector<std::string> answers_on;
      for (const auto& [line, answered] : answering) {
        if (answered.count(target)) answers_on.push_back(line);
      }
      if (answers_on.empty()) {
        events.push_back(Event{wall, "destination_up", "", target, "no_evidence",
                               "no fresh failure left to blame it for"});
      } else {
        events.push_back(Event{wall, "destination_up", "", target, "answered",
                               "answers again on " + join(answers_on)});
      }
    }
  }
  return events;
}

int DestinationJudge::failures_in_row(const std::string& line, const std::string& target) const {
  const auto it = evidence_.find({target, line});
  if (it == evidence_.end() || on_line(it->second, clock_.now()) == OnLine::none) return 0;
  return it->second.failures_in_row;
}

bool DestinationJudge::deciding(const std::string& target) const {
  const MonoTime now = clock_.now();
  for (auto it = evidence_.lower_bound({target, ""});
       it != evidence_.end() && it->first.first == target; ++it) {
    if (on_line(it->second, now) == OnLine::undecided) return true;
  }
  return false;
}

bool DestinationJudge::all_down(const std::vector<std::string>& targets) const {
  if (targets.empty()) return false;
  for (const auto& t : targets) {
    if (!is_down(t)) return false;
  }
  return true;
}

}  // namespace linewatch
