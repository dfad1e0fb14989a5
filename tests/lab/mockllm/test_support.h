// Test-only support for mockllm's tests: a temporary directory, a throw-away
// CA and server certificate made with the openssl CLI, a request log sink,
// small loopback HTTP(S) clients, each flavour's auth headers and a
// server-sent-events reader independent of the server's writer.
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
#include <doctest/doctest.h>

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

using Headers = std::vector<std::pair<std::string, std::string>>;

// Each flavour's auth headers for `key`, as its clients send them.
inline Headers bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }
inline Headers anthropic_key(const std::string& key) {
  return {{"x-api-key", key}, {"anthropic-version", "2023-06-01"}};
}
inline Headers gemini_key(const std::string& key) { return {{"x-goog-api-key", key}}; }

// One request on a fresh connection with `headers`. `tls` set: HTTPS with
// that client context.
inline Reply call(const Poco::Net::SocketAddress& to, const std::string& method,
                  const std::string& path, const std::string& body = "",
                  const Headers& headers = {}, Poco::Net::Context::Ptr tls = nullptr) {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (tls)
    session = std::make_unique<Poco::Net::HTTPSClientSession>(to.host().toString(), to.port(), tls);
  else
    session = std::make_unique<Poco::Net::HTTPClientSession>(to);
  session->setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPRequest::HTTP_1_1);
  for (const auto& [name, value] : headers) request.set(name, value);
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

struct SseEvent {
  std::string name;  // the event: field, "" when none
  std::string data;
};

// Parses a text/event-stream body (lines ending in LF or CRLF) into its
// events; `comments` (if given) receives the number of ':' comment lines.
inline std::vector<SseEvent> sse_events(const std::string& body, int* comments = nullptr) {
  std::vector<SseEvent> events;
  SseEvent pending;
  bool has_data = false;
  int seen_comments = 0;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t end = body.find('\n', pos);
    if (end == std::string::npos) break;  // an unfinished line is not an event
    std::string line = body.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    pos = end + 1;
    if (line.empty()) {
      if (has_data) events.push_back(pending);
      pending = {};
      has_data = false;
    } else if (line[0] == ':') {
      ++seen_comments;
    } else if (line.rfind("event: ", 0) == 0) {
      pending.name = line.substr(7);
    } else if (line.rfind("data: ", 0) == 0) {
      pending.data += (has_data ? "\n" : "") + line.substr(6);
      has_data = true;
    }
  }
  if (comments) *comments = seen_comments;
  return events;
}

// The payloads of a body's events.
inline std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> data;
  for (const SseEvent& e : sse_events(body)) data.push_back(e.data);
  return data;
}

inline Poco::JSON::Object::Ptr parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
}

// The key every Mock accepts unless told otherwise.
inline constexpr const char* kKey = "sk-test-7f3a9c";

// A server on an ephemeral loopback port whose every flavour accepts kKey,
// streams 5 tokens 150 ms after the request and 10 ms apart, then `tweak`
// applied to each flavour's behaviour.
struct Mock {
  LogSink logs;
  std::unique_ptr<Server> server;
  Poco::Net::SocketAddress at;

  explicit Mock(const std::function<void(Behaviour&)>& tweak = {}) {
    Options o;
    o.listen = {"127.0.0.1:0"};
    for (Behaviour& b : o.behaviour) {
      b.keys = {kKey};
      b.ttft = std::chrono::milliseconds(150);
      b.token_interval = std::chrono::milliseconds(10);
      b.tokens = 5;
      if (tweak) tweak(b);
    }
    o.log = logs.writer();
    auto started = Server::start(std::move(o));
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
    server = std::move(*started);
    at = server->http_addresses().at(0);
    REQUIRE(at.port() != 0);
  }
};

inline std::string chat_body(const std::string& model, bool stream, int max_tokens = 0) {
  std::string body = R"({"model":")" + model +
                     R"(","messages":[{"role":"user","content":"Say something, please."}])";
  if (stream) body += R"(,"stream":true)";
  if (max_tokens > 0) body += R"(,"max_tokens":)" + std::to_string(max_tokens);
  return body + "}";
}

inline std::string messages_body(const std::string& model, bool stream, int max_tokens = 1024) {
  return R"({"model":")" + model + R"(","max_tokens":)" + std::to_string(max_tokens) +
         R"(,"messages":[{"role":"user","content":"Say something, please."}])" +
         (stream ? R"(,"stream":true})" : "}");
}

inline std::string gemini_body(int max_tokens = 0) {
  std::string body = R"({"contents":[{"role":"user","parts":[{"text":"Say something."}]}])";
  if (max_tokens > 0)
    body += R"(,"generationConfig":{"maxOutputTokens":)" + std::to_string(max_tokens) + "}";
  return body + "}";
}

// A streaming completion of model mock-1 as each flavour's client sends it.
struct Completion {
  std::string path;
  Headers headers;
  std::string body;
};
inline Completion stream_request(Flavour f, int max_tokens = 0, const std::string& key = kKey) {
  switch (f) {
    case Flavour::anthropic:
      return {"/v1/messages", anthropic_key(key),
              messages_body("mock-1", true, max_tokens > 0 ? max_tokens : 1024)};
    case Flavour::gemini:
      return {"/v1beta/models/mock-1:streamGenerateContent?alt=sse", gemini_key(key),
              gemini_body(max_tokens)};
    case Flavour::openai:
      break;
  }
  return {"/v1/chat/completions", bearer(key), chat_body("mock-1", true, max_tokens)};
}

// Raw bytes found in every content event of the flavour and in no other,
// and those of content token 0's event.
inline std::string content_marker(Flavour f) {
  switch (f) {
    case Flavour::anthropic:
      return R"("type":"text_delta","text":")";
    case Flavour::gemini:
      return R"("parts":[{"text":")";
    case Flavour::openai:
      break;
  }
  return R"("delta":{"content":")";
}
inline std::string first_content_needle(Flavour f) { return content_marker(f) + "This\""; }

// The bytes of the flavour's end marker.
inline std::string end_marker(Flavour f) {
  switch (f) {
    case Flavour::anthropic:
      return "event: message_stop";
    case Flavour::gemini:
      return R"("finishReason":"STOP")";
    case Flavour::openai:
      break;
  }
  return "data: [DONE]";
}

// The content events of a decoded stream body.
inline int content_events(Flavour f, const std::string& body) {
  int n = 0;
  for (const SseEvent& e : sse_events(body))
    n += e.data.find(content_marker(f)) != std::string::npos;
  return n;
}

}  // namespace linewatch::mockllm::test
