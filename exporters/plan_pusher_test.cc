#include "exporters/plan_pusher.h"

#include <doctest/doctest.h>

#include <fstream>

#include "exporters/http_receiver.h"
#include "exporters/push_test_support.h"

using namespace linewatch;
using namespace linewatch::test;
using namespace std::chrono_literals;

namespace {

const std::string kKey = "gw1-shared-secret-0123456789";

// A pusher for one url gateway whose key file holds `key`, with `timeout`.
std::unique_ptr<PlanPusher> start_one(const TempDir& dir, const std::string& url, EventSink& sink,
                                      const Clock& clock, PushOptions options = fast_options(),
                                      const std::string& key = kKey,
                                      Duration timeout = GatewaySpec{}.timeout) {
  write_file(dir.file("gw1.key"), key + "\n");
  GatewaySpec g = url_gateway("gw1", url, dir.file("gw1.key"));
  g.timeout = timeout;
  auto p = PlanPusher::start({g}, options, sink, clock);
  REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error().message));
  return std::move(*p);
}

GatewayStatus one(const PlanPusher& p) { return p.status().at(0); }

std::optional<std::uint64_t> delivered(const PlanPusher& p) { return one(p).delivered; }

std::vector<std::uint64_t> versions(const std::vector<TestGateway::Push>& pushes) {
  std::vector<std::uint64_t> out;
  for (const auto& p : pushes) out.push_back(p.version);
  return out;
}

}  // namespace

TEST_CASE("pusher delivers a signed plan that the gateway verifies") {
  TempDir dir;
  TestGateway gw(kKey);
  RecordingSink sink;
  SystemClock clock;
  auto pusher = start_one(dir, gw.url(), sink, clock);
  pusher->publish(test_plan(1));
  REQUIRE(eventually([&] { return delivered(*pusher) == 1u; }));
  pusher->stop();

  const auto pushes = gw.pushes();
  REQUIRE(pushes.size() == 1);
  CHECK(pushes[0].verified);
  CHECK(pushes[0].body == encode_plan(test_plan(1)));
  CHECK(gw.applied() == std::vector<std::uint64_t>{1});

  const GatewayStatus s = one(*pusher);
  CHECK(s.id == "gw1");
  CHECK(s.kind == "url");
  CHECK(s.delivered == 1u);
  CHECK_FALSE(s.pending.has_value());
  CHECK(s.last_attempt.has_value());
  CHECK(s.last_reason == "applied");
  CHECK(s.last_error.empty());
  CHECK(s.attempts == 1);
  CHECK(s.retries == 0);
  CHECK(s.failures == 0);

  const auto events = sink.events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "push_ok");
  CHECK(events[0].reason == "applied");
  CHECK(events[0].target == "gw1");
  CHECK(events[0].detail.find("version 1 in force at gw1") != std::string::npos);
}

TEST_CASE("pusher keeps retrying a gateway that is not listening until it comes up") {
  TempDir dir;
  const std::uint16_t port = free_port();
  RecordingSink sink;
  SystemClock clock;
  auto pusher =
      start_one(dir, "http://127.0.0.1:" + std::to_string(port) + "/v1/routes", sink, clock);
  pusher->publish(test_plan(1));
  REQUIRE(eventually([&] { return one(*pusher).attempts >= 3; }));
  GatewayStatus s = one(*pusher);
  CHECK(s.last_reason == "refused");
  CHECK(s.pending == 1u);
  CHECK_FALSE(s.delivered.has_value());
  CHECK(s.last_error.find("connection refused") != std::string::npos);

  TestGateway gw(kKey, port);
  REQUIRE(eventually([&] { return delivered(*pusher) == 1u; }));
  pusher->stop();
  s = one(*pusher);
  CHECK(s.retries >= 3);
  CHECK(s.failures == s.attempts - 1);
  CHECK(s.failing_for == 0);
  CHECK(gw.applied() == std::vector<std::uint64_t>{1});
  // Many refused attempts, one event for them.
  CHECK(sink.kinds() == "push_failed:refused push_ok:applied");
}

