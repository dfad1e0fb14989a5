// deliver() against real loopback servers, and judge_notify_answer() on the
// answers receivers give.
#include <Poco/Net/ServerSocket.h>
#include <doctest/doctest.h>
#include <stdlib.h>

#include "exporters/notify.h"
#include "exporters/notify_test_support.h"
#include "exporters/push_test_support.h"

using namespace linewatch;
using namespace linewatch::test;
using namespace std::chrono_literals;

namespace {

using Kind = Delivery::Kind;

const std::string kKey = "SENTINEL-key-5b2d7f3a9c1e";
const std::string kToken = "SENTINEL-token-0e1d2c3b4a59";

HttpPost formatted(NotifierKind kind, const std::string& url, const std::string& key = "") {
  auto p = format(spec_of(kind), sample_notification(), {url, key}, sample_now());
  REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error().message));
  return *p;
}

Delivery send(const HttpPost& p, Duration timeout = 5s) { return deliver(p, timeout, {}); }

std::string where(const ScriptedReceiver& r) { return "127.0.0.1:" + std::to_string(r.port()); }

// Accepts connections into its backlog and never reads or answers them.
class SilentListener {
 public:
  SilentListener() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {}
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(socket_.address().port()) + path;
  }

 private:
  Poco::Net::ServerSocket socket_;
};

}  // namespace

TEST_CASE("notifier delivery of a webhook sends the exact request and reads 200 as ok") {
  ScriptedReceiver r({200, R"({"ok":true})", {}});
  const HttpPost p = formatted(NotifierKind::webhook, r.base() + "/hook?src=bj", kKey);
  const Delivery d = send(p);
  CHECK(to_string(d.kind) == "ok");
  CHECK(d.reason == "ok");
  CHECK(d.status == 200);
  CHECK(d.detail == where(r) + R"( answered HTTP 200: {"ok":true})");
  CHECK_FALSE(d.retry_after.has_value());
  const auto got = r.requests();
  REQUIRE(got.size() == 1);
  CHECK(got[0].uri == "/hook?src=bj");
  CHECK(got[0].body == p.body);
  for (const auto& [name, value] : p.headers) {
    CAPTURE(name);
    CHECK(got[0].headers.at(name) == value);
  }
  CHECK(got[0].headers.at("User-Agent") == "linewatch");
  CHECK(got[0].headers.at("Content-Length") == std::to_string(p.body.size()));
}

TEST_CASE("notifier delivery reads 503 with Retry-After as transient with the wait") {
  ScriptedReceiver r({503, "down for maintenance", {{"Retry-After", "7"}}});
  const Delivery d = send(formatted(NotifierKind::alertmanager, r.base()));
  CHECK(d.kind == Kind::transient);
  CHECK(d.reason == "http_5xx");
  CHECK(d.status == 503);
  CHECK(d.retry_after == std::optional<Duration>(7s));
  CHECK(d.detail == where(r) + " answered HTTP 503: down for maintenance");
  REQUIRE(r.requests().size() == 1);
  CHECK(r.requests()[0].uri == "/api/v2/alerts");
}

TEST_CASE("notifier delivery reads 400 as permanent") {
  ScriptedReceiver r({400, R"({"code":400,"message":"start time must be before end time"})", {}});
  const Delivery d = send(formatted(NotifierKind::alertmanager, r.base()));
  CHECK(d.kind == Kind::permanent);
  CHECK(d.reason == "http_4xx");
  CHECK(d.status == 400);
  CHECK(d.detail.find("start time must be before end time") != std::string::npos);
}

