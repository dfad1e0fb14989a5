// Test-only support for the notifier tests: a fixed notification and clock,
// a loopback receiver (a real Poco HTTPServer on 127.0.0.1) that records
// each request and answers as scripted, an independent HMAC by python3, and a
// self-signed TLS server context.
//
// Thread-safety: ScriptedReceiver's server threads and the test thread share
// its records under a mutex.
#pragma once

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "exporters/notify.h"
#include "tests/support/temp_dir.h"

namespace linewatch::test {

// 2027-01-15T08:00:00Z, when the sample alert began.
inline WallTime sample_start() { return WallTime(std::chrono::milliseconds(1'800'000'000'000)); }
// The wall clock of every formatted request: 30.123 s later.
inline WallTime sample_now() { return WallTime(std::chrono::milliseconds(1'800'000'030'123)); }

// A firing rtt alert about target openai over line cn2-bj-1.
inline Notification sample_notification() {
  Notification n;
  n.id = "bj-gw-1/api-slow/42";
  n.agent = "bj-gw-1";
  n.rule = "api-slow";
  n.status = NotifyStatus::firing;
  n.severity = "critical";
  n.summary = "openai answers slowly over cn2-bj-1";
  n.labels = {{"line", "cn2-bj-1"},
              {"target", "openai"},
              {"kind", "llm"},
              {"rule", "api-slow"},
              {"severity", "critical"}};
  n.value_text = "3412 ms";
  n.value = 3412;
  n.threshold_text = "3000 ms";
  n.threshold = 3000;
  n.starts_at = sample_start();
  return n;
}

inline NotifierSpec spec_of(NotifierKind kind, std::string id = "n1") {
  NotifierSpec s;
  s.id = std::move(id);
  s.kind = kind;
  return s;
}

// Runs `command` in a shell and returns what it printed, without the final
// line end. Throws when it cannot be run or exits non-zero.
inline std::string shell_output(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("cannot run: " + command);
  std::string out;
  std::array<char, 256> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  if (::pclose(p) != 0) throw std::runtime_error("failed: " + command);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// `s` in single quotes for /bin/sh.
inline std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// base64(HMAC-SHA256(key, message)) computed by Python's hmac module, an
// implementation independent of the one under test.
inline std::string python_hmac_base64(const std::string& key, const std::string& message) {
  return shell_output(
      "python3 -c 'import sys,hmac,hashlib,base64; "
      "print(base64.b64encode(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), "
      "hashlib.sha256).digest()).decode())' " +
      sh_quote(key) + " " + sh_quote(message));
}

// A server context with a fresh self-signed certificate for 127.0.0.1 in
// `dir` (cert.pem, key.pem); nullptr when openssl is missing.
inline Poco::Net::Context::Ptr self_signed_context(const linewatch::testing::TempDir& dir) {
  const std::string cmd = "cd " + sh_quote(dir.path()) +
                          " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
                          " -nodes -keyout key.pem -out cert.pem -days 2 -subj /CN=127.0.0.1"
                          " -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return nullptr;
  Poco::Net::Context::Params params;
  params.privateKeyFile = dir.file("key.pem");
  params.certificateFile = dir.file("cert.pem");
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;
  return new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
}

// A receiver on 127.0.0.1 that records every request and answers each with
// the reply set last.
class ScriptedReceiver {
 public:
  struct Request {
    std::string uri;  // path and query as sent
    std::map<std::string, std::string> headers;
    std::string body;
  };
  struct Reply {
    int status = 200;
    std::string body = "{}";
    std::vector<std::pair<std::string, std::string>> headers;
  };

  explicit ScriptedReceiver(Reply reply, Poco::Net::Context::Ptr tls = nullptr)
      : reply_(std::move(reply)), tls_(tls) {
    const Poco::Net::SocketAddress at("127.0.0.1", 0);
    Poco::Net::ServerSocket socket =
        tls ? Poco::Net::SecureServerSocket(at, 64, tls) : Poco::Net::ServerSocket(at);
    port_ = socket.address().port();
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(2);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, params);
    server_->start();
  }
  ~ScriptedReceiver() { server_->stopAll(true); }
  ScriptedReceiver(const ScriptedReceiver&) = delete;
  ScriptedReceiver& operator=(const ScriptedReceiver&) = delete;

  std::string base() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }
  std::uint16_t port() const { return port_; }
  std::vector<Request> requests() const {
    std::lock_guard lk(mu_);
    return requests_;
  }

 private:
  class Handler final : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(ScriptedReceiver& r) : r_(r) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req,
                       Poco::Net::HTTPServerResponse& resp) override {
      Request got;
      got.uri = req.getURI();
      for (const auto& [name, value] : req) got.headers[name] = value;
      Poco::StreamCopier::copyToString(req.stream(), got.body);
      Reply reply;
      {
        std::lock_guard lk(r_.mu_);
        r_.requests_.push_back(got);
        reply = r_.reply_;
      }
      resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
      for (const auto& [name, value] : reply.headers) resp.set(name, value);
      resp.setContentType("application/json");
      resp.setContentLength(static_cast<std::streamsize>(reply.body.size()));
      resp.send() << reply.body;
    }

   private:
    ScriptedReceiver& r_;
  };
  class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(ScriptedReceiver& r) : r_(r) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(r_);
    }

   private:
    ScriptedReceiver& r_;
  };

  mutable std::mutex mu_;
  Reply reply_;                    // guarded by mu_
  std::vector<Request> requests_;  // guarded by mu_
  Poco::Net::Context::Ptr tls_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Poco::Net::HTTPServer> server_;  // last: serves once the above exist
};

}  // namespace linewatch::test