TEST_CASE("pusher retries a gateway answering 503 until it answers 200") {
  TempDir dir;
  TestGateway gw(kKey);
  gw.queue(3, {503, R"({"error":"busy","detail":"applying another table"})"});
  RecordingSink sink;
  SystemClock clock;
  auto pusher = start_one(dir, gw.url(), sink, clock);
  pusher->publish(test_plan(1));
  REQUIRE(eventually([&] { return delivered(*pusher) == 1u; }));
  pusher->stop();

  CHECK(versions(gw.pushes()) == std::vector<std::uint64_t>{1, 1, 1, 1});
  CHECK(gw.applied() == std::vector<std::uint64_t>{1});
  const GatewayStatus s = one(*pusher);
  CHECK(s.attempts == 4);
  CHECK(s.retries == 3);
  CHECK(s.failures == 3);
  CHECK(sink.kinds() == "push_failed:http_5xx push_ok:applied");
  const auto events = sink.events();
  CHECK(events[0].detail.find("HTTP 503 busy: applying another table") != std::string::npos);
  CHECK(events[1].detail.find("after 3 failed attempts") != std::string::npos);
}

TEST_CASE("pusher sends the plan again to a gateway that reports an older applied version") {
  TempDir dir;
  TestGateway gw(kKey);
  gw.queue(1, {200, R"({"applied_version":0})"});
  RecordingSink sink;
  SystemClock clock;
  auto pusher = start_one(dir, gw.url(), sink, clock);
  pusher->publish(test_plan(1));
  REQUIRE(eventually([&] { return delivered(*pusher) == 1u; }));
  pusher->stop();

  CHECK(versions(gw.pushes()) == std::vector<std::uint64_t>{1, 1});
  CHECK(gw.applied() == std::vector<std::uint64_t>{1});
  CHECK(one(*pusher).retries == 1);
  CHECK(sink.kinds() == "push_failed:behind push_ok:applied");
}

TEST_CASE("a newer plan replaces one not yet delivered so only the newest follows an outage") {
  TempDir dir;
  TestGateway gw(kKey);
  gw.set_down(true);
  RecordingSink sink;
  SystemClock clock;
  auto pusher = start_one(dir, gw.url(), sink, clock);
  pusher->publish(test_plan(1));
  REQUIRE(eventually([&] { return one(*pusher).attempts >= 2; }));
  pusher->publish(test_plan(2));
  pusher->publish(test_plan(3));
  const auto saw_3 = [&] {
    for (const auto& p : gw.pushes())
      if (p.version == 3) return true;
    return false;
  };
  REQUIRE(eventually(saw_3));
  CHECK(one(*pusher).pending == 3u);
  gw.set_down(false);
  REQUIRE(eventually([&] { return delivered(*pusher) == 3u; }));
  pusher->stop();

  CHECK(gw.applied() == std::vector<std::uint64_t>{3});
  for (const auto& p : gw.pushes()) CHECK(p.verified);
  const GatewayStatus s = one(*pusher);
  CHECK(s.superseded == 2);
  CHECK_FALSE(s.pending.has_value());
  CHECK(sink.kinds() == "push_failed:http_5xx push_ok:applied");
}

TEST_CASE("a newer plan goes out at once without waiting out the back-off") {
  TempDir dir;
  TestGateway gw(kKey);
  gw.set_down(true);
  RecordingSink sink;
  SystemClock clock;
  PushOptions options = fast_options();
  options.backoff_initial = 120s;  // far longer than the wait below allows
  options.backoff_max = 120s;
  auto pusher = start_one(dir, gw.url(), sink, clock, options);
  pusher->publish(test_plan(1));
  REQUIRE(eventually([&] { return one(*pusher).attempts == 1; }));
  gw.set_down(false);
  pusher->publish(test_plan(2));
  REQUIRE(eventually([&] { return delivered(*pusher) == 2u; }));
  pusher->stop();
  CHECK(versions(gw.pushes()) == std::vector<std::uint64_t>{1, 2});
  CHECK(gw.applied() == std::vector<std::uint64_t>{2});
}

