// ProbeResult: what one probe round through one line towards one target found.
// Plain value type; produced by probes/, consumed by storage/, rules/ and the API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/llm_options.h"
#include "core/time.h"

namespace linewatch {

// Storage keeps the number: append new kinds, never reorder or remove one.
enum class ProbeKind : std::uint8_t { icmp, tcp, http, llm };
inline constexpr ProbeKind kAllProbeKinds[] = {ProbeKind::icmp, ProbeKind::tcp, ProbeKind::http,
                                               ProbeKind::llm};

// Why a round failed. `ok` only on success; every failure names exactly one.
// Storage keeps the number: append new reasons, never reorder or remove one.
enum class Reason : std::uint8_t {
  ok,
  timeout,        // no answer before the deadline
  refused,        // TCP RST / ICMP port unreachable
  unreachable,    // no route, host or network unreachable
  dns,            // the target name did not resolve
  tls,            // handshake or certificate verification failed
  http_status,    // a status code outside the expected set
  body_mismatch,  // body did not match the configured regex
  bind,           // could not bind to the line (source, interface, fwmark)
  internal,       // a bug or an unexpected library failure
  protocol,       // the server broke the protocol: malformed HTTP, or a reset mid-exchange
  // LLM API answers (probes/llm.cc): the endpoint's own, never the line's.
  auth,           // 401 or 403: the key is wrong, revoked or not allowed the model
  rate_limited,   // 429, or a rate-limit error event in the stream
  server_error,   // 5xx, or an error event in the stream (overloaded, ...)
  bad_response,   // 2xx the flavour cannot parse, or another unexpected status
  model_missing,  // the model list does not name the configured model
  // The stream went quiet for longer than llm.stall. Before any byte of the
  // response body it is the path's (nothing came back); after, the endpoint's
  // (see is_network_failure).
  stream_stall,
};
inline constexpr Reason kLastReason = Reason::stream_stall;

std::string_view to_string(ProbeKind k);
std::string_view to_string(Reason r);
std::optional<ProbeKind> probe_kind_from_string(std::string_view s);
std::optional<Reason> reason_from_string(std::string_view s);

// Whether `r` may be the network path's fault: dns, refused, unreachable,
// tls, timeout and stream_stall. Not bind (a local problem with the line's
// binding, no packet left), not protocol (bytes came back through the line;
// the peer's HTTP was broken or cut), not internal, not the HTTP and LLM
// answers (http_status, body_mismatch, auth, rate_limited, server_error,
// bad_response, model_missing: the line carried the request and the endpoint
// answered). stream_stall needs the round to tell: see is_network_failure.
bool is_network_reason(Reason r);

// The longest ProbeResult::detail that probes produce from network bytes.
inline constexpr std::size_t kMaxDetailBytes = 200;

// `text` made safe for logs, JSON and terminals: valid UTF-8 is kept, control
// characters (C0, DEL, C1) and bytes that are not UTF-8 become the four
// characters \xNN, and when the result is longer than `max_bytes` (at least 3)
// it is cut at a character boundary and ends in "...". Probes pass every
// detail that may hold a server's bytes through it.
std::string printable_detail(std::string_view text, std::size_t max_bytes = kMaxDetailBytes);

// Per-phase timings of a connection-oriented probe; absent when the phase did
// not happen (no DNS for a literal address, no TLS for plain HTTP, ...).
struct Phases {
  std::optional<Duration> dns, connect, tls, ttfb, transfer;
};

// What an `llm` round measured (probes/llm.cc). Absent fields were not reached.
struct LlmFigures {
  LlmMode mode = LlmMode::models;
  // completion: from the request fully written to the first content token.
  std::optional<Duration> ttft;
  // From the request fully written to the end of the answer (the stream's end
  // marker in completion mode, the last body byte in models mode).
  std::optional<Duration> total;
  int tokens = 0;                // completion: content pieces received
  bool stream_complete = false;  // completion: the flavour's end marker arrived
  // 429: the server's Retry-After (delta-seconds, or an HTTP-date less now).
  std::optional<Duration> retry_after;
  std::optional<bool> model_listed;  // models: whether the list names the model
  // Bytes of the response body received. A stream_stall with none is the
  // path's failure (nothing came back); with some, the endpoint's.
  std::uint64_t stream_bytes = 0;
};

struct ProbeResult {
  std::string line;
  std::string target;
  ProbeKind kind = ProbeKind::icmp;
  WallTime time{};  // when the round started
  bool ok = false;
  Reason reason = Reason::internal;
  std::string detail;  // human text for failures ("connect: Connection refused"); no secrets;
                       // printable UTF-8 when it quotes a server (printable_detail)

  // Headline latency: ICMP median, TCP connect, HTTP total, LLM time to first
  // token (completion) or the whole call (models, as HTTP). Absent when
  // nothing answered.
  std::optional<Duration> rtt;
  Duration duration{};  // how long the round took, answered or not

  // ICMP round figures (SmokePing-style). rtts has one slot per echo, empty when lost.
  int sent = 0;
  int received = 0;
  std::optional<Duration> rtt_min, rtt_median, rtt_avg, rtt_max, rtt_stddev;
  std::vector<std::optional<Duration>> rtts;

  // Connection phases (TCP: connect; HTTP: all).
  Phases phases;

  // HTTP only.
  int http_status = 0;
  std::optional<WallTime> cert_expiry;
  std::uint64_t body_bytes = 0;

  // LLM only (kind llm); http_status holds the API's status.
  std::optional<LlmFigures> llm;

  double loss() const { return sent > 0 ? 1.0 - static_cast<double>(received) / sent : 0.0; }
};

// Whether the failed round `r` counts against its line: a network reason, and
// for stream_stall only when no byte of the response body arrived. A
// successful round, an endpoint's answer (HTTP or LLM API error) and a local
// problem never do.
bool is_network_failure(const ProbeResult& r);

// Fills rtt_min/median/avg/max/stddev, received and rtt from `rtts`.
void summarise_echoes(ProbeResult& r);

}  // namespace linewatch
