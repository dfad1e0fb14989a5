// Test-only support for the outbox sender tests: a loopback webhook receiver
// (a real Poco HTTPServer on 127.0.0.1) whose answer to each request comes
// from a script of the request's number, recording which notifications it
// took; webhook specs whose key comes from a fake environment; and a
// listener that never answers.
//
// Thread-safety: the server threads and the test thread share the records
// under a mutex.
#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "exporters/notify.h"

namespace linewatch::test {

inline constexpr const char* kHookKeyEnv = "OUTBOX_TEST_HOOK_KEY";
inline constexpr const char* kHookKey = "SENTINEL-outbox-key-7c41d09e";

// Looks only at kHookKeyEnv, which holds kHookKey.
inline std::optional<std::string> fake_env(const std::string& name) {
  if (name == kHookKeyEnv) return std::string(kHookKey);
  return std::nullopt;
}

// A webhook receiver `id` at `url`, its key in kHookKeyEnv.
inline NotifierSpec hook_spec(std::string id, std::string url,
                              Duration timeout = std::chrono::seconds(5)) {
  NotifierSpec s;
  s.id = std::move(id);
  s.kind = NotifierKind::webhook;
  s.url = std::move(url);
  s.secret_env = kHookKeyEnv;
  s.timeout = timeout;
  return s;
}

// A notification numbered `seq`: its id is "<prefix>/<seq>".
inline Notification numbered(const std::string& prefix, int seq) {
  Notification n;
  n.id = prefix + "/" + std::to_string(seq);
  n.agent = "bj-gw-1";
  n.rule = "availability";
  n.severity = "critical";
  n.summary = "cn2-bj-1 towards openai below 99.9 %";
  n.labels = {{"line", "cn2-bj-1"}, {"target", "openai"}};
  n.value_text = "99.2 %";
  n.value = 99.2;
  n.threshold_text = "99.9 %";
  n.threshold = 99.9;
  n.starts_at = WallTime(std::chrono::milliseconds(1'800'000'000'000 + seq));
  return n;
}

// A webhook receiver on 127.0.0.1 that answers request number i (from 0)
// with script(i), and records each request's Idempotency-Key and status.
class ScriptedHook {
 public:
  struct Reply {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  using Script = std::function<Reply(int index)>;

  explicit ScriptedHook(Script script) : script_(std::move(script)) {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    port_ = socket.address().port();
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(2);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, params);
    server_->start();
  }
  ~ScriptedHook() { server_->stopAll(true); }
  ScriptedHook(const ScriptedHook&) = delete;
  ScriptedHook& operator=(const ScriptedHook&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  // Replaces the script for the requests to come.
  void set_script(Script script) {
    std::lock_guard lk(mu_);
    script_ = std::move(script);
  }
  // The notification ids of every request, in arrival order.
  std::vector<std::string> seen() const {
    std::lock_guard lk(mu_);
    return seen_;
  }
  // ... of the requests answered 2xx.
  std::vector<std::string> taken() const {
    std::lock_guard lk(mu_);
    return taken_;
  }
  std::size_t requests() const {
    std::lock_guard lk(mu_);
    return seen_.size();
  }
  // Every request body, for checks on what was sent.
  std::vector<std::string> bodies() const {
    std::lock_guard lk(mu_);
    return bodies_;
  }

 private:
  class Handler final : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(ScriptedHook& h) : h_(h) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req,
                       Poco::Net::HTTPServerResponse& resp) override {
      std::string body;
      Poco::StreamCopier::copyToString(req.stream(), body);
      const std::string id = req.get("Idempotency-Key", "");
      Reply reply;
      {
        std::lock_guard lk(h_.mu_);
        reply = h_.script_(static_cast<int>(h_.seen_.size()));
        h_.seen_.push_back(id);
        h_.bodies_.push_back(body);
        if (reply.status / 100 == 2) h_.taken_.push_back(id);
      }
      resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
      for (const auto& [name, value] : reply.headers) resp.set(name, value);
      const std::string answer = "{}";
      resp.setContentType("application/json");
      resp.setContentLength(static_cast<std::streamsize>(answer.size()));
      resp.send() << answer;
    }

   private:
    ScriptedHook& h_;
  };
  class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(ScriptedHook& h) : h_(h) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(h_);
    }

   private:
    ScriptedHook& h_;
  };

  mutable std::mutex mu_;
  Script script_;                    // guarded by mu_
  std::vector<std::string> seen_;    // guarded by mu_
  std::vector<std::string> taken_;   // guarded by mu_
  std::vector<std::string> bodies_;  // guarded by mu_
  std::uint16_t port_ = 0;
  std::unique_ptr<Poco::Net::HTTPServer> server_;  // last: serves once the above exist
};

// Every request answered `status`.
inline ScriptedHook::Script always(int status) {
  return [status](int) { return ScriptedHook::Reply{status, {}}; };
}

// Accepts connections into its backlog and never reads or answers them.
class SilentHook {
 public:
  SilentHook() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {}
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(socket_.address().port()) + "/hook";
  }

 private:
  Poco::Net::ServerSocket socket_;
};

// "id0 id1 ..." for compact checks.
inline std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

// The ids prefix/from .. prefix/to-1, joined.
inline std::string ids(const std::string& prefix, int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i) v.push_back(prefix + "/" + std::to_string(i));
  return joined(v);
}

}  // namespace linewatch::test
