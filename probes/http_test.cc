// Tests of the HTTP(S) probe against real servers on 127.0.0.1 started here.
#include <Poco/Net/Context.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/ServerSocket.h>
#include <doctest/doctest.h>

#include <mutex>

#include "probes/http_regex.h"
#include "probes/http_test_support.h"
#include "probes/probe.h"

namespace linewatch {
namespace {

using test::RawServer;
using test::response;
using test::send_text;
using test::TestServer;
using Handler = TestServer::Handler;
using Steady = std::chrono::steady_clock;

// One probe set-up: defaults plus whatever the test changes before run().
struct HttpCase {
  explicit HttpCase(const std::string& url) {
    spec.kind = ProbeKind::http;
    spec.timing.timeout = 2s;
    spec.http->url = url;
  }
  ProbeResult run() {
    const MonoTime start = Steady::now();
    ProbeResult r = run_probe(ProbeRequest{line, target, spec, clock});
    elapsed = Steady::now() - start;
    return r;
  }
  LineSpec line = [] {
    LineSpec l;
    l.id = "line-a";
    return l;
  }();
  std::string target = "web";
  ProbeSpec spec{};
  SystemClock clock;
  Duration elapsed{};
};

Handler reply(int status, std::string body, std::string headers = "") {
  return [=](Poco::Net::StreamSocket& s, const std::string&, const std::atomic<bool>&) {
    send_text(s, response(status, body, headers));
  };
}

// Records the request heads it saw, answers 200 "hello linewatch".
struct Recorder {
  std::mutex mutex;
  std::vector<std::string> heads;
  Handler handler() {
    return [this](Poco::Net::StreamSocket& s, const std::string& head, const std::atomic<bool>&) {
      {
        std::lock_guard lock(mutex);
        heads.push_back(head);
      }
      send_text(s, response(200, "hello linewatch"));
    };
  }
  std::string last() {
    std::lock_guard lock(mutex);
    return heads.empty() ? "" : heads.back();
  }
};

TEST_CASE("http: a plain 200 is ok, with connect, ttfb and transfer but no dns or tls phase") {
  Recorder rec;
  TestServer server(rec.handler());
  HttpCase c(server.url("/health?x=1"));
  c.spec.http->headers = {{"X-Probe", "yes"}};
  const ProbeResult r = c.run();
  CHECK(r.ok);
  CHECK(r.reason == Reason::ok);
  CHECK(r.http_status == 200);
  CHECK(r.body_bytes == 15);
  CHECK(r.phases.connect);
  CHECK(r.phases.ttfb);
  CHECK(r.phases.transfer);
  CHECK_FALSE(r.phases.dns);
  CHECK_FALSE(r.phases.tls);
  REQUIRE(r.rtt);
  CHECK(*r.rtt >= *r.phases.connect + *r.phases.ttfb);
  CHECK_FALSE(r.cert_expiry);
  const std::string head = rec.last();
  CHECK(head.rfind("GET /health?x=1 HTTP/1.1\r\n", 0) == 0);
  CHECK(head.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n") !=
        std::string::npos);
  CHECK(head.find("\r\nUser-Agent: linewatch/0.1\r\n") != std::string::npos);
  CHECK(head.find("\r\nX-Probe: yes\r\n") != std::string::npos);
}

TEST_CASE("http: a host name is resolved and timed as the dns phase, and the method is sent") {
  Recorder rec;
  TestServer server(rec.handler());
  HttpCase c(server.url("/", "localhost"));
  c.spec.http->method = "HEAD";
  const ProbeResult r = c.run();
  CHECK_MESSAGE(r.ok, r.detail);
  CHECK(r.phases.dns);
  CHECK(r.body_bytes == 0);  // HEAD: the Content-Length describes a body not sent
  CHECK(rec.last().rfind("HEAD / HTTP/1.1\r\n", 0) == 0);
  CHECK(rec.last().find("\r\nHost: localhost:") != std::string::npos);
}

TEST_CASE("http: status outside the expected set is http_status") {
  TestServer server(reply(503, "busy"));
  HttpCase c(server.url("/"));
  ProbeResult r = c.run();
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::http_status);
  CHECK(r.http_status == 503);
  CHECK(r.detail == "status 503, expected 2xx");
  CHECK(r.rtt);  // the server answered

