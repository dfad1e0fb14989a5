// SseParser: Server-Sent Events (the WHATWG "text/event-stream" format) from
// a byte stream that arrives in arbitrary pieces.
//
// LLM APIs stream completions as SSE. Reads split events anywhere (inside a
// field name, between CR and LF, inside a UTF-8 character), one read may
// hold several events, and servers send `:` keep-alive comments. The parser
// keeps the unfinished line and event between feeds, so feeding a stream byte
// by byte yields exactly the events of feeding it whole.
//
// Rules kept from the spec: lines end in LF, CRLF or CR (a CR at the end of
// one feed may be followed by the LF of the next: that is one line end); a
// line starting with ':' is a comment; "field: value" drops one space after
// the colon; `data` lines join with LF; a blank line dispatches the event,
// and an event with no data line is not dispatched; an unknown field is
// ignored; an event not ended by a blank line before the stream ends is
// dropped (see finish()). A leading UTF-8 BOM is skipped.
//
// Bounded memory: a line (without its end) or an event's joined data longer
// than `max_event_bytes` fails the stream (a hostile server cannot make it
// buffer without end).
// Thread-safety: one parser per stream, used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace linewatch {

struct SseEvent {
  std::string event;  // the `event:` name; "" when none was given ("message" by the spec)
  std::string data;   // the `data:` lines joined with '\n'
  std::string id;     // the last `id:` seen, "" when none
};

class SseParser {
 public:
  explicit SseParser(std::size_t max_event_bytes = 256 * 1024);

  // Parses `bytes` and appends every event they complete to `out`, in order.
  // Failure (Error, kind invalid): a line or pending event over the cap; the
  // events completed before the offending byte are still appended, and the
  // parser is then spent: every later feed fails the same way.
  Status feed(std::string_view bytes, std::vector<SseEvent>& out);

  // The stream ended. True when nothing was pending (no partial line or
  // undispatched event data), false when the stream was cut inside an event
  // or the parser failed.
  bool finish() const;

  std::uint64_t comments() const { return comments_; }  // keep-alive lines seen
  std::uint64_t bytes() const { return bytes_; }        // bytes fed so far

 private:
  // Handles one complete line (terminator stripped). False when it makes the
  // pending event's data longer than the cap.
  bool take_line(std::string_view line, std::vector<SseEvent>& out);
  Status fail();  // marks the parser spent and says why

  std::size_t max_event_bytes_;
  std::string line_;       // the unfinished line
  SseEvent pending_;       // fields of the event being built
  bool has_data_ = false;  // pending_ has at least one data line
  bool after_cr_ = false;  // the last byte fed was a CR (an LF next is part of it)
  bool bom_checked_ = false;
  bool failed_ = false;
  std::uint64_t comments_ = 0;
  std::uint64_t bytes_ = 0;
};

}  // namespace linewatch
