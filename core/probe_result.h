// ProbeResult: what one probe round through one line towards one target found.
// Plain value type; produced by probes/, consumed by storage/, rules/ and the API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace linewatch {

enum class ProbeKind : std::uint8_t { icmp, tcp, http };
inline constexpr ProbeKind kAllProbeKinds[] = {ProbeKind::icmp, ProbeKind::tcp, ProbeKind::http};

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
};
inline constexpr Reason kLastReason = Reason::protocol;

std::string_view to_string(ProbeKind k);
std::string_view to_string(Reason r);
std::optional<ProbeKind> probe_kind_from_string(std::string_view s);
std::optional<Reason> reason_from_string(std::string_view s);

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

struct ProbeResult {
  std::string line;
  std::string target;
  ProbeKind kind = ProbeKind::icmp;
  WallTime time{};  // when the round started
  bool ok = false;
  Reason reason = Reason::internal;
  std::string detail;  // human text for failures ("connect: Connection refused"); no secrets;
                       // printable UTF-8 when it quotes a server (printable_detail)

  // Headline latency: ICMP median, TCP connect, HTTP total. Absent when nothing answered.
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

  double loss() const { return sent > 0 ? 1.0 - static_cast<double>(received) / sent : 0.0; }
};

// Fills rtt_min/median/avg/max/stddev, received and rtt from `rtts`.
void summarise_echoes(ProbeResult& r);

}  // namespace linewatch
