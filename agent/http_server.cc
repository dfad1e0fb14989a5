#include "agent/http_server.h"

#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <list>
#include <unordered_map>

#include "core/fd.h"

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

// How long an answered connection waits for the client to close first.
constexpr Duration kLinger = std::chrono::seconds(1);
// Bytes discarded per wake-up while lingering, so a client that keeps sending
// cannot hold the loop; what it sends after that waits for the next wake-up.
constexpr std::size_t kLingerReadMax = 64 * 1024;
// Most accepts per turn of the loop (and at most half of max_per_client).
constexpr int kAcceptBatch = 16;
// Accepting pauses this long when the process is out of descriptors and no
// connection can be evicted; the listener would otherwise wake the loop
// without end.
constexpr Duration kAcceptPause = std::chrono::milliseconds(100);
constexpr int kBacklog = 1024;
// When a timer's job threw: try again this much later.
constexpr Duration kTimerRetry = std::chrono::seconds(1);

enum class Phase {
  head,    // reading the request head
  body,    // reading a POST's body of a known length
  answer,  // writing the answer
  linger,  // answer sent and our side shut: discarding input until the client closes
  closed,  // fd closed; the node waits in Loop::closed_ for the end of the turn
};

struct Conn;
using Conns = std::list<std::unique_ptr<Conn>>;

struct Conn {
  Fd fd;
  std::string client;  // the peer's address bytes: the per-client key
  std::string peer;    // the peer as text, "127.0.0.1:40512", for the handler
  Phase phase = Phase::head;
  MonoTime deadline;
  std::string in;            // the head so far, then the body after it
  std::size_t head_end = 0;  // Phase::body: where the body starts in `in`
  ParsedHead parsed;         // Phase::body: the request waiting for its body
  // The answer: its head, then its body. Apart, so a large body (a /metrics
  // scrape of thousands of series) is sent from where the handler built it,
  // never copied behind its head.
  std::string out;
  std::string body;
  std::size_t sent = 0;  // bytes of out, then of body, sent
  Conns::iterator self;  // where it sits in Loop::conns_
};

// The peer's address without its port; an IPv4-mapped IPv6 address counts as
// the IPv4 one, so a dual-stack listener counts a client once.
std::string client_key(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss).sin_addr;
    return std::string(reinterpret_cast<const char*>(&a), sizeof a);
  }
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr;
    const char* bytes = reinterpret_cast<const char*>(&a);
    return IN6_IS_ADDR_V4MAPPED(&a) ? std::string(bytes + 12, 4) : std::string(bytes, sizeof a);
  }
  return {};
}

// "198.18.0.1:40512" or "[2001:db8::1]:40512".
std::string peer_text(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a.sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a.sin6_port));
  }
  return "";
}

HttpServerOptions clamp_limits(HttpServerOptions o) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    o.max_connections = static_cast<int>(
        std::min<rlim_t>(static_cast<rlim_t>(std::max(o.max_connections, 1)), rl.rlim_cur / 4));
  o.max_connections = std::max(o.max_connections, 1);
  o.max_per_client = std::clamp(o.max_per_client, 1, o.max_connections);
  return o;
}

Error errno_error(const std::string& listen, const char* step) {
  return io_error(listen + ": " + step + ": " + std::strerror(errno));
}

}  // namespace

class HttpServer::Loop {
 public:
  // Takes a bound, listening, non-blocking socket. Failure: epoll or eventfd.
  static Result<std::unique_ptr<Loop>> open(Fd listener, const HttpServerOptions& options,
                                            HttpHandler handler, HttpTimer timer);
  void run();         // on the server's thread, until wake()
  void wake() const;  // from any thread

 private:
  Loop(Fd listener, const HttpServerOptions& options, HttpHandler handler, HttpTimer timer);
  bool watch(int fd, std::uint32_t events, void* tag, int op = EPOLL_CTL_ADD);
  int wait_ms(MonoTime now) const;

