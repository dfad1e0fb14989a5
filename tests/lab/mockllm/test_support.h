// Test-only support for mockllm_test.cc: a temporary directory, a throw-away
// CA and server certificate made with the openssl CLI, a request log sink and
// small loopback HTTP(S) clients.
//
// Thread-safety: LogSink is thread-safe (the server logs from its request
// threads); the rest is used from one test thread at a time.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/lab/mockllm/server.h"
#include "tests/support/temp_dir.h"

namespace linewatch::mockllm::test {

// A fresh directory under the system temp dir, removed with its content.
using TempDir = linewatch::testing::TempDir;

// Writes ca.pem (a self-signed CA) and server.pem/server.key (an RSA key and a
// certificate it signed for IP:127.0.0.1 and DNS:localhost) into `dir`.
// Returns false when the openssl CLI failed.
inline bool make_pki(const TempDir& dir) {
  const std::string script =
      "cd '" + dir.file("") +
      "' && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mockllm-test-ca"
      " -keyout ca.key -out ca.pem"
      " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
      " && openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key"
      " -out server.csr"
      " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n'"
      " > san.cnf"
      " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
      " -extfile san.cnf -out server.pem";
  return std::system(("( " + script + " ) >/dev/null 2>&1").c_str()) == 0;
}

// Collects the server's request log lines.
class LogSink {
 public:
  std::function<void(const std::string&)> writer() {
    return [this](const std::string& line) {
      std::lock_guard lock(mu_);
      lines_.push_back(line);
    };
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

struct Reply {
  int status = 0;
  std::string body;
  Poco::Net::HTTPResponse head;
  Poco::JSON::Object::Ptr json() const {
    return Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
  }
};

// One request on a fresh connection. `token` empty: no Authorization header.
// `tls` set: HTTPS with that client context.
inline Reply call(const Poco::Net::SocketAddress& to, const std::string& method,
                  const std::string& path, const std::string& body = "",
                  const std::string& token = "", Poco::Net::Context::Ptr tls = nullptr) {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (tls)
    session = std::make_unique<Poco::Net::HTTPSClientSession>(to.host().toString(), to.port(), tls);
  else
    session = std::make_unique<Poco::Net::HTTPClientSession>(to);
  session->setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPRequest::HTTP_1_1);
  if (!token.empty()) request.set("Authorization", "Bearer " + token);
  if (!body.empty() || method == "POST") {
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
  }
  session->sendRequest(request) << body;
  Reply reply;
  std::istream& in = session->receiveResponse(reply.head);
  Poco::StreamCopier::copyToString(in, reply.body);
  reply.status = reply.head.getStatus();
  return reply;
}

// Splits a text/event-stream body into the payloads of its "data: " events.
inline std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> events;
  std::size_t pos = 0;
  while (pos < body.size()) {
    const std::size_t end = body.find("\n\n", pos);
    const std::string event = body.substr(pos, end == std::string::npos ? end : end - pos);
    if (event.rfind("data: ", 0) == 0) events.push_back(event.substr(6));
    if (end == std::string::npos) break;
    pos = end + 2;
  }
  return events;
}

inline std::string chat_body(const std::string& model, bool stream, int max_tokens = 0) {
  std::string body = R"({"model":")" + model +
                     R"(","messages":[{"role":"user","content":"Say something, please."}])";
  if (stream) body += R"(,"stream":true)";
  if (max_tokens > 0) body += R"(,"max_tokens":)" + std::to_string(max_tokens);
  return body + "}";
}

}  // namespace linewatch::mockllm::test
