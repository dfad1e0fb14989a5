// DestinationJudge: is a failing target the lines' fault or its own?
//
// When a target fails through EVERY line while other targets still answer
// through those lines, the target (the destination) is down, not the lines:
// emit destination_down, and leave its failures out of the lines' health
// (pass down() to LineQuality as the excluded set; use all_down() for a line
// whose liveness reflectors are all down destinations).
//
// Evidence, per (line, target): the outcome of each round, classified by
// rules/path_outcome.h; only network reasons are failures, an endpoint error
// (HTTP status, body mismatch) means the line carried the request, and local
// errors (bind, internal) are no evidence. A target fails on a line after
// `confirm` network failures in a row (so random loss does not count) and
// answers on it with one success. Outcomes older than `fresh` leave the vote.
//
// Verdict for target T: down when T fails on every line holding fresh
// evidence about it, and on at least one of them another target answers. A
// line where nothing answers is dead: it says nothing about T, so it neither
// proves T down on its own nor keeps T up. A line with failures not yet
// confirmed blocks a new verdict but does not undo a held one. T is up again
// (destination_up) as soon as it answers on any line, or when no fresh
// confirmed failure is left.
//
// Not thread-safe: single-threaded, owned by the one decision thread.
// Cost: evaluate() O(lines × targets); memory one entry per (line, target).
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/event.h"
#include "core/health_options.h"
#include "core/probe_result.h"
#include "core/time.h"
#include "rules/path_outcome.h"

namespace linewatch {

class DestinationJudge {
 public:
  // `clock` must outlive the judge. Options are copied.
  DestinationJudge(DestinationOptions options, const Clock& clock)
      : options_(options), clock_(clock) {}

  // The outcome of one round towards `target` through `line`, now.
  void record(const std::string& line, const std::string& target, Reason reason) {
    record(line, target, path_outcome(reason));
  }
  // The same, judged on the whole round (an LLM stream stall after its body
  // began is an answer; see path_outcome(const ProbeResult&)).
  void record(const ProbeResult& round) { record(round.line, round.target, path_outcome(round)); }
  // The same for callers that classified already (e.g. liveness echoes per
  // reflector: answered or missed). `unknown` is ignored.
  void record(const std::string& line, const std::string& target, PathOutcome outcome);

  // Re-judges every target now. Returns destination_down / destination_up
  // events for the targets whose verdict flipped, nothing otherwise.
  std::vector<Event> evaluate();

  // The verdicts as of the last evaluate().
  bool is_down(const std::string& target) const { return down_.count(target) > 0; }
  const std::set<std::string>& down() const { return down_; }
  // True when `targets` is non-empty and every one of them is down.
  bool all_down(const std::vector<std::string>& targets) const;

  // Network failures of `target` in a row through `line`, as of now: 0 when
  // its latest fresh outcome there is an answer, or there is none.
  int failures_in_row(const std::string& line, const std::string& target) const;
  // True while `target` fails through some line fewer than `confirm` times in
  // a row (fresh evidence): whose fault those failures are, the line's or the
  // target's, is not known yet, and evaluate() makes no new verdict on it.
  bool deciding(const std::string& target) const;

 private:
  struct Evidence {
    MonoTime at{};
    int failures_in_row = 0;
    bool answered = false;  // the latest outcome
  };
  enum class OnLine { none, answers, fails, undecided };

  using Answering = std::map<std::string, std::set<std::string>>;  // line -> targets answering

  OnLine on_line(const Evidence& e, MonoTime now) const;
  // The lines `target` fails on when it is down by the rule above; empty otherwise.
  std::vector<std::string> failing_lines(const std::string& target, const Answering& answering,
                                         MonoTime now) const;

  DestinationOptions options_;
  const Clock& clock_;
  std::map<std::pair<std::string, std::string>, Evidence> evidence_;  // (target, line)
  std::set<std::string> down_;
};

}  // namespace linewatch
