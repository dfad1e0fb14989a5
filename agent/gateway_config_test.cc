// The gateway's config: defaults, the example file, and one exact message
// per rule, with the key never echoed.
#include "agent/gateway_config.h"

#include <doctest/doctest.h>

#include <fstream>
#include <utility>
#include <vector>

#include "tests/support/temp_dir.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

constexpr const char* kKey = "0123456789abcdef0123456789abcdef";

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

// A temp dir holding gw.key (kKey and a line end); configs are named dir/gw.yaml.
struct Dir {
  testing::TempDir tmp{"linewatch-gwconfig"};
  Dir() { write_file(tmp.file("gw.key"), std::string(kKey) + "\n"); }
  Result<GatewayConfig> load(const std::string& yaml) const {
    return load_gateway_config_string(yaml, tmp.file("gw.yaml"));
  }
  // The message with the directory replaced by "DIR".
  std::string error(const std::string& yaml) const {
    auto c = load(yaml);
    REQUIRE_FALSE(c.ok());
    std::string m = c.error().message;
    for (auto at = m.find(tmp.path()); at != std::string::npos; at = m.find(tmp.path()))
      m.replace(at, tmp.path().size(), "DIR");
    return m;
  }
};

}  // namespace

TEST_CASE("a minimal gateway config gets the defaults and reads its key without the line end") {
  Dir d;
  auto c = d.load("gateway: { id: gw1, secret_file: gw.key }\n");
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
  CHECK(c->id == "gw1");
  CHECK(c->listen == "127.0.0.1:9300");
  CHECK(c->secret_file == d.tmp.file("gw.key"));
  CHECK(c->secret == kKey);
  CHECK(c->table == 254);
  CHECK(c->max_skew == 30s);
  CHECK(c->data_dir == "/var/lib/linewatch-gateway");
  CHECK(c->reconcile == 5s);
}

TEST_CASE("every gateway key is read, relative paths against the config's directory") {
  Dir d;
  auto c = d.load(
      "gateway:\n  id: gw-2\n  listen: 0.0.0.0:9400\n  listen_public: true\n"
      "  secret_file: gw.key\n  table: 100\n  max_skew: 5s\n  data_dir: state\n"
      "  reconcile: 250ms\n");
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
  CHECK(c->listen == "0.0.0.0:9400");
  CHECK(c->table == 100);
  CHECK(c->max_skew == 5s);
  CHECK(c->data_dir == d.tmp.file("state"));
  CHECK(c->reconcile == 250ms);
}

TEST_CASE("examples/gateway.yaml is valid but for its key file on this machine") {
  std::ifstream in(std::string(LINEWATCH_SOURCE_DIR) + "/examples/gateway.yaml");
  REQUIRE(in);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Dir d;
  const std::string key_line = "secret_file: /etc/linewatch/gw1.key";
  REQUIRE(text.find(key_line) != std::string::npos);
  text.replace(text.find(key_line), key_line.size(), "secret_file: gw.key");
  auto c = d.load(text);
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
  CHECK(c->id == "gw1");
}