TEST_CASE("a rejected plan is not retried at once and the next plan is sent") {
  TempDir dir;
  TestGateway gw(kKey, 0, /*last_applied=*/5);
  RecordingSink sink;
  SystemClock clock;
  auto pusher = start_one(dir, gw.url(), sink, clock);
  pusher->publish(test_plan(3));
  REQUIRE(eventually([&] { return one(*pusher).attempts == 1; }));
  // With the 10..50 ms transient back-off this would be several attempts.
  std::this_thread::sleep_for(300ms);
  GatewayStatus s = one(*pusher);
  CHECK(s.attempts == 1);
  CHECK(s.last_reason == "http_4xx");
  CHECK(s.last_error.find("HTTP 409 stale_version") != std::string::npos);
  CHECK(s.pending == 3u);

  pusher->publish(test_plan(6));
  REQUIRE(eventually([&] { return delivered(*pusher) == 6u; }));
  pusher->stop();
  CHECK(versions(gw.pushes()) == std::vector<std::uint64_t>{3, 6});
  CHECK(gw.applied() == std::vector<std::uint64_t>{6});
  CHECK(sink.kinds() == "push_failed:http_4xx push_ok:applied");
  CHECK(sink.events()[0].detail.find("or with the next plan") != std::string::npos);
}

TEST_CASE("a gateway that already has the version in force counts it as delivered") {
  // After an agent restart the same version is published again.
  TempDir dir;
  TestGateway gw(kKey, 0, /*last_applied=*/4);
  RecordingSink sink;
  SystemClock clock;
  auto pusher = start_one(dir, gw.url(), sink, clock);
  pusher->publish(test_plan(4));
  REQUIRE(eventually([&] { return delivered(*pusher) == 4u; }));
  pusher->stop();
  CHECK(one(*pusher).attempts == 1);
  CHECK(gw.applied().empty());  // refused as stale by the gateway, which already had it
  CHECK(sink.kinds() == "push_ok:applied");
}

TEST_CASE("push events come only when a gateway's outcome changes") {
  TempDir dir;
  TestGateway gw(kKey);
  RecordingSink sink;
  SystemClock clock;
  auto pusher = start_one(dir, gw.url(), sink, clock);

  gw.queue(3, {503, "{}"});
  pusher->publish(test_plan(1));
  REQUIRE(eventually([&] { return delivered(*pusher) == 1u; }));
  gw.queue(2, {502, "{}"});
  gw.queue(2, {503, "{}"});
  pusher->publish(test_plan(2));
  REQUIRE(eventually([&] { return delivered(*pusher) == 2u; }));
  pusher->publish(test_plan(3));
  REQUIRE(eventually([&] { return delivered(*pusher) == 3u; }));
  pusher->stop();

  CHECK(one(*pusher).failures == 7);
  CHECK(sink.kinds() ==
        "push_failed:http_5xx push_ok:applied push_failed:http_5xx push_failed:http_5xx "
        "push_ok:applied push_ok:applied");
  const auto events = sink.events();
  CHECK(events[2].detail.find("HTTP 502") != std::string::npos);
  CHECK(events[3].detail.find("HTTP 503") != std::string::npos);
}

