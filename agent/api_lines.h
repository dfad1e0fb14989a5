// The /api/v1/lines and /api/v1/targets documents: one row per line (its
// state, health, role, targets answering and traffic) and one per target
// (its address, kinds and lines), for the CLI's `lines` and the web page.
//
// Pure functions of snapshots the agent already publishes (the status
// board's, the bandwidth sampler's, the failover's) and of the Config; they
// take copies or const references and touch no live state. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/bandwidth_sampler.h"
#include "agent/failover_snapshot.h"
#include "core/config.h"
#include "rules/status_board.h"

namespace linewatch {

// What /api/v1/lines is built from. `config` must outlive the view.
struct LinesView {
  const Config* config = nullptr;            // lines[], targets[] and routes[]
  WallTime now{};                            // the document's "now"
  std::vector<SeriesSummary> series;         // StatusBoard::snapshot()
  std::vector<LineBandwidth> bandwidth;      // BandwidthSampler::snapshot()
  std::optional<FailoverSnapshot> failover;  // nullopt: no routes configured
};

// {"agent","now","lines":[{"line","state","health","score","role","targets",
// "targets_ok","rx_bps","tx_bps","utilisation","capacity_bps"}]}, one row per
// lines[] entry in config order (docs/api.md).
// state: with the failover watching the line, its state ("unknown" until
// liveness has evidence, "down" when down, else "up"); otherwise from the
// rounds: "unknown" before any round on the line, "down" when every target's
// latest round failed, "up" when at least one succeeded.
// health: "good" | "degraded" | "bad" from the failover; null without it.
// role: "primary" when the plan in force sends traffic through the line,
// "backup" when a route names it but sends nothing through it, null when no
// route names it or no plan is in force yet.
std::string lines_document(const LinesView& view);

// {"targets":[{"target","address","kinds":[...],"lines":[...]}]} in
// targets[] order. address: the first probe's host, or its URL without
// userinfo, query or fragment (never a secret). lines: every line, as every
// target is probed through every line.
std::string targets_document(const Config& config);

// `url` with its userinfo ("user:pass@"), query ("?key=...") and fragment
// removed; text that is no URL comes back unchanged up to any '?' or '#'.
std::string url_without_secrets(const std::string& url);

}  // namespace linewatch
