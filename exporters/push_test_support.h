// Test-only support for the plan pusher's tests: a loopback gateway (a real
// Poco HTTPServer on 127.0.0.1 that checks each push with PlanVerifier and
// records what it got), a thread-safe recording EventSink, files and scripts
// in a temp dir, and a bounded wait.
//
// Thread-safety: TestGateway's server threads and the test thread share its
// records under a mutex; RecordingSink likewise.
#pragma once

#include <Poco/JSON/Object.h>
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
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/event.h"
#include "core/route_options.h"
#include "core/time.h"
#include "exporters/plan_codec.h"
#include "exporters/plan_pusher.h"
#include "exporters/plan_signature.h"
#include "tests/support/temp_dir.h"

namespace linewatch::test {

using TempDir = linewatch::testing::TempDir;

// A route plan with one route; only the version differs between versions.
inline RoutePlan test_plan(std::uint64_t version) {
  return {"bj-gw-1",
          version,
          WallTime(std::chrono::milliseconds(1'800'000'000'000 + version)),
          false,
          {{"198.19.255.0/24", {{"cn2-gia-1", "198.18.1.2", "eth1", 1}}}}};
}

// Polls `done` every 5 ms until it holds or `limit` passed; returns its last value.
template <class F>
bool eventually(F done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Writes `text` to `path` with `mode`. The descriptor is close-on-exec, so a
// program spawned meanwhile cannot keep a script open for writing (ETXTBSY).
inline void write_file(const std::string& path, const std::string& text, mode_t mode = 0600) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("cannot write " + path);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot write " + path);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// An executable /bin/sh script `name` in `dir` with `body` after the #! line.
inline std::string write_script(const TempDir& dir, const std::string& name,
                                const std::string& body) {
  const std::string path = dir.file(name);
  write_file(path, "#!/bin/sh\n" + body + "\n", 0755);
  return path;
}

// A loopback port that nothing listens on (just now).
inline std::uint16_t free_port() {
  Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
  const std::uint16_t port = s.address().port();
  s.close();
  return port;
}

// Keeps every event; thread-safe.
class RecordingSink final : public EventSink {
 public:
  void emit(const Event& e) override {
    std::lock_guard lk(mu_);
    events_.push_back(e);
  }
  std::vector<Event> events() const {
    std::lock_guard lk(mu_);
    return events_;
  }
  // "push_failed:refused push_ok:applied ..." for compact checks.
  std::string kinds() const {
    std::string out;
    for (const Event& e : events()) out += (out.empty() ? "" : " ") + e.kind + ":" + e.reason;
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;
};

// A gateway on 127.0.0.1: verifies each push with PlanVerifier (on the real
// clock) and answers like docs/route-push.md says, unless a scripted answer
// is queued or it is set down (503 to all).
class TestGateway {
 public:
  struct Push {
    std::uint64_t version = 0;  // from the body; 0 when it is not a plan
    bool verified = false;      // the verifier accepted it (signature, freshness, version)
    std::string rejection;      // the verifier's reason code when not
    std::string body;
  };
  struct Answer {
    int status;
    std::string body;
  };

  // `port` 0 picks one. `tls`: serve HTTPS with this server context.
  explicit TestGateway(std::string key, std::uint16_t port = 0, std::uint64_t last_applied = 0,
                       Poco::Net::Context::Ptr tls = nullptr)
      : verifier_(clock_, std::move(key), last_applied), tls_(tls) {
    const Poco::Net::SocketAddress at("127.0.0.1", port);
    Poco::Net::ServerSocket socket =
        tls ? Poco::Net::SecureServerSocket(at, 64, tls) : Poco::Net::ServerSocket(at);
    port_ = socket.address().port();
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(2);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, params);
    server_->start();
  }
  ~TestGateway() { server_->stopAll(true); }
  TestGateway(const TestGateway&) = delete;
  TestGateway& operator=(const TestGateway&) = delete;

  std::string url(const std::string& path = "/v1/routes") const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
  }
  // The next pushes get these answers, one each, instead of the honest one.
  void queue(int times, Answer a) {
    std::lock_guard lk(mu_);
    for (int i = 0; i < times; ++i) scripted_.push_back(a);
  }
  // While down, every push is answered 503 and nothing is applied.
  void set_down(bool down) {
    std::lock_guard lk(mu_);
    down_ = down;
  }
  std::vector<Push> pushes() const {
    std::lock_guard lk(mu_);
    return pushes_;
  }
  std::vector<std::uint64_t> applied() const {
    std::lock_guard lk(mu_);
    return applied_;
  }

 private:
  class Handler final : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(TestGateway& gw) : gw_(gw) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req,
                       Poco::Net::HTTPServerResponse& resp) override {
      std::string body;
      Poco::StreamCopier::copyToString(req.stream(), body);
      auto header = [&](std::string_view name) -> std::optional<std::string> {
        if (!req.has(std::string(name))) return std::nullopt;
        return req.get(std::string(name));
      };
      const Answer a = gw_.answer(header(kSignatureHeader), header(kTimestampHeader), body);
      resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(a.status));
      resp.setContentType("application/json");
      resp.setContentLength(static_cast<std::streamsize>(a.body.size()));
      resp.send() << a.body;
    }

   private:
    TestGateway& gw_;
  };
  class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(TestGateway& gw) : gw_(gw) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(gw_);
    }

   private:
    TestGateway& gw_;
  };

  Answer answer(std::optional<std::string> signature, std::optional<std::string> timestamp,
                const std::string& body) {
    std::lock_guard lk(mu_);
    const PushVerdict v = verifier_.verify(signature, timestamp, body);
    Push p{0, v.ok(), v.ok() ? "" : std::string(to_string(v.rejection)), body};
    if (auto plan = decode_plan(body)) p.version = plan->version;
    pushes_.push_back(p);
    if (down_) return {503, R"({"error":"maintenance","detail":"down for a test"})"};
    if (!scripted_.empty()) {
      Answer a = scripted_.front();
      scripted_.pop_front();
      return a;
    }
    if (!v.ok()) {
      const int status = v.rejection == PushRejection::stale_version    ? 409
                         : v.rejection == PushRejection::malformed_plan ? 400
                                                                        : 401;
      Poco::JSON::Object o;
      o.set("error", std::string(to_string(v.rejection)));
      o.set("detail", v.detail);
      o.set("applied_version", verifier_.last_applied());
      std::ostringstream text;
      o.stringify(text);
      return {status, text.str()};
    }
    verifier_.applied(v.plan->version);
    applied_.push_back(v.plan->version);
    return {200, R"({"applied_version":)" + std::to_string(v.plan->version) + "}"};
  }

  SystemClock clock_;
  mutable std::mutex mu_;
  PlanVerifier verifier_;               // guarded by mu_
  std::deque<Answer> scripted_;         // guarded by mu_
  bool down_ = false;                   // guarded by mu_
  std::vector<Push> pushes_;            // guarded by mu_
  std::vector<std::uint64_t> applied_;  // guarded by mu_
  Poco::Net::Context::Ptr tls_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Poco::Net::HTTPServer> server_;  // last: serves once the above exist
};