  c.spec.http->expect_status = {200, 503};
  r = c.run();
  CHECK(r.ok);
  c.spec.http->expect_status = {200, 204};
  r = c.run();
  CHECK(r.reason == Reason::http_status);
  CHECK(r.detail == "status 503, expected 200, 204");
}

TEST_CASE("http: body_regex is checked against the body") {
  TestServer server(reply(200, "{\"status\":\"green\",\"version\":3}"));
  HttpCase c(server.url("/"));
  c.spec.http->body_regex = "\"status\":\"(green|yellow)\"";
  CHECK(c.run().ok);
  c.spec.http->body_regex = "\"status\":\"red\"";
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::body_mismatch);
  CHECK(r.http_status == 200);
  c.spec.http->body_regex = "([unclosed";
  const ProbeResult bad = c.run();
  CHECK(bad.reason == Reason::internal);
  CHECK(bad.detail == "body_regex: invalid regular expression: missing ]: [unclosed");
}

TEST_CASE("http: the regex compiled at config load is the one a round uses") {
  TestServer server(reply(200, "{\"status\":\"green\"}"));
  HttpCase c(server.url("/"));
  c.spec.http->body_regex = "red";
  c.spec.http->body_re = compile_body_regex("gr[e]+n").value();  // as config load leaves it
  CHECK_MESSAGE(c.run().ok, "the round compiled body_regex again instead of using body_re");
}

TEST_CASE("http: a backtracking-hostile body_regex over a 1 MiB body gives a plain result") {
  // std::regex recursed once per character on this and overflowed the stack.
  const std::string as(1 << 20, 'a');
  TestServer server(
      [&as](Poco::Net::StreamSocket& s, const std::string& head, const std::atomic<bool>&) {
        send_text(s, response(200, head.rfind("GET /c ", 0) == 0 ? as.substr(1) + "c" : as));
      });
  HttpCase c(server.url("/"));
  c.spec.timing.timeout = 10s;  // generous: this is about finishing, not speed
  c.spec.http->max_body_bytes = 1 << 20;
  c.spec.http->body_regex = "(a|b)*c";
  ProbeResult r = c.run();
  CHECK(r.reason == Reason::body_mismatch);
  CHECK(r.body_bytes == (1u << 20));

  HttpCase match(server.url("/c"));
  match.spec = c.spec;
  match.spec.http->url = server.url("/c");
  r = match.run();
  CHECK_MESSAGE(r.ok, r.detail);
}

TEST_CASE("http: a chunked body is decoded") {
  TestServer server([](Poco::Net::StreamSocket& s, const std::string&, const std::atomic<bool>&) {
    send_text(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    send_text(s, "6\r\nhello \r\n8;ext=1\r\nchunked \r\n");
    send_text(s, "5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n");
  });
  HttpCase c(server.url("/"));
  c.spec.http->body_regex = "^hello chunked world$";  // framing bytes would break the anchors
  const ProbeResult r = c.run();
  CHECK_MESSAGE(r.ok, r.detail);
  CHECK(r.body_bytes == 19);
}

TEST_CASE("http: close-delimited, interim 1xx and cut-short responses") {
  TestServer server(
      [](Poco::Net::StreamSocket& s, const std::string& head, const std::atomic<bool>&) {
        if (head.rfind("GET /close ", 0) == 0)
          return send_text(s, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nuntil the end");
        if (head.rfind("GET /short ", 0) == 0)
          return send_text(s, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nonly this");
        send_text(s, "SSH-2.0-OpenSSH_9.2\r\n");
      });
  HttpCase c(server.url("/close"));
  c.spec.http->body_regex = "^until the end$";
  ProbeResult r = c.run();
  CHECK_MESSAGE(r.ok, r.detail);
  CHECK(r.http_status == 200);
  CHECK(r.body_bytes == 13);

  HttpCase cut(server.url("/short"));
  r = cut.run();
  CHECK(r.reason == Reason::protocol);
  CHECK(r.detail == "malformed response: connection closed after 9 of 50 expected body bytes");

  HttpCase garbage(server.url("/other"));
  r = garbage.run();
  CHECK(r.reason == Reason::protocol);
  CHECK(r.detail.find("status line") != std::string::npos);
}

TEST_CASE("http: a reset in the middle of the response is protocol, not refused") {
  TestServer server([](Poco::Net::StreamSocket& s, const std::string&, const std::atomic<bool>&) {
    send_text(s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    std::this_thread::sleep_for(50ms);  // let the client take the head first
    s.setLinger(true, 0);               // close() now sends a RST
    s.close();
  });
  HttpCase c(server.url("/"));
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::protocol);
  CHECK(r.detail.find("reset") != std::string::npos);
}

TEST_CASE("http: a head with too many header fields is protocol") {
  TestServer server([](Poco::Net::StreamSocket& s, const std::string&, const std::atomic<bool>&) {
    std::string head = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 1000; ++i) head += "X-" + std::to_string(i) + ": v\r\n";
    send_text(s, head + "Content-Length: 0\r\n\r\n");
  });
  HttpCase c(server.url("/"));
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::protocol);
  CHECK(r.detail == "malformed response: more than 256 header fields");
}

// True when `s` is well-formed UTF-8 without C0 controls or DEL.
bool printable_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80                 ? 1
                          : c >= 0xc2 && c <= 0xdf ? 2
                          : c >= 0xe0 && c <= 0xef ? 3
                          : c >= 0xf0 && c <= 0xf4 ? 4
                                                   : 0;
    if (n == 0 || i + n > s.size() || (n == 1 && (c < 0x20 || c == 0x7f))) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += n;
  }
  return true;
}

