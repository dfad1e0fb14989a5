#include "rules/liveness.h"

#include <algorithm>
#include <utility>

#include "rules/figures.h"

namespace linewatch {
namespace {

// The naive comparison rule: a reflector is down after this many misses in a row.
constexpr int kNaiveMisses = 3;
// Bound on echoes awaiting a verdict per reflector when tick() is not called.
constexpr std::size_t kMaxPending = 4096;

}  // namespace

LineLiveness::LineLiveness(LivenessOptions options, MonoTime start)
    : options_(std::move(options)), since_(start), silence_from_(start), last_tick_(start) {}

void LineLiveness::on_sent(const std::string& reflector, std::uint64_t seq, MonoTime sent) {
  ++stats_.echoes;
  Reflector& r = reflectors_[reflector];
  if (r.pending.size() >= kMaxPending) settle_front(r, r.pending.front().answered);
  r.pending.push_back(Pending{seq, sent, false});
}

void LineLiveness::on_reply(const std::string& reflector, std::uint64_t seq, MonoTime sent,
                            MonoTime received) {
  ++stats_.replies;
  if (!alive_ && !reply_while_silent_) reply_while_silent_ = received;
  silence_from_ = std::max(silence_from_, received);
  awaiting_first_reply_ = false;

  // For the naive rule a reply later than miss_timeout is a miss, whenever it is read.
  bool counted = false;
  if (received - sent <= options_.miss_timeout) {
    auto it = reflectors_.find(reflector);
    if (it != reflectors_.end()) {
      for (Pending& p : it->second.pending) {
        if (p.seq == seq && !p.answered) {
          p.answered = true;
          counted = true;
          break;
        }
      }
    }
  }
  if (!counted) ++stats_.late_replies;
}

std::optional<LivenessChange> LineLiveness::tick(MonoTime now) {
  const Duration gap = now - last_tick_;
  const bool stalled = gap > options_.tilt_threshold();
  last_tick_ = now;
  settle_echoes(now);
  if (stalled) ++stats_.tilts;

  if (!alive_ && reply_while_silent_) {
    const Duration silence = *reply_while_silent_ - since_;
    alive_ = true;
    since_ = *reply_while_silent_;
    reply_while_silent_.reset();
    return LivenessChange{LivenessChangeKind::alive, since_,
                          "reply after " + duration_text(silence) + " of silence"};
  }
  if (stalled) {
    // Replies may be waiting unread: do not judge this silence, start measuring anew.
    silence_from_ = now;
    awaiting_first_reply_ = true;
    return LivenessChange{LivenessChangeKind::tilt, now,
                          "no tick for " + duration_text(gap) + " (threshold " +
                              duration_text(options_.tilt_threshold()) +
                              "): silence measurement restarted"};
  }
  const Duration allowed =
      options_.detect + (awaiting_first_reply_ ? options_.miss_timeout : Duration::zero());
  if (alive_ && now - silence_from_ >= allowed) {
    alive_ = false;
    since_ = silence_from_;
    ++stats_.silences;
    return LivenessChange{LivenessChangeKind::silent, since_, silence_detail(now)};
  }
  return std::nullopt;
}

void LineLiveness::settle_echoes(MonoTime now) {
  for (auto& [name, r] : reflectors_) {
    while (!r.pending.empty()) {
      const Pending& front = r.pending.front();
      if (front.answered) {
        settle_front(r, true);
      } else if (now - front.sent >= options_.miss_timeout) {
        settle_front(r, false);
      } else {
        break;  // in send order: later echoes wait for this one's verdict
      }
    }
  }
}

void LineLiveness::settle_front(Reflector& r, bool answered) {
  r.pending.pop_front();
  if (answered) {
    r.consecutive_misses = 0;
    if (r.tripped) {
      r.tripped = false;
      --tripped_reflectors_;
    }
    return;
  }
  ++stats_.misses;
  if (++r.consecutive_misses >= kNaiveMisses && !r.tripped) {
    r.tripped = true;
    if (++tripped_reflectors_ == static_cast<int>(reflectors_.size())) ++stats_.three_miss_trips;
  }
}

std::string LineLiveness::silence_detail(MonoTime now) const {
  const std::size_t n = reflectors_.size();
  std::string text = "no reply for " + duration_text(now - silence_from_);
  if (n == 0) return text + " (no echoes sent)";
  return text + " from " + std::to_string(n) + (n == 1 ? " reflector" : " reflectors");
}

Event tilt_event(const std::string& line, const LivenessChange& change, WallTime time) {
  return Event{time, "tilt", line, "", "stalled_loop", change.detail};
}

}  // namespace linewatch
