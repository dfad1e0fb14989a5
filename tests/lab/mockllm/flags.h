// Internal to mockllm's main: the command line. Every knob flag applies to
// all three flavours; the models can also be given per flavour. Per-flavour
// knobs beyond that are set at run time through /mock/config.
//
// Not thread-safe (one parse at start-up).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/lab/mockllm/server.h"

namespace linewatch::mockllm {

// The flags as given, before they are checked and turned into Options.
struct Flags {
  Options options;  // listeners and TLS files are parsed straight into it
  std::vector<std::string> keys;
  std::string key_file;
  std::vector<std::string> models, openai_models, anthropic_models, gemini_models;
  std::string ttft = "200ms", token_interval = "20ms", keepalive = "0s";
  Behaviour knobs;  // the flags that need no conversion
  int retry_after_s = 1;
};

// Declares the flags on `app`, writing into `flags` when it parses.
void add_flags(CLI::App& app, Flags& flags);

// Success: the server's options. Failure: invalid_argument or io naming the
// flag (a bad duration, an unreadable or empty --token-file, a knob out of
// range).
Result<Options> to_options(Flags flags);

}  // namespace linewatch::mockllm
