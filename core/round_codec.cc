#include "core/round_codec.h"

#include <optional>

namespace linewatch {

// A field added to ProbeResult, Phases or LlmFigures changes its size: add the
// field to encode_round and decode_round (and the round-trip test's random
// rounds), then the figure here. The sizes are those of 64-bit libstdc++.
#if defined(__GLIBCXX__) && __SIZEOF_POINTER__ == 8
static_assert(sizeof(ProbeResult) == 456, "a ProbeResult field the round codec does not keep");
static_assert(sizeof(Phases) == 80, "a Phases field the round codec does not keep");
static_assert(sizeof(LlmFigures) == 80, "an LlmFigures field the round codec does not keep");
#endif

namespace {

// The presence bitmask, commonest fields first so that an ICMP round's mask
// fits in two bytes. A bit set: the field is not its default and follows.
enum : std::uint32_t {
  kOk = 1u << 0,
  kRtt = 1u << 1,
  kSent = 1u << 2,
  kReceived = 1u << 3,
  kDuration = 1u << 4,
  kRtts = 1u << 5,      // rtts is not empty
  kRttsLost = 1u << 6,  // some echo of rtts is lost: a bitmap of answered ones follows
  kRttMin = 1u << 7,
  kRttMedian = 1u << 8,
  kRttAvg = 1u << 9,
  kRttMax = 1u << 10,
  kRttStddev = 1u << 11,
  kDetail = 1u << 12,
  kHttpStatus = 1u << 13,
  kBodyBytes = 1u << 14,
  kCertExpiry = 1u << 15,
  kDns = 1u << 16,
  kConnect = 1u << 17,
  kTls = 1u << 18,
  kTtfb = 1u << 19,
  kTransfer = 1u << 20,
  kLlm = 1u << 21,
};

// LlmFigures' own mask, one byte.
enum : std::uint8_t {
  kTtft = 1u << 0,
  kTotal = 1u << 1,
  kRetryAfter = 1u << 2,
  kModelListed = 1u << 3,    // model_listed has a value
  kModelIsListed = 1u << 4,  // and it is true
  kStreamComplete = 1u << 5,
  kTokens = 1u << 6,
  kStreamBytes = 1u << 7,
};

// Differences wrap in unsigned arithmetic, so every pair of values, however
// far apart, decodes exactly.
std::int64_t wrapping_sub(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}
std::int64_t wrapping_add(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(out) {}
  void u(std::uint64_t v) { put_varint(out_, v); }
  void s(std::int64_t v) { put_varint(out_, zigzag(v)); }
  void byte(std::uint8_t b) { out_.push_back(b); }
  // A duration as its difference from `ref`.
  void d(Duration v, std::int64_t ref = 0) { s(wrapping_sub(v.count(), ref)); }
  void opt(const std::optional<Duration>& v, std::int64_t ref = 0) {
    if (v) d(*v, ref);
  }
  void bytes(const std::string& text) {
    u(text.size());
    out_.insert(out_.end(), text.begin(), text.end());
  }

 private:
  std::vector<std::uint8_t>& out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && at_ == in_.size(); }
  std::size_t remaining() const { return in_.size() - at_; }

