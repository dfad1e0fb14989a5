// What one probe round says about the network path through a line, as opposed
// to the endpoint behind it. Only network reasons may count against a line or
// a destination: an HTTP 401/429/5xx or a body mismatch means the line carried
// the request and the endpoint answered.
//
// Pure functions; thread-safe.
#pragma once

#include "core/probe_result.h"

namespace linewatch {

enum class PathOutcome {
  answered,  // ok, or the endpoint answered with something unwanted (http_status, body_mismatch, protocol)
  failed,    // a network reason: timeout, refused, unreachable, dns, tls
  unknown,   // a local problem (bind, internal): says nothing about the path
};

inline PathOutcome path_outcome(Reason reason) {
  switch (reason) {
    case Reason::ok:
    case Reason::http_status:
    case Reason::body_mismatch:
    // Bytes came back through the line; the peer's HTTP was broken or cut.
    case Reason::protocol:
      return PathOutcome::answered;
    case Reason::timeout:
    case Reason::refused:
    case Reason::unreachable:
    case Reason::dns:
    case Reason::tls:
      return PathOutcome::failed;
    case Reason::bind:
    case Reason::internal:
      return PathOutcome::unknown;
  }
  return PathOutcome::unknown;
}

}  // namespace linewatch