  void accept_some();
  void make_room(const std::string& client);
  void evict(const std::string& client);
  bool evict_any_waiting();
  void add(Fd fd, std::string client, std::string peer);

  void advance(Conn& c);
  void read_head(Conn& c);
  void on_head(Conn& c, std::size_t end);
  void read_body(Conn& c);
  void serve(Conn& c, HttpRequest request);
  void answer(Conn& c, HttpResponse response, bool head_only);
  void write_answer(Conn& c);
  void discard_input(Conn& c);
  void drop(Conn& c, bool reset = false);
  void set_deadline(Conn& c, MonoTime deadline);
  void expire(MonoTime now);
  void run_timer(MonoTime now);

  Fd listener_, epoll_, wake_;
  const HttpServerOptions opt_;  // limits already clamped
  const HttpHandler handler_;
  HttpTimer timer_;
  MonoTime next_timer_ = MonoTime::max();  // when timer_ fires next; max: no timer
  const int accept_batch_;
  Conns conns_;   // open, in accept order: the front is the oldest
  Conns closed_;  // closed this turn; freed after it, as its epoll events may still name them
  std::unordered_map<std::string, int> per_client_;  // open connections per client_key
  MonoTime next_deadline_ = MonoTime::max();         // no connection's deadline is earlier
  MonoTime accept_paused_until_ = MonoTime::min();
};

HttpServer::Loop::Loop(Fd listener, const HttpServerOptions& options, HttpHandler handler,
                       HttpTimer timer)
    : listener_(std::move(listener)),
      opt_(clamp_limits(options)),
      handler_(std::move(handler)),
      timer_(std::move(timer)),
      accept_batch_(std::clamp(opt_.max_per_client / 2, 1, kAcceptBatch)) {
  if (timer_.fire) next_timer_ = Steady::now() + std::max(timer_.first, Duration::zero());
}

Result<std::unique_ptr<HttpServer::Loop>> HttpServer::Loop::open(Fd listener,
                                                                 const HttpServerOptions& options,
                                                                 HttpHandler handler,
                                                                 HttpTimer timer) {
  std::unique_ptr<Loop> loop(
      new Loop(std::move(listener), options, std::move(handler), std::move(timer)));
  loop->epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  loop->wake_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!loop->epoll_.valid() || !loop->wake_.valid() ||
      !loop->watch(loop->listener_.get(), EPOLLIN, &loop->listener_) ||
      !loop->watch(loop->wake_.get(), EPOLLIN, &loop->wake_))
    return io_error(std::string("epoll: ") + std::strerror(errno));
  return loop;
}

bool HttpServer::Loop::watch(int fd, std::uint32_t events, void* tag, int op) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = tag;
  return epoll_ctl(epoll_.get(), op, fd, &ev) == 0;
}

void HttpServer::Loop::wake() const {
  const std::uint64_t one = 1;
  const ssize_t n = ::write(wake_.get(), &one, sizeof one);
  (void)n;  // a full counter already wakes the loop
}

int HttpServer::Loop::wait_ms(MonoTime now) const {
  const MonoTime next = std::min(next_deadline_, next_timer_);
  if (next == MonoTime::max()) return -1;
  if (next <= now) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::min<long long>(ms, INT_MAX));
}

void HttpServer::Loop::run() {
  epoll_event events[64];
  for (;;) {
    const int n = epoll_wait(epoll_.get(), events, 64, wait_ms(Steady::now()));
    if (n < 0 && errno != EINTR) return;  // only a broken epoll fd fails here
    bool accept_ready = false;
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &wake_) return;
      if (tag == &listener_) {
        accept_ready = true;
      } else if (auto* c = static_cast<Conn*>(tag); c->phase != Phase::closed) {
        advance(*c);
      }
    }
    // After the clients' input, so a request already in is answered before
    // newer connections can evict it.
    if (accept_ready) accept_some();
    const MonoTime now = Steady::now();
    if (now >= next_deadline_) expire(now);
    if (now >= next_timer_) run_timer(now);
    closed_.clear();
  }
}

