// Loading and validating the YAML configuration into core/config.h's Config.
//
// Order: built-in defaults (core/config.h), then the `probes:` section's
// per-kind defaults, then each target's own settings; validation runs on the
// result. Unknown keys, duplicate keys, wrong types and bad values are errors.
//
// Errors: every problem found is reported, one per line, sorted by position:
//   FILE:LINE:COL: field.path: message
// LINE and COL are 1-based and point at the key for key problems (unknown,
// duplicate) and at the value for bad values. YAML syntax errors read
// "FILE:LINE:COL: yaml: <parser message>"; a file that cannot be read,
// "FILE: cannot read: <errno text>". FILE is the name as given by the caller.
//
// Relative paths in the file (agent.data_dir, http tls.ca_file) are resolved
// against the directory holding the config file, and stored absolute.
//
// Thread-safety: the functions keep no state; they may run concurrently.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/error.h"

namespace linewatch {

// Reads and validates the file at `path`. Success: a complete Config with
// source_path = path. Failure: io for an unreadable file, invalid_argument
// for everything else; the message is formatted as above.
Result<Config> load_config_file(const std::string& path);

// As load_config_file, for text already in memory. `name` stands for the file
// in messages and is its location: relative paths resolve against name's
// directory (the current directory when name has none).
Result<Config> load_config_string(std::string_view yaml, const std::string& name);

// Probe jobs the scheduler will run: lines × (probe kinds summed over targets).
std::size_t job_count(const Config& config);

}  // namespace linewatch
