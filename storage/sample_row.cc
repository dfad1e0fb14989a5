#include "storage/sample_row.h"

#include <charconv>

namespace linewatch {

const char* const kSampleColumns =
    "kind, ts_ms, ok, reason, rtt_us, duration_us, sent, received, "
    "rtt_min_us, rtt_median_us, rtt_avg_us, rtt_max_us, rtt_stddev_us, "
    "dns_us, connect_us, tls_us, ttfb_us, transfer_us, "
    "http_status, cert_expiry_ms, body_bytes, detail, rtts, id, echoes";
// Readers order ties by `id`; the store's writer gives it from its own
// sequence (schema v7, writer.cc). Writers leave
// `rtts` NULL too: per-echo RTTs go to `echoes` since schema v6.

const char* const kLlmColumns =
    "sample_id, mode, ttft_us, total_us, tokens, stream_complete, retry_after_us, "
    "model_listed, stream_bytes";

namespace {

std::optional<std::int64_t> us(const std::optional<Duration>& d) {
  if (!d) return std::nullopt;
  return to_us(*d);
}

std::optional<Duration> dur(const Stmt& st, int col) {
  auto v = st.column_opt(col);
  if (!v) return std::nullopt;
  return std::chrono::microseconds(*v);
}

}  // namespace

void bind_sample(Stmt& st, int i, const ProbeResult& r, std::optional<std::int64_t> id) {
  st.bind(i++, static_cast<std::int64_t>(r.kind));
  st.bind(i++, static_cast<std::int64_t>(unix_ms(r.time)));
  st.bind(i++, std::int64_t{r.ok ? 1 : 0});
  st.bind(i++, static_cast<std::int64_t>(r.reason));
  st.bind(i++, us(r.rtt));
  st.bind(i++, static_cast<std::int64_t>(to_us(r.duration)));
  st.bind(i++, std::int64_t{r.sent});
  st.bind(i++, std::int64_t{r.received});
  for (const auto* d : {&r.rtt_min, &r.rtt_median, &r.rtt_avg, &r.rtt_max, &r.rtt_stddev})
    st.bind(i++, us(*d));
  const Phases& p = r.phases;
  for (const auto* d : {&p.dns, &p.connect, &p.tls, &p.ttfb, &p.transfer}) st.bind(i++, us(*d));
  st.bind(i++, std::int64_t{r.http_status});
  if (r.cert_expiry)
    st.bind(i++, static_cast<std::int64_t>(unix_ms(*r.cert_expiry)));
  else
    st.bind_null(i++);
  st.bind(i++, static_cast<std::int64_t>(r.body_bytes));
  if (r.detail.empty())
    st.bind_null(i++);
  else
    st.bind(i++, std::string_view(r.detail));
  st.bind_null(i++);  // rtts: rows before v6 only
  st.bind(i++, id);
  if (r.rtts.empty())
    st.bind_null(i++);
  else
    st.bind_blob(i++, encode_echoes(r.rtts));
}

Result<ProbeResult> read_sample(const Stmt& st, int i, std::string_view where) {
  auto corrupt = [&](std::string_view what) {
    return io_error(std::string(where) + ": corrupt sample row " +
                    std::to_string(st.column_int(i + 23)) + ": " + std::string(what));
  };
  ProbeResult r;
  const auto kind = st.column_int(i);
  if (kind < 0 || kind >= static_cast<std::int64_t>(std::size(kAllProbeKinds)))
    return corrupt("kind " + std::to_string(kind));
  r.kind = static_cast<ProbeKind>(kind);
  r.time = WallTime(std::chrono::milliseconds(st.column_int(i + 1)));
  r.ok = st.column_int(i + 2) != 0;
  const auto reason = st.column_int(i + 3);
  if (reason < 0 || reason > static_cast<std::int64_t>(kLastReason))
    return corrupt("reason " + std::to_string(reason));
  r.reason = static_cast<Reason>(reason);
  r.rtt = dur(st, i + 4);
  r.duration = std::chrono::microseconds(st.column_int(i + 5));
  r.sent = static_cast<int>(st.column_int(i + 6));
  r.received = static_cast<int>(st.column_int(i + 7));
  int c = i + 8;
  for (auto* d : {&r.rtt_min, &r.rtt_median, &r.rtt_avg, &r.rtt_max, &r.rtt_stddev})
    *d = dur(st, c++);
  Phases& p = r.phases;
  for (auto* d : {&p.dns, &p.connect, &p.tls, &p.ttfb, &p.transfer}) *d = dur(st, c++);
  r.http_status = static_cast<int>(st.column_int(i + 18));
  if (auto ms = st.column_opt(i + 19)) r.cert_expiry = WallTime(std::chrono::milliseconds(*ms));
  r.body_bytes = static_cast<std::uint64_t>(st.column_int(i + 20));
  r.detail = st.column_text(i + 21);
  if (!st.is_null(i + 24)) {
    auto echoes = decode_echoes(st.column_blob(i + 24));
    if (!echoes)
      return corrupt("echoes of " + std::to_string(st.column_blob(i + 24).size()) + " bytes");
    r.rtts = std::move(*echoes);
  } else if (!st.is_null(i + 22)) {
    auto rtts = decode_rtts(st.column_text(i + 22));
    if (!rtts) return corrupt("rtts " + st.column_text(i + 22));
    r.rtts = std::move(*rtts);
  }
  return r;
}

void bind_llm(Stmt& st, int i, std::int64_t sample_id, const LlmFigures& f) {
  st.bind(i++, sample_id);
  st.bind(i++, static_cast<std::int64_t>(f.mode));
  st.bind(i++, us(f.ttft));
  st.bind(i++, us(f.total));
  st.bind(i++, std::int64_t{f.tokens});
  st.bind(i++, std::int64_t{f.stream_complete ? 1 : 0});
  st.bind(i++, us(f.retry_after));
  if (f.model_listed)
    st.bind(i++, std::int64_t{*f.model_listed ? 1 : 0});
  else
    st.bind_null(i++);
  st.bind(i++, static_cast<std::int64_t>(f.stream_bytes));
}

Result<std::optional<LlmFigures>> read_llm(const Stmt& st, int i, std::string_view where) {
  if (st.is_null(i)) return std::optional<LlmFigures>();  // no llm_samples row
  LlmFigures f;
  const auto mode = st.column_int(i + 1);
  if (mode != static_cast<std::int64_t>(LlmMode::models) &&
      mode != static_cast<std::int64_t>(LlmMode::completion))
    return io_error(std::string(where) + ": corrupt llm row " + std::to_string(st.column_int(i)) +
                    ": mode " + std::to_string(mode));
  f.mode = static_cast<LlmMode>(mode);
  f.ttft = dur(st, i + 2);
  f.total = dur(st, i + 3);
  f.tokens = static_cast<int>(st.column_int(i + 4));
  f.stream_complete = st.column_int(i + 5) != 0;
  f.retry_after = dur(st, i + 6);
  if (auto listed = st.column_opt(i + 7)) f.model_listed = *listed != 0;
  f.stream_bytes = static_cast<std::uint64_t>(st.column_int(i + 8));
  return std::optional<LlmFigures>(f);
}

namespace {

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

// Consumes one varint from the front of `in`; nullopt when it is cut short or
// longer than a uint64 can need.
std::optional<std::uint64_t> take_varint(std::string_view& in) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    const std::uint64_t bits = byte & 0x7f;
    if (shift == 63 && bits > 1) return std::nullopt;  // past 64 bits
    v |= bits << shift;
    if (!(byte & 0x80)) return v;
  }
  return std::nullopt;
}