TEST_CASE("the gateway secret is in no event, status or start error") {
  const std::string sentinel = "SENTINEL-9f4c2e-gateway-key";
  TempDir dir;
  // The gateway holds another key, and first answers with our key in its text.
  TestGateway gw("some-other-key");
  gw.queue(1, {401, R"({"error":"bad_signature","detail":"expected )" + sentinel + R"("})"});
  RecordingSink sink;
  SystemClock clock;
  auto pusher = start_one(dir, gw.url(), sink, clock, fast_options(), sentinel);
  pusher->publish(test_plan(1));
  REQUIRE(eventually([&] { return one(*pusher).attempts == 1; }));
  CHECK(one(*pusher).last_error.find("[secret]") != std::string::npos);
  pusher->publish(test_plan(2));  // refused for the wrong key this time
  REQUIRE(eventually([&] { return one(*pusher).attempts == 2; }));
  pusher->stop();
  REQUIRE(gw.pushes().size() == 2);
  CHECK(gw.pushes()[1].rejection == "bad_signature");

  const auto contains = [&](const std::string& s) { return s.find(sentinel) != std::string::npos; };
  REQUIRE(sink.events().size() >= 1);
  for (const Event& e : sink.events()) {
    CHECK_FALSE(contains(e.kind + e.line + e.target + e.reason + e.detail));
  }
  const GatewayStatus s = one(*pusher);
  CHECK(s.last_reason == "http_4xx");
  CHECK_FALSE(contains(s.last_error + s.last_reason + s.id + s.kind));

  // Start errors name the key and the file, never what the file holds.
  write_file(dir.file("big.key"), sentinel + std::string(70 * 1024, 'x'));
  write_file(dir.file("empty.key"), "\n");
  const GatewaySpec ok = url_gateway("gw0", gw.url(), dir.file("gw1.key"));
  for (const auto& [file, message] : std::vector<std::pair<std::string, std::string>>{
           {dir.file("missing.key"), "gateways[1].secret_file: cannot read " +
                                         dir.file("missing.key") + ": No such file or directory"},
           {dir.file("big.key"),
            "gateways[1].secret_file: " + dir.file("big.key") + " is larger than 64 KiB"},
           {dir.file("empty.key"),
            "gateways[1].secret_file: " + dir.file("empty.key") + " is empty"},
           {dir.path(), "gateways[1].secret_file: " + dir.path() + " is not a regular file"},
       }) {
    auto p =
        PlanPusher::start({ok, url_gateway("gw1", gw.url(), file)}, fast_options(), sink, clock);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().message == message);
    CHECK_FALSE(contains(p.error().message));
  }
}

TEST_CASE("pusher start names the gateway config that is wrong") {
  TempDir dir;
  write_file(dir.file("k"), kKey);
  RecordingSink sink;
  SystemClock clock;
  GatewaySpec both = url_gateway("gw1", "http://127.0.0.1:1/", dir.file("k"));
  both.exec = "/bin/true";
  GatewaySpec neither;
  neither.id = "gw1";
  for (const auto& [g, message] : std::vector<std::pair<GatewaySpec, std::string>>{
           {both, "gateways[0]: set exactly one of url and exec"},
           {neither, "gateways[0]: set exactly one of url and exec"},
           {url_gateway("gw1", "ftp://127.0.0.1/x", dir.file("k")),
            "gateways[0].url: must start with http:// or https://"},
           {url_gateway("gw1", "http://u:p@127.0.0.1/x", dir.file("k")),
            "gateways[0].url: user info is not supported (pushes are signed with secret_file)"},
           {url_gateway("gw1", "http://127.0.0.1/x", ""),
            "gateways[0].secret_file: required for a url gateway"},
       }) {
    auto p = PlanPusher::start({g}, fast_options(), sink, clock);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().message == message);
  }
}

TEST_CASE("pusher stop ends a back-off wait at once") {
  TempDir dir;
  RecordingSink sink;
  SystemClock clock;
  PushOptions options = fast_options();
  options.backoff_initial = 300s;
  options.backoff_max = 300s;
  auto pusher = start_one(dir, "http://127.0.0.1:" + std::to_string(free_port()) + "/v1/routes",
                          sink, clock, options);
  pusher->publish(test_plan(1));
  REQUIRE(eventually([&] { return one(*pusher).attempts == 1; }));
  const auto before = std::chrono::steady_clock::now();
  pusher->stop();
  // Bounded well below the 300 s back-off it was waiting in.
  CHECK(std::chrono::steady_clock::now() - before < 10s);
  pusher->stop();                 // idempotent
  pusher->publish(test_plan(2));  // no effect after stop
  CHECK(one(*pusher).attempts == 1);
}