void HttpServer::Loop::run_timer(MonoTime now) {
  Duration delay = kTimerRetry;
  try {
    delay = std::max<Duration>(timer_.fire(), std::chrono::milliseconds(1));
  } catch (...) {
  }
  // From when the job ended, so a slow job cannot make the timer stack up.
  next_timer_ = std::max(now, Steady::now()) + delay;
}

void HttpServer::Loop::accept_some() {
  for (int i = 0; i < accept_batch_; ++i) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    Fd fd(accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &len,
                  SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (fd.valid()) {
      std::string client = client_key(peer);
      make_room(client);
      add(std::move(fd), std::move(client), peer_text(peer));
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      if (evict_any_waiting()) continue;  // frees a descriptor for the next try
      accept_paused_until_ = Steady::now() + kAcceptPause;
      next_deadline_ = std::min(next_deadline_, accept_paused_until_);
      watch(listener_.get(), 0, &listener_, EPOLL_CTL_MOD);
    }
    return;  // EAGAIN: nothing more is waiting
  }
}

// Out of descriptors: closes the oldest connection waiting for its head or body.
bool HttpServer::Loop::evict_any_waiting() {
  for (const auto& c : conns_) {
    if (c->phase != Phase::head && c->phase != Phase::body) continue;
    drop(*c, /*reset=*/true);
    return true;
  }
  return false;
}

// Evicts for `client` when it, or everyone, is at the cap. Always succeeds:
// an address at its cap holds a connection, and so does the hog.
void HttpServer::Loop::make_room(const std::string& client) {
  const auto it = per_client_.find(client);
  if (it != per_client_.end() && it->second >= opt_.max_per_client) evict(client);
  if (static_cast<int>(conns_.size()) < opt_.max_connections) return;
  // O(clients): only runs when the total is full.
  const auto hog =
      std::max_element(per_client_.begin(), per_client_.end(),
                       [](const auto& a, const auto& b) { return a.second < b.second; });
  evict(std::string(hog->first));
}

// Closes the oldest connection of `client`, preferring one still waiting for
// its head or body, or already answered, over one still writing to a client
// that does not read. O(connections).
void HttpServer::Loop::evict(const std::string& client) {
  for (const bool writing_too : {false, true}) {
    for (const auto& c : conns_) {
      if (c->client != client || (c->phase == Phase::answer && !writing_too)) continue;
      drop(*c, /*reset=*/c->phase != Phase::linger);  // a lingering answer is still delivered
      return;
    }
  }
}

void HttpServer::Loop::add(Fd fd, std::string client, std::string peer) {
  auto owned = std::make_unique<Conn>();
  Conn& c = *owned;
  c.fd = std::move(fd);
  c.client = std::move(client);
  c.peer = std::move(peer);
  // Edge-triggered: every step reads or writes until EAGAIN.
  if (!watch(c.fd.get(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c)) return;
  ++per_client_[c.client];
  c.self = conns_.insert(conns_.end(), std::move(owned));
  set_deadline(c, Steady::now() + opt_.head_timeout);
  advance(c);  // the request often arrives with the connection
}

void HttpServer::Loop::advance(Conn& c) {
  // Each step may move c to the next phase, which then runs at once.
  if (c.phase == Phase::head) read_head(c);
  if (c.phase == Phase::body) read_body(c);
  if (c.phase == Phase::answer) write_answer(c);
  if (c.phase == Phase::linger) discard_input(c);
}

void HttpServer::Loop::read_head(Conn& c) {
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(c.fd.get(), buf, sizeof buf, 0);
    if (n == 0) return drop(c);  // the client left before its head was complete
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) drop(c);
      return;
    }
    const std::size_t before = c.in.size();
    c.in.append(buf, static_cast<std::size_t>(n));
    const std::size_t end = find_head_end(c.in, before);
    if (end != std::string::npos && end <= opt_.max_head_bytes) return on_head(c, end);
    if (c.in.size() > opt_.max_head_bytes) return answer(c, error_response(431), false);
  }
}

