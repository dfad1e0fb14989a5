// HttpServer: the small HTTP/1.x server under the agent's API, built to keep
// answering its operator while hostile clients hold sockets open.
//
// One thread runs an epoll loop over non-blocking sockets, so a slow client
// costs a file descriptor and a few KiB, never a thread. A connection
// carries one request (no keep-alive):
//   1. its head must arrive within `head_timeout` of the accept, else 408; it
//      may not pass `max_head_bytes`, else 431 (the deadline is not extended
//      by a client that trickles bytes);
//   2. only where `requests.allow_post` is set: a POST's body, of the length
//      its head declared (at most `requests.max_body_bytes`), must follow
//      within `body_timeout` of the head's end, else 408 (again a fixed
//      deadline); "Expect: 100-continue" is answered with 100 Continue;
//   3. the handler builds the answer in memory; the server refuses bad
//      requests itself as http_message.h says (400, 405, 411, 413, 505);
//   4. the answer must be taken by the client within `write_timeout`, else the
//      connection is dropped;
//   5. the server shuts its side, then reads and discards what the client
//      still sends for at most a second before closing, so that a close
//      never resets an answer the client has not read yet.
//
// Limits. The kernel hands a connection over only once its first bytes have
// arrived (TCP_DEFER_ACCEPT for `head_timeout`, rounded up to its SYN-ACK
// retries: 7 s for 5 s), so an idle socket costs the agent nothing, and an
// ordinary request is complete, and answered, the moment it is accepted.
// When a new connection would pass `max_per_client` for its address, the
// oldest connection of that address still waiting for its head (or answered
// and lingering) is closed to make room, failing that the oldest one still
// writing to a client that does not read; when it would pass
// `max_connections`, the same is done to the address holding the most
// connections. A new connection is never refused, so an operator sharing
// 127.0.0.1 with an attacker is not locked out: its request is served on
// accept. One that comes in pieces starts as the youngest connection, and
// the loop reads clients' input before each batch of accepts (fewer than
// half of `max_per_client`), so a flood evicts it only when its pieces come
// slower than the flood. A connection still sending its body counts as one
// waiting for its head. Memory: at most `max_connections` × (`max_head_bytes`
// + `max_body_bytes` + 4 KiB) of requests in flight.
//
// Thread-safety: start() and the destructor from the owner's thread; port()
// from any. The handler and the timer run on the server's thread, one at a
// time, and must be quick: while one runs no client is served.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "agent/http_message.h"
#include "core/error.h"
#include "core/time.h"

namespace linewatch {

struct HttpServerOptions {
  // From accept to the blank line ending the request head; then 408.
  Duration head_timeout = std::chrono::seconds(5);
  // From the answer being ready to the client having taken all of it; then
  // the connection is dropped. Keeps a client that never reads from holding
  // the answer's memory.
  Duration write_timeout = std::chrono::seconds(5);
  // Largest request head (request line, headers, blank line); beyond it 431.
  std::size_t max_head_bytes = 8 * 1024;
  // Open connections in all, and per client address. The total is further
  // held to a quarter of RLIMIT_NOFILE's soft limit (256 of the usual 1024)
  // so that a flood never takes the descriptors the probes and storage need.
  int max_connections = 256;
  int max_per_client = 64;
  // Methods beyond GET and HEAD, and the body limit. Default: GET and HEAD only.
  RequestRules requests{};
  // From the blank line ending a POST's head to the last byte of its body;
  // then 408.
  Duration body_timeout = std::chrono::seconds(10);
};

// A job run on the server's thread between requests: `fire` runs `first`
// after start(), then again each time the Duration it returns has passed
// (at least 1 ms later). One that throws runs again a second later. An empty
// `fire` is no timer. For work that must share the handler's thread.
struct HttpTimer {
  Duration first{};
  std::function<Duration()> fire;
};

// Answers one request that passed the checks; runs on the server's thread.
// An exception escaping it becomes a 500 {"error":"internal server error"}.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // Binds `listen` ("HOST:PORT", IPv4 or [IPv6]; port 0 picks a free one)
  // and starts serving on a thread of its own, with `timer` when given.
  // Failure: an io error whose message starts with `listen` and names the
  // failed step, e.g. "127.0.0.1:9464: bind: Address already in use".
  static Result<std::unique_ptr<HttpServer>> start(const std::string& listen,
                                                   HttpServerOptions options, HttpHandler handler,
                                                   HttpTimer timer = {});

  // Stops the loop, joins its thread and closes every connection. Prompt: it
  // waits for no client and at most for a handler already running.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  class Loop;  // the event loop, in http_server.cc
  HttpServer(std::unique_ptr<Loop> loop, std::uint16_t port);

  std::unique_ptr<Loop> loop_;
  std::uint16_t port_;
  std::thread thread_;  // runs loop_; joined by the destructor
};

}  // namespace linewatch
