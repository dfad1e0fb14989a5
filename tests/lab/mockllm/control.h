// Internal to mockllm: the test-only control endpoint's JSON and who may use
// it. Pure functions except same_namespace() (reads interface addresses);
// all thread-safe.
#pragma once

#include <Poco/Net/IPAddress.h>

#include <string>

#include "core/error.h"
#include "tests/lab/mockllm/server.h"

namespace linewatch::mockllm {

// Applies a /mock/config body to `current`. Keys, all optional:
//   "ttft_ms" (number >= 0), "token_interval_ms" (number >= 0),
//   "tokens" (integer >= 1), "status" (0, 429, 500 or 503),
//   "retry_after_s" (integer >= 0).
// Success: the new behaviour (validated). Failure: invalid_argument naming the
// key (unknown keys are rejected so a typo is not silently ignored); nothing
// is applied then.
Result<Behaviour> apply_config_json(const Behaviour& current, const std::string& body);

// The same keys, as the reply of GET and POST /mock/config.
std::string behaviour_json(const Behaviour& b);

// True for a loopback peer or one whose address is one of this network
// namespace's interface addresses (a client here connecting to, say, the far
// service address 198.19.255.1 comes from that address). A spoofed source
// from outside could pass; this is a test double, not a security boundary.
bool same_namespace(const Poco::Net::IPAddress& peer);

}  // namespace linewatch::mockllm
