#include "probes/sse.h"

#include <string>

namespace linewatch {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

SseParser::SseParser(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

Status SseParser::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  bytes_ += bytes.size();
  if (failed_) return fail();
  if (!bom_checked_) {
    // line_ holds the part of a BOM seen so far: a BOM may be split too.
    while (!bytes.empty() && line_.size() < kBom.size() && bytes.front() == kBom[line_.size()]) {
      line_ += bytes.front();
      bytes.remove_prefix(1);
    }
    if (line_.size() == kBom.size()) {
      line_.clear();
      bom_checked_ = true;
    } else if (!bytes.empty()) {
      bom_checked_ = true;  // not a BOM: the bytes held are the line's start (none is CR or LF)
    }
  }
  while (!bytes.empty()) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes.front() == '\n') {  // the LF of a CRLF cut between two feeds
        bytes.remove_prefix(1);
        continue;
      }
    }
    const std::size_t end = bytes.find_first_of("\r\n");
    const std::string_view piece = bytes.substr(0, end);
    if (line_.size() + piece.size() > max_event_bytes_) return fail();
    line_.append(piece);
    if (end == std::string_view::npos) break;
    if (bytes[end] == '\r') {
      if (end + 1 < bytes.size()) {
        if (bytes[end + 1] == '\n') bytes.remove_prefix(1);
      } else {
        after_cr_ = true;
      }
    }
    bytes.remove_prefix(end + 1);
    const bool taken = take_line(line_, out);
    line_.clear();  // keeps its buffer: most lines of a stream are alike in size
    if (!taken) return fail();
  }
  return ok_status();
}

bool SseParser::take_line(std::string_view line, std::vector<SseEvent>& out) {
  if (line.empty()) {
    if (has_data_) out.push_back(pending_);
    // The last event id outlives the event, as in the spec's "last event ID buffer".
    pending_.event.clear();
    pending_.data.clear();
    has_data_ = false;
    return true;
  }
  if (line.front() == ':') {
    ++comments_;
    return true;
  }
  const std::size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    const std::size_t size = pending_.data.size() + (has_data_ ? 1 : 0) + value.size();
    if (size > max_event_bytes_) return false;
    if (has_data_) pending_.data += '\n';
    pending_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    pending_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) pending_.id.assign(value);
  }
  return true;
}

Status SseParser::fail() {
  failed_ = true;
  line_.clear();  // a spent parser holds no memory for the server
  line_.shrink_to_fit();
  pending_ = SseEvent{};
  has_data_ = false;
  return invalid("event stream: a line or an event over " + std::to_string(max_event_bytes_) +
                 " bytes");
}

bool SseParser::finish() const { return !failed_ && line_.empty() && !has_data_; }

}  // namespace linewatch
