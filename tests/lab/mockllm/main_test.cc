// The mockllm binary as a child process: flags, --token-file, the startup
// and request log on stderr, and a clean exit on SIGTERM.
#include <Poco/JSON/Array.h>
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
               "--token-interval", "5ms", "--tokens", "3", "--model", "lab-model",
               "--anthropic-model", "claude-lab"},
              log);
  REQUIRE(child.started());
  const int port = wait_for_port(log);
  REQUIRE_MESSAGE(port > 0, slurp(log));
  const Poco::Net::SocketAddress at("127.0.0.1", static_cast<Poco::UInt16>(port));

  CHECK(test::call(at, "GET", "/v1/models").status == 401);
  test::Reply models = test::call(at, "GET", "/v1/models", "", test::bearer("sk-file-token-2"));
  REQUIRE(models.status == 200);
  REQUIRE(models.json()->getArray("data")->size() == 1);
  CHECK(models.json()->getArray("data")->getObject(0)->getValue<std::string>("id") == "lab-model");
  test::Reply claude =
      test::call(at, "GET", "/v1/models", "", test::anthropic_key("sk-file-token-2"));
  REQUIRE(claude.status == 200);
  CHECK(claude.json()->getValue<std::string>("first_id") == "claude-lab");
  CHECK(claude.json()->getArray("data")->size() == 1);
  test::Reply stream =
      test::call(at, "POST", "/v1/chat/completions", test::chat_body("lab-model", true),
                 test::bearer("sk-file-token-1"));
  CHECK(stream.status == 200);
  CHECK(test::sse_data(stream.body).size() == 3 + 3);
  test::Reply gemini =
      test::call(at, "POST", "/v1beta/models/lab-model:streamGenerateContent?alt=sse",
                 test::gemini_body(), test::gemini_key("sk-file-token-1"));
  CHECK(test::content_events(Flavour::gemini, gemini.body) == 3);
  CHECK(test::call(at, "POST", "/v1/chat/completions", test::chat_body("gpt-4o-mini", false),
                   test::bearer("sk-file-token-1"))
            .status == 404);

  child.signal(SIGTERM);
  CHECK(child.wait(3000ms) == 0);
  const std::string text = slurp(log);
  CHECK(text.find("auth=on") != std::string::npos);
  CHECK(text.find("method=GET path=/v1/models status=401") != std::string::npos);
  CHECK(text.find("method=POST path=/v1/chat/completions status=200") != std::string::npos);
  CHECK(text.find("status=404") != std::string::npos);
  CHECK(text.find(R"({"record":"completion","seq":1,)") != std::string::npos);
  CHECK(text.find("mockllm stopped signal=TERM") != std::string::npos);
  CHECK(text.find("sk-file") == std::string::npos);
}

TEST_CASE("the binary's knob flags reach every flavour") {
  test::TempDir dir;
  const std::string log = dir.file("stderr");
  Child child({"--listen",
               "127.0.0.1:0",
               "--token",
               "sk-flag",
               "--status",
               "429",
               "--retry-after",
               "4",
               "--reject-status",
               "403",
               "--stall-before-headers",
               "--stall-after-tokens",
               "2",
               "--error-after-tokens",
               "3",
               "--omit-end-marker",
               "--keepalive",
               "250ms",
               "--crlf",
               "--split-events",
               "--ttft",
               "1.5s",
               "--token-interval",
               "30ms",
               "--tokens",
               "7",
               "--gemini-model",
               "gemini-lab"},
              log);
  REQUIRE(child.started());
  const int port = wait_for_port(log);
  REQUIRE_MESSAGE(port > 0, slurp(log));
  const Poco::Net::SocketAddress at("127.0.0.1", static_cast<Poco::UInt16>(port));
  test::Reply config = test::call(at, "GET", "/mock/config");
  REQUIRE(config.status == 200);
  const std::pair<const char*, const char*> first_models[] = {
      {"openai", "gpt-4o-mini"},
      {"anthropic", "claude-3-5-haiku-20241022"},
      {"gemini", "gemini-lab"}};
  for (const auto& [flavour, model] : first_models) {
    CAPTURE(flavour);
    Poco::JSON::Object::Ptr b = config.json()->getObject(flavour);
    REQUIRE(b);
    CHECK(b->getValue<int>("status") == 429);
    CHECK(b->getValue<int>("retry_after_s") == 4);
    CHECK(b->getValue<int>("reject_status") == 403);
    CHECK(b->getValue<int>("key_count") == 1);
    CHECK(b->getValue<bool>("stall_before_headers"));
    CHECK(b->getValue<int>("stall_after_tokens") == 2);
    CHECK(b->getValue<int>("error_after_tokens") == 3);
    CHECK(b->getValue<bool>("omit_end_marker"));
    CHECK(b->getValue<double>("keepalive_ms") == 250.0);
    CHECK(b->getValue<bool>("crlf"));
    CHECK(b->getValue<bool>("split_events"));
    CHECK(b->getValue<double>("ttft_ms") == 1500.0);
    CHECK(b->getValue<double>("token_interval_ms") == 30.0);
    CHECK(b->getValue<int>("tokens") == 7);
    CHECK(b->getArray("models")->getElement<std::string>(0) == model);
  }
  test::Reply limited = test::call(at, "GET", "/v1/models", "", test::bearer("sk-flag"));
  CHECK(limited.status == 429);
  CHECK(limited.head.get("Retry-After", "") == "4");
  CHECK(test::call(at, "GET", "/v1/models", "", test::bearer("sk-other")).status == 403);
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
      {{"--listen", "127.0.0.1:0", "--keepalive", "5"}, "--keepalive"},
      {{"--listen", "127.0.0.1:0", "--reject-status", "402"},
       "reject status must be 0 (the provider's own), 401 or 403"},
      {{"--listen", "127.0.0.1:0", "--status", "404"}, "status must be 0, 403"},
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
