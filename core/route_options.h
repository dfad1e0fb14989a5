// Options for scoring lines, the routes they carry and the gateways that
// receive route plans. Plain value types with in-class defaults; the config
// loader fills them from the `scoring:`, `routes:` and `gateways:` keys.
//
// No thread-safety concerns of their own: copy them into their owner.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace linewatch {

// scoring.weights: how much each part of a line's score counts. Any
// non-negative values with a positive sum; they are divided by their sum, so
// {2, 1, 1} means the same as {0.5, 0.25, 0.25}.
struct ScoringWeights {
  double latency = 0.4;    // Default: 0.4. RTT median against the best line's.
  double load = 0.3;       // Default: 0.3. Unused share of the line's capacity.
  double bandwidth = 0.3;  // Default: 0.3. Headroom in bits/s against the roomiest line.
  bool operator==(const ScoringWeights&) const = default;
};

// scoring: weights plus the variance band that keeps the preferred line from
// moving on noise.
struct ScoringOptions {
  ScoringWeights weights;
  // scoring.margin: a line must beat the preferred one by more than this
  // fraction of the preferred line's score before it may take its place.
  // Default: 0.10 (10 %).
  double margin = 0.10;
  // scoring.margin_for: ... and must keep beating it by that margin without a
  // break for this long. Default: 30s.
  Duration margin_for = std::chrono::seconds(30);
  bool operator==(const ScoringOptions&) const = default;
};

// routes[]: one prefix and the lines that may carry it.
struct RouteSpec {
  enum class Policy {
    primary_backup,  // "primary-backup": all traffic on the best line that takes traffic
    weighted,        // "weighted": spread over every line that takes traffic, by score
  };
  std::string prefix;                      // routes[].prefix, e.g. "198.19.255.0/24"
  Policy policy = Policy::primary_backup;  // routes[].policy. Default: primary-backup.
  std::vector<std::string> lines;          // routes[].lines: line ids; order breaks score ties
  bool operator==(const RouteSpec&) const = default;
};

// The config spelling of a policy ("primary-backup", "weighted").
inline std::string_view to_string(RouteSpec::Policy p) {
  return p == RouteSpec::Policy::weighted ? "weighted" : "primary-backup";
}
// nullopt for any other spelling.
inline std::optional<RouteSpec::Policy> route_policy_from_string(std::string_view s) {
  if (s == "primary-backup") return RouteSpec::Policy::primary_backup;
  if (s == "weighted") return RouteSpec::Policy::weighted;
  return std::nullopt;
}

// gateways[]: where route plans are pushed. Exactly one of url and exec is set.
struct GatewaySpec {
  std::string id;           // gateways[].id, names the gateway in events and metrics
  std::string url;          // gateways[].url: signed HTTP POST of the plan (docs/route-push.md)
  std::string secret_file;  // gateways[].secret_file: the HMAC key; its content is never logged
  std::string exec;         // gateways[].exec: a command that gets the plan JSON on stdin
  // gateways[].ca_file: PEM certificates that an https gateway's certificate
  // must chain to, instead of the system's store; "" = the system's store.
  std::string ca_file;
  // gateways[].timeout: a push that takes longer counts as failed. Default: 2s.
  Duration timeout = std::chrono::seconds(2);
  bool operator==(const GatewaySpec&) const = default;
};

}  // namespace linewatch
