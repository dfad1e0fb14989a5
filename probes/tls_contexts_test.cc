// Tests of the shared TLS contexts: one per setting, rebuilt when the CA file
// changes, and never a resumed session (HTTPS servers on 127.0.0.1 only).
#include "probes/tls_contexts.h"

#include <Poco/Net/NetSSL.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "probes/http_test_support.h"
#include "probes/probe.h"

namespace linewatch {
namespace {

using test::response;
using test::TempDir;

// Poco's SSL library is reference counted; a test holds one reference.
struct SslScope {
  SslScope() { Poco::Net::initializeSSL(); }
  ~SslScope() { Poco::Net::uninitializeSSL(); }
};

void copy_file(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

// One HTTPS round to `url`, trusting `ca_file`, through `contexts`.
ProbeResult https_round(const std::string& url, const std::string& ca_file, TlsContexts* contexts) {
  LineSpec line;
  line.id = "line-a";
  ProbeSpec spec{};
  spec.kind = ProbeKind::http;
  spec.timing.timeout = 2s;
  spec.http->url = url;
  spec.http->ca_file = ca_file;
  SystemClock clock;
  return run_probe(ProbeRequest{line, "web", spec, clock, contexts});
}

// An HTTPS server on 127.0.0.1 that resumes any session a client offers
// (OpenSSL's defaults: a server session cache and stateless tickets), answers
// each request 200 and records whether each connection's session was a
// resumed one. One connection at a time, on its own thread.
class ResumingServer {
 public:
  explicit ResumingServer(const TempDir& dir)
      : listener_(Poco::Net::SocketAddress("127.0.0.1", 0)),
        ctx_(SSL_CTX_new(TLS_server_method())) {
    SSL_CTX_use_certificate_chain_file(ctx_, dir.file("server.pem").c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, dir.file("server.key").c_str(), SSL_FILETYPE_PEM);
    const unsigned char id[] = "linewatch-test";
    SSL_CTX_set_session_id_context(ctx_, id, sizeof id - 1);
    thread_ = std::thread([this] { run(); });
  }
  ~ResumingServer() {
    stopping_ = true;
    thread_.join();
    SSL_CTX_free(ctx_);
  }
  std::string url() const {
    return "https://127.0.0.1:" + std::to_string(listener_.address().port()) + "/";
  }
  std::uint16_t port() const { return listener_.address().port(); }
  std::vector<bool> seen() {
    std::lock_guard lock(mutex_);
    return reused_;
  }

 private:
  void run() {
    while (!stopping_) {
      try {
        if (!listener_.poll(Poco::Timespan(0, 50'000), Poco::Net::Socket::SELECT_READ)) continue;
        Poco::Net::StreamSocket socket = listener_.acceptConnection();
        socket.setReceiveTimeout(Poco::Timespan(2, 0));
        socket.setSendTimeout(Poco::Timespan(2, 0));
        serve(socket.impl()->sockfd());
      } catch (const Poco::Exception&) {
      }
    }
  }
  void serve(int fd) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        const int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) break;
        head.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard lock(mutex_);
        reused_.push_back(SSL_session_reused(ssl) == 1);
      }
      const std::string answer = response(200, "hello");
      SSL_write(ssl, answer.data(), static_cast<int>(answer.size()));
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
  }

  Poco::Net::ServerSocket listener_;
  SSL_CTX* ctx_;
  std::mutex mutex_;
  std::vector<bool> reused_;  // guarded by mutex_
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// A plain OpenSSL client with a default context, offering `offer` (may be
// null) and reading the answer to its end so that TLS 1.3 tickets arrive.
// Returns the session to offer next time (owned by the caller), null on
// failure.
SSL_SESSION* control_round(SSL_CTX* ctx, std::uint16_t port, SSL_SESSION* offer, bool& resumed) {
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
  socket.setReceiveTimeout(Poco::Timespan(2, 0));
  socket.setSendTimeout(Poco::Timespan(2, 0));
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, socket.impl()->sockfd());
  if (offer != nullptr) SSL_set_session(ssl, offer);
  SSL_SESSION* next = nullptr;
  const std::string request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (SSL_connect(ssl) == 1 &&
      SSL_write(ssl, request.data(), static_cast<int>(request.size())) > 0) {
    char buf[4096];
    while (SSL_read(ssl, buf, sizeof buf) > 0) {
    }
    resumed = SSL_session_reused(ssl) == 1;
    next = SSL_get1_session(ssl);
    // Freed without a shutdown, a session is marked not resumable.
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  return next;
}

TEST_CASE("tls contexts: one context per setting, shared by every get") {
  SslScope ssl;
  TempDir dir;
  REQUIRE(test::make_test_pki(dir, 30));
  copy_file(dir.file("ca.pem"), dir.file("other.pem"));
  TlsContexts contexts;
  auto get = [&](bool verify, const std::string& ca) {
    Outcome<TlsContextPtr> c = contexts.get(TlsSetting{verify, ca});
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.failure().detail));
    return c.value();
  };
  const TlsContextPtr a = get(true, dir.file("ca.pem"));
  CHECK(get(true, dir.file("ca.pem")) == a);
  CHECK(get(true, dir.file("ca.pem")).get() == a.get());
  const TlsContextPtr other = get(true, dir.file("other.pem"));
  const TlsContextPtr no_verify = get(false, "");
  const TlsContextPtr system = get(true, "");
  CHECK(other != a);
  CHECK(no_verify != a);
  CHECK(no_verify != system);
  CHECK(system != a);
  CHECK(get(false, "") == no_verify);
  CHECK(get(true, "") == system);
  CHECK(contexts.builds() == 4);
}

TEST_CASE("tls contexts: rounds on many threads at once share one context") {
  TlsContexts contexts;
  const TlsSetting setting{false, ""};
  std::vector<TlsContextPtr> got(8);
  std::atomic<int> changed{0};  // a thread saw a context other than its first
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < got.size(); ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        Outcome<TlsContextPtr> c = contexts.get(setting);
        if (!c.ok()) return;  // leaves got[t] null
        if (got[t] && got[t] != c.value()) ++changed;
        got[t] = c.value();
      }
    });
  for (std::thread& t : threads) t.join();
  for (const TlsContextPtr& c : got) CHECK(c == got[0]);
  CHECK(got[0] != nullptr);
  CHECK(changed == 0);
  CHECK(contexts.builds() == 1);
}

