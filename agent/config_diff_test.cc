#include "agent/config_diff.h"

#include <doctest/doctest.h>

#include "agent/config_load.h"

using namespace linewatch;

namespace {

// Two lines with gateways, an icmp reflector and a route: a failover config.
const char* kBase =
    "agent: { id: a1, listen: 127.0.0.1:9464, data_dir: /tmp/lw }\n"
    "lines:\n"
    "  - { id: l1, source: 127.0.0.1, gateway: 127.0.0.2 }\n"
    "  - { id: l2, source: 127.0.0.1, gateway: 127.0.0.3 }\n"
    "targets:\n"
    "  - { id: r1, icmp: 127.0.0.1 }\n"
    "  - { id: web, tcp: '127.0.0.1:80' }\n"
    "routes:\n"
    "  - { prefix: 198.19.0.0/16, lines: [l1, l2] }\n";

Config load(const std::string& yaml) {
  auto c = load_config_string(yaml, "/tmp/lw/conf.yaml");
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
  return *c;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("config diff: the same config changes nothing and may be applied") {
  const Config a = load(kBase), b = load(kBase);
  CHECK(restart_only_changes(a, b).empty());
  CHECK(failover_unchanged(a, b));
  const ConfigChanges c = diff_config(a, b);
  CHECK_FALSE(c.failover);
  CHECK_FALSE(c.lines);
  CHECK_FALSE(c.scope);
  CHECK_FALSE(c.alerts);
  CHECK_FALSE(c.notify);
}

TEST_CASE("config diff: each restart-only key is named with its old and new value") {
  const Config a = load(kBase);
  SUBCASE("agent.listen") {
    const Config b = load(replaced(kBase, "127.0.0.1:9464", "127.0.0.1:9465"));
    CHECK(restart_only_changes(a, b) ==
          std::vector<std::string>{"agent.listen: changed from \"127.0.0.1:9464\" to "
                                   "\"127.0.0.1:9465\"; this takes a restart"});
  }
  SUBCASE("agent.id and agent.data_dir, in that order") {
    const Config b = load(replaced(replaced(kBase, "id: a1", "id: a2"), "/tmp/lw }", "/tmp/lw2 }"));
    CHECK(restart_only_changes(a, b) ==
          std::vector<std::string>{
              "agent.id: changed from \"a1\" to \"a2\"; this takes a restart",
              "agent.data_dir: changed from \"/tmp/lw\" to \"/tmp/lw2\"; this takes a restart"});
  }
  SUBCASE("storage keys") {
    const Config b =
        load(std::string(kBase) + "storage: { retention: 48h, flush_interval: 2s, queue: 5000 }\n");
    CHECK(restart_only_changes(a, b) ==
          std::vector<std::string>{
              "storage.retention: changed from 30d to 2d; this takes a restart",
              "storage.queue: changed from 65536 to 5000; this takes a restart",
              "storage.flush_interval: changed from 1s to 2s; this takes a restart"});
  }
  SUBCASE("agent.api_token_file, without the token") {
    Config b = a;
    b.agent.api_token_file = "/etc/linewatch/token";
    b.agent.api_token = "0123456789abcdef-secret";
    const auto changes = restart_only_changes(a, b);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0] ==
          "agent.api_token_file: changed from (none) to \"/etc/linewatch/token\"; this takes a "
          "restart");
  }
  SUBCASE("a token's new content alone is no restart") {
    Config b = a;
    b.agent.api_token = "another-token-0123456789";
    CHECK(restart_only_changes(a, b).empty());
  }
  SUBCASE("agent.workers is not restart-only") {
    Config b = a;
    b.agent.workers = 4;
    CHECK(restart_only_changes(a, b).empty());
  }
}

TEST_CASE("config diff: targets and alerts leave the failover unchanged") {
  const Config a = load(kBase);
  const Config b = load(replaced(kBase, "  - { id: web, tcp: '127.0.0.1:80' }\n",
                                 "  - { id: web, tcp: '127.0.0.1:81' }\n"
                                 "  - { id: web2, http: 'http://127.0.0.1:8080/' }\n") +
                        "alerts: { defaults: false }\n");
  CHECK(failover_unchanged(a, b));
  const ConfigChanges c = diff_config(a, b);
  CHECK_FALSE(c.failover);
  CHECK_FALSE(c.lines);
  CHECK(c.scope);  // a target id more
  CHECK(c.alerts);
  CHECK_FALSE(c.notify);
}

TEST_CASE("config diff: what the failover is built from changes it") {
  const Config a = load(kBase);
  SUBCASE("a route") {
    CHECK_FALSE(failover_unchanged(a, load(replaced(kBase, "lines: [l1, l2]", "lines: [l2, l1]"))));
  }
  SUBCASE("a line's gateway") {
    const Config b = load(replaced(kBase, "gateway: 127.0.0.3", "gateway: 127.0.0.4"));
    CHECK_FALSE(failover_unchanged(a, b));
    CHECK(diff_config(a, b).lines);
  }
  SUBCASE("health") {
    CHECK_FALSE(failover_unchanged(a, load(std::string(kBase) + "health: { rise: 5 }\n")));
  }
  SUBCASE("scoring") {
    CHECK_FALSE(failover_unchanged(a, load(std::string(kBase) + "scoring: { margin: 20% }\n")));
  }
  SUBCASE("liveness") {
    CHECK_FALSE(
        failover_unchanged(a, load(std::string(kBase) + "liveness: { interval: 200ms }\n")));
  }
  SUBCASE("apply") {
    CHECK_FALSE(failover_unchanged(a, load(std::string(kBase) + "apply: { table: main }\n")));
  }
  SUBCASE("the address of a reflector the liveness resolves to") {
    CHECK_FALSE(failover_unchanged(
        a, load(replaced(kBase, "{ id: r1, icmp: 127.0.0.1 }", "{ id: r1, icmp: 127.0.0.9 }"))));
  }
}

TEST_CASE("config diff: receivers changed are notify and alerts changes") {
  const std::string with_hook =
      std::string(kBase) +
      "notify:\n  - { id: ops, kind: webhook, url: 'http://127.0.0.1:9/h', "
      "secret_env: HOOK_KEY }\n";
  const Config a = load(with_hook);
  const Config b = load(replaced(with_hook, "127.0.0.1:9/h", "127.0.0.1:10/h"));
  const ConfigChanges c = diff_config(a, b);
  CHECK(c.notify);
  CHECK(c.alerts);
  CHECK_FALSE(c.failover);
}