// The head is c.in[0, end): refuse it, serve it, or go on to read its body.
void HttpServer::Loop::on_head(Conn& c, std::size_t end) {
  ParsedHead parsed = parse_head(std::string_view(c.in).substr(0, end), opt_.requests);
  if (parsed.status != 0) {
    HttpResponse refusal = error_response(parsed.status);
    if (parsed.status == 405 && opt_.requests.allow_post)
      refusal.headers.emplace_back("Allow", "GET, HEAD, POST");
    return answer(c, refusal, false);
  }
  if (parsed.request.method != "POST") return serve(c, std::move(parsed.request));
  c.head_end = end;
  c.parsed = std::move(parsed);
  c.phase = Phase::body;
  set_deadline(c, Steady::now() + opt_.body_timeout);
  if (c.parsed.expect_continue && c.in.size() - end < c.parsed.body_length) {
    // A fresh connection's send buffer is empty: these few bytes always fit.
    const ssize_t n = send(c.fd.get(), kContinueResponse.data(), kContinueResponse.size(),
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n != static_cast<ssize_t>(kContinueResponse.size())) return drop(c, /*reset=*/true);
  }
  // The caller (read_head via advance) goes on to read_body.
}

// Reads exactly the declared body; bytes after it are left unread (no
// pipelining) and discarded with the rest once answered.
void HttpServer::Loop::read_body(Conn& c) {
  char buf[16384];
  const std::size_t want = c.head_end + c.parsed.body_length;
  while (c.in.size() < want) {
    const ssize_t n = recv(c.fd.get(), buf, std::min(sizeof buf, want - c.in.size()), 0);
    if (n == 0) return drop(c);  // the client left before its body was complete
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) drop(c);
      return;
    }
    c.in.append(buf, static_cast<std::size_t>(n));
  }
  HttpRequest request = std::move(c.parsed.request);
  request.body = c.in.substr(c.head_end, c.parsed.body_length);
  serve(c, std::move(request));
}

void HttpServer::Loop::serve(Conn& c, HttpRequest request) {
  request.peer = c.peer;
  HttpResponse response;
  try {
    response = handler_(request);
  } catch (...) {
    response = error_response(500);
  }
  answer(c, std::move(response), request.method == "HEAD");
}

void HttpServer::Loop::answer(Conn& c, HttpResponse response, bool head_only) {
  std::string().swap(c.in);
  c.parsed = ParsedHead{};
  c.out = format_response(response, true, std::chrono::system_clock::now());
  if (!head_only) c.body = std::move(response.body);
  c.sent = 0;
  c.phase = Phase::answer;
  set_deadline(c, Steady::now() + opt_.write_timeout);
}

void HttpServer::Loop::write_answer(Conn& c) {
  const std::size_t total = c.out.size() + c.body.size();
  while (c.sent < total) {
    iovec parts[2];
    int count = 0;
    if (c.sent < c.out.size()) parts[count++] = {c.out.data() + c.sent, c.out.size() - c.sent};
    const std::size_t in_body = c.sent > c.out.size() ? c.sent - c.out.size() : 0;
    if (in_body < c.body.size())
      parts[count++] = {c.body.data() + in_body, c.body.size() - in_body};
    msghdr msg{};
    msg.msg_iov = parts;
    msg.msg_iovlen = static_cast<std::size_t>(count);
    const ssize_t n = sendmsg(c.fd.get(), &msg, MSG_NOSIGNAL);
    if (n >= 0) {
      c.sent += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;  // EPOLLOUT resumes
    } else if (errno != EINTR) {
      return drop(c);
    }
  }
  std::string().swap(c.out);
  std::string().swap(c.body);
  shutdown(c.fd.get(), SHUT_WR);
  c.phase = Phase::linger;
  set_deadline(c, Steady::now() + kLinger);
}

