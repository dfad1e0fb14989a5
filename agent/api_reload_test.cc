// POST /-/reload as the API answers it (API11.md), from its sources.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

#include "agent/api_server.h"

using namespace linewatch;

namespace {

const std::string kToken = "0123456789abcdef-token";

HttpRequest post(std::optional<std::string> authorization) {
  HttpRequest r;
  r.method = "POST";
  r.path = "/-/reload";
  if (authorization) r.headers.emplace_back("authorization", *authorization);
  return r;
}

struct Sources {
  int reloads = 0;
  std::optional<ReloadOutcome> outcome;
  std::string token = kToken;
  ApiSources get() {
    ApiSources s;
    s.reload_token = [this] { return token; };
    s.reload = [this] {
      ++reloads;
      return outcome;
    };
    return s;
  }
};

Poco::JSON::Object::Ptr parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
}

bool has_header(const HttpResponse& r, const std::string& name, const std::string& value) {
  for (const auto& [n, v] : r.headers)
    if (n == name && v == value) return true;
  return false;
}

}  // namespace

TEST_CASE("reload over HTTP: tokens compare whole and equal only") {
  CHECK(same_token(kToken, kToken));
  CHECK_FALSE(same_token("", kToken));
  CHECK_FALSE(same_token(kToken.substr(0, kToken.size() - 1), kToken));
  CHECK_FALSE(same_token(kToken + "x", kToken));
  CHECK_FALSE(same_token("1123456789abcdef-token", kToken));
}

TEST_CASE("reload over HTTP: no token configured answers 403 and reloads nothing") {
  Sources s;
  s.token = "";
  const HttpResponse r = reload_answer(s.get(), post("Bearer " + kToken));
  CHECK(r.status == 403);
  CHECK(parse(r.body)->getValue<std::string>("error") ==
        "reload over HTTP is off: set agent.api_token_file");
  CHECK(s.reloads == 0);
}

TEST_CASE("reload over HTTP: a missing or wrong token answers 401 with WWW-Authenticate") {
  Sources s;
  for (const auto& auth : std::vector<std::optional<std::string>>{
           std::nullopt, "Bearer", "Bearer wrong", "Basic " + kToken, "Bearer " + kToken + " ",
           "Bearer  " + kToken}) {
    CAPTURE(auth.value_or("(none)"));
    const HttpResponse r = reload_answer(s.get(), post(auth));
    CHECK(r.status == 401);
    CHECK(has_header(r, "WWW-Authenticate", "Bearer"));
    CHECK(r.body.find(kToken) == std::string::npos);
  }
  CHECK(s.reloads == 0);
}

TEST_CASE("reload over HTTP: the right token reloads: 200 with the generation") {
  Sources s;
  ReloadOutcome ok;
  ok.ok = true;
  ok.config = "/etc/linewatch/linewatch.yaml";
  ok.generation = 3;
  s.outcome = ok;
  const HttpResponse r = reload_answer(s.get(), post("bearer " + kToken));
  CHECK(r.status == 200);
  auto doc = parse(r.body);
  CHECK(doc->getValue<std::string>("status") == "reloaded");
  CHECK(doc->getValue<std::string>("config") == "/etc/linewatch/linewatch.yaml");
  CHECK(doc->getValue<int>("generation") == 3);
  CHECK(s.reloads == 1);
}

TEST_CASE("reload over HTTP: a refused config answers 400 with every error") {
  Sources s;
  ReloadOutcome bad;
  bad.errors = {"conf.yaml:3:5: lines[0].ids: unknown key (did you mean \"id\"?)",
                "conf.yaml:9:1: targets: required"};
  s.outcome = bad;
  const HttpResponse r = reload_answer(s.get(), post("Bearer " + kToken));
  CHECK(r.status == 400);
  CHECK(r.content_type == "application/json");
  auto doc = parse(r.body);
  CHECK(doc->getValue<std::string>("error") == "config not reloaded");
  auto errors = doc->getArray("errors");
  REQUIRE(errors->size() == 2);
  CHECK(errors->getElement<std::string>(0) == bad.errors[0]);
}

TEST_CASE("reload over HTTP: a verdict that does not come in time answers 503") {
  Sources s;  // outcome nullopt: the wait passed
  const HttpResponse r = reload_answer(s.get(), post("Bearer " + kToken));
  CHECK(r.status == 503);
  CHECK(parse(r.body)->getValue<std::string>("error").find("config_reload_failed") !=
        std::string::npos);
}

TEST_CASE("reload over HTTP: GET is refused with Allow: POST") {
  Sources s;
  HttpRequest get = post("Bearer " + kToken);
  get.method = "GET";
  const HttpResponse r = reload_answer(s.get(), get);
  CHECK(r.status == 405);
  CHECK(has_header(r, "Allow", "POST"));
  CHECK(s.reloads == 0);
}
