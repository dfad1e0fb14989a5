#include "probes/http_wire.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <ctime>

namespace linewatch {
namespace {

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kMaxLine = 8 * 1024;  // one chunk-size or trailer line

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// `what` may quote the server; run_http() makes the detail printable.
ProbeFailure malformed(const std::string& what) {
  return {Reason::protocol, "malformed response: " + what};
}

bool is_token_char(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// "HTTP/1.1 200 OK" -> 200; 0 when the line is not a status line.
int parse_status_line(std::string_view line) {
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ') return 0;
  int status = 0;
  const char* first = line.data() + 9;
  auto [end, ec] = std::from_chars(first, first + 3, status);
  if (ec != std::errc() || end != first + 3 || status < 100 || status > 999) return 0;
  if (line.size() > 12 && line[12] != ' ') return 0;
  return status;
}

bool has_body(const ResponseHead& head, std::string_view method) {
  return method != "HEAD" && head.status >= 200 && head.status != 204 && head.status != 304;
}

}  // namespace

std::string check_header_field(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char))
    return "header name must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~)";
  for (char c : value) {
    const auto b = static_cast<unsigned char>(c);
    if ((b < 0x20 && c != '\t') || b == 0x7f)
      return "header value must not contain CR, LF, NUL or other control characters";
  }
  return "";
}

std::string format_request(std::string_view method, std::string_view target,
                           std::string_view host_header,
                           const std::map<std::string, std::string>& headers) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"Host", std::string(host_header)},
      {"User-Agent", "linewatch/0.1"},
      {"Accept", "*/*"},
      {"Connection", "close"},
  };
  // A probe sends no body; servers may insist on a length for these methods.
  if (method == "POST" || method == "PUT" || method == "PATCH")
    fields.push_back({"Content-Length", "0"});
  for (const auto& [name, value] : headers) {
    auto same = [&](const auto& f) { return lower(f.first) == lower(name); };
    auto it = std::find_if(fields.begin(), fields.end(), same);
    if (it != fields.end())
      it->second = value;
    else
      fields.push_back({name, value});
  }
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  for (const auto& [name, value] : fields)
    out.append(name).append(": ").append(value).append("\r\n");
  out.append("\r\n");
  return out;
}

std::optional<std::string> ResponseHead::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return value;
  return std::nullopt;
}

Outcome<bool> ResponseReader::fill() {
  if (pos_ < end_) return true;
  buf_.resize(kReadChunk);  // allocates once; later calls keep the size
  pos_ = end_ = 0;
  Outcome<std::size_t> n = source_(buf_.data(), buf_.size());
  if (!n.ok()) return n.failure();
  end_ = std::min(n.value(), buf_.size());
  return end_ > 0;
}

