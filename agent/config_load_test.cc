#include "agent/config_load.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/units.h"

using namespace linewatch;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const fs::path kSource = LINEWATCH_SOURCE_DIR;
const fs::path kBad = kSource / "tests/testdata/config/bad";

// expected.txt: each line is one full message line, "bad/NAME.yaml:L:C: ...";
// a file with several errors has several lines, in order.
std::map<std::string, std::string> read_expected() {
  std::ifstream in(kBad / "expected.txt");
  REQUIRE(in);
  std::map<std::string, std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto end = line.find(".yaml");
    REQUIRE(end != std::string::npos);
    const std::string file = line.substr(4, end + 5 - 4);  // drop "bad/"
    std::string& msg = out[file];
    msg += (msg.empty() ? "" : "\n") + line;
  }
  return out;
}

const ProbeSpec* probe(const TargetSpec& t, ProbeKind k) {
  for (const ProbeSpec& p : t.probes)
    if (p.kind == k) return &p;
  return nullptr;
}

const TargetSpec* target(const Config& c, const std::string& id) {
  for (const TargetSpec& t : c.targets)
    if (t.id == id) return &t;
  return nullptr;
}

}  // namespace

TEST_CASE("every bad corpus file fails with exactly its expected message") {
  const auto expected = read_expected();
  std::set<std::string> seen;
  for (const auto& entry : fs::directory_iterator(kBad)) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string name = entry.path().filename().string();
    seen.insert(name);
    CAPTURE(name);
    auto it = expected.find(name);
    CHECK_MESSAGE(it != expected.end(), "no expected.txt entry for " << name);
    if (it == expected.end()) continue;
    auto r = load_config_file(entry.path().string());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::invalid_argument);
    // Messages name the file as given; the table names it relative to the corpus.
    std::string msg = r.error().message;
    const std::string prefix = kBad.string() + "/";
    for (std::size_t at = 0; (at = msg.find(prefix, at)) != std::string::npos;)
      msg.replace(at, prefix.size(), "bad/");
    CHECK(msg == it->second);
  }
  CHECK(seen.size() >= 40);
  for (const auto& [name, msg] : expected) CHECK_MESSAGE(seen.count(name), "stale entry " << name);
}

TEST_CASE("a missing file is an io error without a position") {
  const std::string path = (kBad / "no-such-file.yaml").string();
  auto r = load_config_file(path);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::io);
  CHECK(r.error().message == path + ": cannot read: No such file or directory");
}

TEST_CASE("several problems are all reported, sorted by position") {
  const char* yaml =
      "targets:\n"
      "  - { id: t1, tcp: '127.0.0.1:0' }\n"
      "lines:\n"
      "  - { id: l1, sorce: 127.0.0.1 }\n"
      "agent: { workers: 0 }\n";
  auto r = load_config_string(yaml, "x.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message ==
        "x.yaml:2:20: targets[0].tcp: \"127.0.0.1:0\" is not HOST:PORT: port must be in 1..65535\n"
        "x.yaml:4:5: lines[0]: line must set at least one of interface, source or fwmark\n"
        "x.yaml:4:15: lines[0].sorce: unknown key (did you mean \"source\"?)\n"
        "x.yaml:5:19: agent.workers: must be in 1..1024, got 0");
}

TEST_CASE("examples/local.yaml loads with defaults and overrides applied") {
  const std::string path = (kSource / "examples/local.yaml").string();
  auto r = load_config_file(path);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const Config& c = *r;
  CHECK(c.source_path == path);
  CHECK(c.agent.listen == "127.0.0.1:9464");
  // Relative data_dir resolves against the file's directory, not the cwd.
  CHECK(c.agent.data_dir == (kSource / "examples/linewatch-data").lexically_normal().string());
  REQUIRE(c.lines.size() == 2);
  CHECK(c.lines[0].binding.source == "127.0.0.1");
  CHECK(c.lines[1].binding.source == "127.0.0.2");
  CHECK(*c.lines[1].capacity_bps == 100'000'000);
  CHECK(c.storage.retention == 7 * 24h);
  CHECK(c.storage.queue_capacity == 65536);  // built-in default
  const TargetSpec* web = target(c, "local-web");
  REQUIRE(web);
  const ProbeSpec* tcp = probe(*web, ProbeKind::tcp);
  REQUIRE(tcp);
  CHECK(tcp->tcp.host == "127.0.0.1");
  CHECK(tcp->tcp.port == 9465);
  CHECK(tcp->timing.interval == 5s);  // from probes:
  const ProbeSpec* http = probe(*web, ProbeKind::http);
  REQUIRE(http);
  CHECK(http->http.url == "http://127.0.0.1:9465/");
  CHECK(http->http.max_body_bytes == 64 * 1024);
  CHECK(http->http.expect_status == std::vector<int>{200});
  CHECK(job_count(c) == 2 * 3);
}

