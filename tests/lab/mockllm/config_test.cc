// The /mock/config JSON (config.h), without sockets.
#include "tests/lab/mockllm/config.h"

#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

#include <chrono>

namespace linewatch::mockllm {
namespace {

using namespace std::chrono_literals;

Behaviours applied(const Behaviours& current, const std::string& body) {
  Result<Behaviours> r = apply_config_json(current, default_behaviours(), body);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  return *r;
}

std::string error(const std::string& body) {
  Result<Behaviours> r = apply_config_json(default_behaviours(), default_behaviours(), body);
  REQUIRE(!r.ok());
  return r.error().message;
}

TEST_CASE("top-level knobs apply to every flavour, a flavour object to that one only") {
  const Behaviours next = applied(default_behaviours(), R"({
    "ttft_ms": 250.5, "token_interval_ms": 7, "tokens": 9, "keepalive_ms": 15,
    "stall_after_tokens": 3, "error_after_tokens": 4, "crlf": true, "split_events": true,
    "omit_end_marker": true, "stall_before_headers": true, "retry_after_s": 12,
    "reject_status": 403, "keys": ["k1", "k2"],
    "anthropic": {"status": 529, "models": ["claude-x"], "crlf": false}})");
  for (Flavour f : kFlavours) {
    CAPTURE(to_string(f));
    const Behaviour& b = of(next, f);
    CHECK(b.ttft == 250500us);
    CHECK(b.token_interval == 7ms);
    CHECK(b.tokens == 9);
    CHECK(b.keepalive == 15ms);
    CHECK(b.stall_after_tokens == 3);
    CHECK(b.error_after_tokens == 4);
    CHECK(b.split_events);
    CHECK(b.omit_end_marker);
    CHECK(b.stall_before_headers);
    CHECK(b.retry_after == 12s);
    CHECK(b.reject_status == 403);
    CHECK(b.keys == std::vector<std::string>{"k1", "k2"});
    const bool anthropic = f == Flavour::anthropic;
    CHECK(b.forced_status == (anthropic ? 529 : 0));
    CHECK(b.crlf == !anthropic);
    CHECK(b.models == (anthropic ? std::vector<std::string>{"claude-x"} : default_models(f)));
  }
}

TEST_CASE("reset restores the start-up behaviours before the other knobs") {
  Behaviours changed = applied(default_behaviours(), R"({"tokens": 3, "status": 503})");
  const Behaviours reset = applied(changed, R"({"reset": true, "gemini": {"tokens": 2}})");
  CHECK(of(reset, Flavour::openai).tokens == Behaviour{}.tokens);
  CHECK(of(reset, Flavour::openai).forced_status == 0);
  CHECK(of(reset, Flavour::gemini).tokens == 2);
  CHECK(of(applied(changed, R"({"reset": false})"), Flavour::openai).tokens == 3);
}

TEST_CASE("bad config bodies are refused with the key named") {
  CHECK(error(R"({"colour": 1})") == "unknown key 'colour'");
  CHECK(error(R"({"gemini": {"colour": 1}})") == "unknown key 'gemini.colour'");
  CHECK(error(R"({"gemini": 3})") == "'gemini' must be an object of knobs");
  CHECK(error(R"({"ttft_ms": "5"})") == "'ttft_ms' must be a number");
  CHECK(error(R"({"ttft_ms": 1e12})") == "'ttft_ms' must be 0..3600000");
  CHECK(error(R"({"tokens": 1.5})") == "'tokens' must be an integer");
  CHECK(error(R"({"crlf": 1})") == "'crlf' must be true or false");
  CHECK(error(R"({"keys": ["a", 2]})") == "'keys' must be an array of strings");
  CHECK(error(R"({"reset": "yes"})") == "'reset' must be true or false");
  CHECK(error(R"({"status": 404})") == "openai: status must be 0, 403, 429, 500, 503 or 529");
  CHECK(error(R"({"anthropic": {"models": []}})") == "anthropic: no model given");
  CHECK(error(R"({"reject_status": 400})") ==
        "openai: reject status must be 0 (the provider's own), 401 or 403");
  CHECK(error(R"({"stall_after_tokens": -2})").find("stall after tokens") != std::string::npos);
  CHECK(error(R"({"keepalive_ms": 0.5})") == "openai: keepalive must be 0 (off) or 1ms..1m");
  CHECK(error(R"({"retry_after_s": 86401})") == "'retry_after_s' must be 0..86400");
  CHECK(error("[1]").find("must be a JSON object") != std::string::npos);
}

TEST_CASE("the config reply shows every knob per flavour but only the number of keys") {
  Behaviours all = default_behaviours();
  of(all, Flavour::gemini).keys = {"sk-secret-1", "sk-secret-2"};
  const std::string json = behaviours_json(all);
  CHECK(json.find("sk-secret") == std::string::npos);
  auto o = Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
  CHECK(o->getObject("gemini")->getValue<int>("key_count") == 2);
  CHECK(o->getObject("openai")->getValue<int>("key_count") == 0);
  // Every knob a POST takes is shown (keys as key_count), so the reply can be read back.
  for (const char* knob :
       {"ttft_ms", "token_interval_ms", "tokens", "status", "retry_after_s", "reject_status",
        "models", "stall_before_headers", "stall_after_tokens", "error_after_tokens",
        "omit_end_marker", "keepalive_ms", "crlf", "split_events"}) {
    CAPTURE(knob);
    CHECK(o->getObject("anthropic")->has(knob));
  }
}

}  // namespace
}  // namespace linewatch::mockllm
