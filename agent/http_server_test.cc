// HttpServer on real loopback sockets: protocol answers, the head deadline
// and size limit, connection caps with eviction, a client that never reads,
// and a prompt stop. Deadlines are injected short so the tests stay fast;
// every wait on a socket is bounded.
#include "agent/http_server.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/fd.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

const std::string& big_body() {
  static const std::string body(32 << 20, 'x');  // far more than socket buffers hold
  return body;
}

std::unique_ptr<HttpServer> start_server(HttpServerOptions options = {}) {
  auto server = HttpServer::start("127.0.0.1:0", options, [](const HttpRequest& req) {
    if (req.path == "/hello") return HttpResponse{200, "text/plain", "hello " + req.query + "\n"};
    if (req.path == "/big") return HttpResponse{200, "text/plain", big_body()};
    if (req.path == "/throw") throw std::runtime_error("handler failed");
    return error_response(404);
  });
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error().message));
  return std::move(*server);
}

// A server that allows POST: /echo answers "METHOD BODY" and /peer the
// client's address as the handler saw it.
std::unique_ptr<HttpServer> start_post_server(HttpServerOptions options = {}) {
  options.requests.allow_post = true;
  auto server = HttpServer::start("127.0.0.1:0", options, [](const HttpRequest& req) {
    if (req.path == "/echo") return HttpResponse{200, "text/plain", req.method + " " + req.body};
    if (req.path == "/peer") return HttpResponse{200, "text/plain", req.peer};
    return error_response(404);
  });
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error().message));
  return std::move(*server);
}

// A blocking loopback client, from `source` (any 127.0.0.0/8 address is
// local) when given; `rcvbuf` shrinks its receive buffer before connecting.
Fd connect_to(std::uint16_t port, const char* source = nullptr, int rcvbuf = 0) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd.valid());
  if (rcvbuf > 0) setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (source) {
    inet_pton(AF_INET, source, &a.sin_addr);
    REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  REQUIRE(connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

void send_text(const Fd& fd, std::string_view text) {
  REQUIRE(send(fd.get(), text.data(), text.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(text.size()));
}

struct Received {
  std::string data;
  bool closed = false;  // the server closed or reset; false when `limit` passed first
};

// What the server sends until it closes, waiting at most `limit` in all.
Received read_all(const Fd& fd, Duration limit = 5s) {
  Received r;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[65536];
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd.get(), POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return r;
    const ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) {
      r.closed = true;
      return r;
    }
    r.data.append(buf, static_cast<std::size_t>(n));
  }
}

// One request, the whole answer.
std::string exchange(std::uint16_t port, std::string_view raw, const char* source = nullptr) {
  Fd fd = connect_to(port, source);
  send_text(fd, raw);
  const Received r = read_all(fd);
  CHECK(r.closed);
  return r.data;
}

bool has_header(const std::string& answer, const std::string& line) {
  const auto end = answer.find("\r\n\r\n");
  return answer.substr(0, end + 2).find("\r\n" + line + "\r\n") != std::string::npos;
}

std::string body_of(const std::string& answer) {
  const auto end = answer.find("\r\n\r\n");
  return end == std::string::npos ? "" : answer.substr(end + 4);
}

// Whether the server has closed `fd`, waiting up to `limit` for it.
bool closed_by_server(const Fd& fd, Duration limit) {
  pollfd p{fd.get(), POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(limit).count())) <=
      0)
    return false;
  char c;
  return recv(fd.get(), &c, 1, MSG_DONTWAIT) <= 0;
}

}  // namespace