TEST_CASE("examples/full.yaml loads; target beats probes: beats built-in") {
  auto r = load_config_file((kSource / "examples/full.yaml").string());
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const Config& c = *r;
  CHECK(c.lines[1].binding.fwmark == 0x65u);
  CHECK(c.lines[0].binding.interface == "eth1");
  const TargetSpec* api = target(c, "api");
  REQUIRE(api);
  const ProbeSpec* icmp = probe(*api, ProbeKind::icmp);
  REQUIRE(icmp);
  CHECK(icmp->icmp.pings == 10);          // target
  CHECK(icmp->timing.interval == 5s);     // target
  CHECK(icmp->icmp.payload_bytes == 56);  // probes: (equal to built-in)
  CHECK(icmp->icmp.family == 4);          // probes: (built-in is 0)
  const ProbeSpec* http = probe(*api, ProbeKind::http);
  REQUIRE(http);
  CHECK(http->http.max_body_bytes == 64 * 1024);  // target beats probes: 1MiB
  CHECK(http->http.expect_status == std::vector<int>{200, 401});
  CHECK(http->http.headers.at("Accept") == "application/json");
  CHECK(http->http.server_name == "api.example.com");
  CHECK(http->http.body_regex == "\"object\"");
  CHECK(http->http.body_re != nullptr);  // compiled once at load, shared by every round
  const TargetSpec* la = target(c, "la-reflector");
  REQUIRE(la);
  CHECK(probe(*la, ProbeKind::icmp)->icmp.pings == 5);
  CHECK(probe(*la, ProbeKind::tcp)->tcp.port == 443);
  const TargetSpec* v6 = target(c, "v6-reflector");
  REQUIRE(v6);
  CHECK(probe(*v6, ProbeKind::tcp)->tcp.host == "2001:db8::1");
  CHECK(job_count(c) == 2 * 6);
}

TEST_CASE("three layers: built-in, probes: section, target") {
  const char* yaml =
      "probes: { icmp: { timeout: 1s }, http: { timeout: 3s } }\n"
      "lines: [ { id: l1, interface: lo } ]\n"
      "targets:\n"
      "  - { id: a, icmp: 127.0.0.1, http: 'http://127.0.0.1:1/' }\n"
      "  - id: b\n"
      "    icmp: { host: 127.0.0.1, timeout: 500ms }\n";
  auto r = load_config_string(yaml, "sub/dir/c.yaml");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const ProbeSpec* a = probe(*target(*r, "a"), ProbeKind::icmp);
  const ProbeSpec* b = probe(*target(*r, "b"), ProbeKind::icmp);
  CHECK(a->timing.timeout == 1s);     // probes:
  CHECK(b->timing.timeout == 500ms);  // target
  CHECK(a->timing.interval == 10s);   // built-in
  CHECK(a->icmp.spacing == 200ms);    // built-in
  const ProbeSpec* h = probe(*target(*r, "a"), ProbeKind::http);
  CHECK(h->timing.interval == 30s);  // built-in for http
  CHECK(h->timing.timeout == 3s);
  // The built-in data_dir is absolute and stays as it is.
  CHECK(r->agent.data_dir == "/var/lib/linewatch");
}

TEST_CASE("relative paths resolve against the config file's directory") {
  const char* yaml =
      "agent: { data_dir: ../data }\n"
      "lines: [ { id: l1, source: 127.0.0.1 } ]\n"
      "targets: [ { id: t, http: { url: 'https://127.0.0.1/', tls: { ca_file: ca.pem } } } ]\n";
  auto r = load_config_string(yaml, "/etc/linewatch/conf/main.yaml");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  CHECK(r->agent.data_dir == "/etc/linewatch/data");
  CHECK(r->targets[0].probes[0].http.ca_file == "/etc/linewatch/conf/ca.pem");
  // With no directory in the name, the current directory is the base.
  auto here = load_config_string(yaml, "main.yaml");
  REQUIRE(here.ok());
  CHECK(here->agent.data_dir == (fs::current_path().parent_path() / "data").string());
}

TEST_CASE("config values written with format_* load back to the same values") {
  const Duration interval = 1500ms, timeout = 250ms;
  const std::uint64_t cap = 1'500'000, body = 1536;
  std::ostringstream yaml;
  yaml << "lines: [ { id: l1, source: 127.0.0.1, capacity: " << format_bitrate(cap) << " } ]\n"
       << "targets: [ { id: t, http: { url: 'http://127.0.0.1:8/', interval: "
       << format_duration(interval) << ", timeout: " << format_duration(timeout)
       << ", max_body: " << format_bytes(body) << " } } ]\n";
  auto r = load_config_string(yaml.str(), "rt.yaml");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  CHECK(*r->lines[0].capacity_bps == cap);
  const ProbeSpec& p = r->targets[0].probes[0];
  CHECK(p.timing.interval == interval);
  CHECK(p.timing.timeout == timeout);
  CHECK(p.http.max_body_bytes == body);
}

TEST_CASE("an empty document reports the missing sections") {
  auto r = load_config_string("# nothing yet\n", "empty.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message ==
        "empty.yaml:1:1: lines: at least one line is required\n"
        "empty.yaml:1:1: targets: at least one target is required");
}
