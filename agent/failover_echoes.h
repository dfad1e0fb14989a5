// EchoLedger: one line's liveness echoes still waiting for a reply.
//
// LineLiveness judges silence on its own but does not report single echoes
// that went unanswered. The failover needs them twice: as loss samples of
// the line's quality (rules/quality.h: "a loss when missed"), and, summed up
// per reflector over an evaluation period, as the destination judge's
// evidence (rules/destination.h). Per period, a reflector that answered at
// least once counts as answered and one that only missed as failed; one
// echo is no verdict, so random loss of single echoes never reaches the
// judge's confirm count.
//
// Not thread-safe: owned by the failover's decision thread.
// Memory: per reflector the echoes of the last miss_timeout (capped).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/time.h"
#include "rules/path_outcome.h"

namespace linewatch {

class EchoLedger {
 public:
  // An echo unanswered for `miss_timeout` is missed (LivenessOptions::miss_timeout).
  explicit EchoLedger(Duration miss_timeout) : miss_timeout_(miss_timeout) {}

  void sent(const std::string& reflector, std::uint64_t seq, MonoTime at);
  // Marks echo `seq` answered; a reply to an echo already counted missed or
  // never seen still counts for the period (the reflector did answer).
  void replied(const std::string& reflector, std::uint64_t seq);

  // Removes the echoes unanswered since `now` - miss_timeout (and the
  // oldest beyond the cap), calling on_miss(reflector, sent) once for each,
  // oldest first; `sent` is when the missed echo left.
  template <class OnMiss>
  void expire(MonoTime now, OnMiss&& on_miss) {
    for (auto& [name, r] : reflectors_) {
      while (!r.pending.empty()) {
        const Pending& front = r.pending.front();
        if (front.answered) {
          r.pending.pop_front();
          continue;
        }
        if (now - front.sent < miss_timeout_ && r.pending.size() <= kMaxPending) break;
        const MonoTime sent = front.sent;
        r.pending.pop_front();
        r.missed_in_period = true;
        on_miss(name, sent);
      }
    }
  }

  // Per reflector heard from since the last call: answered, or failed when
  // it only missed. Reflectors with neither are left out. Resets the period.
  std::vector<std::pair<std::string, PathOutcome>> take_period();

  // Every reflector echoed so far, sorted.
  std::vector<std::string> reflectors() const;

 private:
  static constexpr std::size_t kMaxPending = 4096;
  struct Pending {
    std::uint64_t seq;
    MonoTime sent;
    bool answered;
  };
  struct Reflector {
    std::deque<Pending> pending;  // send order
    bool answered_in_period = false;
    bool missed_in_period = false;
  };

  Duration miss_timeout_;
  std::map<std::string, Reflector> reflectors_;
};

}  // namespace linewatch
