// deliver(): one POST of a formatted notification, bounded by its timeout.
#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/URI.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <istream>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>

#include "core/fd.h"
#include "exporters/notify.h"
#include "exporters/plan_receiver.h"

namespace linewatch {

namespace {

using Steady = std::chrono::steady_clock;

constexpr std::size_t kAnswerLimit = 64 * 1024;  // more than any receiver's answer needs

// What is left of the attempt's time, at least 1 ms: Poco reads 0 as "no timeout".
Poco::Timespan left(Steady::time_point deadline) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Steady::now());
  return Poco::Timespan(std::max<Poco::Timespan::TimeDiff>(us.count(), 1000));
}

// Shuts the connection down at the deadline, or at once when `stop` is
// requested, unless the attempt ended first: per-read timeouts alone would
// let a receiver that trickles its answer hold an attempt for ever. It works
// on its own duplicate of the socket, so it never touches a descriptor
// number Poco may have closed and the kernel reused.
class Deadline {
 public:
  Deadline(int fd, Steady::time_point at, std::stop_token stop)
      : fd_(::dup(fd)),
        thread_([this, at](std::stop_token own) { watch(own, at); }),
        on_stop_(stop, [this] { thread_.request_stop(); }) {}
  ~Deadline() {
    done_ = true;
    thread_.request_stop();
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

 private:
  void watch(std::stop_token own, Steady::time_point at) {
    std::mutex mu;
    std::unique_lock lk(mu);
    std::condition_variable_any cv;
    cv.wait_until(lk, own, at, [] { return false; });
    if (!done_ && fd_.valid()) ::shutdown(fd_.get(), SHUT_RDWR);
  }

  Fd fd_;
  std::atomic<bool> done_{false};
  std::jthread thread_;
  std::stop_callback<std::function<void()>> on_stop_;  // last: may stop thread_ at once
};

struct Answer {
  int status = 0;
  std::string body;
  std::optional<std::string> retry_after;
};

Answer exchange(Poco::Net::HTTPClientSession& session, const std::string& path,
                const HttpPost& post, Steady::time_point deadline, std::stop_token stop) {
  session.setKeepAlive(false);
  session.setTimeout(left(deadline));  // connect, TLS handshake, sending the head
  Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_POST, path,
                             Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [name, value] : post.headers) req.set(name, value);
  if (!req.has("User-Agent")) req.set("User-Agent", "linewatch");
  req.setContentLength(static_cast<std::streamsize>(post.body.size()));
  std::ostream& os = session.sendRequest(req);
  const Deadline guard(session.socket().impl()->sockfd(), deadline, stop);
  session.socket().setSendTimeout(left(deadline));
  os.write(post.body.data(), static_cast<std::streamsize>(post.body.size()));
  os.flush();
  if (!os) {
    if (const Poco::Exception* e = session.networkException()) e->rethrow();
    throw Poco::IOException("sending the request failed");
  }
  session.socket().setReceiveTimeout(left(deadline));
  Poco::Net::HTTPResponse response;
  std::istream& is = session.receiveResponse(response);
  Answer a;
  a.status = static_cast<int>(response.getStatus());
  if (response.has("Retry-After")) a.retry_after = response.get("Retry-After");
  char buf[4096];
  while (a.body.size() < kAnswerLimit && is) {
    if (Steady::now() >= deadline) throw Poco::TimeoutException("the timeout passed");
    is.read(buf, sizeof buf);
    a.body.append(buf, static_cast<std::size_t>(is.gcount()));
  }
  return a;
}

Delivery failed(std::string_view reason, std::string detail) {
  Delivery d;
  d.kind = Delivery::Kind::transient;
  d.reason = std::string(reason);
  d.detail = std::move(detail);
  return d;
}

Delivery network_failure(const Poco::Exception& e, const std::string& where, Duration timeout,
                         Steady::time_point deadline, std::stop_token stop) {
  namespace net = Poco::Net;
  if (stop.stop_requested()) return failed("cancelled", where + ": stopped before an answer");
  // Past the deadline whatever broke was most likely the guard's doing.
  if (dynamic_cast<const Poco::TimeoutException*>(&e) || Steady::now() >= deadline)
    return failed("timeout", "no answer from " + where + " within " + duration_text(timeout));
  if (dynamic_cast<const net::ConnectionRefusedException*>(&e))
    return failed("refused", "connection refused by " + where);
  if (dynamic_cast<const net::DNSException*>(&e))
    return failed("dns", "cannot resolve the host of " + where + ": " + e.message());
  if (dynamic_cast<const net::SSLException*>(&e))
    return failed("tls", "TLS with " + where + " failed: " + e.displayText());
  return failed("network", where + ": " + e.displayText());
}

std::unique_ptr<Poco::Net::HTTPClientSession> session_for(const Poco::URI& uri) {
  if (uri.getScheme() != "https")
    return std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
  Poco::Net::Context::Params params;
  params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;  // a client: verify the peer
  params.loadDefaultCAs = true;
  Poco::Net::Context::Ptr tls = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
  return std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), tls);
}

Delivery attempt(const HttpPost& post, Duration timeout, std::stop_token stop) {
  const auto deadline = Steady::now() + timeout;
  Poco::URI uri;
  try {
    uri = Poco::URI(post.url);
  } catch (const Poco::Exception&) {
    Delivery d = failed("bad_url", "the receiver's URL is not valid");
    d.kind = Delivery::Kind::permanent;
    return d;
  }
  // Named by host and port only: chat robots keep their token in the path or query.
  const std::string where = uri.getHost() + ":" + std::to_string(uri.getPort());
  if (stop.stop_requested()) return failed("cancelled", where + ": stopped before sending");
  try {
    auto session = session_for(uri);
    const std::string path = uri.getPathEtc().empty() ? "/" : uri.getPathEtc();
    Answer a = exchange(*session, path, post, deadline, stop);
    Delivery d = judge_notify_answer(post.kind, a.status, a.body, a.retry_after,
                                     std::chrono::system_clock::now());
    d.detail = where + " answered " + d.detail;
    return d;
  } catch (const Poco::Exception& e) {
    return network_failure(e, where, timeout, deadline, stop);
  } catch (const std::exception& e) {
    return failed("network", where + ": " + e.what());
  }
}

// `text` with every string of `secrets` replaced by "[redacted]".
std::string redacted(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& s : secrets) {
    if (s.empty()) continue;
    for (auto at = text.find(s); at != std::string::npos; at = text.find(s, at)) {
      text.replace(at, s.size(), "[redacted]");
      at += 10;
    }
  }
  return text;
}

}  // namespace

Delivery deliver(const HttpPost& post, Duration timeout, std::stop_token stop) {
  const auto start = Steady::now();
  Delivery d = attempt(post, timeout, stop);
  d.took = Steady::now() - start;
  d.detail = redacted(std::move(d.detail), post.redact);
  return d;
}

}  // namespace linewatch