  std::uint64_t u() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = byte();
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    ok_ = false;  // longer than any varint of 64 bits
    return 0;
  }
  std::int64_t s() { return unzigzag(u()); }
  std::uint8_t byte() {
    if (at_ >= in_.size()) {
      ok_ = false;
      return 0;
    }
    return in_[at_++];
  }
  Duration d(std::int64_t ref = 0) { return Duration(wrapping_add(s(), ref)); }
  void opt(std::uint32_t mask, std::uint32_t bit, std::optional<Duration>& v,
           std::int64_t ref = 0) {
    v.reset();
    if (mask & bit) v = d(ref);
  }
  void bytes(std::string& text) {
    const std::uint64_t n = u();
    if (!ok_ || n > in_.size() - at_) {
      ok_ = false;
      return;
    }
    text.assign(in_.begin() + static_cast<std::ptrdiff_t>(at_),
                in_.begin() + static_cast<std::ptrdiff_t>(at_ + n));
    at_ += n;
  }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

std::uint32_t mask_of(const ProbeResult& r) {
  std::uint32_t m = 0;
  auto set = [&m](bool on, std::uint32_t bit) { m |= on ? bit : 0; };
  set(r.ok, kOk);
  set(r.rtt.has_value(), kRtt);
  set(r.sent != 0, kSent);
  set(r.received != 0, kReceived);
  set(r.duration != Duration::zero(), kDuration);
  set(!r.rtts.empty(), kRtts);
  for (const auto& v : r.rtts) set(!v, kRttsLost);
  set(r.rtt_min.has_value(), kRttMin);
  set(r.rtt_median.has_value(), kRttMedian);
  set(r.rtt_avg.has_value(), kRttAvg);
  set(r.rtt_max.has_value(), kRttMax);
  set(r.rtt_stddev.has_value(), kRttStddev);
  set(!r.detail.empty(), kDetail);
  set(r.http_status != 0, kHttpStatus);
  set(r.body_bytes != 0, kBodyBytes);
  set(r.cert_expiry.has_value(), kCertExpiry);
  set(r.phases.dns.has_value(), kDns);
  set(r.phases.connect.has_value(), kConnect);
  set(r.phases.tls.has_value(), kTls);
  set(r.phases.ttfb.has_value(), kTtfb);
  set(r.phases.transfer.has_value(), kTransfer);
  set(r.llm.has_value(), kLlm);
  return m;
}

void encode_echoes(const ProbeResult& r, std::uint32_t mask, std::int64_t ref, Writer& w) {
  w.u(r.rtts.size());
  if (mask & kRttsLost) {  // bit i of byte i / 8: echo i answered
    for (std::size_t i = 0; i < r.rtts.size(); i += 8) {
      std::uint8_t b = 0;
      for (std::size_t k = 0; k < 8 && i + k < r.rtts.size(); ++k)
        b |= r.rtts[i + k] ? static_cast<std::uint8_t>(1u << k) : 0;
      w.byte(b);
    }
  }
  std::int64_t prev = ref;  // each answered echo as its difference from the one before
  for (const auto& v : r.rtts) {
    if (!v) continue;
    w.d(*v, prev);
    prev = v->count();
  }
}

bool decode_echoes(Reader& in, std::uint32_t mask, std::int64_t ref, ProbeResult& r) {
  r.rtts.clear();
  if (!(mask & kRtts)) return true;
  const std::uint64_t n = in.u();
  // Each echo takes at least a bit of the bitmap or a byte: bounds the vector.
  if (!in.ok() || n == 0 || n > 8 * std::uint64_t{in.remaining()}) return false;
  r.rtts.resize(n);
  if (mask & kRttsLost) {
    for (std::uint64_t i = 0; i < n; i += 8) {
      const std::uint8_t b = in.byte();
      for (std::uint64_t k = 0; k < 8 && i + k < n; ++k)
        if (b & (1u << k)) r.rtts[i + k] = Duration::zero();
    }
  } else {
    for (auto& v : r.rtts) v = Duration::zero();
  }
  std::int64_t prev = ref;
  for (auto& v : r.rtts) {
    if (!v || !in.ok()) continue;
    v = in.d(prev);
    prev = v->count();
  }
  return in.ok();
}

void encode_llm(const LlmFigures& l, Writer& w) {
  std::uint8_t m = 0;
  m |= l.ttft ? kTtft : 0;
  m |= l.total ? kTotal : 0;
  m |= l.retry_after ? kRetryAfter : 0;
  m |= l.model_listed ? kModelListed : 0;
  m |= l.model_listed.value_or(false) ? kModelIsListed : 0;
  m |= l.stream_complete ? kStreamComplete : 0;
  m |= l.tokens != 0 ? kTokens : 0;
  m |= l.stream_bytes != 0 ? kStreamBytes : 0;
  w.byte(m);
  w.byte(static_cast<std::uint8_t>(l.mode));
  w.opt(l.ttft);
  w.opt(l.total);
  w.opt(l.retry_after);
  if (m & kTokens) w.s(l.tokens);
  if (m & kStreamBytes) w.u(l.stream_bytes);
}

void decode_llm(Reader& in, LlmFigures& l) {
  const std::uint8_t m = in.byte();
  l.mode = static_cast<LlmMode>(in.byte());
  in.opt(m, kTtft, l.ttft);
  in.opt(m, kTotal, l.total);
  in.opt(m, kRetryAfter, l.retry_after);
  l.model_listed.reset();
  if (m & kModelListed) l.model_listed = (m & kModelIsListed) != 0;
  l.stream_complete = m & kStreamComplete;
  l.tokens = m & kTokens ? static_cast<int>(in.s()) : 0;
  l.stream_bytes = m & kStreamBytes ? in.u() : 0;
}

}  // namespace

