// The mockllm binary as a child process: flags, --token-file, the startup
// and request log on stderr, and a clean exit on SIGTERM.
#include <doctest/doctest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/lab/mockllm/test_support.h"

extern char** environ;

namespace linewatch::mockllm {
namespace {

using namespace std::chrono_literals;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A child mockllm with stderr in a file; killed (by its PID) if still running
// when the test ends.
class Child {
 public:
  Child(std::vector<std::string> args, const std::string& log) {
    args.insert(args.begin(), MOCKLLM_BINARY);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  // The exit status within `limit`, or -1 if it is still running.
  int wait(std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  void signal(int sig) { ::kill(pid_, sig); }

 private:
  pid_t pid_ = -1;
};

// The HTTP port from the "mockllm listening http=127.0.0.1:PORT" line, or 0.
int wait_for_port(const std::string& log) {
  const std::regex listening(R"(mockllm listening http=127\.0\.0\.1:(\d+) )");
  for (int i = 0; i < 300; ++i) {
    std::smatch m;
    const std::string text = slurp(log);
    if (std::regex_search(text, m, listening)) return std::stoi(m[1]);
    std::this_thread::sleep_for(10ms);
  }
  return 0;
}

TEST_CASE("the binary serves with its flags, logs requests without tokens, stops on SIGTERM") {
  test::TempDir dir;
  {
    std::ofstream tokens(dir.file("tokens"));
    tokens << "# lab tokens\n\n  sk-file-token-1  \nsk-file-token-2\n";
  }
  const std::string log = dir.file("stderr");
  Child child({"--listen", "127.0.0.1:0", "--token-file", dir.file("tokens"), "--ttft", "50ms",
               "--token-interval", "5ms", "--tokens", "3", "--model", "lab-model"},
              log);
  REQUIRE(child.started());
  const int port = wait_for_port(log);
  REQUIRE_MESSAGE(port > 0, slurp(log));
  const Poco::Net::SocketAddress at("127.0.0.1", static_cast<Poco::UInt16>(port));

  CHECK(test::call(at, "GET", "/v1/models").status == 401);
  test::Reply models = test::call(at, "GET", "/v1/models", "", "sk-file-token-2");
  REQUIRE(models.status == 200);
  REQUIRE(models.json()->getArray("data")->size() == 1);
  CHECK(models.json()->getArray("data")->getObject(0)->getValue<std::string>("id") == "lab-model");
  test::Reply stream = test::call(at, "POST", "/v1/chat/completions",
                                  test::chat_body("lab-model", true), "sk-file-token-1");
  CHECK(stream.status == 200);
  CHECK(test::sse_data(stream.body).size() == 3 + 3);
  CHECK(test::call(at, "POST", "/v1/chat/completions", test::chat_body("gpt-4o-mini", false),
                   "sk-file-token-1")
            .status == 404);

  child.signal(SIGTERM);
  CHECK(child.wait(3000ms) == 0);
  const std::string text = slurp(log);
  CHECK(text.find("auth=on") != std::string::npos);
  CHECK(text.find("method=GET path=/v1/models status=401") != std::string::npos);
  CHECK(text.find("method=POST path=/v1/chat/completions status=200") != std::string::npos);
  CHECK(text.find("status=404") != std::string::npos);
  CHECK(text.find("mockllm stopped signal=TERM") != std::string::npos);
  CHECK(text.find("sk-file") == std::string::npos);
}

TEST_CASE("the binary refuses bad flags with exit 2 and a message") {
  test::TempDir dir;
  const std::string log = dir.file("stderr");
  {
    std::ofstream empty(dir.file("empty"));
    empty << "# no token here\n";
  }
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--listen", "127.0.0.1:0", "--ttft", "200"}, "--ttft"},
      {{"--listen", "127.0.0.1:0", "--token-file", dir.file("empty")}, "holds no token"},
      {{"--tls-listen", "127.0.0.1:0"}, "--cert"},
      {{}, "no listen address"},
  };
  for (const auto& [args, message] : cases) {
    CAPTURE(message);
    Child child(args, log);
    REQUIRE(child.started());
    CHECK(child.wait(3000ms) == 2);
    CHECK(slurp(log).find(message) != std::string::npos);
  }
}

}  // namespace
}  // namespace linewatch::mockllm