TEST_CASE("http: a hostile status line becomes a printable, bounded detail") {
  const std::string hostile =
      std::string("HTTP/1.1 2\x00\x1b[2J\xff\xfe \"quoted\" \\ \x7f", 30) + std::string(500, 'z');
  TestServer server(
      [&](Poco::Net::StreamSocket& s, const std::string& head, const std::atomic<bool>&) {
        if (head.rfind("GET /long ", 0) == 0)
          return send_text(s, response(302, "", "Location: /x" + std::string(5000, 'y') + "\r\n"));
        send_text(s, hostile + "\r\n\r\n");
      });
  HttpCase c(server.url("/"));
  ProbeResult r = c.run();
  CHECK(r.reason == Reason::protocol);
  CAPTURE(r.detail);
  CHECK(printable_utf8(r.detail));
  CHECK(r.detail.size() <= kMaxDetailBytes);
  CHECK(r.detail.find("2\\x00\\x1b[2J\\xff\\xfe \"quoted\"") != std::string::npos);

  HttpCase long_location(server.url("/long"));  // the detail names the redirect target
  long_location.spec.http->follow_redirects = true;
  r = long_location.run();
  CHECK(r.reason == Reason::protocol);
  CHECK(printable_utf8(r.detail));
  CHECK(r.detail.size() <= kMaxDetailBytes);
}

TEST_CASE("http: a header that would split in two on the wire is not sent") {
  Recorder rec;
  TestServer server(rec.handler());
  HttpCase c(server.url("/"));
  c.spec.http->headers = {{"X-A", "b\r\nX-Injected: yes"}};
  ProbeResult r = c.run();
  CHECK(r.reason == Reason::internal);
  CHECK(r.detail ==
        "headers.X-A: header value must not contain CR, LF, NUL or other control characters "
        "(not sent)");
  c.spec.http->headers = {{"X A", "b"}};
  r = c.run();
  CHECK(r.reason == Reason::internal);
  CHECK(r.detail.find("HTTP token") != std::string::npos);
  CHECK(rec.last().empty());  // nothing reached the server
  c.spec.http->headers = {{"X-A", "tab\tand \xc3\xa9"}};
  CHECK_MESSAGE(c.run().ok, "HTAB and UTF-8 are allowed in a value");
}

TEST_CASE("http: a response head trickled one byte at a time ends at the round's timeout") {
  TestServer server(
      [](Poco::Net::StreamSocket& s, const std::string&, const std::atomic<bool>& stop) {
        const std::string head = "HTTP/1.1 200 OK\r\nX-Slow: " + std::string(100, 'x');
        for (std::size_t i = 0; i < head.size() && !stop; ++i) {
          send_text(s, head.substr(i, 1));
          test::wait_for_stop(stop, 200ms);
        }
      });
  HttpCase c(server.url("/"));
  c.spec.timing.timeout = 1s;
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::timeout);
  CHECK(c.elapsed < 2s);  // timeout + a generous margin: a bound, not a speed figure
}

TEST_CASE("http: headers then a stall ends as timeout within the round's timeout") {
  TestServer server(
      [](Poco::Net::StreamSocket& s, const std::string&, const std::atomic<bool>& stop) {
        send_text(s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
        test::wait_for_stop(stop, 5s);
      });
  HttpCase c(server.url("/"));
  c.spec.timing.timeout = 1s;
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::timeout);
  CHECK(c.elapsed >= 950ms);
  CHECK(c.elapsed <= 1100ms + 50ms);
  CHECK(r.phases.ttfb);  // the headers did arrive
}

