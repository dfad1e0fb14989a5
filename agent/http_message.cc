#include "agent/http_message.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <optional>

namespace linewatch {
namespace {

// RFC 9110 5.6.2: the characters of a method or a header name.
bool is_token(std::string_view s) {
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kExtra.find(c) != std::string_view::npos;
  });
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// Splits off the next line of `rest` (without its CRLF or LF).
std::string_view next_line(std::string_view& rest) {
  const auto eol = rest.find('\n');
  std::string_view line = rest.substr(0, eol);
  rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// The path of a request target: origin-form "/p?q", absolute-form
// "http://host/p?q" (RFC 9112 3.2.2: servers must accept it) or "*".
// Empty when the target is none of these.
std::string_view target_path(std::string_view target) {
  if (target == "*" || target.starts_with('/')) return target;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (!target.starts_with(scheme)) continue;
    const auto slash = target.find('/', scheme.size());
    return slash == std::string_view::npos ? "/" : target.substr(slash);
  }
  return {};
}

bool is_version_syntax(std::string_view v) {
  return v.size() == 8 && v.starts_with("HTTP/") &&
         std::isdigit(static_cast<unsigned char>(v[5])) && v[6] == '.' &&
         std::isdigit(static_cast<unsigned char>(v[7]));
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Reads the header lines that follow the request line: "name: value", no
// obsolete line folding. False on a malformed line.
bool read_headers(std::string_view rest, HttpHeaders& out) {
  for (std::string_view line = next_line(rest); !line.empty(); line = next_line(rest)) {
    if (line.front() == ' ' || line.front() == '\t') return false;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return false;
    out.emplace_back(lower(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
  }
  return true;
}

// The POST body checks of parse_head, after the method passed: 0 or the refusal.
int check_body_headers(ParsedHead& parsed, const RequestRules& rules) {
  std::optional<std::string_view> length;
  bool transfer_encoding = false;
  for (const auto& [name, value] : parsed.request.headers) {
    if (name == "transfer-encoding") transfer_encoding = true;
    if (name != "content-length") continue;
    // Two different lengths cannot both be right: a smuggling shape.
    if (length && *length != value) return 400;
    length = value;
  }
  if (transfer_encoding) return length ? 400 : 411;
  // RFC 9112 6.3: a request with neither header has no body; `curl -X POST`
  // sends such a request.
  if (!length) return 0;
  const std::string_view digits = *length;
  if (digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return 400;
  std::size_t n = 0;
  for (char c : digits) n = n * 10 + static_cast<std::size_t>(c - '0');
  if (n > rules.max_body_bytes) return 413;
  parsed.body_length = n;
  return 0;
}

}  // namespace

std::size_t find_head_end(std::string_view data, std::size_t from) {
  for (std::size_t i = from >= 2 ? from - 2 : 0; i < data.size(); ++i) {
    if (data[i] != '\n') continue;
    if (i + 1 < data.size() && data[i + 1] == '\n') return i + 2;
    if (i + 2 < data.size() && data[i + 1] == '\r' && data[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return std::string_view(v);
  return std::nullopt;
}

ParsedHead parse_head(std::string_view head, const RequestRules& rules) {
  ParsedHead out;
  std::string_view rest = head;
  const std::string_view line = next_line(rest);
  // METHOD SP TARGET SP VERSION, single spaces (RFC 9112 3).
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    out.status = 400;
    return out;
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  const std::string_view path = target_path(target);
  const bool post = method == "POST" && rules.allow_post;
  if (!is_token(method) || path.empty() || has_control(target) || !is_version_syntax(version)) {
    out.status = 400;
  } else if (version != "HTTP/1.0" && version != "HTTP/1.1") {
    out.status = 505;
  } else if (!read_headers(rest, out.request.headers)) {
    out.status = 400;
  } else if (method != "GET" && method != "HEAD" && !post) {
    out.status = 405;
  } else if (post) {
    out.status = check_body_headers(out, rules);
  }
  if (out.status != 0) return out;
  const auto q = path.find('?');
  out.request.method = std::string(method);
  out.request.path = std::string(path.substr(0, q));
  if (q != std::string_view::npos) out.request.query = std::string(path.substr(q + 1));
  const auto expect = out.request.header("expect");
  out.expect_continue = post && version == "HTTP/1.1" && expect && iequals(*expect, "100-continue");
  return out;
}

std::string format_response(const HttpResponse& r, bool head_only, WallTime now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char date[40];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &utc);

  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " ";
  out += reason_phrase(r.status);
  out += "\r\nDate: ";
  out += date;
  out += "\r\nContent-Type: " + r.content_type;
  out += "\r\nContent-Length: " + std::to_string(r.body.size());
  out += "\r\n";
  bool allow = false, cache = false;
  for (const auto& [name, value] : r.headers) {
    allow = allow || iequals(name, "allow");
    cache = cache || iequals(name, "cache-control");
  }
  // A response's own Cache-Control (the page's no-cache) replaces no-store.
  if (!cache) out += "Cache-Control: no-store\r\n";
  out += "Connection: close\r\n";
  for (const auto& [name, value] : r.headers) out += name + ": " + value + "\r\n";
  if (r.status == 405 && !allow) out += "Allow: GET, HEAD\r\n";
  out += "\r\n";
  if (!head_only) out += r.body;
  return out;
}

HttpResponse error_response(int status) {
  return HttpResponse{
      status, "application/json", R"({"error":")" + lower(reason_phrase(status)) + "\"}", {}};
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace linewatch
