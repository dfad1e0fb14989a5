// What one probe round says about the network path through a line, as opposed
// to the endpoint behind it. Only network reasons may count against a line or
// a destination (core's is_network_reason / is_network_failure): an HTTP or
// LLM API 401/429/5xx, a body mismatch or a model missing from the list means
// the line carried the request and the endpoint answered.
//
// Pure functions; thread-safe.
#pragma once

#include "core/probe_result.h"

namespace linewatch {

enum class PathOutcome {
  // ok, or the endpoint answered with something unwanted (http_status,
  // body_mismatch, protocol, an LLM API error, a stream_stall after the body began)
  answered,
  failed,   // a network reason: timeout, refused, unreachable, dns, tls, an early stream_stall
  unknown,  // a local problem (bind, internal): says nothing about the path
};

// By reason alone. stream_stall reads as failed here; path_outcome(result)
// knows whether the body had begun, so callers holding the round use that.
inline PathOutcome path_outcome(Reason reason) {
  if (reason == Reason::bind || reason == Reason::internal) return PathOutcome::unknown;
  // Everything else that is not a network reason came back through the line:
  // an answer, or the peer's broken or cut HTTP (protocol).
  return is_network_reason(reason) ? PathOutcome::failed : PathOutcome::answered;
}

// By the whole round: a stream that stalled after its body began was carried
// by the line, so it counts as answered.
inline PathOutcome path_outcome(const ProbeResult& round) {
  if (round.ok) return PathOutcome::answered;
  if (is_network_failure(round)) return PathOutcome::failed;
  return path_outcome(round.reason) == PathOutcome::unknown ? PathOutcome::unknown
                                                            : PathOutcome::answered;
}

}  // namespace linewatch
