#include "agent/failover_echoes.h"

namespace linewatch {

void EchoLedger::sent(const std::string& reflector, std::uint64_t seq, MonoTime at) {
  reflectors_[reflector].pending.push_back({seq, at, false});
}

void EchoLedger::replied(const std::string& reflector, std::uint64_t seq) {
  Reflector& r = reflectors_[reflector];
  r.answered_in_period = true;
  // A reply usually answers a recent echo: search from the newest.
  for (auto it = r.pending.rbegin(); it != r.pending.rend(); ++it) {
    if (it->seq == seq) {
      it->answered = true;
      return;
    }
  }
}

std::vector<std::pair<std::string, PathOutcome>> EchoLedger::take_period() {
  std::vector<std::pair<std::string, PathOutcome>> out;
  for (auto& [name, r] : reflectors_) {
    if (r.answered_in_period) {
      out.emplace_back(name, PathOutcome::answered);
    } else if (r.missed_in_period) {
      out.emplace_back(name, PathOutcome::failed);
    }
    r.answered_in_period = r.missed_in_period = false;
  }
  return out;
}

std::vector<std::string> EchoLedger::reflectors() const {
  std::vector<std::string> out;
  out.reserve(reflectors_.size());
  for (const auto& [name, r] : reflectors_) out.push_back(name);
  return out;
}

}  // namespace linewatch