TEST_CASE("notifier delivery reads a chat error code in a 200 and keeps the token out") {
  // The robot names the token it was called with: it must not reach the detail.
  ScriptedReceiver r(
      {200,
       R"({"errcode":310000,"errmsg":"keywords not in content, token )" + kToken + R"("})",
       {}});
  const HttpPost p =
      formatted(NotifierKind::dingtalk, r.base() + "/robot/send?access_token=" + kToken, kKey);
  const Delivery d = send(p);
  CHECK(d.kind == Kind::permanent);
  CHECK(d.reason == "chat_rejected");
  CHECK(d.status == 200);
  CHECK(d.detail == where(r) +
                        " answered HTTP 200 errcode 310000: keywords not in content, token "
                        "[redacted] (the robot's security settings refused it: keyword, "
                        "signature (secret or clock) or IP allow-list)");
  REQUIRE(r.requests().size() == 1);
  // The signed query reaches the robot as it was formatted.
  CHECK(r.requests()[0].uri == p.url.substr(r.base().size()));
  CHECK(r.requests()[0].uri.find("&timestamp=1800000030123&sign=") != std::string::npos);
}

TEST_CASE("notifier delivery reads chat rate limits as transient and code 0 as ok") {
  ScriptedReceiver wecom({200, R"({"errcode":45009,"errmsg":"api freq out of limit"})", {}});
  const Delivery limited =
      send(formatted(NotifierKind::wecom, wecom.base() + "/cgi-bin/webhook/send?key=" + kToken));
  CHECK(limited.kind == Kind::transient);
  CHECK(limited.reason == "chat_rate_limit");

  ScriptedReceiver feishu({200, R"({"code":0,"data":{},"msg":"success"})", {}});
  const Delivery sent = send(
      formatted(NotifierKind::feishu, feishu.base() + "/open-apis/bot/v2/hook/" + kToken, kKey));
  CHECK(sent.kind == Kind::ok);
  CHECK(sent.detail == where(feishu) + " answered HTTP 200 code 0: success");
  REQUIRE(feishu.requests().size() == 1);
  CHECK(feishu.requests()[0].uri == "/open-apis/bot/v2/hook/" + kToken);
}

TEST_CASE("notifier delivery to a receiver that never answers ends at the timeout") {
  SilentListener silent;
  const auto before = std::chrono::steady_clock::now();
  const Delivery d = send(formatted(NotifierKind::webhook, silent.url("/hook"), kKey), 300ms);
  CHECK(std::chrono::steady_clock::now() - before < 5s);  // bounded by the timeout, not the peer
  CHECK(d.kind == Kind::transient);
  CHECK(d.reason == "timeout");
  CHECK(d.detail.starts_with("no answer from 127.0.0.1:"));
  CHECK(d.detail.ends_with(" within 300 ms"));
  CHECK(d.took >= 300ms);
}

TEST_CASE("notifier delivery cuts off a receiver that trickles its answer") {
  SlowGateway slow(50ms);  // a header byte every 50 ms: no single read waits long
  const auto before = std::chrono::steady_clock::now();
  const Delivery d = send(formatted(NotifierKind::webhook, slow.url(), kKey), 300ms);
  CHECK(std::chrono::steady_clock::now() - before < 5s);
  CHECK(d.reason == "timeout");
}

TEST_CASE("notifier delivery stop ends an attempt that waits for its answer") {
  SilentListener silent;
  std::stop_source stop;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(100ms);
    stop.request_stop();
  });
  const auto before = std::chrono::steady_clock::now();
  const Delivery d =
      deliver(formatted(NotifierKind::webhook, silent.url("/hook"), kKey), 300s, stop.get_token());
  CHECK(std::chrono::steady_clock::now() - before < 10s);  // not the 300 s timeout
  CHECK(d.kind == Kind::transient);
  CHECK(d.reason == "cancelled");
  // Stopped before it began: nothing is sent.
  const Delivery early =
      deliver(formatted(NotifierKind::webhook, silent.url("/hook"), kKey), 5s, stop.get_token());
  CHECK(early.reason == "cancelled");
}