// Streams `total` zero bytes as the body (content-length, or chunked if
// total is 0: endless), until the client leaves or the server stops.
Handler zeros(std::uint64_t total) {
  return [total](Poco::Net::StreamSocket& s, const std::string&, const std::atomic<bool>& stop) {
    const bool chunked = total == 0;
    send_text(s, std::string("HTTP/1.1 200 OK\r\n") +
                     (chunked ? "Transfer-Encoding: chunked\r\n"
                              : "Content-Length: " + std::to_string(total) + "\r\n") +
                     "\r\n");
    const std::string block(64 * 1024, '\0');
    const std::string piece = chunked ? "10000\r\n" + block + "\r\n" : block;
    const auto end = Steady::now() + 10s;
    for (std::uint64_t sent = 0; !stop && Steady::now() < end && (chunked || sent < total);
         sent += block.size()) {
      if (s.sendBytes(piece.data(), static_cast<int>(piece.size()), MSG_NOSIGNAL) <= 0) return;
    }
  };
}

TEST_CASE("http: a 1 GiB body is cut at max_body_bytes, quickly") {
  for (std::uint64_t total : {std::uint64_t{1} << 30, std::uint64_t{0}}) {
    CAPTURE(total);
    TestServer server(zeros(total));
    HttpCase c(server.url("/"));
    c.spec.timing.timeout = 5s;
    c.spec.http->max_body_bytes = 1 << 20;
    const ProbeResult r = c.run();
    CHECK_MESSAGE(r.ok, r.detail);
    CHECK(r.http_status == 200);
    CHECK(r.body_bytes == (1u << 20));
    CHECK(c.elapsed < 1s);
  }
}

TEST_CASE("http: connect failures map to refused and bind") {
  std::uint16_t port = 0;
  {
    Poco::Net::ServerSocket probe_port(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = probe_port.address().port();
  }  // closed: nothing listens there now
  HttpCase refused("http://127.0.0.1:" + std::to_string(port) + "/");
  ProbeResult r = refused.run();
  CHECK(r.reason == Reason::refused);
  CHECK_FALSE(r.rtt);

  Recorder rec;
  TestServer server(rec.handler());
  HttpCase bound(server.url("/"));
  bound.line.binding.source = "198.18.255.254";  // not assigned here: bind() fails, nothing is sent
  r = bound.run();
  CHECK(r.reason == Reason::bind);
  CHECK(r.detail.find("198.18.255.254") != std::string::npos);
  CHECK(rec.last().empty());
}

TEST_CASE("http: redirects are a status unless followed") {
  Recorder rec;
  TestServer server(
      [&rec](Poco::Net::StreamSocket& s, const std::string& head, const std::atomic<bool>& stop) {
        if (head.rfind("GET /final ", 0) == 0) return rec.handler()(s, head, stop);
        if (head.rfind("GET /loop ", 0) == 0)
          return send_text(s, response(302, "", "Location: /loop\r\n"));
        send_text(s, response(302, "moved", "Location: /final\r\n"));
      });
  HttpCase c(server.url("/start"));
  ProbeResult r = c.run();
  CHECK(r.reason == Reason::http_status);
  CHECK(r.http_status == 302);
  CHECK(rec.last().empty());

  c.spec.http->follow_redirects = true;
  c.spec.http->body_regex = "linewatch";
  r = c.run();
  CHECK_MESSAGE(r.ok, r.detail);
  CHECK(r.http_status == 200);
  CHECK(rec.last().rfind("GET /final HTTP/1.1", 0) == 0);

  HttpCase loop(server.url("/loop"));
  loop.spec.http->follow_redirects = true;
  loop.spec.http->max_redirects = 3;
  r = loop.run();
  CHECK(r.reason == Reason::http_status);
  CHECK(r.http_status == 302);
}

TEST_CASE("http: a redirect whose target would break the request line is not followed") {
  Recorder rec;
  TestServer server(
      [&rec](Poco::Net::StreamSocket& s, const std::string& head, const std::atomic<bool>& stop) {
        if (head.rfind("GET /start ", 0) == 0)
          return send_text(s, response(302, "", "Location: /x?a\rInjected: yes\r\n"));
        rec.handler()(s, head, stop);
      });
  HttpCase c(server.url("/start"));
  c.spec.http->follow_redirects = true;
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::protocol);
  CHECK(r.detail.find("request target holds spaces or control characters") != std::string::npos);
  CHECK(rec.last().empty());  // the second request never left
}