void encode_round(const ProbeResult& r, std::vector<std::uint8_t>& out) {
  Writer w(out);
  const std::uint32_t mask = mask_of(r);
  w.u(mask);
  w.byte(static_cast<std::uint8_t>(r.kind));
  w.byte(static_cast<std::uint8_t>(r.reason));
  w.s(r.time.time_since_epoch().count());
  if (mask & kDuration) w.d(r.duration);
  if (mask & kSent) w.s(r.sent);
  if (mask & kReceived) w.s(r.received);
  w.opt(r.rtt);
  // The ICMP figures lie close to the headline RTT (the median), so each is
  // kept as its difference from it; the spread is small on its own.
  const std::int64_t ref = r.rtt ? r.rtt->count() : 0;
  w.opt(r.rtt_min, ref);
  w.opt(r.rtt_median, ref);
  w.opt(r.rtt_avg, ref);
  w.opt(r.rtt_max, ref);
  w.opt(r.rtt_stddev);
  if (mask & kRtts) encode_echoes(r, mask, ref, w);
  if (mask & kDetail) w.bytes(r.detail);
  if (mask & kHttpStatus) w.s(r.http_status);
  if (mask & kBodyBytes) w.u(r.body_bytes);
  if (r.cert_expiry) w.s(r.cert_expiry->time_since_epoch().count());
  w.opt(r.phases.dns);
  w.opt(r.phases.connect);
  w.opt(r.phases.tls);
  w.opt(r.phases.ttfb);
  w.opt(r.phases.transfer);
  if (r.llm) encode_llm(*r.llm, w);
}

bool decode_round(std::span<const std::uint8_t> bytes, ProbeResult& r) {
  Reader in(bytes);
  const std::uint64_t wide = in.u();
  if (wide > 0xffffffffu) return false;
  const auto mask = static_cast<std::uint32_t>(wide);
  r.kind = static_cast<ProbeKind>(in.byte());
  r.reason = static_cast<Reason>(in.byte());
  r.time = WallTime(WallTime::duration(in.s()));
  r.ok = mask & kOk;
  r.duration = mask & kDuration ? in.d() : Duration::zero();
  r.sent = mask & kSent ? static_cast<int>(in.s()) : 0;
  r.received = mask & kReceived ? static_cast<int>(in.s()) : 0;
  in.opt(mask, kRtt, r.rtt);
  const std::int64_t ref = r.rtt ? r.rtt->count() : 0;
  in.opt(mask, kRttMin, r.rtt_min, ref);
  in.opt(mask, kRttMedian, r.rtt_median, ref);
  in.opt(mask, kRttAvg, r.rtt_avg, ref);
  in.opt(mask, kRttMax, r.rtt_max, ref);
  in.opt(mask, kRttStddev, r.rtt_stddev);
  if (!decode_echoes(in, mask, ref, r)) return false;
  r.detail.clear();
  if (mask & kDetail) in.bytes(r.detail);
  r.http_status = mask & kHttpStatus ? static_cast<int>(in.s()) : 0;
  r.body_bytes = mask & kBodyBytes ? in.u() : 0;
  r.cert_expiry.reset();
  if (mask & kCertExpiry) r.cert_expiry = WallTime(WallTime::duration(in.s()));
  in.opt(mask, kDns, r.phases.dns);
  in.opt(mask, kConnect, r.phases.connect);
  in.opt(mask, kTls, r.phases.tls);
  in.opt(mask, kTtfb, r.phases.ttfb);
  in.opt(mask, kTransfer, r.phases.transfer);
  r.llm.reset();
  if (mask & kLlm) decode_llm(in, r.llm.emplace());
  return in.done();
}

}  // namespace linewatch
