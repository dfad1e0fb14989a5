#include "exporters/plan_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "exporters/plan_codec.h"

namespace linewatch {

namespace {

using Digest = std::array<unsigned char, 32>;
constexpr std::string_view kScheme = "sha256=";

Digest hmac_sha256(std::string_view key, std::string_view message) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &len);
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Digest> parse_signature(std::string_view header) {
  if (header.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  std::string_view hex = header.substr(kScheme.size());
  if (hex.size() != 64) return std::nullopt;
  Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return d;
}

std::optional<long long> parse_unix_ms(std::string_view header) {
  long long v = 0;
  if (header.empty() || header.front() < '0' || header.front() > '9') return std::nullopt;
  auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), v);
  if (ec != std::errc() || end != header.data() + header.size()) return std::nullopt;
  return v;
}

PushVerdict reject(PushRejection r, std::string detail) {
  return {std::nullopt, r, std::move(detail)};
}

}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : hmac_sha256(key, message)) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

SignedPlan sign_plan(const RoutePlan& plan, std::string_view key, WallTime now) {
  SignedPlan s;
  s.body = encode_plan(plan);
  s.timestamp = std::to_string(unix_ms(now));
  s.signature = std::string(kScheme) + hmac_sha256_hex(key, s.timestamp + "." + s.body);
  return s;
}

std::string_view to_string(PushRejection r) {
  switch (r) {
    case PushRejection::missing_signature:
      return "missing_signature";
    case PushRejection::missing_timestamp:
      return "missing_timestamp";
    case PushRejection::malformed_signature:
      return "malformed_signature";
    case PushRejection::malformed_timestamp:
      return "malformed_timestamp";
    case PushRejection::bad_signature:
      return "bad_signature";
    case PushRejection::stale_timestamp:
      return "stale_timestamp";
    case PushRejection::malformed_plan:
      return "malformed_plan";
    case PushRejection::stale_version:
      return "stale_version";
  }
  return "unknown";
}

PlanVerifier::PlanVerifier(const Clock& clock, std::string key, std::uint64_t last_applied,
                           Duration freshness)
    : clock_(clock), key_(std::move(key)), last_applied_(last_applied), freshness_(freshness) {}

PushVerdict PlanVerifier::verify(std::optional<std::string_view> signature,
                                 std::optional<std::string_view> timestamp,
                                 std::string_view body) const {
  if (!signature)
    return reject(PushRejection::missing_signature, "no X-Linewatch-Signature header");
  if (!timestamp)
    return reject(PushRejection::missing_timestamp, "no X-Linewatch-Timestamp header");
  auto mac = parse_signature(*signature);
  if (!mac) {
    return reject(PushRejection::malformed_signature,
                  "X-Linewatch-Signature must be \"sha256=\" and 64 hex digits");
  }
  auto stamp_ms = parse_unix_ms(*timestamp);
  if (!stamp_ms) {
    return reject(PushRejection::malformed_timestamp,
                  "X-Linewatch-Timestamp must be unix milliseconds in decimal digits");
  }
  if (key_.empty()) {
    return reject(PushRejection::bad_signature, "no gateway secret is configured: refusing pushes");
  }
  std::string signed_text = std::string(*timestamp) + "." + std::string(body);
  Digest expected = hmac_sha256(key_, signed_text);
  if (CRYPTO_memcmp(expected.data(), mac->data(), expected.size()) != 0) {
    return reject(PushRejection::bad_signature,
                  "signature does not match the body and timestamp (wrong key or altered push)");
  }
  const long long skew_ms = unix_ms(clock_.wall_now()) - *stamp_ms;
  const long long allowed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(freshness_).count();
  if (skew_ms > allowed_ms || skew_ms < -allowed_ms) {
    char text[128];
    std::snprintf(text, sizeof text,
                  "timestamp is %.3fs in the %s of this gateway's clock "
                  "(allowed +-%.3fs)",
                  std::llabs(skew_ms) / 1000.0, skew_ms > 0 ? "past" : "future",
                  allowed_ms / 1000.0);
    return reject(PushRejection::stale_timestamp, text);
  }
  auto plan = decode_plan(body);
  if (!plan) return reject(PushRejection::malformed_plan, plan.error().message);
  if (plan->version <= last_applied_) {
    return reject(PushRejection::stale_version,
                  "version " + std::to_string(plan->version) + " is not newer than " +
                      std::to_string(last_applied_) + ", the last applied");
  }
  return {std::move(*plan), PushRejection::bad_signature, ""};
}

void PlanVerifier::applied(std::uint64_t version) {
  if (version > last_applied_) last_applied_ = version;
}

}  // namespace linewatch
