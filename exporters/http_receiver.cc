#include "exporters/http_receiver.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <istream>
#include <mutex>
#include <ostream>
#include <thread>

#include "core/fd.h"
#include "exporters/plan_signature.h"

namespace linewatch {

namespace {

using Steady = std::chrono::steady_clock;

constexpr std::size_t kAnswerLimit = 64 * 1024;  // more than any gateway answer needs
constexpr std::size_t kTextLimit = 300;          // a gateway's words in an event detail

// What is left of the attempt's time, at least 1 ms: Poco reads 0 as "no timeout".
Poco::Timespan left(Steady::time_point deadline) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Steady::now());
  return Poco::Timespan(std::max<Poco::Timespan::TimeDiff>(us.count(), 1000));
}

void check_deadline(Steady::time_point deadline) {
  if (Steady::now() >= deadline) throw Poco::TimeoutException("the gateway's timeout passed");
}

struct AnswerFields {
  std::optional<std::uint64_t> applied_version;
  std::string error;   // the gateway's reason code
  std::string detail;  // the gateway's text
  bool json = false;   // the body was a JSON object
};

AnswerFields parse_answer(std::string_view body) {
  AnswerFields f;
  try {
    Poco::JSON::Parser parser;
    const Poco::Dynamic::Var v = parser.parse(std::string(body));
    const auto obj = v.extract<Poco::JSON::Object::Ptr>();
    f.json = true;
    if (obj->has("applied_version") && obj->get("applied_version").isInteger())
      f.applied_version = obj->get("applied_version").convert<Poco::UInt64>();
    if (obj->has("error") && obj->get("error").isString())
      f.error = obj->get("error").extract<std::string>();
    if (obj->has("detail") && obj->get("detail").isString())
      f.detail = obj->get("detail").extract<std::string>();
  } catch (const std::exception&) {  // Poco::Exception too
    // Not a JSON object (an HTML error page, a proxy's text): judged on the status alone.
  }
  return f;
}

// "HTTP 409 stale_version: version 5 is not newer than 7" and the like.
std::string answer_text(int status, std::string_view body, const AnswerFields& f) {
  std::string text = "HTTP " + std::to_string(status);
  if (!f.error.empty()) text += " " + excerpt(f.error, 64);
  const std::string words = f.json ? excerpt(f.detail, kTextLimit) : excerpt(body, kTextLimit);
  if (!words.empty()) text += ": " + words;
  return text;
}

DeliveryOutcome outcome(DeliveryOutcome::Kind kind, std::string reason, std::string detail) {
  DeliveryOutcome o;
  o.kind = kind;
  o.reason = std::move(reason);
  o.detail = std::move(detail);
  return o;
}

struct Answer {
  int status = 0;
  std::string body;
};

