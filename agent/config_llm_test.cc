// The llm kind's keys, defaults and the check of its API keys on this host.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "agent/config_load.h"
#include "tests/support/temp_dir.h"

using namespace linewatch;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Never a real key: a value whose appearance anywhere is a leak.
constexpr const char* kSentinel = "sk-SENTINEL-4f1c9e0d7a2b-never-printed";

std::string with_llm(const std::string& llm, const std::string& probes = "") {
  return probes + "lines: [ { id: l1, source: 127.0.0.1 } ]\ntargets:\n  - id: t1\n    llm:\n" +
         llm;
}

const LlmOptions& llm_of(const Config& c) {
  REQUIRE(c.targets.size() == 1);
  REQUIRE(c.targets[0].probes.size() == 1);
  REQUIRE(c.targets[0].probes[0].kind == ProbeKind::llm);
  return *c.targets[0].probes[0].llm;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

}  // namespace

TEST_CASE("an llm target in models mode loads with the built-in schedule") {
  auto r = load_config_string(with_llm("      base_url: https://api.openai.com/v1/\n"
                                       "      model: gpt-4o-mini\n"
                                       "      api_key_env: OPENAI_API_KEY\n"),
                              "c.yaml");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const LlmOptions& o = llm_of(*r);
  CHECK(o.flavour == LlmFlavour::openai);            // the default
  CHECK(o.base_url == "https://api.openai.com/v1");  // the trailing slash dropped
  CHECK(o.model == "gpt-4o-mini");
  CHECK(o.api_key_env == "OPENAI_API_KEY");
  CHECK(o.api_key_file.empty());
  CHECK(o.mode == LlmMode::models);
  CHECK(o.max_tokens == 5);
  CHECK(o.stall == 5s);
  const ProbeTiming& t = r->targets[0].probes[0].timing;
  CHECK(t.interval == 60s);
  CHECK(t.timeout == 20s);
}

TEST_CASE("an llm target in completion mode defaults to a round every 5 minutes") {
  testing::TempDir dir;
  fs::create_directories(fs::path(dir.path()) / "conf");
  std::ofstream(fs::path(dir.path()) / "conf/ca.pem") << "not checked beyond being readable\n";
  auto r =
      load_config_string(with_llm("      flavour: anthropic\n"
                                  "      base_url: https://api.anthropic.com/v1\n"
                                  "      model: claude-3-5-haiku-latest\n"
                                  "      api_key_file: keys/anthropic.key\n"
                                  "      mode: completion\n"
                                  "      max_tokens: 1\n"
                                  "      stall: 2s\n"
                                  "      tls: { ca_file: ca.pem, server_name: api.example.com }\n"),
                         (fs::path(dir.path()) / "conf/c.yaml").string());
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const LlmOptions& o = llm_of(*r);
  CHECK(o.flavour == LlmFlavour::anthropic);
  CHECK(o.mode == LlmMode::completion);
  CHECK(o.max_tokens == 1);
  CHECK(o.stall == 2s);
  // Relative to the config's directory; not opened at load.
  CHECK(o.api_key_file == (fs::path(dir.path()) / "conf/keys/anthropic.key").string());
  CHECK(o.ca_file == (fs::path(dir.path()) / "conf/ca.pem").string());
  CHECK(o.server_name == "api.example.com");
  CHECK(o.tls_verify);
  CHECK(r->targets[0].probes[0].timing.interval == 5min);
  CHECK(r->targets[0].probes[0].timing.timeout == 20s);
}

TEST_CASE("probes: llm defaults apply, and a given interval beats the mode's") {
  auto r = load_config_string(
      with_llm("      flavour: gemini\n"
               "      base_url: https://generativelanguage.googleapis.com/v1beta\n"
               "      model: gemini-1.5-flash\n"
               "      api_key_env: GEMINI_API_KEY\n",
               "probes: { llm: { mode: completion, interval: 15m, timeout: 30s, stall: 3s } }\n"),
      "c.yaml");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const LlmOptions& o = llm_of(*r);
  CHECK(o.mode == LlmMode::completion);
  CHECK(o.stall == 3s);
  CHECK(r->targets[0].probes[0].timing.interval == 15min);
  CHECK(r->targets[0].probes[0].timing.timeout == 30s);
  CHECK(job_count(*r) == 1);
}

TEST_CASE("a stall at or above the timeout is refused only in completion mode") {
  const std::string base =
      "      base_url: https://api.openai.com/v1\n      model: gpt-4o-mini\n"
      "      api_key_env: OPENAI_API_KEY\n      timeout: 5s\n      stall: 5s\n";
  CHECK(load_config_string(with_llm(base), "c.yaml").ok());  // models mode: no stream
  auto r = load_config_string(with_llm(base + "      mode: completion\n"), "c.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message ==
        "c.yaml:9:14: targets[0].llm.stall: stall 5s is not below timeout 5s (a stalled "
        "stream would end as a timeout)");
}

