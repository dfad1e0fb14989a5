#include "tests/lab/linesim/control.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/lab/linesim/client.h"
#include "tests/lab/linesim/control_server.h"

namespace linewatch::linesim {
namespace {

using namespace std::chrono_literals;

Poco::JSON::Object::Ptr parse_json(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

// The settings part of show (counters excluded), to compare before/after.
std::string settings_only(LineModel& m) {
  auto j = parse_json(show_json(m));
  std::ostringstream out;
  out << j->getValue<bool>("down");
  for (const char* dir : {"up", "down_dir"}) {
    auto d = j->getObject(dir);
    for (const char* k : {"delay_ms", "jitter_ms", "loss", "rate_bps"})
      out << " " << d->getValue<double>(k);
    out << " " << d->getValue<std::string>("dist");
  }
  return out.str();
}

TEST_CASE("show is one line of JSON with settings and counters") {
  LineModel m(1);
  CHECK(handle_command(m, "set rt delay=150ms jitter=2ms loss=2% rate=10Mbps") == "ok");
  CHECK(handle_command(m, "set down dist=uniform") == "ok");
  std::uint8_t p[20] = {0x45};
  m.admit(Dir::up, MonoTime{}, p);
  CHECK(handle_command(m, "down") == "ok");
  m.admit(Dir::down, MonoTime{}, p);
  std::string text = handle_command(m, "show");
  CHECK(text.find('\n') == std::string::npos);
  auto j = parse_json(text);
  CHECK(j->getValue<bool>("down"));
  auto up = j->getObject("up");
  auto down = j->getObject("down_dir");
  REQUIRE(up);
  REQUIRE(down);
  CHECK(up->getValue<double>("delay_ms") == 75.0);
  CHECK(up->getValue<double>("jitter_ms") == doctest::Approx(1.414214).epsilon(1e-5));
  CHECK(up->getValue<std::string>("dist") == "normal");
  CHECK(down->getValue<std::string>("dist") == "uniform");
  CHECK(1 - std::pow(1 - up->getValue<double>("loss"), 2) == doctest::Approx(0.02));
  CHECK(up->getValue<std::uint64_t>("rate_bps") == 10'000'000u);
  CHECK(up->getValue<int>("in") == 1);
  CHECK(up->getValue<int>("queued") + up->getValue<int>("dropped_loss") +
            up->getValue<int>("dropped_down") ==
        1);  // held (then cut) or lost
  CHECK(up->getValue<int>("out") == 0);
  CHECK(down->getValue<int>("in") == 1);
  CHECK(down->getValue<int>("dropped_down") == 1);
  CHECK(down->getValue<int>("dropped_queue") == 0);
  CHECK(handle_command(m, "up") == "ok");
  CHECK_FALSE(parse_json(handle_command(m, "show"))->getValue<bool>("down"));
}

TEST_CASE("a rejected command changes nothing") {
  LineModel m(2);
  REQUIRE(handle_command(m, "set both delay=10ms jitter=1ms loss=1% rate=1Mbps") == "ok");
  const std::string before = settings_only(m);
  for (const char* bad :
       {"set up delay=5ms loss=101%", "set up delay=-5ms", "set up jitter=3ms colour=red",
        "set up delay=5ms delay=7ms", "set up delay=5parsecs", "set sideways delay=5ms",
        "set rt loss=2% rate=fast", "bogus"}) {
    CAPTURE(bad);
    std::string reply = handle_command(m, bad);
    CHECK(reply.rfind("error: ", 0) == 0);
    CHECK(settings_only(m) == before);
  }
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/linesim-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Serves `server` in a thread with poll() until stopped: the control socket
// without a TUN, as the loop would drive it.
class ServeThread {
 public:
  ServeThread(ControlServer& server, LineModel& model)
      : thread_([&server, &model, this] {
          std::vector<int> clients;
          while (!stop_) {
            std::vector<pollfd> fds{{server.listen_fd(), POLLIN, 0}};
            for (int c : clients) fds.push_back({c, POLLIN, 0});
            if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
            if (fds[0].revents) server.accept_pending([&](int c) { clients.push_back(c); });
            for (std::size_t i = 1; i < fds.size(); ++i) {
              if (!fds[i].revents) continue;
              if (!server.serve(fds[i].fd,
                                [&](std::string_view l) { return handle_command(model, l); })) {
                server.close(fds[i].fd);
                std::erase(clients, fds[i].fd);
              }
            }
          }
        }) {}
  ~ServeThread() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_CASE("client round trip over the control socket, with exit codes") {
  TempDir dir;
  const std::string path = (dir.path / "line.sock").string();
  LineModel model(3);
  {
    auto server = ControlServer::listen(path);
    REQUIRE(server.ok());
    ServeThread serving(**server, model);
    std::ostringstream out, err;
    CHECK(run_client(path, "set rt delay=40ms", out, err) == 0);
    CHECK(out.str() == "ok\n");
    out.str("");
    CHECK(run_client(path, "show", out, err) == 0);
    CHECK(parse_json(out.str())->getObject("down_dir")->getValue<double>("delay_ms") == 20.0);
    out.str("");
    CHECK(run_client(path, "set up loss=200%", out, err) == 1);
    CHECK(out.str().rfind("error: loss above 100 %", 0) == 0);
    CHECK(err.str().empty());
    // A second server on a live socket is refused.
    auto second = ControlServer::listen(path);
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().message.find("another process is listening") != std::string::npos);
  }
  // The server removed its socket; a client now cannot connect.
  CHECK_FALSE(std::filesystem::exists(path));
  std::ostringstream out, err;
  CHECK(run_client(path, "show", out, err) == 2);
  CHECK(err.str().find("connect " + path) != std::string::npos);
  CHECK(out.str().empty());
}

TEST_CASE("a stale socket file is replaced, a regular file is not") {
  TempDir dir;
  const std::string path = (dir.path / "stale.sock").string();
  {
    // A bound socket nobody listens on: what a SIGKILLed linesim leaves.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);
  }
  REQUIRE(std::filesystem::is_socket(path));
  CHECK(ControlServer::listen(path).ok());
  const std::string file = (dir.path / "file").string();
  std::ofstream(file) << "precious\n";
  auto r = ControlServer::listen(file);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("not a socket") != std::string::npos);
  CHECK(std::filesystem::file_size(file) == 9);
}

TEST_CASE("an overlong line closes that client, others are still served") {
  TempDir dir;
  const std::string path = (dir.path / "line.sock").string();
  LineModel model(4);
  auto server = ControlServer::listen(path);
  REQUIRE(server.ok());
  ServeThread serving(**server, model);
  std::ostringstream out, err;
  CHECK(run_client(path, std::string(ControlServer::kMaxLine + 100, 'x'), out, err) == 2);
  CHECK(err.str().find("closed without a reply") != std::string::npos);
  CHECK(run_client(path, "up", out, err) == 0);
}

}  // namespace
}  // namespace linewatch::linesim