// Shuts the connection down at the deadline, or at once when the pusher
// stops, unless the attempt ended first. Per-read timeouts alone would let a
// gateway that trickles its answer a byte at a time hold an attempt for ever.
// It works on its own duplicate of the socket, so it never touches a
// descriptor number Poco may have closed and the kernel reused.
class Watchdog {
 public:
  Watchdog(int fd, Steady::time_point deadline, std::stop_token stop)
      : fd_(::dup(fd)),
        thread_([this, deadline](std::stop_token own) { watch(own, deadline); }),
        on_stop_(stop, [this] { thread_.request_stop(); }) {}
  ~Watchdog() {
    done_ = true;
    thread_.request_stop();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  void watch(std::stop_token own, Steady::time_point deadline) {
    std::mutex mu;
    std::unique_lock lk(mu);
    std::condition_variable_any cv;
    cv.wait_until(lk, own, deadline, [] { return false; });
    if (!done_ && fd_.valid()) ::shutdown(fd_.get(), SHUT_RDWR);
  }

  Fd fd_;
  std::atomic<bool> done_{false};
  std::jthread thread_;
  std::stop_callback<std::function<void()>> on_stop_;  // last: may stop thread_ at once
};

// One POST on a fresh session, all of it before `deadline` (or `stop`).
// Throws Poco exceptions for network failures.
Answer exchange(Poco::Net::HTTPClientSession& session, const std::string& path, const SignedPlan& s,
                Steady::time_point deadline, std::stop_token stop) {
  session.setKeepAlive(false);
  session.setTimeout(left(deadline));  // connect, TLS handshake, sending the head
  Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_POST, path,
                             Poco::Net::HTTPMessage::HTTP_1_1);
  req.setContentType("application/json");
  req.setContentLength(static_cast<std::streamsize>(s.body.size()));
  req.set(std::string(kTimestampHeader), s.timestamp);
  req.set(std::string(kSignatureHeader), s.signature);
  req.set("User-Agent", "linewatch");
  std::ostream& os = session.sendRequest(req);
  const Watchdog watchdog(session.socket().impl()->sockfd(), deadline, stop);
  session.socket().setSendTimeout(left(deadline));
  os.write(s.body.data(), static_cast<std::streamsize>(s.body.size()));
  os.flush();
  if (!os) {
    if (const Poco::Exception* e = session.networkException()) e->rethrow();
    throw Poco::IOException("sending the plan failed");
  }
  session.socket().setReceiveTimeout(left(deadline));
  Poco::Net::HTTPResponse response;
  std::istream& is = session.receiveResponse(response);
  Answer a{static_cast<int>(response.getStatus()), {}};
  char buf[4096];
  while (a.body.size() < kAnswerLimit && is) {
    check_deadline(deadline);
    is.read(buf, sizeof buf);
    a.body.append(buf, static_cast<std::size_t>(is.gcount()));
  }
  return a;
}

}  // namespace

DeliveryOutcome judge_answer(int status, std::string_view body, std::uint64_t version) {
  using Kind = DeliveryOutcome::Kind;
  const AnswerFields f = parse_answer(body);
  const std::string text = answer_text(status, body, f);
  DeliveryOutcome o;
  if (status >= 200 && status < 300) {
    if (f.applied_version && *f.applied_version < version) {
      o = outcome(Kind::transient, "behind",
                  text + "; the gateway has version " + std::to_string(*f.applied_version) +
                      " in force, not " + std::to_string(version));
    } else {
      o = outcome(Kind::applied, "applied", text);
    }
  } else if (status >= 400 && status < 500 && f.applied_version == version) {
    o = outcome(Kind::applied, "applied", text + "; version already in force");
  } else if (status == 408 || status == 429) {
    o = outcome(Kind::transient, "http_4xx", text);
  } else if (status >= 400 && status < 500) {
    o = outcome(Kind::rejected, "http_4xx", text);
  } else if (status >= 500 && status < 600) {
    o = outcome(Kind::transient, "http_5xx", text);
  } else if (status >= 300 && status < 400) {
    o = outcome(Kind::rejected, "http_3xx", text + " (redirects are not followed)");
  } else {
    o = outcome(Kind::transient, "http_status", text);
  }
  o.status = status;
  o.applied_version = f.applied_version;
  return o;
}

Result<std::unique_ptr<HttpReceiver>> HttpReceiver::create(const GatewaySpec& spec,
                                                           std::string secret,
                                                           const std::string& where,
                                                           const Clock& clock) {
  const std::string key = where + ".url";
  Poco::URI uri;
  try {
    uri = Poco::URI(spec.url);
  } catch (const Poco::Exception&) {
    return invalid(key + ": not a valid URL");  // the text is not repeated: it may hold a token
  }
  if (uri.getScheme() != "http" && uri.getScheme() != "https")
    return invalid(key + ": must start with http:// or https://");
  if (uri.getHost().empty()) return invalid(key + ": has no host");
  if (!uri.getUserInfo().empty())
    return invalid(key + ": user info is not supported (pushes are signed with secret_file)");
  std::unique_ptr<HttpReceiver> r(new HttpReceiver(spec, std::move(secret), uri, clock));
  if (uri.getScheme() == "https") {
    try {
      Poco::Net::Context::Params params;
      params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;  // a client: verify the peer
      params.caLocation = spec.ca_file;
      params.loadDefaultCAs = spec.ca_file.empty();
      r->tls_ = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    } catch (const Poco::Exception& e) {
      if (!spec.ca_file.empty())
        return invalid(where + ".ca_file: " + spec.ca_file + " holds no usable certificate (" +
                       e.message() + ")");
      return Error{ErrorCode::internal, key + ": cannot set up TLS: " + e.displayText()};
    }
  }
  return r;
}

