// What the failover's decision thread is fed, as queued in its inbox
// (agent/failover_inbox.h). Plain values, copied from the producer's thread.
// Lines are indexes into the failover's line list, resolved by the producer
// (the list is fixed at construction, so reading it from any thread is safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "core/probe_result.h"
#include "core/time.h"

namespace linewatch {

// A liveness echo left (LivenessObserver::on_sent).
struct EchoSentInput {
  std::size_t line = 0;
  std::string reflector;
  std::uint64_t seq = 0;
  MonoTime sent{};
};

// A liveness echo was answered (LivenessObserver::on_reply).
struct EchoReplyInput {
  std::size_t line = 0;
  std::string reflector;
  std::uint64_t seq = 0;
  MonoTime sent{}, received{};
  Duration rtt{};
};

// The liveness engine's tick: every reply it read before `now` is queued
// ahead of this, so the trackers may judge silence up to `now`.
struct TickInput {
  MonoTime now{};
};

// One probe round (through the results fan-out). Held by pointer: a result is
// ten times the size of the other inputs.
struct RoundInput {
  std::size_t line = 0;
  std::unique_ptr<const ProbeResult> result;
  MonoTime at{};  // when the round reached the failover
};

// Traffic measured on a line.
struct BandwidthInput {
  std::size_t line = 0;
  std::uint64_t rx_bps = 0;
  std::uint64_t tx_bps = 0;
  std::optional<double> utilisation;  // 0..1 of the line's capacity, when known
  MonoTime at{};
};

using FailoverInput =
    std::variant<EchoSentInput, EchoReplyInput, TickInput, RoundInput, BandwidthInput>;

}  // namespace linewatch
