// The per-probe figures behind linewatch_probe_* and linewatch_llm_ttft_seconds,
// kept in plain numbers rather than prometheus-cpp metrics.
//
// Why: with prometheus-cpp each of 10 000 probe series cost about 3.4 KB
// (each family keeps every metric's label map twice, a Histogram holds a
// Counter per bucket, the series kept its own label map), 34 MB in all,
// more than half the agent's budget. Here a series is one struct of about
// 500 bytes whose label values point into a pool shared by every series of
// the same line or target; the scrape writes the families from it
// (agent/metrics_probe_text.h) exactly as prometheus-cpp's metrics would
// read.
//
// Thread-safety: a ProbeSeries' figures are guarded by its `mu` (record()
// takes it; the writer takes it per series). The labels and `kind` are set
// while no round or scrape runs (construction, MetricsCollector's
// reconfigure under its exclusive lock). LabelPool is not thread-safe: it
// is changed only there too.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "core/probe_result.h"

namespace linewatch {

// Phases of probe_phase_seconds, in Phases' order, then the LLM's.
enum class ProbePhase : std::size_t { dns, connect, tls, ttfb, transfer, ttft, total };
inline constexpr std::size_t kProbePhases = 7;
inline constexpr const char* kPhaseNames[kProbePhases] = {"dns",      "connect", "tls",  "ttfb",
                                                          "transfer", "ttft",    "total"};
inline constexpr std::size_t kReasons = static_cast<std::size_t>(kLastReason) + 1;

// The bounds of rtt_buckets() (exporters/metrics.h), whose size this must
// match: ProbeSeries' constructor throws std::logic_error otherwise.
inline constexpr std::size_t kSeriesBuckets = 17;

// A histogram over rtt_buckets() as prometheus::Histogram keeps it: a value
// goes to the first bucket whose bound is >= it (else +Inf), the sum adds
// it as given.
struct SeriesHistogram {
  std::array<std::uint64_t, kSeriesBuckets + 1> counts{};  // per bucket, the last +Inf
  double sum = 0;

  void observe(double value);
};

// One line × target × kind.
struct ProbeSeries {
  // `line` and `target` must outlive the series (a LabelPool's). Throws
  // std::logic_error when rtt_buckets() does not have kSeriesBuckets bounds.
  ProbeSeries(const std::string* line, const std::string* target, ProbeKind kind, bool ttft);

  const std::string* line;
  const std::string* target;
  const ProbeKind kind;

  mutable std::mutex mu;  // one round at a time per series; guards the rest
  // results_total by reason; a reason is exposed once seen (ok from the start).
  std::uint32_t reasons_seen = 1u << static_cast<unsigned>(Reason::ok);
  std::array<std::uint64_t, kReasons> results{};
  // phase_seconds: a phase is exposed once a round reached it.
  std::uint8_t phases_seen = 0;
  std::array<double, kProbePhases> phases{};
  double success = 0;
  double loss = 0;
  double jitter = 0;               // seconds, RFC 3550 estimate
  std::optional<double> last_rtt;  // seconds, for the jitter
  std::uint64_t echoes_sent = 0;   // icmp only
  std::uint64_t echoes_lost = 0;   // icmp only
  SeriesHistogram rtt;
  std::unique_ptr<SeriesHistogram> ttft;  // llm completion only

  bool echoes() const { return kind == ProbeKind::icmp; }
  bool reason_seen(std::size_t r) const { return reasons_seen >> r & 1u; }
  bool phase_seen(std::size_t p) const { return phases_seen >> p & 1u; }
};

// Adds one round to `s` (takes s.mu): the reason's counter, success, loss,
// every RTT (each echo for icmp) to the histogram and the jitter, the echo
// counters, the phases reached and the TTFT.
void record(ProbeSeries& s, const ProbeResult& r);

// Label values shared by the series: one string per distinct line or target
// id. Pointers stay valid while the pool lives (node-based set).
class LabelPool {
 public:
  const std::string* intern(std::string_view value);
  std::size_t size() const { return values_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_set<std::string, Hash, std::equal_to<>> values_;
};

// A series' identity, viewing the pool's strings (or a result's, for a lookup).
struct SeriesKey {
  std::string_view line;
  std::string_view target;
  ProbeKind kind;
  bool operator==(const SeriesKey&) const = default;
};

struct SeriesKeyHash {
  std::size_t operator()(const SeriesKey& k) const;
};

}  // namespace linewatch