TEST_CASE("GET answers with reason phrase, Content-Length, no-store and Connection close") {
  auto server = start_server();
  const std::string a = exchange(server->port(), "GET /hello?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(a.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(has_header(a, "Content-Type: text/plain"));
  CHECK(has_header(a, "Content-Length: 10"));
  CHECK(has_header(a, "Cache-Control: no-store"));
  CHECK(has_header(a, "Connection: close"));
  CHECK(body_of(a) == "hello x=1\n");
}

TEST_CASE("HTTP/1.0, bare LF line ends and absolute-form targets are served") {
  auto server = start_server();
  CHECK(exchange(server->port(), "GET /hello HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(exchange(server->port(), "GET /hello HTTP/1.1\nHost: t\n\n").starts_with("HTTP/1.1 200 "));
  const std::string a =
      exchange(server->port(), "GET http://t/hello?q HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(body_of(a) == "hello q\n");
}

TEST_CASE("HEAD answers the headers of GET without the body") {
  auto server = start_server();
  const std::string a = exchange(server->port(), "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(a.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(has_header(a, "Content-Length: 7"));
  CHECK(body_of(a).empty());
}

TEST_CASE("a head without its blank line gets 408 once head_timeout passes") {
  auto server = start_server({.head_timeout = 200ms});
  // The HTTP/0.9 shape and a valid request line whose headers never end.
  for (std::string_view raw : {"GET /\r\n", "GET /hello HTTP/1.1\r\nHost: t\r\n"}) {
    CAPTURE(raw);
    const std::string a = exchange(server->port(), raw);
    CHECK(a.starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    CHECK(body_of(a) == R"({"error":"request timeout"})");
  }
}

TEST_CASE("a client trickling header lines gets 408 at the deadline all the same") {
  auto server = start_server({.head_timeout = 300ms});
  Fd fd = connect_to(server->port());
  send_text(fd, "GET /hello HTTP/1.1\r\n");
  // One line every 50 ms for up to 5 s: an idle timer would never fire
  // while the lines keep coming.
  pollfd p{fd.get(), POLLIN, 0};
  bool answered_while_sending = false;
  for (int i = 0; i < 100 && !answered_while_sending; ++i) {
    answered_while_sending = poll(&p, 1, 50) == 1;
    if (!answered_while_sending) send_text(fd, "X-Slow: 1\r\n");
  }
  CHECK(answered_while_sending);
  CHECK(read_all(fd).data.starts_with("HTTP/1.1 408 Request Timeout\r\n"));
}

TEST_CASE("HTTP/9.9 gets 505 HTTP Version Not Supported") {
  auto server = start_server();
  for (std::string_view raw : {"GET /hello HTTP/9.9\r\n\r\n", "GET /hello HTTP/2.0\r\n\r\n",
                               "GET /hello HTTP/1.2\r\n\r\n"}) {
    CAPTURE(raw);
    const std::string a = exchange(server->port(), raw);
    CHECK(a.starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n"));
    CHECK(body_of(a) == R"({"error":"http version not supported"})");
  }
}

TEST_CASE("a malformed request or header line gets 400 Bad Request") {
  auto server = start_server();
  for (std::string_view raw :
       {"GARBAGE\r\n\r\n", "GET /\r\n\r\n", "GET  /hello HTTP/1.1\r\n\r\n",
        "GET /hello HTTP/1.1 x\r\n\r\n", "GET hello HTTP/1.1\r\n\r\n", "GET /hello HTTP/1\r\n\r\n",
        "G(T /hello HTTP/1.1\r\n\r\n", "GET /hello HTTP/1.1\r\nno colon\r\n\r\n",
        "GET /hello HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", "\r\n\r\n"}) {
    CAPTURE(raw);
    const std::string a = exchange(server->port(), raw);
    CHECK(a.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    CHECK(body_of(a) == R"({"error":"bad request"})");
  }
}

TEST_CASE("POST gets 405 Method Not Allowed with an Allow header") {
  auto server = start_server();
  for (std::string_view raw : {"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
                               "DELETE /hello HTTP/1.0\r\n\r\n"}) {
    CAPTURE(raw);
    const std::string a = exchange(server->port(), raw);
    CHECK(a.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
    CHECK(has_header(a, "Allow: GET, HEAD"));
    CHECK(body_of(a) == R"({"error":"method not allowed"})");
  }
}

TEST_CASE("a POST body sent in pieces reaches the handler whole, and GET still works beside it") {
  auto server = start_post_server();
  Fd fd = connect_to(server->port());
  send_text(fd, "POST /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\nhel");
  std::this_thread::sleep_for(50ms);
  send_text(fd, "lo ");
  std::this_thread::sleep_for(50ms);
  send_text(fd, "worldEXTRA");  // bytes past Content-Length are not the body
  const Received r = read_all(fd);
  CHECK(r.closed);
  CHECK(r.data.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(body_of(r.data) == "POST hello world");
  CHECK(body_of(exchange(server->port(), "GET /echo HTTP/1.1\r\n\r\n")) == "GET ");
  CHECK(body_of(exchange(server->port(), "POST /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n")) ==
        "POST ");
}

TEST_CASE("a POST body above max_body_bytes gets 413 without the body being waited for") {
  HttpServerOptions options;
  options.requests.max_body_bytes = 1000;
  options.body_timeout = 60s;
  auto server = start_post_server(options);
  Fd fd = connect_to(server->port());
  send_text(fd, "POST /echo HTTP/1.1\r\nContent-Length: 1001\r\n\r\nxx");
  const Received r = read_all(fd);
  CHECK(r.data.starts_with("HTTP/1.1 413 Content Too Large\r\n"));
  CHECK(body_of(r.data) == R"({"error":"content too large"})");
  const std::string fits =
      "POST /echo HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'b');
  CHECK(body_of(exchange(server->port(), fits)) == "POST " + std::string(1000, 'b'));
}

TEST_CASE("a chunked POST gets 411, an unsized one has an empty body, GET-only answers 405") {
  auto server = start_post_server();
  const std::string chunked =
      exchange(server->port(),
               "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  CHECK(chunked.starts_with("HTTP/1.1 411 Length Required\r\n"));
  CHECK(body_of(chunked) == R"({"error":"length required"})");
  const std::string unsized = exchange(server->port(), "POST /echo HTTP/1.1\r\n\r\n");
  CHECK(unsized.starts_with("HTTP/1.1 200 "));
  CHECK(body_of(unsized) == "POST ");
  CHECK(exchange(server->port(),
                 "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n")
            .starts_with("HTTP/1.1 400 Bad Request\r\n"));
  const std::string put = exchange(server->port(), "PUT /echo HTTP/1.1\r\n\r\n");
  CHECK(put.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
  CHECK(has_header(put, "Allow: GET, HEAD, POST"));
}

TEST_CASE("a POST body that stops coming gets 408 once body_timeout passes") {
  HttpServerOptions options;
  options.body_timeout = 300ms;
  auto server = start_post_server(options);
  Fd fd = connect_to(server->port());
  send_text(fd, "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly a part");
  // Trickling more bytes does not move the deadline.
  pollfd p{fd.get(), POLLIN, 0};
  bool answered_while_sending = false;
  for (int i = 0; i < 80 && !answered_while_sending; ++i) {
    answered_while_sending = poll(&p, 1, 50) == 1;
    if (!answered_while_sending) send_text(fd, "x");
  }
  CHECK(answered_while_sending);
  const Received r = read_all(fd);
  CHECK(r.data.starts_with("HTTP/1.1 408 Request Timeout\r\n"));
}

TEST_CASE("Expect 100-continue gets 100 Continue before the body is sent") {
  auto server = start_post_server();
  Fd fd = connect_to(server->port());
  send_text(fd, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  pollfd p{fd.get(), POLLIN, 0};
  REQUIRE(poll(&p, 1, 5000) == 1);
  char buf[64];
  const ssize_t n = recv(fd.get(), buf, kContinueResponse.size(), MSG_WAITALL);
  CHECK(std::string_view(buf, n > 0 ? static_cast<std::size_t>(n) : 0) == kContinueResponse);
  send_text(fd, "ping");
  const Received r = read_all(fd);
  CHECK(r.data.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(body_of(r.data) == "POST ping");
}

TEST_CASE("the handler is told the client's address and port") {
  auto server = start_post_server();
  Fd fd = connect_to(server->port(), "127.0.0.7");
  sockaddr_in local{};
  socklen_t len = sizeof local;
  REQUIRE(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len) == 0);
  send_text(fd, "GET /peer HTTP/1.1\r\n\r\n");
  CHECK(body_of(read_all(fd).data) == "127.0.0.7:" + std::to_string(ntohs(local.sin_port)));
}

TEST_CASE("the timer runs on the handler's thread, again after each returned delay") {
  std::mutex mu;
  std::vector<std::thread::id> timer_threads;
  std::thread::id handler_thread;
  auto server = HttpServer::start(
      "127.0.0.1:0", {},
      [&](const HttpRequest&) {
        std::lock_guard lock(mu);
        handler_thread = std::this_thread::get_id();
        return HttpResponse{200, "text/plain", "ok"};
      },
      HttpTimer{0ms, [&]() -> Duration {
                  std::lock_guard lock(mu);
                  timer_threads.push_back(std::this_thread::get_id());
                  if (timer_threads.size() == 1) throw std::runtime_error("first run fails");
                  return 10ms;
                }});
  REQUIRE(server.ok());
  CHECK(exchange((*server)->port(), "GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 "));
  std::size_t runs = 0;
  for (int i = 0; i < 100 && runs < 4; ++i) {  // a throw costs a second, then every 10 ms
    std::this_thread::sleep_for(50ms);
    std::lock_guard lock(mu);
    runs = timer_threads.size();
  }
  std::lock_guard lock(mu);
  REQUIRE(timer_threads.size() >= 4);
  for (const auto& id : timer_threads) CHECK(id == handler_thread);
  CHECK(handler_thread != std::this_thread::get_id());
}

TEST_CASE("a head larger than max_head_bytes gets 431") {
  auto server = start_server({.max_head_bytes = 1024});
  const std::string fits = "GET /hello HTTP/1.1\r\nX-Pad: " + std::string(900, 'a') + "\r\n\r\n";
  CHECK(exchange(server->port(), fits).starts_with("HTTP/1.1 200 OK\r\n"));
  const std::string big = "GET /hello HTTP/1.1\r\nX-Pad: " + std::string(1100, 'a') + "\r\n\r\n";
  CHECK(exchange(server->port(), big)
            .starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  // A head that never ends is cut at the limit, not at the deadline.
  Fd fd = connect_to(server->port());
  send_text(fd, "GET /hello HTTP/1.1\r\nX-Pad: " + std::string(2000, 'a'));
  CHECK(read_all(fd).data.starts_with("HTTP/1.1 431 "));
}

TEST_CASE("an unknown path gets 404 and a throwing handler 500") {
  auto server = start_server();
  const std::string a = exchange(server->port(), "GET /nope HTTP/1.1\r\n\r\n");
  CHECK(a.starts_with("HTTP/1.1 404 Not Found\r\n"));
  CHECK(body_of(a) == R"({"error":"not found"})");
  CHECK(exchange(server->port(), "GET /throw HTTP/1.1\r\n\r\n")
            .starts_with("HTTP/1.1 500 Internal Server Error\r\n"));
}

TEST_CASE(
    "a flood from one address evicts its oldest waiting connections and a fresh request is "
    "answered") {
  auto server = start_server({.head_timeout = 60s, .max_connections = 16, .max_per_client = 8});
  std::vector<Fd> flood;
  for (int i = 0; i < 40; ++i) {
    flood.push_back(connect_to(server->port(), "127.0.0.1"));
    send_text(flood.back(), i % 2 ? "GET /hello HTTP/1.1\r\n" : "G");  // heads that never end
  }
  CHECK(exchange(server->port(), "GET /hello HTTP/1.1\r\n\r\n", "127.0.0.1")
            .starts_with("HTTP/1.1 200 OK\r\n"));
  // Accepts run in connect order: the 8 youngest floods were kept, and the
  // fresh request took the place of the oldest of those.
  for (int i = 0; i < 40; ++i) {
    CAPTURE(i);
    if (i < 33) CHECK(closed_by_server(flood[i], 5s));
    if (i >= 33) CHECK_FALSE(closed_by_server(flood[i], 0ms));
  }
}

TEST_CASE("a flood from many addresses beyond max_connections still lets a fresh request through") {
  auto server = start_server({.head_timeout = 60s, .max_connections = 16, .max_per_client = 8});
  std::map<std::string, std::vector<Fd>> flood;
  for (const char* source : {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}) {
    for (int i = 0; i < 6; ++i) {
      flood[source].push_back(connect_to(server->port(), source));
      send_text(flood[source].back(), "GET /hello HTTP/1.1\r\n");
    }
  }
  CHECK(exchange(server->port(), "GET /hello HTTP/1.1\r\n\r\n", "127.0.0.1")
            .starts_with("HTTP/1.1 200 OK\r\n"));
  // 24 floods + 1 fresh for 16 slots: 9 were evicted, each from the address
  // holding the most, so no address lost all of its connections.
  auto open_of = [](const std::vector<Fd>& fds, Duration wait) {
    int open = 0;
    for (const auto& fd : fds) open += !closed_by_server(fd, wait);
    return open;
  };
  int open_total = 0;
  for (int i = 0; i < 50; ++i) {  // evictions may still be reaching the clients
    open_total = 0;
    for (const auto& entry : flood) open_total += open_of(entry.second, 10ms);
    if (open_total <= 15) break;
  }
  CHECK(open_total == 15);
  for (const auto& [source, fds] : flood) {
    CAPTURE(source);
    CHECK(open_of(fds, 0ms) >= 1);
  }
}

TEST_CASE("idle connections are not accepted, so a flood of them takes no slot") {
  auto server = start_server({.head_timeout = 60s, .max_connections = 16, .max_per_client = 8});
  std::vector<Fd> idle;
  for (int i = 0; i < 40; ++i) idle.push_back(connect_to(server->port(), "127.0.0.1"));
  Fd slow = connect_to(server->port(), "127.0.0.1");
  send_text(slow, "GET /hello HTTP/1.1\r\n");
  CHECK(exchange(server->port(), "GET /hello HTTP/1.1\r\n\r\n", "127.0.0.1")
            .starts_with("HTTP/1.1 200 OK\r\n"));
  // Accepted, the idle ones would have evicted one another down to 8; the
  // slow one, accepted after them all, was never a candidate either.
  for (const auto& fd : idle) CHECK_FALSE(closed_by_server(fd, 0ms));
  CHECK_FALSE(closed_by_server(slow, 0ms));
}

TEST_CASE("a body larger than the socket buffers arrives whole behind its head, in pieces") {
  // A distinct pattern, so a byte sent twice, skipped or out of place shows.
  static const std::string body = [] {
    std::string b(6 << 20, '\0');
    for (std::size_t i = 0; i < b.size(); ++i)
      b[i] = static_cast<char>('a' + (i * 7 + i / 4093) % 26);
    return b;
  }();
  auto server = HttpServer::start("127.0.0.1:0", {}, [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", body};
  });
  REQUIRE(server.ok());
  Fd fd = connect_to((*server)->port(), nullptr, /*rcvbuf=*/4096);  // many partial sends
  send_text(fd, "GET /pattern HTTP/1.1\r\n\r\n");
  const Received r = read_all(fd, 20s);
  CHECK(r.closed);
  CHECK(has_header(r.data, "Content-Length: " + std::to_string(body.size())));
  CHECK(body_of(r.data) == body);
}

TEST_CASE("a client that never reads its answer is dropped after write_timeout and blocks no one") {
  auto server = start_server({.write_timeout = 500ms});
  Fd slow = connect_to(server->port(), nullptr, /*rcvbuf=*/4096);
  send_text(slow, "GET /big HTTP/1.1\r\n\r\n");
  CHECK(exchange(server->port(), "GET /hello HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK\r\n"));
  std::this_thread::sleep_for(1s);  // past write_timeout, reading nothing
  const Received r = read_all(slow, 10s);
  CHECK(r.closed);
  CHECK(r.data.size() < big_body().size());
}

TEST_CASE("clients that never read their answers cannot lock out a fresh request") {
  auto server = start_server({.write_timeout = 60s, .max_connections = 16, .max_per_client = 4});
  std::vector<Fd> stuck;
  for (int i = 0; i < 4; ++i) {
    stuck.push_back(connect_to(server->port(), "127.0.0.1", /*rcvbuf=*/4096));
    send_text(stuck.back(), "GET /big HTTP/1.1\r\n\r\n");
  }
  CHECK(exchange(server->port(), "GET /hello HTTP/1.1\r\n\r\n", "127.0.0.1")
            .starts_with("HTTP/1.1 200 OK\r\n"));
  // The oldest of them made room: reset before its answer was through.
  const Received oldest = read_all(stuck[0]);
  CHECK(oldest.closed);
  CHECK(oldest.data.size() < big_body().size());
}

TEST_CASE("destruction stops promptly with connections waiting for their heads") {
  auto server = start_server();
  const std::uint16_t port = server->port();
  std::vector<Fd> waiting;
  for (int i = 0; i < 20; ++i) {
    waiting.push_back(connect_to(port));
    send_text(waiting.back(), "GET /hello HTTP/1.1\r\n");
  }
  server.reset();  // joins the loop thread; a hang here fails by the test's timeout
  for (auto& fd : waiting) CHECK(closed_by_server(fd, 1s));
  Fd probe(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  CHECK(connect(probe.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0);
}

TEST_CASE("a busy listen address fails at start naming the address and the step") {
  auto first = start_server();
  const std::string listen = "127.0.0.1:" + std::to_string(first->port());
  auto second = HttpServer::start(listen, {}, [](const HttpRequest&) { return HttpResponse{}; });
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message == listen + ": bind: Address already in use");
  CHECK_FALSE(
      HttpServer::start("nonsense", {}, [](const HttpRequest&) { return HttpResponse{}; }).ok());
}