Outcome<std::string> ResponseReader::read_line(std::size_t limit) {
  std::string line;
  for (;;) {
    Outcome<bool> more = fill();
    if (!more.ok()) return more.failure();
    if (!more.value()) return malformed("connection closed inside the head");
    const char* first = buf_.data() + pos_;
    const char* nl = static_cast<const char*>(std::memchr(first, '\n', end_ - pos_));
    const std::size_t take = nl ? static_cast<std::size_t>(nl - first) : end_ - pos_;
    // Checked before appending, so a line never grows past limit + one read.
    if (line.size() + take > limit)
      return malformed("line longer than " + std::to_string(limit) + " bytes");
    line.append(first, take);
    pos_ += take + (nl ? 1 : 0);
    if (nl) break;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Outcome<ResponseHead> ResponseReader::read_head() {
  std::size_t budget = kMaxHead;
  for (;;) {
    Outcome<std::string> status_line = read_line(budget);
    if (!status_line.ok()) return status_line.failure();
    budget -= std::min(budget, status_line.value().size());
    ResponseHead head;
    head.status = parse_status_line(status_line.value());
    if (head.status == 0)
      return malformed("status line \"" + status_line.value().substr(0, 80) + "\"");
    for (;;) {
      Outcome<std::string> line = read_line(budget);
      if (!line.ok()) return line.failure();
      const std::string& text = line.value();
      budget -= std::min(budget, text.size() + 2);
      if (text.empty()) break;
      if (head.headers.size() == kMaxHeaderFields)
        return malformed("more than " + std::to_string(kMaxHeaderFields) + " header fields");
      const std::size_t colon = text.find(':');
      if (colon == std::string::npos || colon == 0) return malformed("header line without a name");
      head.headers.emplace_back(lower(trim(std::string_view(text).substr(0, colon))),
                                std::string(trim(std::string_view(text).substr(colon + 1))));
    }
    // Interim answers (100 Continue, 103 Early Hints) precede the real one.
    if (head.status >= 200 || head.status == 101) return head;
  }
}

Outcome<std::uint64_t> ResponseReader::read_exact(std::uint64_t n, const BodySink& sink,
                                                  bool eof_ok) {
  std::uint64_t got = 0;
  while (got < n) {
    Outcome<bool> more = fill();
    if (!more.ok()) return more.failure();
    if (!more.value()) {
      if (eof_ok) break;
      return malformed("connection closed after " + std::to_string(got) + " of " +
                       std::to_string(n) + " expected body bytes");
    }
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(n - got, end_ - pos_));
    const std::string_view piece(buf_.data() + pos_, take);
    pos_ += take;
    got += take;
    if (!sink(piece)) {
      stopped_ = true;
      break;
    }
  }
  return got;
}

Outcome<std::uint64_t> ResponseReader::read_chunked(std::uint64_t max_bytes, const BodySink& sink) {
  std::uint64_t total = 0;
  for (;;) {
    Outcome<std::string> line = read_line(kMaxLine);
    if (!line.ok()) return line.failure();
    std::string_view size_text =
        trim(std::string_view(line.value()).substr(0, line.value().find(';')));
    std::uint64_t size = 0;
    auto [end, ec] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (size_text.empty() || ec != std::errc() || end != size_text.data() + size_text.size())
      return malformed("chunk size \"" + line.value().substr(0, 40) + "\"");
    if (size == 0) break;
    const std::uint64_t room = max_bytes - total;
    Outcome<std::uint64_t> got = read_exact(std::min(size, room), sink, false);
    if (!got.ok()) return got.failure();
    total += got.value();
    if (stopped_ || size >= room) return total;  // the sink or the cap: stop reading
    Outcome<std::string> crlf = read_line(kMaxLine);
    if (!crlf.ok()) return crlf.failure();
    if (!crlf.value().empty()) return malformed("chunk not followed by CRLF");
  }
  // Trailer fields end with an empty line; their content is not needed.
  for (std::size_t i = 0; i < 100; ++i) {
    Outcome<std::string> trailer = read_line(kMaxLine);
    if (!trailer.ok()) return trailer.failure();
    if (trailer.value().empty()) return total;
  }
  return malformed("too many trailer fields");
}

Outcome<std::uint64_t> ResponseReader::read_body(const ResponseHead& head, std::string_view method,
                                                 std::uint64_t max_bytes, std::string& body) {
  return stream_body(head, method, max_bytes, [&body](std::string_view piece) {
    body.append(piece);
    return true;
  });
}

Outcome<std::uint64_t> ResponseReader::stream_body(const ResponseHead& head,
                                                   std::string_view method, std::uint64_t max_bytes,
                                                   const BodySink& sink) {
  stopped_ = false;
  if (!has_body(head, method)) return std::uint64_t{0};
  const std::optional<std::string> te = head.header("transfer-encoding");
  if (te && lower(*te).find("chunked") != std::string::npos) return read_chunked(max_bytes, sink);
  if (const std::optional<std::string> cl = head.header("content-length")) {
    std::uint64_t length = 0;
    auto [end, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), length);
    if (cl->empty() || ec != std::errc() || end != cl->data() + cl->size())
      return malformed("content-length \"" + cl->substr(0, 40) + "\"");
    return read_exact(std::min(length, max_bytes), sink, false);
  }
  return read_exact(max_bytes, sink, true);  // delimited by the server closing
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  // A delay past a year is no plan anyone follows: clamped, never overflowed.
  constexpr std::uint64_t kMaxDelay = 366ULL * 86400;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::uint64_t secs = 0;
    const auto parsed = std::from_chars(value.data(), value.data() + value.size(), secs);
    if (parsed.ec == std::errc::result_out_of_range) secs = kMaxDelay;
    return std::chrono::seconds(std::min(secs, kMaxDelay));
  }
  std::tm tm{};
  const std::string text(value);
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const auto at = std::chrono::system_clock::from_time_t(::timegm(&tm));
  if (at <= now) return std::chrono::seconds(0);
  return std::chrono::ceil<std::chrono::seconds>(at - now);
}

}  // namespace linewatch