TEST_CASE("notifier delivery to a closed port is refused and transient") {
  const std::uint16_t port = free_port();
  const Delivery d =
      send(formatted(NotifierKind::wecom, "http://127.0.0.1:" + std::to_string(port) +
                                              "/cgi-bin/webhook/send?key=" + kToken));
  CHECK(d.kind == Kind::transient);
  CHECK(d.reason == "refused");
  CHECK(d.detail == "connection refused by 127.0.0.1:" + std::to_string(port));
  CHECK(d.status == 0);
}

TEST_CASE("notifier delivery over https verifies the receiver's certificate") {
  linewatch::testing::TempDir dir;
  auto tls = self_signed_context(dir);
  REQUIRE(tls);
  ScriptedReceiver r({200, R"({"errcode":0,"errmsg":"ok"})", {}}, tls);
  const HttpPost p = formatted(NotifierKind::wecom, r.base() + "/send?key=" + kToken);
  const Delivery untrusted = send(p);
  CHECK(untrusted.kind == Kind::transient);
  CHECK(untrusted.reason == "tls");
  CHECK(r.requests().empty());
  // OpenSSL reads the default CA file from here when the context is made.
  ::setenv("SSL_CERT_FILE", dir.file("cert.pem").c_str(), 1);
  const Delivery trusted = send(p);
  ::unsetenv("SSL_CERT_FILE");
  CHECK(trusted.kind == Kind::ok);
  CHECK(r.requests().size() == 1);
}

TEST_CASE("notifier delivery details never hold the key, the token or the URL") {
  ScriptedReceiver echo({404, "no robot " + kToken + " here, key " + kKey, {}});
  SilentListener silent;
  const std::string closed = "http://127.0.0.1:" + std::to_string(free_port());
  std::vector<Delivery> all;
  for (NotifierKind k : {NotifierKind::webhook, NotifierKind::dingtalk, NotifierKind::feishu}) {
    for (const std::string& base : {echo.base(), closed, silent.url("")}) {
      const std::string url = k == NotifierKind::feishu ? base + "/hook/" + kToken
                                                        : base + "/send?access_token=" + kToken;
      all.push_back(send(formatted(k, url, kKey), 300ms));
    }
  }
  // A WeCom request carries no key, only the token.
  ScriptedReceiver wecom(
      {200, R"({"errcode":93000,"errmsg":"invalid webhook url )" + kToken + "\"}", {}});
  all.push_back(send(formatted(NotifierKind::wecom, wecom.base() + "/send?key=" + kToken)));
  for (const Delivery& d : all) {
    CAPTURE(d.detail);
    CHECK(d.detail.find("SENTINEL") == std::string::npos);
    CHECK(d.detail.find("/send") == std::string::npos);
    CHECK(d.detail.find("/hook") == std::string::npos);
  }
  CHECK(all[0].detail ==
        where(echo) + " answered HTTP 404: no robot [redacted] here, key [redacted]");
}

TEST_CASE("notifier delivery refuses a URL it cannot parse as permanent") {
  HttpPost p;
  p.url = "http://[::1";
  const Delivery d = send(p);
  CHECK(d.kind == Kind::permanent);
  CHECK(d.reason == "bad_url");
  CHECK(d.detail == "the receiver's URL is not valid");
}

