// The HTTP(S) probe: one request (plus redirects when asked) through one line,
// timed phase by phase. Connection set-up is in http_conn.*, HTTP/1.1 framing
// in http_wire.*; this file decides what the answer means.
#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <string>

#include "probes/http_conn.h"
#include "probes/http_regex.h"
#include "probes/http_wire.h"
#include "probes/probe.h"

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

void add_phase(std::optional<Duration>& phase, Duration d) {
  phase = phase.value_or(Duration{}) + d;
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool status_expected(int status, const std::vector<int>& expect) {
  if (expect.empty()) return status >= 200 && status < 300;
  return std::find(expect.begin(), expect.end(), status) != expect.end();
}

std::string expected_text(const std::vector<int>& expect) {
  if (expect.empty()) return "2xx";
  std::string out;
  for (int s : expect) out += (out.empty() ? "" : ", ") + std::to_string(s);
  return out;
}

// A request target from a URL (or a server's Location) that would break the
// request line: spaces or control characters, which Poco keeps in a query.
bool target_is_clean(const std::string& target) {
  return std::none_of(target.begin(), target.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b <= 0x20 || b == 0x7f;
  });
}

// The configured headers are checked at config load; this second check keeps
// a header that would split into two (CR/LF) off the wire whatever built them.
Outcome<bool> check_headers(const HttpOptions& options) {
  for (const auto& [name, value] : options.headers)
    if (std::string why = check_header_field(name, value); !why.empty())
      return ProbeFailure{Reason::internal, "headers." + name + ": " + why + " (not sent)"};
  return true;
}

// One request and its response on a fresh connection. The body is read (at
// most max_body_bytes of it) unless `skip_redirect_body` and the answer is a
// redirect with a Location, which the caller is about to follow.
Outcome<ResponseHead> exchange(const Poco::URI& uri, const std::string& method,
                               const ProbeRequest& request, MonoTime deadline,
                               bool skip_redirect_body, ProbeResult& r, std::string& body) {
  const HttpOptions& options = *request.spec.http;
  Outcome<HttpEndpoint> endpoint = endpoint_of(uri);
  if (!endpoint.ok()) return endpoint.failure();
  const std::string target = uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery();
  if (!target_is_clean(target))
    return ProbeFailure{Reason::protocol,
                        "request target holds spaces or control characters (not sent)"};
  ConnectInfo info{&r.phases, {}};
  Outcome<HttpConnection> conn = HttpConnection::open(endpoint.value(), request.line.binding,
                                                      options, request.tls, deadline, info);
  if (!conn.ok()) return conn.failure();
  r.cert_expiry = info.cert_expiry;

  Outcome<std::size_t> sent = conn.value().send_all(
      format_request(method, target, host_header(uri), options.headers), deadline);
  if (!sent.ok()) return sent.failure();

  MonoTime mark = Steady::now();
  ResponseReader reader([&conn, deadline](char* buf, std::size_t size) {
    return conn.value().receive_some(buf, size, deadline);
  });
  Outcome<ResponseHead> head = reader.read_head();
  if (!head.ok()) return head.failure();
  add_phase(r.phases.ttfb, Steady::now() - mark);

  body.clear();
  if (skip_redirect_body && is_redirect(head.value().status) && head.value().header("location"))
    return head;
  mark = Steady::now();
  Outcome<std::uint64_t> got = reader.read_body(head.value(), method, options.max_body_bytes, body);
  add_phase(r.phases.transfer, Steady::now() - mark);
  if (!got.ok()) return got.failure();
  return head;
}

// Fills ok/reason/detail from the final response.
void judge(const HttpOptions& options, const std::string& body, ProbeResult& r) {
  if (!status_expected(r.http_status, options.expect_status)) {
    r.reason = Reason::http_status;
    r.detail = "status " + std::to_string(r.http_status) + ", expected " +
               expected_text(options.expect_status);
    return;
  }
  if (!options.body_regex.empty()) {
    // Config load compiles the regex once; options built by hand get it here.
    std::shared_ptr<const re2::RE2> re = options.body_re;
    if (!re) {
      Result<std::shared_ptr<const re2::RE2>> compiled = compile_body_regex(options.body_regex);
      if (!compiled.ok()) {
        r.reason = Reason::internal;
        r.detail = "body_regex: invalid regular expression: " + compiled.error().message;
        return;
      }
      re = compiled.value();
    }
    if (!body_matches(*re, body)) {
      r.reason = Reason::body_mismatch;
      r.detail = "body (" + std::to_string(body.size()) + " bytes read) does not match body_regex";
      return;
    }
  }
  r.ok = true;
  r.reason = Reason::ok;
}

ProbeResult run_http_round(const ProbeRequest& request) {
  const HttpOptions& options = *request.spec.http;
  const MonoTime start = Steady::now();
  const MonoTime deadline = start + request.spec.timing.timeout;
  ProbeResult r;
  if (Outcome<bool> headers = check_headers(options); !headers.ok())
    return failed(r, headers.failure());
  Poco::URI uri(options.url);
  std::string method = options.method;
  std::string body;
  for (int hop = 0;; ++hop) {
    const bool may_follow = options.follow_redirects && hop < options.max_redirects;
    Outcome<ResponseHead> head = exchange(uri, method, request, deadline, may_follow, r, body);
    if (!head.ok()) {
      r.reason = head.failure().reason;
      r.detail =
          (hop > 0 ? "after redirect to " + uri.toString() + ": " : "") + head.failure().detail;
      return r;
    }
    r.http_status = head.value().status;
    const std::optional<std::string> location = head.value().header("location");
    if (!may_follow || !is_redirect(r.http_status) || !location) break;
    try {
      uri.resolve(*location);
    } catch (const Poco::Exception& e) {
      return failed(r, {Reason::protocol, "redirect Location \"" + location->substr(0, 80) +
                                              "\": " + e.displayText()});
    }
    // As browsers do: 303 always, and 301/302 after a POST, continue with GET.
    if (r.http_status == 303 ||
        ((r.http_status == 301 || r.http_status == 302) && method == "POST"))
      method = "GET";
  }
  r.rtt = Steady::now() - start;
  r.body_bytes = body.size();
  judge(options, body, r);
  return r;
}

ProbeResult run_http_guarded(const ProbeRequest& request) {
  try {
    return run_http_round(request);
  } catch (const Poco::Exception& e) {
    ProbeResult r;
    r.reason = Reason::internal;
    r.detail = "http: " + e.displayText();  // a malformed url or redirect Location
    return r;
  } catch (const std::exception& e) {
    ProbeResult r;
    r.reason = Reason::internal;
    r.detail = std::string("http: ") + e.what();
    return r;
  }
}

}  // namespace

ProbeResult run_http(const ProbeRequest& request) {
  ProbeResult r = run_http_guarded(request);
  // The detail may quote the server (a status line, a redirect Location):
  // bytes that go on to logs, JSON and terminals, made printable here once.
  r.detail = printable_detail(r.detail);
  return r;
}

}  // namespace linewatch
