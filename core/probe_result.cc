#include "core/probe_result.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace linewatch {
namespace {

constexpr std::array<std::string_view, 4> kKindNames = {"icmp", "tcp", "http", "llm"};
static_assert(kKindNames.size() == std::size(kAllProbeKinds), "one name per ProbeKind");
constexpr std::array<std::string_view, 17> kReasonNames = {
    "ok",           "timeout",       "refused",      "unreachable",   "dns",         "tls",
    "http_status",  "body_mismatch", "bind",         "internal",      "protocol",    "auth",
    "rate_limited", "server_error",  "bad_response", "model_missing", "stream_stall"};
static_assert(kReasonNames.size() == static_cast<std::size_t>(kLastReason) + 1,
              "one name per Reason");

template <class E, std::size_t N>
std::optional<E> lookup(const std::array<std::string_view, N>& names, std::string_view s) {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<E>(i);
  return std::nullopt;
}

// Length of the well-formed UTF-8 sequence at the start of `s` that encodes
// a printable character, or 0 (an invalid byte, or a control character).
std::size_t printable_char(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return c >= 0x20 && c != 0x7f ? 1 : 0;
  std::size_t n = 0;
  char32_t cp = 0;
  if (c >= 0xc2 && c <= 0xdf)
    n = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    n = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4, cp = c & 0x07;
  else
    return 0;  // a continuation byte, an overlong lead (c0, c1) or beyond U+10FFFF
  if (s.size() < n) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3f);
  }
  const char32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  if (cp >= 0x80 && cp <= 0x9f) return 0;  // C1 controls
  return n;
}

}  // namespace

std::string printable_detail(std::string_view text, std::size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  std::size_t cut = 0;  // out's length at the last character after which "..." still fits
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = printable_char(text.substr(i));
    char escaped[4];
    std::string_view piece;
    if (n > 0) {
      piece = text.substr(i, n);
    } else {
      const auto c = static_cast<unsigned char>(text[i]);
      escaped[0] = '\\', escaped[1] = 'x', escaped[2] = kHex[c >> 4], escaped[3] = kHex[c & 15];
      piece = std::string_view(escaped, 4);
      n = 1;
    }
    if (out.size() + piece.size() > max_bytes) {
      out.resize(cut);
      return out + "...";
    }
    out += piece;
    if (out.size() + 3 <= max_bytes) cut = out.size();
    i += n;
  }
  return out;
}

std::string_view to_string(ProbeKind k) { return kKindNames.at(static_cast<std::size_t>(k)); }
std::string_view to_string(Reason r) { return kReasonNames.at(static_cast<std::size_t>(r)); }
std::optional<ProbeKind> probe_kind_from_string(std::string_view s) {
  return lookup<ProbeKind>(kKindNames, s);
}
std::optional<Reason> reason_from_string(std::string_view s) {
  return lookup<Reason>(kReasonNames, s);
}

bool is_network_reason(Reason r) {
  switch (r) {
    case Reason::timeout:
    case Reason::refused:
    case Reason::unreachable:
    case Reason::dns:
    case Reason::tls:
    case Reason::stream_stall:
      return true;
    case Reason::ok:
    case Reason::http_status:
    case Reason::body_mismatch:
    case Reason::bind:
    case Reason::internal:
    case Reason::protocol:
    case Reason::auth:
    case Reason::rate_limited:
    case Reason::server_error:
    case Reason::bad_response:
    case Reason::model_missing:
      return false;
  }
  return false;
}

bool is_network_failure(const ProbeResult& r) {
  if (r.ok || !is_network_reason(r.reason)) return false;
  // Body bytes came back through the line before it went quiet: the
  // endpoint stopped sending, the path was carrying its answer.
  if (r.reason == Reason::stream_stall && r.llm && r.llm->stream_bytes > 0) return false;
  return true;
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
  for (auto d : got)
    var += (static_cast<double>(d.count()) - mean) * (static_cast<double>(d.count()) - mean);
  r.rtt_avg = Duration(static_cast<Duration::rep>(mean));
  r.rtt_stddev = Duration(static_cast<Duration::rep>(std::sqrt(var / static_cast<double>(n))));
  r.rtt = r.rtt_median;
}

}  // namespace linewatch