TEST_CASE("notifier answers are judged by status and by the robots' own codes") {
  struct Case {
    NotifierKind kind;
    int status;
    std::string body;
    Kind verdict;
    std::string reason;
  };
  const NotifierKind webhook = NotifierKind::webhook, wecom = NotifierKind::wecom,
                     ding = NotifierKind::dingtalk, feishu = NotifierKind::feishu;
  const std::vector<Case> cases = {
      {webhook, 200, "", Kind::ok, "ok"},
      {webhook, 204, "", Kind::ok, "ok"},
      {webhook, 301, "", Kind::permanent, "http_3xx"},
      {webhook, 401, "", Kind::permanent, "http_4xx"},
      {webhook, 408, "", Kind::transient, "http_4xx"},
      {webhook, 429, "", Kind::transient, "http_4xx"},
      {webhook, 500, "", Kind::transient, "http_5xx"},
      {webhook, 200, R"({"errcode":310000})", Kind::ok, "ok"},  // only robots have codes
      {NotifierKind::alertmanager, 200, "", Kind::ok, "ok"},
      {wecom, 200, R"({"errcode":0,"errmsg":"ok"})", Kind::ok, "ok"},
      {wecom, 200, R"({"errcode":-1,"errmsg":"system busy"})", Kind::transient, "chat_busy"},
      {wecom, 200, R"({"errcode":45009})", Kind::transient, "chat_rate_limit"},
      {wecom, 200, R"({"errcode":93000,"errmsg":"invalid webhook url"})", Kind::permanent,
       "chat_rejected"},
      {wecom, 200, R"({"errcode":40058})", Kind::permanent, "chat_rejected"},  // not in the table
      {wecom, 200, "<html>portal</html>", Kind::transient, "chat_no_code"},
      {wecom, 502, "<html>bad gateway</html>", Kind::transient, "http_5xx"},
      {ding, 200, R"({"errcode":130101,"errmsg":"send too fast"})", Kind::transient,
       "chat_rate_limit"},
      {ding, 200, R"({"errcode":410100})", Kind::transient, "chat_rate_limit"},
      {ding, 200, R"({"errcode":310000,"errmsg":"sign not match"})", Kind::permanent,
       "chat_rejected"},
      {ding, 200, R"({"errcode":400102})", Kind::permanent, "chat_rejected"},
      {feishu, 200, R"({"code":19021,"msg":"sign match fail"})", Kind::permanent, "chat_rejected"},
      {feishu, 200, R"({"code":19024,"msg":"Key Words Not Found"})", Kind::permanent,
       "chat_rejected"},
      {feishu, 200, R"({"StatusCode":0,"StatusMessage":"success"})", Kind::ok, "ok"},
      {feishu, 200, R"({"code":11232,"msg":"frequency limited"})", Kind::transient,
       "chat_rate_limit"},
      {feishu, 400, R"({"code":11232,"msg":"frequency limited"})", Kind::transient,
       "chat_rate_limit"},
      {feishu, 400, R"({"code":9499,"msg":"Bad Request"})", Kind::permanent, "http_4xx"},
      {feishu, 200, R"({"errcode":0})", Kind::transient, "chat_no_code"},  // not Feishu's field
  };
  for (const Case& c : cases) {
    CAPTURE(to_string(c.kind));
    CAPTURE(c.status);
    CAPTURE(c.body);
    const Delivery d = judge_notify_answer(c.kind, c.status, c.body, std::nullopt, sample_now());
    CHECK(d.kind == c.verdict);
    CHECK(d.reason == c.reason);
    CHECK(d.status == c.status);
  }
}

TEST_CASE("notifier Retry-After is read as seconds or an HTTP date") {
  const WallTime now = sample_now();  // 2027-01-15T08:00:30.123Z
  CHECK(parse_notify_retry_after("120", now) == std::optional<Duration>(120s));
  CHECK(parse_notify_retry_after(" 0 ", now) == std::optional<Duration>(0s));
  CHECK(parse_notify_retry_after("Fri, 15 Jan 2027 08:01:00 GMT", now) ==
        std::optional<Duration>(29877ms));
  CHECK(parse_notify_retry_after("Fri, 15 Jan 2027 07:00:00 GMT", now) ==
        std::optional<Duration>(0s));
  CHECK(parse_notify_retry_after("99999999999999999999", now) == std::optional<Duration>(24h));
  CHECK_FALSE(parse_notify_retry_after("soon", now).has_value());
  CHECK_FALSE(parse_notify_retry_after("12s", now).has_value());
  CHECK_FALSE(parse_notify_retry_after("", now).has_value());
  const Delivery d = judge_notify_answer(NotifierKind::webhook, 429, "", "30", now);
  CHECK(d.retry_after == std::optional<Duration>(30s));
}