// Poco's SSL library is reference counted; the test holds one reference.
struct SslScope {
  SslScope() { Poco::Net::initializeSSL(); }
  ~SslScope() { Poco::Net::uninitializeSSL(); }
};

Poco::Net::Context::Ptr server_context(const test::TempDir& dir) {
  Poco::Net::Context::Params params;
  params.privateKeyFile = dir.file("server.key");
  params.certificateFile = dir.file("server.pem");
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;
  return new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
}

TEST_CASE("https: verification against ca_file, the system store, and server_name") {
  SslScope ssl;
  test::TempDir dir;
  REQUIRE(test::make_test_pki(dir, 30));
  TestServer server(reply(200, "secure hello"), server_context(dir));
  HttpCase c(server.url("/"));
  c.spec.http->ca_file = dir.file("ca.pem");

  ProbeResult r = c.run();
  REQUIRE_MESSAGE(r.ok, r.detail);
  CHECK(r.phases.tls);
  CHECK(r.phases.connect);
  REQUIRE(r.cert_expiry);
  const auto in_30_days = std::chrono::system_clock::now() + std::chrono::hours(24 * 30);
  CHECK(*r.cert_expiry > in_30_days - std::chrono::hours(24));
  CHECK(*r.cert_expiry < in_30_days + std::chrono::hours(24));

  SUBCASE("the system store does not know the test CA") {
    c.spec.http->ca_file.clear();
    r = c.run();
    CHECK(r.reason == Reason::tls);
    CHECK_FALSE(r.detail.empty());
  }
  SUBCASE("tls_verify=false accepts it anyway") {
    c.spec.http->ca_file.clear();
    c.spec.http->tls_verify = false;
    r = c.run();
    CHECK_MESSAGE(r.ok, r.detail);
  }
  SUBCASE("a server_name the certificate does not name fails") {
    c.spec.http->server_name = "other.example";
    r = c.run();
    CHECK(r.reason == Reason::tls);
    CHECK(r.detail.find("other.example") != std::string::npos);
  }
  SUBCASE("a server_name the certificate names passes") {
    c.spec.http->server_name = "localhost";
    r = c.run();
    CHECK_MESSAGE(r.ok, r.detail);
  }
  SUBCASE("a missing ca_file is a tls failure naming it") {
    c.spec.http->ca_file = dir.file("absent.pem");
    r = c.run();
    CHECK(r.reason == Reason::tls);
    CHECK(r.detail.find("absent.pem") != std::string::npos);
  }
}

TEST_CASE("https: a server that never answers the handshake ends as timeout") {
  TestServer server([](Poco::Net::StreamSocket&, const std::string&,
                       const std::atomic<bool>& stop) { test::wait_for_stop(stop, 5s); });
  // The handler runs after the server has read a request head; a TLS client
  // sends a ClientHello and waits, so the server's head read times out first
  // (2 s) — longer than the probe's timeout, so the server stays silent.
  HttpCase c("https://127.0.0.1:" + std::to_string(server.port()) + "/");
  c.spec.timing.timeout = 1s;
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::timeout);
  CHECK(c.elapsed <= 1100ms + 50ms);
}

TEST_CASE("https: a handshake trickled one byte every 0.5 s ends at the round's timeout") {
  // A TLS record header announcing a 16 KiB ServerHello, then its body, one
  // byte at a time: each byte arrives well within any per-read timeout, so
  // only a deadline over the whole handshake stops the wait.
  RawServer server([](Poco::Net::StreamSocket& s, const std::atomic<bool>& stop) {
    std::string record = {'\x16', '\x03', '\x03', '\x40', '\x00', '\x02',
                          '\x00', '\x3f', '\xfc', '\x03', '\x03'};
    record += std::string(64, '\x5a');
    for (std::size_t i = 0; i < record.size() && !stop; ++i) {
      send_text(s, record.substr(i, 1));
      test::wait_for_stop(stop, 500ms);
    }
  });
  HttpCase c("https://127.0.0.1:" + std::to_string(server.port()) + "/");
  c.spec.http->tls_verify = false;
  c.spec.timing.timeout = 2s;
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::timeout);
  CHECK(r.detail == "tls handshake: timed out");
  CHECK(c.elapsed < 3s);  // timeout + a generous margin: a bound, not a speed figure
}

}  // namespace
}  // namespace linewatch
