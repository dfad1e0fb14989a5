// The built-in page as the agent serves it: types, caching and security
// headers, and that everything index.html loads is served too. The drawing
// itself is tested in a browser (tests/page_fixture_test.sh,
// tests/page_chromium_test.sh).
#include "agent/page_assets.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <doctest/doctest.h>

#include <regex>
#include <set>

#include "agent/api_server.h"

using namespace linewatch;

namespace {

struct Answer {
  int status = 0;
  std::string body;
  Poco::Net::HTTPResponse head;
};

Answer fetch(std::uint16_t port, const std::string& path, const std::string& method = "GET") {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(5, 0));
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(req);
  Answer a;
  std::istream& in = session.receiveResponse(a.head);
  a.status = static_cast<int>(a.head.getStatus());
  Poco::StreamCopier::copyToString(in, a.body);
  return a;
}

std::string_view file(std::string_view name) {
  for (const PageFile& f : page_files())
    if (f.name == name) return f.content;
  FAIL("no page file " << name);
  return {};
}

// The src= and href= values in `html`, in order.
std::vector<std::string> references(std::string_view html) {
  static const std::regex ref(R"re(\b(?:src|href)="([^"]*)")re");
  std::vector<std::string> out;
  const std::string text(html);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), ref); it != std::sregex_iterator();
       ++it)
    out.push_back((*it)[1].str());
  return out;
}

std::unique_ptr<ApiServer> start_api() {
  auto api = ApiServer::start("127.0.0.1:0", ApiSources{});
  REQUIRE(api.ok());
  return std::move(*api);
}

}  // namespace

TEST_CASE("the agent serves the page's files with their types, no-cache and a self-only policy") {
  auto api = start_api();
  const std::pair<const char*, const char*> files[] = {
      {"/", "text/html; charset=utf-8"},
      {"/page.js", "text/javascript; charset=utf-8"},
      {"/page.css", "text/css; charset=utf-8"},
  };
  for (const auto& [path, type] : files) {
    CAPTURE(path);
    const Answer a = fetch(api->port(), path);
    CHECK(a.status == 200);
    CHECK(a.head.getContentType() == type);
    CHECK(a.head.get("Cache-Control", "") == "no-cache");
    CHECK(a.head.get("Content-Security-Policy", "") == kPageContentSecurityPolicy);
    CHECK(a.head.get("X-Content-Type-Options", "") == "nosniff");
    CHECK(a.body == file(std::string_view(path) == "/" ? "index.html" : path + 1));
  }
  const Answer head = fetch(api->port(), "/", "HEAD");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  const Answer missing = fetch(api->port(), "/page.mjs");
  CHECK(missing.status == 404);
  CHECK(missing.head.get("Cache-Control", "") == "no-store");
}

TEST_CASE("every file index.html references is served, and every page file is referenced") {
  auto api = start_api();
  const Answer index = fetch(api->port(), "/");
  REQUIRE(index.status == 200);
  std::set<std::string> referenced;
  for (const std::string& ref : references(index.body)) {
    CAPTURE(ref);
    if (ref.starts_with('#')) continue;  // the range selector's links
    // The policy allows only the agent itself: any other origin would be refused.
    REQUIRE(ref.starts_with('/'));
    REQUIRE_FALSE(ref.starts_with("//"));
    const Answer a = fetch(api->port(), ref);
    CHECK(a.status == 200);
    CHECK_FALSE(a.body.empty());
    referenced.insert(ref.substr(1));
  }
  for (const PageFile& f : page_files()) {
    if (f.name != "index.html") CHECK_MESSAGE(referenced.count(std::string(f.name)), f.name);
  }
  CHECK(referenced.count("page.js"));
  CHECK(referenced.count("page.css"));
}

TEST_CASE("index.html has nothing inline that the page's policy would block") {
  const std::string html(file("index.html"));
  // Every <script> names its file; no <style> element or style= attribute.
  static const std::regex script(R"re(<script\b[^>]*>)re");
  int scripts = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), script);
       it != std::sregex_iterator(); ++it, ++scripts)
    CHECK_MESSAGE(it->str().find(" src=\"") != std::string::npos, it->str());
  CHECK(scripts >= 1);
  CHECK(html.find("<style") == std::string::npos);
  CHECK(html.find("style=") == std::string::npos);
  CHECK(std::string_view(file("page.js")).find("setAttribute('style'") == std::string_view::npos);
}
