// FailoverLine: the rules of one watched line, as the failover's decision
// step drives them: liveness (rules/liveness.h), the echoes awaiting replies
// (agent/failover_echoes.h), quality (rules/quality.h), health
// (rules/health.h), the latest bandwidth sample and score.
//
// Not thread-safe: owned by the failover's decision thread.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/failover_echoes.h"
#include "agent/failover_input.h"
#include "agent/failover_snapshot.h"
#include "core/config.h"
#include "core/event.h"
#include "rules/destination.h"
#include "rules/health.h"
#include "rules/liveness.h"
#include "rules/planner.h"
#include "rules/quality.h"
#include "rules/score.h"

namespace linewatch {

class FailoverLine {
 public:
  // `clock` must outlive the line; liveness measures silence from clock.now().
  FailoverLine(const LineSpec& spec, const LivenessOptions& liveness, const HealthOptions& health,
               const Clock& clock);

  const std::string& id() const { return id_; }

  void on_sent(const EchoSentInput& in);
  void on_reply(const EchoReplyInput& in);
  // A liveness tick at `now`: a tilt becomes an event, a silence is kept
  // for the health event's detail, and a return from a silence restarts the
  // quality window (the outage's losses do not count against the line once it
  // answers again; health already judged them as down).
  void on_tick(MonoTime now, std::vector<Event>& events);
  // A probe round. A network failure towards a target this line does not
  // echo (not a reflector) holds that target out of the quality figures
  // until the judge has ruled whose failure it is (see settle()).
  void on_round(const RoundInput& in);
  void on_bandwidth(const BandwidthInput& in) { bandwidth_ = in; }

  // Echoes unanswered for miss_timeout at `now` become loss samples. `now`
  // must be a time up to which every reply was fed in (an engine tick).
  void expire_echoes(MonoTime now);
  // The reflectors' outcomes since the last call, into the judge.
  void report_echoes(DestinationJudge& judge);
  // After judge.evaluate(): releases the held targets the judge has ruled on.
  // A target is held while its failures through this line are fewer than
  // 2 x confirm in a row and some line is still deciding about it: until
  // then the failures may be the target's (a closed port fails on every line
  // alike), and counting them would degrade the line, most of all at start
  // when the window holds few samples. Released, they count from the time
  // they happened, unless the target is down (then they are excluded).
  void settle(const DestinationJudge& judge);
  // Recomputes the quality figures and SLA breaches at `now` without the
  // targets in `excluded` (down destinations) nor the held ones. O(samples · log).
  void refresh_quality(MonoTime now, const std::set<std::string>& excluded);
  // One health evaluation with the latest liveness verdict and breaches.
  void evaluate_health(const DestinationJudge& judge, std::vector<Event>& events);

  // Scoring input; a bandwidth sample older than `stale` is unknown.
  LineUsage usage(MonoTime now, Duration stale) const;
  // `evidence`: LineScore::evidence (the line has RTT samples).
  void set_score(double score, bool evidence) {
    score_ = score;
    evidence_ = evidence;
  }
  bool takes_traffic() const { return health_.takes_traffic(); }
  double score() const { return score_; }
  bool evidence() const { return evidence_; }

  PlanLine plan_line() const;
  FailoverLineView view() const;

 private:
  bool fresh() const { return liveness_.stats().replies > 0 || !liveness_.alive(); }

  const Clock& clock_;
  std::string id_;
  std::string via_, dev_;
  std::optional<std::uint64_t> capacity_bps_;
  LineLiveness liveness_;
  EchoLedger echoes_;
  LineQuality quality_;
  LineHealth health_;
  int hold_limit_;              // failures in a row after which a target is no longer held
  std::set<std::string> held_;  // targets whose failures the judge has not ruled on
  std::string silence_detail_;  // of the latest silence
  QualityFigures figures_;      // as of the last refresh_quality()
  SlaBreaches breaches_;
  std::optional<MonoTime> outage_end_;  // first reply after the latest silence
  std::optional<BandwidthInput> bandwidth_;
  double score_ = 0;
  bool evidence_ = false;
};

}  // namespace linewatch
