// The route plan as JSON, the form pushed to gateways (docs/route-push.md):
//
//   {"agent":"bj-gw-1","version":42,"time":"2027-01-15T08:00:00.123Z","panic":false,
//    "routes":[{"prefix":"198.19.255.0/24","nexthops":[
//      {"line":"cn2-gia-1","via":"198.18.1.2","dev":"eth1","weight":1}]}]}
//
// Encoding is deterministic (fixed key order, no spaces), so the same plan
// always gives the same bytes. Decoding is strict: every field present with
// its JSON type, no unknown keys, version an integer >= 0, time in exactly the
// form above, prefix an IPv4/IPv6 prefix with its host bits zero, via an IP
// literal ("" only with a dev), weight 1..255, at least one next hop per
// route. Signing and verifying are in exporters/plan_signature.h.
//
// All functions are pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/time.h"
#include "rules/plan.h"

namespace linewatch {

// The plan as one line of JSON. Never fails; the plan is written as given.
std::string encode_plan(const RoutePlan& plan);

// Success: the plan. Failure: invalid_argument naming the JSON path and the
// problem, e.g. "route plan: routes[0].nexthops[1].weight: must be an integer
// 1..255, got 300".
Result<RoutePlan> decode_plan(std::string_view json);

// RFC 3339 UTC with milliseconds, "2027-01-15T08:00:00.123Z" (truncated to ms).
std::string format_time_ms(WallTime t);

// Exactly the form format_time_ms() writes. Failure: invalid_argument.
Result<WallTime> parse_time_ms(std::string_view text);

// "a.b.c.d/n" or IPv6 "x::/n" with the bits after n zero. Failure:
// invalid_argument naming the text.
Status check_prefix(std::string_view prefix);

// An IPv4 or IPv6 literal. Failure: invalid_argument naming the text.
Status check_address(std::string_view address);

}  // namespace linewatch