TEST_CASE("tls contexts: a context never resumes and never asks for tickets") {
  TlsContexts contexts;
  Outcome<TlsContextPtr> c = contexts.get(TlsSetting{false, ""});
  REQUIRE(c.ok());
  CHECK(SSL_CTX_get_session_cache_mode(c.value().get()) == SSL_SESS_CACHE_OFF);
  CHECK((SSL_CTX_get_options(c.value().get()) & SSL_OP_NO_TICKET) != 0);
  CHECK(SSL_CTX_get_verify_mode(c.value().get()) == SSL_VERIFY_NONE);
}

TEST_CASE("tls contexts: a rewritten or replaced ca_file is loaded again") {
  SslScope ssl;
  TempDir dir;
  REQUIRE(test::make_test_pki(dir, 30));
  const std::string ca = dir.file("trusted.pem");
  copy_file(dir.file("ca.pem"), ca);
  TlsContexts contexts;
  Outcome<TlsContextPtr> first = contexts.get(TlsSetting{true, ca});
  REQUIRE(first.ok());

  SUBCASE("rewritten in place, another size") { std::ofstream(ca, std::ios::app) << "\n"; }
  SUBCASE("replaced by rename, same bytes") {
    copy_file(dir.file("ca.pem"), dir.file("trusted.pem.new"));
    std::filesystem::rename(dir.file("trusted.pem.new"), ca);
  }
  Outcome<TlsContextPtr> second = contexts.get(TlsSetting{true, ca});
  REQUIRE(second.ok());
  CHECK(second.value() != first.value());
  CHECK(contexts.builds() == 2);
  Outcome<TlsContextPtr> third = contexts.get(TlsSetting{true, ca});
  REQUIRE(third.ok());
  CHECK(third.value() == second.value());
}

TEST_CASE("tls contexts: a missing ca_file fails naming it and is not cached") {
  SslScope ssl;
  TempDir dir;
  REQUIRE(test::make_test_pki(dir, 30));
  const std::string ca = dir.file("later.pem");
  TlsContexts contexts;
  Outcome<TlsContextPtr> missing = contexts.get(TlsSetting{true, ca});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.failure().reason == Reason::tls);
  CHECK(missing.failure().detail.find("later.pem") != std::string::npos);
  copy_file(dir.file("ca.pem"), ca);
  CHECK(contexts.get(TlsSetting{true, ca}).ok());
  CHECK(contexts.builds() == 1);
}

TEST_CASE("https: shared contexts verify with the right CA, refuse a wrong one, follow rotation") {
  SslScope ssl;
  TempDir right, wrong;
  REQUIRE(test::make_test_pki(right, 30));
  REQUIRE(test::make_test_pki(wrong, 30));
  ResumingServer server(right);
  const std::string ca = right.file("trusted.pem");
  copy_file(wrong.file("ca.pem"), ca);
  TlsContexts contexts;

  ProbeResult r = https_round(server.url(), ca, &contexts);
  CHECK(r.reason == Reason::tls);
  CHECK(r.detail.find("certificate verify failed") != std::string::npos);
  r = https_round(server.url(), ca, &contexts);
  CHECK(r.reason == Reason::tls);  // the cached context still refuses it

  copy_file(right.file("ca.pem"), ca);  // the operator puts the right CA in place
  r = https_round(server.url(), ca, &contexts);
  CHECK_MESSAGE(r.ok, r.detail);
  r = https_round(server.url(), ca, &contexts);
  CHECK_MESSAGE(r.ok, r.detail);
  CHECK(contexts.builds() == 2);
}

TEST_CASE("https: every round is a full handshake, even on a shared context") {
  SslScope ssl;
  TempDir dir;
  REQUIRE(test::make_test_pki(dir, 30));
  ResumingServer server(dir);

  // The control: this server does resume a client that offers its session,
  // so the rounds below would be seen resumed if they offered one.
  bool resumed = true;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_SESSION* session = control_round(ctx, server.port(), nullptr, resumed);
  REQUIRE(session != nullptr);
  CHECK_FALSE(resumed);
  SSL_SESSION* again = control_round(ctx, server.port(), session, resumed);
  CHECK(resumed);
  SSL_SESSION_free(session);
  SSL_SESSION_free(again);
  SSL_CTX_free(ctx);

  TlsContexts contexts;
  for (int i = 0; i < 3; ++i) {
    const ProbeResult r = https_round(server.url(), dir.file("ca.pem"), &contexts);
    REQUIRE_MESSAGE(r.ok, r.detail);
    CHECK(r.phases.tls);
  }
  CHECK(contexts.builds() == 1);
  const std::vector<bool> seen = server.seen();
  REQUIRE(seen.size() == 5);
  CHECK(seen[1]);  // the control's second connection
  for (std::size_t i = 2; i < seen.size(); ++i) CHECK_FALSE(seen[i]);
}

}  // namespace
}  // namespace linewatch
