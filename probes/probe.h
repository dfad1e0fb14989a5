// The probe interface: one round of one kind, through one line, to one target.
//
// Every kind has the same signature and lives in its own file (icmp.cc, tcp.cc,
// http.cc, llm.cc), with its test beside it. A probe blocks the calling thread for at
// most its round budget (see round_budget()) plus a little slack, never throws,
// and reports every failure as a ProbeResult with ok=false and a Reason.
// All functions here are thread-safe: they keep no state between calls.
#pragma once

#include <string>

#include "core/config.h"
#include "core/probe_result.h"
#include "core/time.h"
#include "probes/tls_contexts.h"

namespace linewatch {

// What a probe needs to run one round.
struct ProbeRequest {
  const LineSpec& line;
  const std::string& target_id;
  const ProbeSpec& spec;
  const Clock& clock;  // wall time stamps the result; monotonic time measures
  // HTTP and LLM: the shared TLS contexts (not owned, thread-safe, outliving
  // the round); null = the round builds its own, as a one-off call may.
  TlsContexts* tls = nullptr;
};

// Runs one round of request.spec.kind. Fills line, target, kind, time, duration.
ProbeResult run_probe(const ProbeRequest& request);

// The per-kind entry points run_probe() dispatches to.
ProbeResult run_icmp(const ProbeRequest& request);
ProbeResult run_tcp(const ProbeRequest& request);
ProbeResult run_http(const ProbeRequest& request);
// LLM (llm.cc): spec.llm's model-list call or one streamed completion.
// Network failures keep their reasons (dns, refused, unreachable, tls,
// timeout, bind, protocol); the API's answers map to auth (401, 403),
// rate_limited (429, Retry-After in llm->retry_after), server_error (5xx, a
// stream error event), bad_response (another status, an answer that does not
// parse, a stream cut before its end marker), model_missing (models mode);
// a gap over spec.llm->stall in completion mode is stream_stall. A key that
// cannot be read is internal. result.llm is always set.
ProbeResult run_llm(const ProbeRequest& request);

// The longest a round of `spec` may take: ICMP (pings − 1) × spacing +
// timeout, others (llm too) the timeout. Config validation keeps it within the interval.
Duration round_budget(const ProbeSpec& spec);

}  // namespace linewatch