TEST_CASE("a gateway that trickles its answer is cut off at its timeout") {
  TempDir dir;
  SlowGateway gw(50ms);  // a header byte every 50 ms: no single read ever waits long
  RecordingSink sink;
  SystemClock clock;
  auto p = start_one(dir, gw.url(), sink, clock, fast_options(), kKey, 300ms);
  auto& pusher = *p;
  const auto before = std::chrono::steady_clock::now();
  pusher.publish(test_plan(1));
  REQUIRE(eventually([&] { return one(pusher).attempts >= 1; }));
  // Bounded by the 300 ms timeout, not by the gateway, which drips until it is destroyed.
  CHECK(std::chrono::steady_clock::now() - before < 3s);
  pusher.stop();
  CHECK(one(pusher).last_reason == "timeout");
  CHECK(one(pusher).last_error.find("within 300 ms") != std::string::npos);
}

TEST_CASE("a gateway that never answers times out") {
  TempDir dir;
  SlowGateway gw(0ms);
  RecordingSink sink;
  SystemClock clock;
  auto p = start_one(dir, gw.url(), sink, clock, fast_options(), kKey, 200ms);
  p->publish(test_plan(1));
  REQUIRE(eventually([&] { return one(*p).attempts >= 2; }));
  p->stop();
  CHECK(one(*p).last_reason == "timeout");
  CHECK(sink.kinds() == "push_failed:timeout");
}

TEST_CASE("pusher stop cuts an HTTP attempt that waits for its answer") {
  TempDir dir;
  SlowGateway gw(0ms);
  RecordingSink sink;
  SystemClock clock;
  auto p = start_one(dir, gw.url(), sink, clock, fast_options(), kKey, 300s);
  p->publish(test_plan(1));
  REQUIRE(eventually([&] { return gw.requests() == 1; }));
  const auto before = std::chrono::steady_clock::now();
  p->stop();
  CHECK(std::chrono::steady_clock::now() - before < 10s);  // not the 300 s timeout
  CHECK(one(*p).attempts == 0);                            // cut short by stopping: no outcome
  CHECK(sink.events().empty());
}

TEST_CASE("judge_answer reads the gateway's answer") {
  using Kind = DeliveryOutcome::Kind;
  CHECK(judge_answer(200, R"({"applied_version":5})", 5).kind == Kind::applied);
  CHECK(judge_answer(204, "", 5).kind == Kind::applied);
  CHECK(judge_answer(200, R"({"applied_version":7})", 5).kind == Kind::applied);
  const DeliveryOutcome behind = judge_answer(200, R"({"applied_version":4})", 5);
  CHECK(behind.kind == Kind::transient);
  CHECK(behind.reason == "behind");
  CHECK(behind.applied_version == 4u);
  CHECK(judge_answer(409, R"({"error":"stale_version","applied_version":5})", 5).kind ==
        Kind::applied);
  const DeliveryOutcome stale =
      judge_answer(409, R"({"error":"stale_version","applied_version":6})", 5);
  CHECK(stale.kind == Kind::rejected);
  CHECK(stale.reason == "http_4xx");
  CHECK(stale.status == 409);
  CHECK(judge_answer(429, "", 5).kind == Kind::transient);
  CHECK(judge_answer(408, "", 5).kind == Kind::transient);
  CHECK(judge_answer(401, "<html>no</html>", 5).detail == "HTTP 401: <html>no</html>");
  CHECK(judge_answer(503, "", 5).reason == "http_5xx");
  CHECK(judge_answer(301, "", 5).kind == Kind::rejected);
  CHECK(judge_answer(301, "", 5).reason == "http_3xx");
}