HttpReceiver::HttpReceiver(const GatewaySpec& spec, std::string secret, Poco::URI uri,
                           const Clock& clock)
    : id_(spec.id),
      secret_(std::move(secret)),
      uri_(std::move(uri)),
      timeout_(spec.timeout),
      clock_(clock) {}

DeliveryOutcome HttpReceiver::deliver(const RoutePlan& plan, std::stop_token stop) {
  const auto start = Steady::now();
  DeliveryOutcome o = post(plan, stop);
  o.took = Steady::now() - start;
  o.detail = blank_secret(std::move(o.detail));
  return o;
}

DeliveryOutcome HttpReceiver::post(const RoutePlan& plan, std::stop_token stop) {
  const auto deadline = Steady::now() + timeout_;
  try {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (tls_) {
      session =
          std::make_unique<Poco::Net::HTTPSClientSession>(uri_.getHost(), uri_.getPort(), tls_);
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>(uri_.getHost(), uri_.getPort());
    }
    const std::string path = uri_.getPathEtc().empty() ? "/" : uri_.getPathEtc();
    Answer a =
        exchange(*session, path, sign_plan(plan, secret_, clock_.wall_now()), deadline, stop);
    return judge_answer(a.status, blank_secret(std::move(a.body)), plan.version);
  } catch (const Poco::Exception& e) {
    return failure(e, deadline, stop);
  } catch (const std::exception& e) {
    return outcome(DeliveryOutcome::Kind::transient, "network", where() + ": " + e.what());
  }
}

DeliveryOutcome HttpReceiver::failure(const Poco::Exception& e, Steady::time_point deadline,
                                      std::stop_token stop) const {
  using Kind = DeliveryOutcome::Kind;
  namespace net = Poco::Net;
  if (stop.stop_requested()) return outcome(Kind::cancelled, "cancelled", "the agent is stopping");
  // Past the deadline whatever broke was most likely the watchdog's doing.
  if (dynamic_cast<const Poco::TimeoutException*>(&e) || Steady::now() >= deadline)
    return outcome(Kind::transient, "timeout",
                   "no answer from " + where() + " within " + duration_text(timeout_));
  if (dynamic_cast<const net::ConnectionRefusedException*>(&e))
    return outcome(Kind::transient, "refused", "connection refused by " + where());
  if (dynamic_cast<const net::DNSException*>(&e))
    return outcome(Kind::transient, "dns", "cannot resolve " + uri_.getHost() + ": " + e.message());
  if (dynamic_cast<const net::SSLException*>(&e))
    return outcome(Kind::transient, "tls", "TLS with " + where() + " failed: " + e.displayText());
  return outcome(Kind::transient, "network", where() + ": " + e.displayText());
}

std::string HttpReceiver::where() const {
  return uri_.getHost() + ":" + std::to_string(uri_.getPort());
}

std::string HttpReceiver::blank_secret(std::string text) const {
  if (secret_.empty()) return text;
  for (std::size_t at = text.find(secret_); at != std::string::npos; at = text.find(secret_, at)) {
    text.replace(at, secret_.size(), "[secret]");
    at += 8;
  }
  return text;
}

}  // namespace linewatch
