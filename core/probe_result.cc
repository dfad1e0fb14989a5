#include "core/probe_result.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace linewatch {
namespace {

constexpr std::array<std::string_view, 3> kKindNames = {"icmp", "tcp", "http"};
constexpr std::array<std::string_view, 10> kReasonNames = {
    "ok",   "timeout",     "refused",       "unreachable", "dns",
    "tls",  "http_status", "body_mismatch", "bind",        "internal"};

template <class E, std::size_t N>
std::optional<E> lookup(const std::array<std::string_view, N>& names, std::string_view s) {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<E>(i);
  return std::nullopt;
}

}  // namespace

std::string_view to_string(ProbeKind k) { return kKindNames.at(static_cast<std::size_t>(k)); }
std::string_view to_string(Reason r) { return kReasonNames.at(static_cast<std::size_t>(r)); }
std::optional<ProbeKind> probe_kind_from_string(std::string_view s) {
  return lookup<ProbeKind>(kKindNames, s);
}
std::optional<Reason> reason_from_string(std::string_view s) {
  return lookup<Reason>(kReasonNames, s);
}

void summarise_echoes(ProbeResult& r) {
  std::vector<Duration> got;
  for (const auto& e : r.rtts)
    if (e) got.push_back(*e);
  r.sent = static_cast<int>(r.rtts.size());
  r.received = static_cast<int>(got.size());
  r.rtt_min = r.rtt_median = r.rtt_avg = r.rtt_max = r.rtt_stddev = r.rtt = std::nullopt;
  if (got.empty()) return;
  std::sort(got.begin(), got.end());
  const std::size_t n = got.size();
  r.rtt_min = got.front();
  r.rtt_max = got.back();
  // Median of an even count is the mean of the middle two, as SmokePing reports it.
  r.rtt_median = n % 2 ? got[n / 2] : (got[n / 2 - 1] + got[n / 2]) / 2;
  double sum = 0;
  for (auto d : got) sum += static_cast<double>(d.count());
  const double mean = sum / static_cast<double>(n);
  double var = 0;
  for (auto d : got) var += (static_cast<double>(d.count()) - mean) * (static_cast<double>(d.count()) - mean);
  r.rtt_avg = Duration(static_cast<Duration::rep>(mean));
  r.rtt_stddev = Duration(static_cast<Duration::rep>(std::sqrt(var / static_cast<double>(n))));
  r.rtt = r.rtt_median;
}

}  // namespace linewatch
