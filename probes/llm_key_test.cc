#include "probes/llm_key.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/temp_dir.h"

using namespace linewatch;

namespace {

constexpr const char* kKey = "sk-proj-Q7x2Lm9Vb4Np0Rs8Tu6Wy3Za";

LlmOptions env_options(const std::string& var) {
  LlmOptions o;
  o.api_key_env = var;
  return o;
}

}  // namespace

TEST_CASE("read_api_key takes the variable's value without surrounding white space") {
  const std::string var = "LINEWATCH_KEY_TEST_" + std::to_string(::getpid());
  ::setenv(var.c_str(), (std::string(" ") + kKey + "\n").c_str(), 1);
  auto key = read_api_key(env_options(var));
  REQUIRE(key.ok());
  CHECK(*key == kKey);
  ::unsetenv(var.c_str());
  auto unset = read_api_key(env_options(var));
  REQUIRE_FALSE(unset.ok());
  CHECK(unset.error().message == "environment variable " + var + " is not set");
}

TEST_CASE("read_api_key refuses keys that cannot go into a header, naming only the source") {
  const std::string var = "LINEWATCH_KEY_TEST_BAD_" + std::to_string(::getpid());
  for (const char* bad : {"sk-abc\r\nX-Evil: 1", "sk-abc def", "sk-\x01", "sk-caf\xc3\xa9"}) {
    ::setenv(var.c_str(), bad, 1);
    auto key = read_api_key(env_options(var));
    REQUIRE_FALSE(key.ok());
    CHECK(key.error().code == ErrorCode::invalid_argument);
    CHECK(key.error().message == "environment variable " + var +
                                     " holds spaces, control or non-ASCII characters (not a key)");
  }
  ::unsetenv(var.c_str());
}

TEST_CASE("read_api_key reads a key file afresh each call") {
  testing::TempDir dir;
  LlmOptions o;
  o.api_key_file = dir.file("k");
  auto missing = read_api_key(o);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::io);
  CHECK(missing.error().message ==
        "cannot read \"" + o.api_key_file + "\": No such file or directory");
  std::ofstream(o.api_key_file) << kKey << "\n";
  CHECK(*read_api_key(o) == kKey);
  std::ofstream(o.api_key_file) << "sk-rotated\n";
  CHECK(*read_api_key(o) == "sk-rotated");  // a rotated key needs no restart
  std::ofstream(o.api_key_file) << std::string(kMaxApiKeyBytes + 1, 'k');
  auto big = read_api_key(o);
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().message == "\"" + o.api_key_file + "\" is larger than 16 KiB (not a key file)");
  CHECK_FALSE(read_api_key(LlmOptions{}).ok());
}

TEST_CASE("api_key_file_shared sees group and other permission bits") {
  testing::TempDir dir;
  const std::string path = dir.file("k");
  std::ofstream(path) << kKey;
  ::chmod(path.c_str(), 0600);
  CHECK_FALSE(api_key_file_shared(path));
  ::chmod(path.c_str(), 0640);
  CHECK(api_key_file_shared(path));
  ::chmod(path.c_str(), 0604);
  CHECK(api_key_file_shared(path));
  CHECK_FALSE(api_key_file_shared(dir.file("none")));
}

TEST_CASE("redact_key hides the key and any long piece of it a server echoes") {
  const std::string key = kKey;
  CHECK(redact_key("Incorrect API key provided: " + key + ".", key) ==
        "Incorrect API key provided: [redacted].");
  // A piece of 8 characters or more is enough to hide.
  CHECK(redact_key("key ending " + key.substr(key.size() - 10), key) == "key ending [redacted]");
  CHECK(redact_key("prefix " + key.substr(0, 8) + "***", key) == "prefix [redacted]***");
  // Providers' own masks keep a few characters: shorter runs are left alone.
  CHECK(redact_key("sk-pr***3Za", key) == "sk-pr***3Za");
  CHECK(redact_key("twice " + key + key, key) == "twice [redacted][redacted]");
  CHECK(redact_key("nothing here", key) == "nothing here");
  CHECK(redact_key("short k3y", "k3y") == "short [redacted]");
  CHECK(redact_key("text", "") == "text");
}
