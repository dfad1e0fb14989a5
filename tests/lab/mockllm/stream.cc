#include "tests/lab/mockllm/stream.h"

#include <algorithm>
#include <string>

namespace linewatch::mockllm {

SseStream::SseStream(std::ostream& out, const Pacer& pacer, const Behaviour& b)
    : out_(out),
      pacer_(pacer),
      keepalive_(b.keepalive),
      eol_(b.crlf ? "\r\n" : "\n"),
      split_(b.split_events),
      last_write_(std::chrono::steady_clock::now()) {}

bool SseStream::write(std::string_view bytes) {
  out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out_.flush();
  last_write_ = std::chrono::steady_clock::now();
  return static_cast<bool>(out_);
}

Wake SseStream::wait_until(MonoTime until) {
  while (keepalive_ > Duration::zero() && last_write_ + keepalive_ < until) {
    if (Wake w = pacer_.wait_until(last_write_ + keepalive_); w != Wake::due) return w;
    if (!write(": keep-alive" + std::string(eol_) + std::string(eol_))) return Wake::client_gone;
  }
  return pacer_.wait_until(until);
}

Wake SseStream::send(const Event& e) {
  const std::string eol(eol_);
  std::string bytes;
  if (!e.name.empty()) bytes += "event: " + e.name + eol;
  bytes += "data: " + e.data + eol + eol;
  if (!split_) return write(bytes) ? Wake::due : Wake::client_gone;
  const std::size_t first = 3, second = bytes.find(eol) + 1;
  const std::string_view all(bytes);
  const std::string_view pieces[] = {all.substr(0, first), all.substr(first, second - first),
                                     all.substr(second)};
  for (std::size_t i = 0; i < 3; ++i) {
    if (i > 0)
      if (Wake w = pacer_.wait_until(std::chrono::steady_clock::now() + kSplitGap); w != Wake::due)
        return w;
    if (!write(pieces[i])) return Wake::client_gone;
  }
  return Wake::due;
}

End end_of(Wake w) { return w == Wake::stopping ? End::stopping : End::client_gone; }

End stream_reply(SseStream& stream, const Dialect& d, const Reply& r, const Behaviour& b,
                 MonoTime start, Record& rec) {
  for (const Event& e : d.head_events(r))
    if (Wake w = stream.send(e); w != Wake::due) return end_of(w);
  const int stall = b.stall_after_tokens < 0 ? -1 : std::min(b.stall_after_tokens, r.tokens);
  const int error = b.error_after_tokens < 0 ? -1 : std::min(b.error_after_tokens, r.tokens);
  const MonoTime first = start + b.ttft;
  for (int i = 0;; ++i) {
    if (i == stall) {
      stream.wait_until(std::chrono::steady_clock::now() + kMaxStall);
      return End::stalled;
    }
    if (i == error) {
      Wake w = stream.send(d.error_event());
      return w == Wake::due ? End::error_event : end_of(w);
    }
    if (i == r.tokens) break;
    if (Wake w = stream.wait_until(first + i * b.token_interval); w != Wake::due) return end_of(w);
    if (i == 0) rec.first_content = stamp_now();
    const bool finish = i == r.tokens - 1 && !b.omit_end_marker;
    if (Wake w = stream.send(d.token_event(r, i, finish)); w != Wake::due) return end_of(w);
    rec.tokens = i + 1;
  }
  for (const Event& e : d.end_events(r, !b.omit_end_marker))
    if (Wake w = stream.send(e); w != Wake::due) return end_of(w);
  return b.omit_end_marker ? End::no_end_marker : End::done;
}

}  // namespace linewatch::mockllm
