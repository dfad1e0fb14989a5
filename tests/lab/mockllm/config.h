// Internal to mockllm: the JSON of /mock/config, the run-time knobs. Pure
// functions, thread-safe.
//
// A POST body is an object of knobs. Top-level knobs apply to every flavour;
// "openai", "anthropic" and "gemini" hold knobs for that flavour only, applied
// after the top-level ones; "reset": true first restores the start-up
// behaviours. Knobs (see behaviour.h for their meaning):
//   ttft_ms, token_interval_ms, keepalive_ms   number >= 0
//   tokens                                     integer >= 1
//   status                                     0, 403, 429, 500, 503 or 529
//   retry_after_s                              integer 0..86400
//   reject_status                              0 (the provider's own), 401 or 403
//   stall_after_tokens, error_after_tokens     integer, -1 = off
//   stall_before_headers, omit_end_marker, crlf, split_events   boolean
//   keys                                       array of strings ([] = no key needed)
//   models                                     non-empty array of strings
#pragma once

#include <string>

#include "core/error.h"
#include "tests/lab/mockllm/behaviour.h"

namespace linewatch::mockllm {

// Applies a POST body to `current` (`initial` is what "reset" restores).
// Success: the new behaviours, each validated. Failure: invalid_argument
// naming the key (unknown keys are rejected so a typo is not silently
// ignored); nothing is applied then.
Result<Behaviours> apply_config_json(const Behaviours& current, const Behaviours& initial,
                                     const std::string& body);

// The reply of GET and POST /mock/config: {"openai":{knobs},"anthropic":{..},
// "gemini":{..}} with every knob but "keys", shown as "key_count" so the
// keys themselves never leave the process.
std::string behaviours_json(const Behaviours& all);

}  // namespace linewatch::mockllm
