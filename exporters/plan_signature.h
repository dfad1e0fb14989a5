// Signing and verifying pushed route plans (docs/route-push.md).
//
// A push is the plan JSON (exporters/plan_codec.h) as the HTTP body plus two
// headers:
//   X-Linewatch-Timestamp: <unix ms>                  e.g. 1800000000123
//   X-Linewatch-Signature: sha256=<64 lowercase hex>
// where the signature is HMAC-SHA256(key, "<timestamp>.<body>"). Binding the
// timestamp into the MAC stops an old body being replayed with a new stamp.
//
// The gateway side checks, in this order, and names the first failure with
// its own PushRejection code: headers present and well formed, signature
// right (constant-time compare), timestamp within the freshness window of its
// own clock, body a valid plan, version newer than the last applied one.
//
// Secrets: the key never appears in a message, and neither does the
// signature the verifier expected.
//
// hmac_sha256_hex() and sign_plan() are pure and thread-safe. PlanVerifier is
// single-threaded (one gateway handler owns it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.h"
#include "rules/plan.h"

namespace linewatch {

inline constexpr std::string_view kSignatureHeader = "X-Linewatch-Signature";
inline constexpr std::string_view kTimestampHeader = "X-Linewatch-Timestamp";

// HMAC-SHA256 of `message` under `key`, as 64 lowercase hex digits.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

// What a pusher sends: the body and the two header values.
struct SignedPlan {
  std::string body;       // encode_plan(plan)
  std::string timestamp;  // X-Linewatch-Timestamp value: unix ms of `now`
  std::string signature;  // X-Linewatch-Signature value: "sha256=<hex>"
};

// Encodes and signs `plan` at wall time `now`. The caller owns the key.
SignedPlan sign_plan(const RoutePlan& plan, std::string_view key, WallTime now);

// Why a push was refused. to_string() gives the stable reason code.
enum class PushRejection : std::uint8_t {
  missing_signature,    // no X-Linewatch-Signature header
  missing_timestamp,    // no X-Linewatch-Timestamp header
  malformed_signature,  // not "sha256=" + 64 hex digits
  malformed_timestamp,  // not a plain decimal unix ms
  bad_signature,        // the MAC does not match: wrong key, tampered body or stamp
  stale_timestamp,      // signed too far from our clock (old capture or clock skew)
  malformed_plan,       // correctly signed, but not a valid plan
  stale_version,        // version not newer than the last applied (replay or reorder)
};
std::string_view to_string(PushRejection r);

struct PushVerdict {
  std::optional<RoutePlan> plan;                           // the plan, when accepted
  PushRejection rejection = PushRejection::bad_signature;  // meaningful when !plan
  std::string detail;  // operator text: the figures, never a secret

  bool ok() const { return plan.has_value(); }
};

class PlanVerifier {
 public:
  // `key`: the shared secret; an empty key refuses every push (bad_signature).
  // `last_applied`: the version in force (0 when none). `freshness`: the
  // largest accepted |our wall clock - timestamp|. `clock` must outlive this.
  PlanVerifier(const Clock& clock, std::string key, std::uint64_t last_applied,
               Duration freshness = std::chrono::seconds(30));

  // Checks one push. Headers are nullopt when absent. Does not change state:
  // call applied() once the plan is in force.
  PushVerdict verify(std::optional<std::string_view> signature,
                     std::optional<std::string_view> timestamp, std::string_view body) const;

  // Records that `version` is now in force; lower versions never lower it.
  void applied(std::uint64_t version);
  std::uint64_t last_applied() const { return last_applied_; }

 private:
  const Clock& clock_;
  std::string key_;
  std::uint64_t last_applied_;
  Duration freshness_;
};

}  // namespace linewatch