void HttpServer::Loop::discard_input(Conn& c) {
  char buf[4096];
  for (std::size_t total = 0; total < kLingerReadMax;) {
    const ssize_t n = recv(c.fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      total += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else if (n == 0 || errno != EINTR) {
      return drop(c);  // the client closed too, or the connection broke
    }
  }
}

// `reset` aborts with an RST: nothing of ours is left for the client to read,
// and the kernel keeps neither unsent data nor a TIME_WAIT for it.
void HttpServer::Loop::drop(Conn& c, bool reset) {
  if (reset) {
    const linger abort{1, 0};
    setsockopt(c.fd.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  }
  c.phase = Phase::closed;
  c.fd.reset();  // also leaves the epoll set
  if (--per_client_[c.client] == 0) per_client_.erase(c.client);
  closed_.splice(closed_.end(), conns_, c.self);
}

void HttpServer::Loop::set_deadline(Conn& c, MonoTime deadline) {
  c.deadline = deadline;
  next_deadline_ = std::min(next_deadline_, deadline);
}

// O(connections); runs only when the earliest deadline has passed.
void HttpServer::Loop::expire(MonoTime now) {
  next_deadline_ = MonoTime::max();
  if (accept_paused_until_ != MonoTime::min()) {
    if (now < accept_paused_until_) {
      next_deadline_ = accept_paused_until_;
    } else {
      accept_paused_until_ = MonoTime::min();
      watch(listener_.get(), EPOLLIN, &listener_, EPOLL_CTL_MOD);
    }
  }
  for (auto it = conns_.begin(); it != conns_.end();) {
    Conn& c = **it++;  // advance first: c may leave conns_ below
    if (c.deadline <= now && (c.phase == Phase::head || c.phase == Phase::body)) {
      answer(c, error_response(408), false);
      advance(c);
    } else if (c.deadline <= now) {
      drop(c, /*reset=*/c.phase == Phase::answer);  // a lingering answer is still delivered
    }
    if (c.phase != Phase::closed) next_deadline_ = std::min(next_deadline_, c.deadline);
  }
}

HttpServer::HttpServer(std::unique_ptr<Loop> loop, std::uint16_t port)
    : loop_(std::move(loop)), port_(port), thread_([l = loop_.get()] { l->run(); }) {}

HttpServer::~HttpServer() {
  loop_->wake();
  thread_.join();
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& listen,
                                                      HttpServerOptions options,
                                                      HttpHandler handler, HttpTimer timer) {
  Poco::Net::SocketAddress address;
  try {
    address = Poco::Net::SocketAddress(listen);
  } catch (const Poco::Exception& e) {
    return invalid(listen + ": " + e.displayText());
  }
  Fd listener(socket(address.af(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return errno_error(listen, "socket");
  const int on = 1;
  setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  // The kernel hands over a connection only once its first bytes are in (or
  // about head_timeout later): an idle socket costs no descriptor, and a
  // request is usually complete the moment it is accepted, so it is answered
  // before any newer connection can evict it.
  const int defer_s = static_cast<int>(std::clamp<std::int64_t>(
      std::chrono::ceil<std::chrono::seconds>(options.head_timeout).count(), 1, 3600));
  setsockopt(listener.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof defer_s);
  if (bind(listener.get(), address.addr(), address.length()) != 0)
    return errno_error(listen, "bind");
  if (::listen(listener.get(), kBacklog) != 0) return errno_error(listen, "listen");
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0)
    return errno_error(listen, "getsockname");
  const std::uint16_t port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6&>(bound).sin6_port
                                        : reinterpret_cast<const sockaddr_in&>(bound).sin_port);

  auto loop = Loop::open(std::move(listener), options, std::move(handler), std::move(timer));
  if (!loop) return Error{loop.error().code, listen + ": " + loop.error().message};
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(*loop), port));
}

}  // namespace linewatch