// A loopback server that reads each request and then answers slowly: the
// status line, then one header byte every `drip` for as long as it runs (a
// zero `drip`: nothing at all). For the timeout and stop tests.
class SlowGateway {
 public:
  explicit SlowGateway(std::chrono::milliseconds drip)
      : listener_(Poco::Net::SocketAddress("127.0.0.1", 0)),
        drip_(drip),
        thread_([this] { run(); }) {}
  ~SlowGateway() {
    stopping_ = true;
    thread_.join();
  }
  SlowGateway(const SlowGateway&) = delete;
  SlowGateway& operator=(const SlowGateway&) = delete;

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(listener_.address().port()) + "/v1/routes";
  }
  int requests() const { return requests_; }

 private:
  void run() {
    while (!stopping_) {
      try {
        if (!listener_.poll(Poco::Timespan(0, 20'000), Poco::Net::Socket::SELECT_READ)) continue;
        Poco::Net::StreamSocket socket = listener_.acceptConnection();
        char buf[4096];
        socket.setReceiveTimeout(Poco::Timespan(1, 0));
        socket.receiveBytes(buf, sizeof buf);  // the request; its content does not matter
        ++requests_;
        if (drip_.count() > 0) socket.sendBytes("HTTP/1.1 200 OK\r\nX-Drip: ", 26, MSG_NOSIGNAL);
        while (!stopping_) {
          std::this_thread::sleep_for(drip_.count() > 0 ? drip_ : std::chrono::milliseconds(10));
          if (drip_.count() > 0 && socket.sendBytes("a", 1, MSG_NOSIGNAL) <= 0) break;
          if (socket.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_ERROR)) break;
          if (socket.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ) &&
              socket.available() == 0)
            break;  // the client closed its side
        }
      } catch (const Poco::Exception&) {
        // The client gave up, which is what these tests provoke.
      }
    }
  }

  Poco::Net::ServerSocket listener_;
  std::chrono::milliseconds drip_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;  // last: starts once everything above exists
};

// A gateways[] entry for a URL with its key in `key_file`.
inline GatewaySpec url_gateway(const std::string& id, const std::string& url,
                               const std::string& key_file) {
  GatewaySpec g;
  g.id = id;
  g.url = url;
  g.secret_file = key_file;
  return g;
}

// Short waits so each test is over in well under a second of back-off.
inline PushOptions fast_options() {
  PushOptions o;
  o.backoff_initial = std::chrono::milliseconds(10);
  o.backoff_max = std::chrono::milliseconds(50);
  o.rejected_retry = std::chrono::seconds(60);
  o.kill_grace = std::chrono::milliseconds(200);
  return o;
}

}  // namespace linewatch::test