namespace {

// A self-signed certificate for 127.0.0.1 (cert.pem, key.pem in `dir`) and a
// server context with it. Null when the openssl CLI failed.
Poco::Net::Context::Ptr self_signed_server(const TempDir& dir) {
  const std::string cmd = "cd '" + dir.path() +
                          "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
                          " -nodes -keyout key.pem -out cert.pem -days 2 -subj /CN=127.0.0.1"
                          " -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return nullptr;
  Poco::Net::Context::Params params;
  params.privateKeyFile = dir.file("key.pem");
  params.certificateFile = dir.file("cert.pem");
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;
  return new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
}

}  // namespace

TEST_CASE("pusher delivers over https to a gateway whose certificate it trusts") {
  TempDir dir;
  auto tls = self_signed_server(dir);
  REQUIRE(tls);
  TestGateway gw(kKey, 0, 0, tls);
  RecordingSink sink;
  SystemClock clock;
  // OpenSSL reads the default CA file from here when the context is made.
  ::setenv("SSL_CERT_FILE", dir.file("cert.pem").c_str(), 1);
  auto pusher = start_one(dir, gw.url(), sink, clock);
  ::unsetenv("SSL_CERT_FILE");
  pusher->publish(test_plan(1));
  REQUIRE(eventually([&] { return delivered(*pusher) == 1u; }));
  pusher->stop();
  CHECK(gw.applied() == std::vector<std::uint64_t>{1});
  CHECK(sink.kinds() == "push_ok:applied");
}

TEST_CASE("gateways ca_file trusts a private CA without the system store") {
  TempDir dir;
  auto tls = self_signed_server(dir);
  REQUIRE(tls);
  TestGateway gw(kKey, 0, 0, tls);
  RecordingSink sink;
  SystemClock clock;
  write_file(dir.file("gw1.key"), std::string(kKey) + "\n");
  GatewaySpec g = url_gateway("gw1", gw.url(), dir.file("gw1.key"));
  g.ca_file = dir.file("cert.pem");
  auto pusher = PlanPusher::start({g}, fast_options(), sink, clock);
  REQUIRE(pusher.ok());
  (*pusher)->publish(test_plan(1));
  REQUIRE(eventually([&] { return delivered(**pusher) == 1u; }));
  (*pusher)->stop();
  CHECK(gw.applied() == std::vector<std::uint64_t>{1});

  // A file that holds no certificate is refused when the pusher starts.
  write_file(dir.file("empty.pem"), "not a certificate\n");
  g.ca_file = dir.file("empty.pem");
  auto bad = PlanPusher::start({g}, fast_options(), sink, clock);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.starts_with("gateways[0].ca_file: " + dir.file("empty.pem") +
                                        " holds no usable certificate"));
}

TEST_CASE("pusher refuses an https gateway whose certificate is not trusted") {
  TempDir dir;
  auto tls = self_signed_server(dir);
  REQUIRE(tls);
  TestGateway gw(kKey, 0, 0, tls);
  RecordingSink sink;
  SystemClock clock;
  auto pusher = start_one(dir, gw.url(), sink, clock);
  pusher->publish(test_plan(1));
  REQUIRE(eventually([&] { return one(*pusher).attempts >= 2; }));
  pusher->stop();
  CHECK(one(*pusher).last_reason == "tls");
  CHECK(gw.pushes().empty());
  CHECK(sink.kinds() == "push_failed:tls");
}

TEST_CASE("a gateway key file loses trailing blanks and line ends, as the gateway reads it") {
  TempDir dir;
  const std::string path = dir.file("gw.key");
  std::ofstream(path) << kKey << " \t\r\n\n";
  auto key = read_gateway_secret(path, "gateways[0]");
  REQUIRE(key.ok());
  CHECK(*key == kKey);

  std::ofstream(path, std::ios::trunc) << " \n";
  auto empty = read_gateway_secret(path, "gateways[0]");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message == "gateways[0].secret_file: " + path + " is empty");
}
