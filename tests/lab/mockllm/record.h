// mockllm's timing record of one completion request: when the request
// arrived and when the reply's headers and first content byte were written,
// on both clocks, so a benchmark can set a client's time to first token
// against the server's own (see README.md, "Timing records").
//
// Plain values; the functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.h"
#include "tests/lab/mockllm/behaviour.h"

namespace linewatch::mockllm {

// One instant on both clocks. `mono` is std::chrono::steady_clock, which is
// CLOCK_MONOTONIC on Linux: comparable with any process on the same host,
// network namespaces included.
struct Stamp {
  MonoTime mono;
  WallTime wall;
};
Stamp stamp_now();

// How a completion reply ended.
enum class End {
  done,           // complete, with the flavour's end marker (or a whole JSON reply)
  no_end_marker,  // complete but for the end marker (omit_end_marker)
  stalled,        // stall_before_headers / stall_after_tokens: held until the client left
  error_event,    // error_after_tokens: the flavour's error event ended the stream
  client_gone,    // the client hung up before the reply was complete
  stopping,       // the server stopped mid-reply
  refused,        // an error status (auth, forced status, bad request, unknown model)
};
std::string_view to_string(End e);

struct Record {
  std::uint64_t seq = 0;  // 1, 2, ... in the order records were finished
  std::string id;         // the reply id ("chatcmpl-mockN", "msg_mockN", "mockN"); "" if refused
  Flavour flavour = Flavour::openai;
  std::string model;  // as asked ("" if the body was not read)
  bool stream = false;
  int status = 0;  // the HTTP status sent; 0 when nothing was sent (a stall before headers)
  Stamp received;  // the request head had been read (the handler started)
  std::optional<Stamp> headers;        // just before the status line and headers were written
  std::optional<Stamp> first_content;  // just before the first content byte was written
  int tokens = 0;                      // content tokens written
  End end = End::refused;
};

// One JSON object on one line (no newline): {"record":"completion","seq":..,
// ...} with times as integer nanoseconds "<name>_unix_ns" / "<name>_mono_ns"
// (null when the instant was not reached) and "ttft_ms" = first_content -
// received on the monotonic clock (null without content).
std::string record_json(const Record& r);

}  // namespace linewatch::mockllm