std::uint64_t zigzag(std::uint64_t delta) {
  return (delta << 1) ^ (0 - (delta >> 63));  // the sign bit spread over every bit
}
std::uint64_t unzigzag(std::uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }

}  // namespace

std::string encode_echoes(const std::vector<std::optional<Duration>>& rtts) {
  if (rtts.empty()) return {};
  std::string out;
  put_varint(out, rtts.size());
  const std::size_t flags_at = out.size();
  out.append((rtts.size() + 7) / 8, '\0');
  std::uint64_t prev = 0;
  for (std::size_t i = 0; i < rtts.size(); ++i) {
    if (!rtts[i]) {
      out[flags_at + i / 8] = static_cast<char>(out[flags_at + i / 8] | (1 << (i % 8)));
      continue;
    }
    const auto us = static_cast<std::uint64_t>(to_us(*rtts[i]));
    put_varint(out, zigzag(us - prev));
    prev = us;
  }
  return out;
}

std::optional<std::vector<std::optional<Duration>>> decode_echoes(std::string_view in) {
  const auto n = take_varint(in);
  // Every echo takes at least a flag bit, so n cannot exceed 8 bits a byte left.
  if (!n || *n == 0 || *n / 8 > in.size()) return std::nullopt;
  const std::size_t flag_bytes = static_cast<std::size_t>((*n + 7) / 8);
  if (flag_bytes > in.size()) return std::nullopt;
  const std::string_view flags = in.substr(0, flag_bytes);
  in.remove_prefix(flag_bytes);
  std::vector<std::optional<Duration>> out;
  out.reserve(static_cast<std::size_t>(*n));
  std::uint64_t prev = 0;
  for (std::size_t i = 0; i < *n; ++i) {
    if (static_cast<std::uint8_t>(flags[i / 8]) & (1 << (i % 8))) {
      out.emplace_back(std::nullopt);
      continue;
    }
    const auto z = take_varint(in);
    if (!z) return std::nullopt;
    prev += unzigzag(*z);
    out.emplace_back(std::chrono::microseconds(static_cast<std::int64_t>(prev)));
  }
  // Unused flag bits set, or bytes left over: not something encode_echoes() wrote.
  if (*n % 8 != 0 && (static_cast<std::uint8_t>(flags.back()) >> (*n % 8)) != 0)
    return std::nullopt;
  if (!in.empty()) return std::nullopt;
  return out;
}

std::string encode_rtts(const std::vector<std::optional<Duration>>& rtts) {
  if (rtts.empty()) return {};
  std::string s = "[";
  for (const auto& e : rtts) {
    if (s.size() > 1) s += ',';
    s += e ? std::to_string(to_us(*e)) : "null";
  }
  s += ']';
  return s;
}

std::optional<std::vector<std::optional<Duration>>> decode_rtts(std::string_view t) {
  if (t.size() < 2 || t.front() != '[' || t.back() != ']') return std::nullopt;
  std::vector<std::optional<Duration>> out;
  t = t.substr(1, t.size() - 2);
  while (!t.empty()) {
    const auto comma = t.find(',');
    const auto item = t.substr(0, comma);
    if (item == "null") {
      out.emplace_back(std::nullopt);
    } else {
      long long v = 0;
      const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
      if (ec != std::errc() || end != item.data() + item.size() || item.empty())
        return std::nullopt;
      out.emplace_back(std::chrono::microseconds(v));
    }
    if (comma == std::string_view::npos) break;
    t.remove_prefix(comma + 1);
    if (t.empty()) return std::nullopt;  // trailing comma
  }
  return out;
}

}  // namespace linewatch
