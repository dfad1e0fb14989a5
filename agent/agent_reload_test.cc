// The agent's config reload, end to end inside one process: a temporary
// config file, TCP probes on loopback, the real clock (the scheduler runs on
// it; the alert state's carry-over is tested on a fake clock in
// rules/alert_engine_adopt_test.cc and agent/alerting_test.cc). Waits are
// bounded polls.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "agent/agent.h"
#include "agent/config_load.h"

namespace linewatch {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "linewatch-reload-XXXXXX").string();
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// A loopback port that was free a moment ago (agent.listen takes no port 0).
std::string free_listen() {
  Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
  return "127.0.0.1:" + std::to_string(s.address().port());
}

// Probes of a closed loopback port fail fast (refused): rounds either way.
std::string config_text(const std::vector<std::string>& targets, const std::string& listen) {
  std::string y = "agent: { id: reload-test, listen: '" + listen +
                  "', data_dir: data, workers: 2 }\n"
                  "storage: { flush_interval: 50ms }\n"
                  "probes:\n  tcp: { interval: 100ms, timeout: 50ms }\n"
                  "lines:\n  - { id: lo, source: 127.0.0.1 }\n"
                  "targets:\n";
  for (const std::string& t : targets) y += "  - { id: " + t + ", tcp: '127.0.0.1:9' }\n";
  return y;
}

void write(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

std::string http_get(std::uint16_t port, const std::string& path) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, path,
                             Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(req);
  Poco::Net::HTTPResponse resp;
  std::string body;
  Poco::StreamCopier::copyToString(session.receiveResponse(resp), body);
  return body;
}

// Rounds in the status window of lo/TARGET/tcp; -1 when the series is absent.
long rounds(const Agent& agent, const std::string& target) {
  auto doc = Poco::JSON::Parser().parse(agent.status_json()).extract<Poco::JSON::Object::Ptr>();
  auto series = doc->getArray("series");
  for (std::size_t i = 0; i < series->size(); ++i) {
    auto s = series->getObject(static_cast<unsigned>(i));
    if (s->getValue<std::string>("target") == target)
      return s->getObject("window")->getValue<long>("rounds");
  }
  return -1;
}

bool eventually(const std::function<bool()>& done, Duration within = 10s) {
  const auto end = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

struct Rig {
  TempDir dir;
  fs::path file = dir.path / "agent.yaml";
  SystemClock clock;
  std::unique_ptr<Agent> agent;

  std::string listen = free_listen();

  explicit Rig(const std::vector<std::string>& targets) {
    write(file, config_text(targets, listen));
    auto c = load_config_file(file.string());
    REQUIRE(c.ok());
    auto a = Agent::open(std::move(*c), clock);
    REQUIRE_MESSAGE(a.ok(), (a.ok() ? "" : a.error().message));
    agent = std::move(*a);
    agent->start();
  }
  ~Rig() {
    if (agent) agent->stop(2s);
  }
  ReloadOutcome reload(const std::vector<std::string>& targets, std::string extra = "") {
    return reload_text(config_text(targets, listen) + extra);
  }
  ReloadOutcome reload_text(const std::string& text) {
    write(file, text);
    auto verdict = agent->reload();
    REQUIRE(verdict.wait_for(10s) == std::future_status::ready);
    return verdict.get();
  }
  std::string metrics() { return http_get(agent->api_port(), "/metrics"); }
};

}  // namespace

TEST_CASE("agent reload: a file that does not load is refused with FILE:LINE and probing goes on") {
  Rig rig({"t1"});
  REQUIRE(eventually([&] { return rounds(*rig.agent, "t1") > 0; }));
  const ReloadOutcome out = rig.reload({"t1", "t2"}, "  - { id: t3, tcpp: x }\n");
  CHECK_FALSE(out.ok);
  REQUIRE_FALSE(out.errors.empty());
  CHECK(out.errors[0].starts_with(rig.file.string() + ":10:"));
  CHECK(out.errors[0].find("targets[2]") != std::string::npos);
  CHECK(out.generation == 1);
  CHECK(rig.agent->config_generation() == 1);
  const long before = rounds(*rig.agent, "t1");
  CHECK(eventually([&] { return rounds(*rig.agent, "t1") > before; }));
  CHECK(rounds(*rig.agent, "t2") == -1);
  const std::string m = rig.metrics();
  CHECK(m.find("linewatch_config_last_reload_successful 0") != std::string::npos);
  CHECK(m.find("linewatch_config_reloads_total{result=\"failure\"} 1") != std::string::npos);
  CHECK(m.find("linewatch_config_reloads_total{result=\"success\"} 0") != std::string::npos);
}

TEST_CASE("agent reload: a restart-only key is refused naming the key and both values") {
  Rig rig({"t1"});
  const ReloadOutcome out = rig.reload_text(config_text({"t1"}, "127.0.0.1:1"));
  CHECK_FALSE(out.ok);
  CHECK(out.errors == std::vector<std::string>{"agent.listen: changed from \"" + rig.listen +
                                               "\" to \"127.0.0.1:1\"; this takes a restart"});
  CHECK(rig.agent->config_generation() == 1);
}

TEST_CASE(
    "agent reload: a good reload adds a target, keeps the old series counting and bumps the "
    "generation") {
  Rig rig({"t1"});
  REQUIRE(eventually([&] { return rounds(*rig.agent, "t1") >= 2; }));
  const ReloadOutcome out = rig.reload({"t1", "t2"});
  REQUIRE(out.ok);
  CHECK(out.errors.empty());
  CHECK(out.generation == 2);
  CHECK(out.config == rig.file.string());
  CHECK(eventually([&] { return rig.agent->config_generation() == 2; }));
  const long before = rounds(*rig.agent, "t1");
  CHECK(before >= 2);  // not reset by the new scheduler
  CHECK(eventually([&] { return rounds(*rig.agent, "t2") > 0; }));
  CHECK(eventually([&] { return rounds(*rig.agent, "t1") > before; }));
  const std::string m = rig.metrics();
  CHECK(m.find("linewatch_config_last_reload_successful 1") != std::string::npos);
  CHECK(m.find("linewatch_config_reloads_total{result=\"success\"} 1") != std::string::npos);
  CHECK(m.find("target=\"t2\"") != std::string::npos);

  // And back: t2's series leave the exposition.
  REQUIRE(rig.reload({"t1"}).ok);
  CHECK(eventually([&] { return rig.agent->config_generation() == 3; }));
  CHECK(rig.metrics().find("target=\"t2\"") == std::string::npos);
}

}  // namespace linewatch