TEST_CASE("an inline api_key is refused without echoing its value") {
  auto r = load_config_string(with_llm("      base_url: https://api.openai.com/v1\n"
                                       "      model: gpt-4o-mini\n"
                                       "      api_key: " +
                                       std::string(kSentinel) + "\n"),
                              "c.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("api_key: an API key never goes into the config") !=
        std::string::npos);
  CHECK(r.error().message.find("SENTINEL") == std::string::npos);
}

TEST_CASE("check_llm_keys reads env keys as a round would and never prints them") {
  const std::string var = "LINEWATCH_TEST_KEY_" + std::to_string(::getpid());
  auto loaded = load_config_string(with_llm("      base_url: https://api.openai.com/v1\n"
                                            "      model: gpt-4o-mini\n"
                                            "      api_key_env: " +
                                            var + "\n"),
                                   "c.yaml");
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().message);
  ::unsetenv(var.c_str());
  LlmKeyCheck unset = check_llm_keys(*loaded);
  CHECK(joined(unset.errors) ==
        "c.yaml: targets[0].llm.api_key_env: environment variable " + var + " is not set\n");
  ::setenv(var.c_str(), "  \n", 1);
  CHECK(joined(check_llm_keys(*loaded).errors) ==
        "c.yaml: targets[0].llm.api_key_env: environment variable " + var + " is empty\n");
  ::setenv(var.c_str(), "sk-has a space", 1);
  CHECK(joined(check_llm_keys(*loaded).errors).find("holds spaces") != std::string::npos);
  ::setenv(var.c_str(), kSentinel, 1);
  LlmKeyCheck set = check_llm_keys(*loaded);
  CHECK(set.errors.empty());
  CHECK(set.warnings.empty());
  ::unsetenv(var.c_str());
}

TEST_CASE("check_llm_keys checks key files and warns of shared ones") {
  testing::TempDir dir;
  const fs::path key = fs::path(dir.path()) / "openai.key";
  auto loaded = load_config_string(with_llm("      base_url: https://api.openai.com/v1\n"
                                            "      model: gpt-4o-mini\n"
                                            "      api_key_file: openai.key\n"),
                                   (fs::path(dir.path()) / "c.yaml").string());
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().message);
  const std::string at =
      (fs::path(dir.path()) / "c.yaml").string() + ": targets[0].llm.api_key_file: ";

  CHECK(joined(check_llm_keys(*loaded).errors) ==
        at + "cannot read \"" + key.string() + "\": No such file or directory\n");
  std::ofstream(key) << "\n";
  ::chmod(key.c_str(), 0600);
  CHECK(joined(check_llm_keys(*loaded).errors) == at + "\"" + key.string() + "\" is empty\n");

  std::ofstream(key) << kSentinel << "\n";
  LlmKeyCheck private_file = check_llm_keys(*loaded);
  CHECK(private_file.errors.empty());
  CHECK(private_file.warnings.empty());

  ::chmod(key.c_str(), 0644);
  LlmKeyCheck shared = check_llm_keys(*loaded);
  CHECK(shared.errors.empty());
  CHECK(joined(shared.warnings) ==
        at + "\"" + key.string() + "\" is readable by group or others (chmod 600 it)\n");
  CHECK(joined(shared.warnings).find("SENTINEL") == std::string::npos);
}

TEST_CASE("check_llm_keys warns of a plain-http base_url beyond loopback") {
  const std::string var = "LINEWATCH_TEST_KEY_HTTP_" + std::to_string(::getpid());
  ::setenv(var.c_str(), kSentinel, 1);
  auto warnings = [&](const std::string& url) {
    auto c = load_config_string(
        with_llm("      base_url: " + url + "\n      model: m1\n      api_key_env: " + var + "\n"),
        "c.yaml");
    REQUIRE_MESSAGE(c.ok(), c.error().message);
    return joined(check_llm_keys(*c).warnings);
  };
  CHECK(warnings("http://gw.example.com/v1") ==
        "c.yaml: targets[0].llm.base_url: \"http://gw.example.com/v1\" is plain http: the API "
        "key crosses the network unencrypted (use https://)\n");
  CHECK(warnings("http://127.0.0.1:8080/v1") == "");
  CHECK(warnings("http://[::1]:8080/v1") == "");
  CHECK(warnings("https://gw.example.com/v1") == "");
  ::unsetenv(var.c_str());
}