TEST_CASE("gateway config errors name the file, position and key") {
  Dir d;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"gateway: { id: gw1, secret_file: gw.key, colour: blue }\n",
       "DIR/gw.yaml:1:42: gateway.colour: unknown key (expected one of: id, listen, "
       "listen_public, secret_file, table, max_skew, data_dir, reconcile)"},
      {"gateway: { id: gw1, secret_file: gw.key }\nagent: {}\n",
       "DIR/gw.yaml:2:1: agent: unknown key (expected one of: gateway)"},
      {"gateway: { id: gw1 }\n", "DIR/gw.yaml:1:10: gateway: missing required key \"secret_file\""},
      {"gateway:\n", "DIR/gw.yaml:1:1: gateway: missing value"},
      {"{}\n", "DIR/gw.yaml:1:1: missing required key \"gateway\""},
      {"gateway: { id: gw1, secret_file: gw.key, listen: 0.0.0.0:9300 }\n",
       "DIR/gw.yaml:1:50: gateway.listen: \"0.0.0.0:9300\" is not a loopback address and GET "
       "/v1/routes and /v1/events have no authentication (set gateway.listen_public: true to "
       "take pushes from other hosts)"},
      {"gateway: { id: gw1, secret_file: gw.key, listen: 9300 }\n",
       "DIR/gw.yaml:1:50: gateway.listen: \"9300\" is not HOST:PORT: port missing"},
      {"gateway: { id: gw1, secret_file: nope.key }\n",
       "DIR/gw.yaml:1:34: gateway.secret_file: cannot read \"DIR/nope.key\": No such file or "
       "directory"},
      {"gateway: { id: gw1, secret_file: gw.key, table: local }\n",
       "DIR/gw.yaml:1:49: gateway.table: \"local\" is neither main nor a table number "
       "1..4294967295"},
      {"gateway: { id: gw1, secret_file: gw.key, table: 255 }\n",
       "DIR/gw.yaml:1:49: gateway.table: 255 is not a table routes can be applied to (use main or "
       "1..4294967295, not 0, 252 or 255)"},
      {"gateway: { id: gw1, secret_file: gw.key, max_skew: 2h }\n",
       "DIR/gw.yaml:1:52: gateway.max_skew: 2h is above the maximum 1h"},
      {"gateway: { id: gw1, secret_file: gw.key, reconcile: 10ms }\n",
       "DIR/gw.yaml:1:53: gateway.reconcile: 10ms is below the minimum 100ms"},
      {"gateway: { id: 'gw 1', secret_file: gw.key }\n",
       "DIR/gw.yaml:1:16: gateway.id: invalid id \"gw 1\" (1 to 64 of A-Z a-z 0-9 . _ -)"},
      {"gateway: { id: gw1, secret_file: gw.key }\n---\ngateway: {}\n",
       "DIR/gw.yaml:3:1: yaml: a second document starts here; a config is one document (remove "
       "the ---)"},
      {"gateway: [\n", "DIR/gw.yaml:2:1: yaml: end of sequence flow not found"},
  };
  for (const auto& [yaml, want] : cases) {
    CAPTURE(yaml);
    CHECK(d.error(yaml) == want);
  }
}

TEST_CASE("a short or empty key is refused without echoing it") {
  Dir d;
  write_file(d.tmp.file("short.key"), "tiny-secret\n");
  write_file(d.tmp.file("empty.key"), "\n\n");
  CHECK(d.error("gateway: { id: gw1, secret_file: short.key }\n") ==
        "DIR/gw.yaml:1:34: gateway.secret_file: the key in \"DIR/short.key\" is 11 bytes; use at "
        "least 16 (e.g. `openssl rand -hex 32 > DIR/short.key`)");
  CHECK(d.error("gateway: { id: gw1, secret_file: empty.key }\n").find("is 0 bytes") !=
        std::string::npos);
  CHECK(d.error("gateway: { id: gw1, secret_file: short.key }\n").find("tiny-secret") ==
        std::string::npos);
}

TEST_CASE("a gateway config that cannot be read is an io error") {
  Dir d;
  auto missing = load_gateway_config_file(d.tmp.file("nope.yaml"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::io);
  CHECK(missing.error().message ==
        d.tmp.file("nope.yaml") + ": cannot read: No such file or directory");
  auto dir = load_gateway_config_file(d.tmp.path());
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.error().code == ErrorCode::io);
  write_file(d.tmp.file("gw.yaml"), "gateway: { id: gw1, secret_file: gw.key }\n");
  auto ok = load_gateway_config_file(d.tmp.file("gw.yaml"));
  REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error().message));
  CHECK(ok->source_path == d.tmp.file("gw.yaml"));
}
