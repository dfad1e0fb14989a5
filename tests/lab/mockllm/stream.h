// Internal to mockllm: a streamed completion on the wire. SseStream frames
// server-sent events (LF or CRLF, keep-alive comments, events split across
// writes); stream_reply() paces one reply's events as the Behaviour says.
//
// Each write is flushed as its own HTTP chunk and so its own send(): with
// TCP_NODELAY on the socket it leaves at once.
// Thread-safety: both belong to one request thread.
#pragma once

#include <ostream>
#include <string_view>

#include "core/time.h"
#include "tests/lab/mockllm/dialect.h"
#include "tests/lab/mockllm/pace.h"
#include "tests/lab/mockllm/record.h"

namespace linewatch::mockllm {

// The pause between the pieces of a split event, so they tend to reach the
// client as separate reads too (they are separate writes regardless).
inline constexpr Duration kSplitGap = std::chrono::milliseconds(2);

class SseStream {
 public:
  // `out` is the response body (already sent headers); `out` and `pacer`
  // must outlive the stream. Framing comes from b.crlf, b.split_events and
  // b.keepalive.
  SseStream(std::ostream& out, const Pacer& pacer, const Behaviour& b);

  // Waits until `until`, writing ": keep-alive" (a comment line and a blank
  // line) whenever nothing was written for the keepalive period.
  // Wake::due on time, else why it stopped early (a failed write: client_gone).
  Wake wait_until(MonoTime until);

  // Writes "event: NAME" (when named) and "data: DATA", each ended by the
  // line end, then a blank line. Split: three writes, cut after the first
  // 3 bytes (inside the field name) and after the first line end's first
  // byte (so with CRLF the CR and the LF arrive apart), kSplitGap apart.
  // Wake::due when written; client_gone when a write failed.
  Wake send(const Event& e);

 private:
  bool write(std::string_view bytes);

  std::ostream& out_;
  const Pacer& pacer_;
  const Duration keepalive_;
  const std::string_view eol_;
  const bool split_;
  MonoTime last_write_;
};

// Writes one streamed reply after its headers: r's head events at once,
// content token i at start + ttft + i * token_interval, then the end events;
// stall_after_tokens (checked first) and error_after_tokens cut it short,
// omit_end_marker drops the end marker. Fills rec.first_content and
// rec.tokens; returns how the reply ended. A stall holds until the client
// leaves, the server stops or kMaxStall passes, and returns End::stalled.
End stream_reply(SseStream& stream, const Dialect& d, const Reply& r, const Behaviour& b,
                 MonoTime start, Record& rec);

// What a wait or write that did not complete means for the reply.
End end_of(Wake w);

}  // namespace linewatch::mockllm
