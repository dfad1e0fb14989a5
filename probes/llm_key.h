// The API key of an `llm` probe, read where LlmOptions says it lives: an
// environment variable (api_key_env) or a file (api_key_file).
//
// The probe reads it afresh for every round, so a rotated key file is picked
// up without a restart, and the key is never kept in the Config. The config
// check (linewatch check-config, run) calls the same reader, so "the key can
// be read" means the same thing at both places.
//
// Nothing here ever puts the key, or any part of it, into a message: errors
// name the variable or the file and say what is wrong with it.
//
// Thread-safe: the functions keep no state. getenv() is safe as long as no
// thread changes the environment, which the agent never does.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/llm_options.h"

namespace linewatch {

// A key file larger than this is not a key (a wrong path, a log file).
inline constexpr std::size_t kMaxApiKeyBytes = 16 * 1024;

// Reads the key. Surrounding white space (a trailing newline) is dropped.
// Success: the key, non-empty, of visible ASCII characters only (it goes into
// an HTTP header). Failure (Error; the message starts with the variable's or
// the file's name and never holds key bytes):
//   invalid_argument: the variable is not set, either source is empty, the
//     key holds spaces or control characters, the file is above
//     kMaxApiKeyBytes, neither source is configured;
//   io: the file cannot be opened or read, or is a directory.
Result<std::string> read_api_key(const LlmOptions& options);

// Whether the key file may be read by users other than its owner (group or
// others have any permission bit). False when the file cannot be examined.
bool api_key_file_shared(const std::string& path);

// `text` with every run of at least kRedactMinChars characters that also
// appears in `key` replaced by "[redacted]". For details that quote a server:
// a provider may echo the key it was sent, whole or in part. An empty key, or
// one shorter than kRedactMinChars, is looked for whole.
inline constexpr std::size_t kRedactMinChars = 8;
std::string redact_key(std::string_view text, std::string_view key);

}  // namespace linewatch
