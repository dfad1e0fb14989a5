// The Alertmanager notifier against a real Alertmanager on loopback: the
// prometheus-alertmanager program (Debian package
// prometheus-alertmanager, installed by scripts/setup.sh).
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <thread>

#include "exporters/notify.h"
#include "exporters/notify_test_support.h"
#include "exporters/push_test_support.h"

extern char** environ;

using namespace linewatch;
using namespace linewatch::test;
using namespace std::chrono_literals;

namespace {

constexpr char kProgram[] = "/usr/bin/prometheus-alertmanager";

// An Alertmanager on 127.0.0.1 with a receiver that sends nothing, stopped
// (by its PID) when this goes.
class LocalAlertmanager {
 public:
  explicit LocalAlertmanager(const TempDir& dir) : port_(free_port()) {
    std::ofstream(dir.file("am.yml"))
        << "route: { receiver: none }\nreceivers: [ { name: none } ]\n";
    const std::string config = "--config.file=" + dir.file("am.yml");
    const std::string storage = "--storage.path=" + dir.file("data");
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
    const std::string cluster = "--cluster.listen-address=";  // no gossip port
    const char* argv[] = {kProgram,       config.c_str(),  storage.c_str(),
                          listen.c_str(), cluster.c_str(), nullptr};
    // Its log (a refused alert is logged as an error) stays out of the test's output.
    posix_spawn_file_actions_t quiet;
    ::posix_spawn_file_actions_init(&quiet);
    ::posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
    ::posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
    if (::posix_spawn(&pid_, kProgram, &quiet, nullptr, const_cast<char**>(argv), environ) != 0)
      pid_ = 0;
    ::posix_spawn_file_actions_destroy(&quiet);
  }
  ~LocalAlertmanager() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  LocalAlertmanager(const LocalAlertmanager&) = delete;
  LocalAlertmanager& operator=(const LocalAlertmanager&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // GET `path`: status and body; status 0 when nothing answers.
  std::pair<int, std::string> get(const std::string& path) const {
    try {
      Poco::Net::HTTPClientSession s("127.0.0.1", port_);
      s.setTimeout(Poco::Timespan(2, 0));
      Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, path);
      s.sendRequest(req);
      Poco::Net::HTTPResponse resp;
      std::string body;
      Poco::StreamCopier::copyToString(s.receiveResponse(resp), body);
      return {static_cast<int>(resp.getStatus()), body};
    } catch (const Poco::Exception&) {
      return {0, ""};
    }
  }
  bool ready() const {
    return pid_ > 0 && eventually([&] { return get("/-/ready").first == 200; }, 15s);
  }

 private:
  std::uint16_t port_;
  pid_t pid_ = 0;
};

}  // namespace

TEST_CASE("notifier alertmanager alerts are taken, listed and resolved by Alertmanager") {
  // scripts/setup.sh installs it: a missing program is a broken setup, not a skip.
  REQUIRE_MESSAGE(::access(kProgram, X_OK) == 0,
                  "no " << kProgram << " (Debian package prometheus-alertmanager)");
  TempDir dir;
  LocalAlertmanager am(dir);
  REQUIRE(am.ready());
  const NotifierSpec spec = spec_of(NotifierKind::alertmanager, "am");
  const WallTime now = std::chrono::system_clock::now();
  Notification n = sample_notification();
  n.starts_at = now - 2min;
  n.labels["probe.kind"] = "llm";  // not a valid label name as it is
  n.link = "http://127.0.0.1:9464/alerts";

  auto firing = format(spec, n, {am.url(), ""}, now);
  REQUIRE(firing.ok());
  const Delivery sent = deliver(*firing, 5s, {});
  CHECK(sent.kind == Delivery::Kind::ok);
  const std::string active = am.get("/api/v2/alerts?filter=alertname%3D%22api-slow%22").second;
  CHECK(active.find(R"("probe_kind":"llm")") != std::string::npos);
  CHECK(active.find(R"("value":"3412 ms")") != std::string::npos);
  CHECK(active.find(R"("generatorURL":"http://127.0.0.1:9464/alerts")") != std::string::npos);

  n.status = NotifyStatus::resolved;
  n.ends_at = now;
  auto resolved = format(spec, n, {am.url(), ""}, now);
  REQUIRE(resolved.ok());
  CHECK(deliver(*resolved, 5s, {}).kind == Delivery::Kind::ok);
  CHECK(am.get("/api/v2/alerts?filter=alertname%3D%22api-slow%22").second.starts_with("[]"));

  // Alertmanager refuses an alert that ends before it starts: permanent.
  HttpPost bad = *resolved;
  bad.body = R"([{"labels":{"alertname":"x"},"startsAt":"2027-01-15T08:00:00.000Z",)"
             R"("endsAt":"2027-01-15T07:00:00.000Z"}])";
  const Delivery refused = deliver(bad, 5s, {});
  CHECK(refused.kind == Delivery::Kind::permanent);
  CHECK(refused.detail.find("start time must be before end time") != std::string::npos);
}
