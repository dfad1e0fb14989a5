// Loading and validating the YAML configuration into core/config.h's Config.
//
// Order: built-in defaults (core/config.h), then the `probes:` section's
// per-kind defaults, then each target's own settings; validation runs on the
// result. Unknown keys, duplicate keys, wrong types and bad values are errors,
// as are a second YAML document and merge keys (<<), which yaml-cpp 0.7 does
// not expand.
//
// Errors: every problem found is reported, one per line, sorted by position:
//   FILE:LINE:COL: field.path: message
// LINE and COL are 1-based and point at the key for key problems (unknown,
// duplicate) and at the value for bad values. YAML syntax errors read
// "FILE:LINE:COL: yaml: <parser message>"; a file that cannot be read,
// "FILE: cannot read: <errno text>", a directory "FILE: is a directory".
// FILE is the name as given by the caller. At most kMaxReportedErrors lines
// are printed, then "... and N more errors"; a value echoed in a message is
// cut to kMaxEchoChars characters and "…".
//
// agent.api_token_file is read at load: its trimmed content becomes
// AgentOptions::api_token; a file that cannot be read, is empty or holds
// fewer than kMinApiTokenBytes is an error at the key.
//
// Relative paths in the file (agent.data_dir, agent.api_token_file, http and llm tls.ca_file,
// gateways[].secret_file, llm.api_key_file) are resolved against the
// directory holding the config file, and stored absolute; tls.ca_file and
// secret_file must be readable when the config loads (a secret's content is
// never echoed), and a gateway's exec must be an absolute path to an
// executable file. llm API keys are checked apart, by check_llm_keys().
//
// The failover keys (liveness, health, scoring, routes, apply, gateways,
// lines[].liveness, lines[].counters) are read after lines and targets, which
// they refer to: reflectors must be targets with an icmp probe, route lines
// must be lines with a gateway. lines[].liveness is merged onto liveness:.
//
// Thread-safety: the functions keep no state; they may run concurrently.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/error.h"

namespace linewatch {

// Limits on what a config may hold, so that a mistaken or hostile file costs
// bounded memory, time and output, and no schedule arithmetic can overflow.
// docs/configuration.md states each one.
namespace config_limits {
inline constexpr std::size_t kMaxFileBytes = 4 << 20;  // checked before parsing
// YAML values (scalars, lists, maps; keys included), counted before any node
// is built; an alias counts again each time the loader reads it.
inline constexpr std::size_t kMaxValues = 500000;
inline constexpr std::size_t kMaxLines = 1000;
inline constexpr std::size_t kMaxTargets = 10000;
inline constexpr std::size_t kMaxProbeJobs = 100000;  // lines × probes
inline constexpr std::size_t kMaxRoutes = 1000;
inline constexpr std::size_t kMaxGateways = 64;
inline constexpr std::size_t kMaxAlertRules = 1000;  // alerts.rules
inline constexpr std::size_t kMaxReceivers = 64;     // notify
// Reflectors one line echoes (each costs one echo per liveness interval).
inline constexpr std::size_t kMaxReflectors = 16;
inline constexpr std::size_t kMaxReportedErrors = 50;
// agent.api_token_file: the shortest token taken (a guessable token guards nothing).
inline constexpr std::size_t kMinApiTokenBytes = 16;
inline constexpr std::size_t kMaxEchoChars = 64;
inline constexpr Duration kMaxInterval = std::chrono::hours(24);
inline constexpr Duration kMaxTimeout = std::chrono::hours(1);
inline constexpr Duration kMaxSpacing = std::chrono::minutes(1);
inline constexpr Duration kMaxRetention = std::chrono::hours(24 * 3650);
inline constexpr Duration kMaxFlushInterval = std::chrono::minutes(1);
}  // namespace config_limits

// Reads and validates the file at `path`. Success: a complete Config with
// source_path = path. Failure: io for a file that is missing, unreadable or a
// directory; invalid_argument for everything else (including a file above
// kMaxFileBytes); the message is formatted as above.
Result<Config> load_config_file(const std::string& path);

// As load_config_file, for text already in memory. `name` stands for the file
// in messages and is its location: relative paths resolve against name's
// directory (the current directory when name has none).
Result<Config> load_config_string(std::string_view yaml, const std::string& name);

// What the llm targets of a loaded config need from this host, which the
// loader leaves alone: `linewatch status -c` and `events -c` load the config
// too, as users who need not read the API keys. Each llm target's key must be
// readable as its rounds will read it (probes/llm_key.h: the variable set and
// not empty, the file readable and not empty). Warnings: a key file readable
// by group or others, and an http:// base_url that is not loopback (the key
// would cross the line unencrypted). Every message starts
// "SOURCE_PATH: targets[N].llm.KEY: " and names the variable or file, never
// the key. `linewatch check-config` and `run` refuse a config with errors and
// print (run: log) the warnings.
struct LlmKeyCheck {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};
LlmKeyCheck check_llm_keys(const Config& config);

// Probe jobs the scheduler will run: lines × (probe kinds summed over targets).
std::size_t job_count(const Config& config);

}  // namespace linewatch
