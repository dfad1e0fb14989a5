// mockllm: an HTTP(S) server speaking a subset of the OpenAI API, standing in
// for an LLM provider at the far end of the line lab and in loopback tests.
//
// Endpoints: GET /v1/models, POST /v1/chat/completions (plain or streamed as
// server-sent events), GET /healthz, and the test-only control endpoint
// GET|POST /mock/config, which answers only clients in the same network
// namespace (loopback, or a source address that is one of this host's own
// interface addresses) because it lets a caller force failures. Replies are
// paced (time to first token, then one token per interval) so latency over
// an impaired line is what a client would see from a real provider.
//
// Thread-safety: Server's methods may be called from any thread. Requests are
// served concurrently on a thread pool the Server owns; the pacing knobs are
// shared and changed atomically by /mock/config.
#pragma once

#include <Poco/Net/SocketAddress.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace linewatch::mockllm {

// Pacing and failure knobs that /mock/config may change while running.
struct Behaviour {
  Duration ttft = std::chrono::milliseconds(200);           // request to first chunk
  Duration token_interval = std::chrono::milliseconds(20);  // between streamed chunks
  int tokens = 20;                                          // content chunks per reply
  // 0: normal. 429, 500 or 503: every /v1/* request gets that status with an
  // OpenAI-style error body (429 also carries Retry-After).
  int forced_status = 0;
  std::chrono::seconds retry_after{1};  // the Retry-After of a forced 429
};

// Upper bounds enforced on Behaviour (CLI and /mock/config) so no request is
// held for an unbounded time.
inline constexpr Duration kMaxTtft = std::chrono::minutes(10);
inline constexpr Duration kMaxTokenInterval = std::chrono::minutes(1);
inline constexpr int kMaxTokens = 100'000;

// Success: ok. Failure: invalid_argument naming the field out of range.
Status validate(const Behaviour& b);

struct Options {
  // "ADDR:PORT" ("127.0.0.1:8080", "[::1]:0"); port 0 picks an ephemeral port
  // (see Server::http_addresses()). At least one of listen / tls_listen.
  std::vector<std::string> listen;
  std::vector<std::string> tls_listen;
  std::string cert_file;  // PEM; required when tls_listen is not empty
  std::string key_file;   // PEM, unencrypted
  // Accepted bearer tokens. Empty: no authentication required.
  std::vector<std::string> tokens;
  // Model ids listed and accepted. Default: "gpt-4o-mini", "mock-1".
  std::vector<std::string> models = {"gpt-4o-mini", "mock-1"};
  Behaviour behaviour;
  // Receives one line (no newline) per finished request and is called
  // concurrently from request threads. Empty: no request log.
  std::function<void(const std::string&)> log;
};

class Server {
 public:
  // Binds every listener and starts serving. Success: a running server.
  // Failure: invalid_argument (bad address, no listener, bad behaviour, TLS
  // listener without cert/key) or io (bind failed, unreadable cert/key).
  static Result<std::unique_ptr<Server>> start(Options options);

  // Stops and joins (see stop()).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound addresses, in the order given, with ephemeral ports resolved.
  const std::vector<Poco::Net::SocketAddress>& http_addresses() const;
  const std::vector<Poco::Net::SocketAddress>& https_addresses() const;

  // The knobs now in force; set_behaviour() does what /mock/config does.
  Behaviour behaviour() const;
  Status set_behaviour(const Behaviour& b);

  // Stops accepting, cuts replies that are still pacing, aborts open
  // connections and waits for request threads to finish. Idempotent.
  void stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace linewatch::mockllm
