// mockllm: an HTTP(S) server speaking the OpenAI, Anthropic and Gemini APIs
// side by side, standing in for LLM providers at the far end of the line lab
// and in loopback tests (see README.md for the routes, knobs and records).
//
// API calls: each flavour's model list and streaming completion (route.h
// says how a request's flavour is chosen), GET /healthz, and the test-only
// control endpoints /mock/config and /mock/records (control.h), which answer
// only clients in the same network namespace because they let a caller force
// failures. Replies are paced (time to first content byte, then one token per
// interval) so latency over an impaired line is what a client would see from
// a real provider; each completion leaves a timing record (record.h).
//
// Thread-safety: Server's methods may be called from any thread. Requests are
// served concurrently on a thread pool the Server owns; the behaviours are
// shared and swapped atomically by /mock/config.
#pragma once

#include <Poco/Net/SocketAddress.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "tests/lab/mockllm/behaviour.h"
#include "tests/lab/mockllm/record.h"

namespace linewatch::mockllm {

struct Options {
  // "ADDR:PORT" ("127.0.0.1:8080", "[::1]:0"); port 0 picks an ephemeral port
  // (see Server::http_addresses()). At least one of listen / tls_listen.
  std::vector<std::string> listen;
  std::vector<std::string> tls_listen;
  std::string cert_file;  // PEM; required when tls_listen is not empty
  std::string key_file;   // PEM, unencrypted
  // One per flavour (keys, models, pacing, failures, framing).
  Behaviours behaviour = default_behaviours();
  // Receives one line (no newline) per finished request, and for a
  // completion its timing record's JSON line too; called concurrently from
  // request threads. Empty: no request log.
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

  // The behaviours now in force; set_behaviours() does what /mock/config
  // does. Failure: invalid_argument (see validate()), nothing changed.
  Behaviours behaviours() const;
  Status set_behaviours(const Behaviours& all);

  // The timing records kept with seq > `after`, the newest `last` of them,
  // oldest first (what GET /mock/records answers).
  std::vector<Record> records(std::uint64_t after = 0, std::size_t last = SIZE_MAX) const;

  // Stops accepting, cuts replies that are still pacing, aborts open
  // connections and waits for request threads to finish. Idempotent.
  void stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace linewatch::mockllm
