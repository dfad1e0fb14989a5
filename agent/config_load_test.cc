#include "agent/config_load.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
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

// A fresh directory under the system temp dir, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "linewatch-config-XXXXXX").string();
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// The lines and targets sections around `agent` and `probes` text.
std::string with_sections(const std::string& extra, int lines = 1, int targets = 1) {
  std::string y = extra + "lines:\n";
  for (int i = 0; i < lines; ++i)
    y += "  - { id: l" + std::to_string(i) + ", source: 127.0.0.1 }\n";
  y += "targets:\n";
  for (int i = 0; i < targets; ++i)
    y += "  - { id: t" + std::to_string(i) + ", icmp: 127.0.0.1 }\n";
  return y;
}

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
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
  CHECK(tcp->tcp->host == "127.0.0.1");
  CHECK(tcp->tcp->port == 9465);
  CHECK(tcp->timing.interval == 5s);  // from probes:
  const ProbeSpec* http = probe(*web, ProbeKind::http);
  REQUIRE(http);
  CHECK(http->http->url == "http://127.0.0.1:9465/");
  CHECK(http->http->max_body_bytes == 64 * 1024);
  CHECK(http->http->expect_status == std::vector<int>{200});
  CHECK(job_count(c) == 2 * 3);
}

TEST_CASE("examples/full.yaml loads, and target beats probes: beats built-in") {
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
  CHECK(http->http->max_body_bytes == 64 * 1024);  // target beats probes: 1MiB
  CHECK(http->http->expect_status == std::vector<int>{200, 401});
  CHECK(http->http->headers.at("Accept") == "application/json");
  CHECK(http->http->server_name == "api.example.com");
  CHECK(http->http->body_regex == "\"object\"");
  CHECK(http->http->body_re != nullptr);  // compiled once at load, shared by every round
  const TargetSpec* la = target(c, "la-reflector");
  REQUIRE(la);
  CHECK(probe(*la, ProbeKind::icmp)->icmp.pings == 5);
  CHECK(probe(*la, ProbeKind::tcp)->tcp->port == 443);
  const TargetSpec* v6 = target(c, "v6-reflector");
  REQUIRE(v6);
  CHECK(probe(*v6, ProbeKind::tcp)->tcp->host == "2001:db8::1");
  CHECK(job_count(c) == 2 * 6);
  // The failover block.
  CHECK(c.lines[0].counters == "eth1");
  CHECK_FALSE(c.lines[0].liveness.has_value());
  REQUIRE(c.lines[1].liveness.has_value());
  CHECK(c.lines[1].liveness->interval == 10ms);  // profile: fast
  CHECK(c.lines[1].liveness->detect == 150ms);   // the line's own key beats the profile
  CHECK(c.lines[1].liveness->reflectors == std::vector<std::string>{"la-reflector"});
  CHECK(c.liveness.reflectors == std::vector<std::string>{"la-reflector"});
  CHECK(c.health.sla.loss == doctest::Approx(0.02));
  CHECK(c.scoring.weights.latency == doctest::Approx(0.4));
  REQUIRE(c.routes.size() == 2);
  CHECK(c.routes[1].policy == RouteSpec::Policy::weighted);
  REQUIRE(c.apply.has_value());
  CHECK(c.apply->table == "main");
  REQUIRE(c.gateways.size() == 2);
  CHECK(c.gateways[0].secret_file == (kSource / "examples/gw1.key").string());
  CHECK(c.gateways[1].exec == "/bin/cat");
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
  TempDir dir;
  fs::create_directories(dir.path / "conf");
  std::ofstream(dir.path / "conf/ca.pem") << "not checked beyond being readable\n";
  const char* yaml =
      "agent: { data_dir: ../data }\n"
      "lines: [ { id: l1, source: 127.0.0.1 } ]\n"
      "targets: [ { id: t, http: { url: 'https://127.0.0.1/', tls: { ca_file: ca.pem } } } ]\n";
  auto r = load_config_string(yaml, (dir.path / "conf/main.yaml").string());
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  CHECK(r->agent.data_dir == (dir.path / "data").string());
  CHECK(r->targets[0].probes[0].http->ca_file == (dir.path / "conf/ca.pem").string());
  // With no directory in the name, the current directory is the base.
  auto here = load_config_string(
      "agent: { data_dir: ../data }\n"
      "lines: [ { id: l1, source: 127.0.0.1 } ]\n"
      "targets: [ { id: t, icmp: 127.0.0.1 } ]\n",
      "main.yaml");
  REQUIRE(here.ok());
  CHECK(here->agent.data_dir == (fs::current_path().parent_path() / "data").string());
}

TEST_CASE("config values written with the format_ functions load back to the same values") {
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
  CHECK(p.http->max_body_bytes == body);
}

TEST_CASE("an empty document reports the missing sections") {
  auto r = load_config_string("# nothing yet\n", "empty.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message ==
        "empty.yaml:1:1: lines: at least one line is required\n"
        "empty.yaml:1:1: targets: at least one target is required");
}

TEST_CASE("a directory given as the config is named as one, as an io error") {
  auto r = load_config_file(kBad.string());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::io);
  CHECK(r.error().message == kBad.string() + ": is a directory");
}

TEST_CASE("a config file above the size limit is refused before parsing") {
  using config_limits::kMaxFileBytes;
  TempDir dir;
  const std::string good = with_sections("");
  // Padded with a comment to exactly the limit: still read and parsed.
  std::string at_limit = good + "#" + std::string(kMaxFileBytes - good.size() - 2, 'x') + "\n";
  REQUIRE(at_limit.size() == kMaxFileBytes);
  const fs::path path = dir.path / "big.yaml";
  std::ofstream(path, std::ios::binary) << at_limit;
  auto ok = load_config_file(path.string());
  CHECK_MESSAGE(ok.ok(), ok.error().message);
  // One byte more is refused, from a file and from memory alike.
  std::ofstream(path, std::ios::binary) << at_limit << "\n";
  auto r = load_config_file(path.string());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::invalid_argument);
  CHECK(r.error().message == path.string() + ": larger than the 4MiB limit for a config file");
  auto s = load_config_string(at_limit + "\n", "mem.yaml");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message == "mem.yaml: larger than the 4MiB limit for a config file");
}

TEST_CASE("errors past the reported limit are counted, not printed") {
  std::string yaml = with_sections("", 1, 0);
  for (int i = 0; i < 200; ++i)
    yaml += "  - { id: 'bad id " + std::to_string(i) + "', icmp: 127.0.0.1 }\n";
  auto r = load_config_string(yaml, "many.yaml");
  REQUIRE_FALSE(r.ok());
  const std::string& msg = r.error().message;
  CHECK(count_lines(msg) == config_limits::kMaxReportedErrors + 1);
  CHECK(msg.rfind("many.yaml:4:11: targets[0].id: invalid id \"bad id 0\"", 0) == 0);
  CHECK(msg.substr(msg.rfind('\n') + 1) == "... and 150 more errors");
}

TEST_CASE("lines, targets and probe jobs above their limits are refused") {
  using namespace config_limits;
  auto lines = load_config_string(with_sections("", kMaxLines + 1), "l.yaml");
  REQUIRE_FALSE(lines.ok());
  CHECK(lines.error().message == "l.yaml:2:3: lines: at most 1000 lines, got 1001");
  auto targets = load_config_string(with_sections("", 1, kMaxTargets + 1), "t.yaml");
  REQUIRE_FALSE(targets.ok());
  CHECK(targets.error().message == "t.yaml:4:3: targets: at most 10000 targets, got 10001");
  // 100 lines × 1000 targets is exactly the job limit; one target more is not.
  auto at_limit = load_config_string(with_sections("", 100, 1000), "j.yaml");
  REQUIRE_MESSAGE(at_limit.ok(), at_limit.error().message);
  CHECK(job_count(*at_limit) == kMaxProbeJobs);
  auto jobs = load_config_string(with_sections("", 100, 1001), "j.yaml");
  REQUIRE_FALSE(jobs.ok());
  CHECK(jobs.error().message ==
        "j.yaml:102:1: targets: 100 lines × 1001 probes = 100100 probe jobs, above the limit "
        "100000");
}

TEST_CASE("values echoed in messages are cut to the echo limit") {
  // Keys of 1000 characters (YAML caps an implicit key at 1024), values of 1MiB.
  const std::string long_key(1000, 'k'), huge(1 << 20, 'k');
  const std::string cut = std::string(config_limits::kMaxEchoChars, 'k') + "…";
  auto key = load_config_string(with_sections("agent: { " + long_key + ": 1 }\n"), "k.yaml");
  REQUIRE_FALSE(key.ok());
  CHECK(key.error().message ==
        "k.yaml:1:10: agent." + cut +
            ": unknown key (expected one of: id, listen, listen_public, data_dir, workers, "
            "api_token_file)");
  // A units parser's message quotes the text and the unknown unit: both cut.
  auto unit =
      load_config_string(with_sections("probes: { tcp: { interval: 1" + huge + " } }\n"), "u.yaml");
  REQUIRE_FALSE(unit.ok());
  CHECK(unit.error().message == "u.yaml:1:28: probes.tcp.interval: \"1" + cut.substr(0, 63) +
                                    "…\": unknown unit \"" + cut +
                                    "\" (use ns, us, ms, s, m, h or d)");
  auto url = load_config_string(
      "lines: [ { id: l1, source: 127.0.0.1 } ]\ntargets: [ { id: t, http: 'ftp://" + huge +
          "' } ]\n",
      "h.yaml");
  REQUIRE_FALSE(url.ok());
  CHECK(url.error().message.size() < 200);
}

TEST_CASE("a non-loopback agent.listen needs agent.listen_public") {
  for (const char* listen : {"127.0.0.1:9464", "127.0.0.2:9464", "'[::1]:9464'",
                             "'[::ffff:127.0.0.1]:9464'", "localhost:9464"}) {
    CAPTURE(listen);
    auto r = load_config_string(with_sections(std::string("agent: { listen: ") + listen + " }\n"),
                                "c.yaml");
    CHECK_MESSAGE(r.ok(), r.error().message);
  }
  for (const char* listen : {"0.0.0.0:9464", "'[::]:9464'", "198.18.0.1:9464", "gw.example:9464"}) {
    CAPTURE(listen);
    auto r = load_config_string(with_sections(std::string("agent: { listen: ") + listen + " }\n"),
                                "c.yaml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("c.yaml:1:18: agent.listen: ") == 0);
    CHECK(r.error().message.find("set agent.listen_public: true") != std::string::npos);
    auto opted = load_config_string(
        with_sections(std::string("agent: { listen_public: true, listen: ") + listen + " }\n"),
        "c.yaml");
    CHECK_MESSAGE(opted.ok(), opted.error().message);
  }
}

TEST_CASE("integers are plain decimal scalars and only fwmark takes hex") {
  auto ok = load_config_string(
      "lines: [ { id: l1, fwmark: 0x65 }, { id: l2, fwmark: 7 } ]\n"
      "targets: [ { id: t, tcp: { host: 127.0.0.1, port: !!int 80, interval: '10s' } } ]\n",
      "i.yaml");
  REQUIRE_MESSAGE(ok.ok(), ok.error().message);
  CHECK(ok->lines[0].binding.fwmark == 0x65u);
  CHECK(ok->targets[0].probes[0].tcp->port == 80);
  CHECK(ok->targets[0].probes[0].timing.interval == 10s);  // a quoted duration is still text
  auto bad = load_config_string(
      "agent: { workers: '4' }\n"
      "lines: [ { id: l1, fwmark: \"0x65\" } ]\n"
      "targets: [ { id: t, tcp: { host: 127.0.0.1, port: !!str 80 }, icmp: { host: 127.0.0.1, "
      "pings: 0x5 } } ]\n",
      "i.yaml");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message ==
        "i.yaml:1:19: agent.workers: expected an integer, got quoted \"4\" (drop the quotes)\n"
        "i.yaml:2:28: lines[0].fwmark: expected an integer, got quoted \"0x65\" (drop the quotes)\n"
        "i.yaml:3:51: targets[0].tcp.port: expected an integer, got \"80\" tagged "
        "tag:yaml.org,2002:str\n"
        "i.yaml:3:95: targets[0].icmp.pings: expected a decimal integer, got \"0x5\" (only fwmark "
        "takes 0x)");
}

TEST_CASE("a second document is an error at its start, one document is fine") {
  auto trailing = load_config_string(with_sections("") + "---\n", "d.yaml");
  REQUIRE_FALSE(trailing.ok());
  CHECK(trailing.error().message ==
        "d.yaml:5:1: yaml: a second document starts here; a config is one document (remove the "
        "---)");
  auto after_end = load_config_string(with_sections("") + "...\nagent: { workers: 2 }\n", "d.yaml");
  REQUIRE_FALSE(after_end.ok());
  CHECK(after_end.error().message.rfind("d.yaml:6:1: yaml: a second document", 0) == 0);
  auto marked = load_config_string("---\n" + with_sections("") + "...\n# done\n", "d.yaml");
  CHECK_MESSAGE(marked.ok(), marked.error().message);
}

TEST_CASE("tls.ca_file must name a readable file when the config loads") {
  TempDir dir;
  const std::string yaml =
      "lines: [ { id: l1, source: 127.0.0.1 } ]\n"
      "probes: { http: { tls: { ca_file: certs } } }\n"
      "targets: [ { id: t, http: 'https://127.0.0.1/' } ]\n";
  const std::string name = (dir.path / "c.yaml").string();
  auto missing = load_config_string(yaml, name);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == name + ":2:35: probes.http.tls.ca_file: cannot read \"" +
                                       (dir.path / "certs").string() +
                                       "\": No such file or directory");
  fs::create_directory(dir.path / "certs");
  auto directory = load_config_string(yaml, name);
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().message == name + ":2:35: probes.http.tls.ca_file: \"" +
                                         (dir.path / "certs").string() + "\" is a directory");
}

TEST_CASE("a file of more values than the limit is refused before nodes are built") {
  std::string yaml = with_sections("") + "x: [";
  for (std::size_t i = 0; i < config_limits::kMaxValues; ++i) yaml += "1,";
  yaml += "1]\n";
  auto r = load_config_string(yaml, "v.yaml");
  REQUIRE_FALSE(r.ok());
  const std::string& msg = r.error().message;
  CHECK(msg.rfind("v.yaml:5:", 0) == 0);
  CHECK(msg.find(": yaml: more than 500000 values, the limit for a config") != std::string::npos);
  CHECK(count_lines(msg) == 1);
}

TEST_CASE("aliases that repeat a large value past the limit end the load") {
  // 1000 codes, used by 1000 targets: a small file that reads as a million values.
  std::string codes;
  for (int i = 0; i < 1000; ++i) codes += std::string(i ? ", " : "") + "200";
  std::string yaml = "lines: [ { id: l1, source: 127.0.0.1 } ]\ntargets:\n";
  yaml += "  - { id: t0, http: { url: 'http://a/', expect_status: &codes [" + codes + "] } }\n";
  for (int i = 1; i < 1000; ++i)
    yaml += "  - { id: t" + std::to_string(i) +
            ", http: { url: 'http://a/', expect_status: *codes } }\n";
  auto r = load_config_string(yaml, "a.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(count_lines(r.error().message) == 1);
  CHECK(r.error().message.find("aliases expand the config past the limit of 500000 values") !=
        std::string::npos);
  // The same aliases over a handful of targets are fine.
  auto few = load_config_string(yaml.substr(0, yaml.find("  - { id: t10,")), "a.yaml");
  REQUIRE_MESSAGE(few.ok(), few.error().message);
  CHECK(few->targets[9].probes[0].http->expect_status.size() == 1000);
}

TEST_CASE("the failover keys load with their values") {
  TempDir dir;
  std::ofstream(dir.path / "gw1.key") << "not-a-real-key\n";
  const char* yaml =
      "lines:\n"
      "  - { id: a, source: 127.0.0.1, gateway: 127.0.0.2, counters: eth1 }\n"
      "  - { id: b, source: 127.0.0.3, gateway: 127.0.0.4 }\n"
      "targets:\n"
      "  - { id: edge, icmp: 127.0.0.1 }\n"
      "  - { id: far, icmp: 127.0.0.5 }\n"
      "liveness: { interval: 50ms, detect: 500ms, reflectors: [edge] }\n"
      "health:\n"
      "  rise: 5\n"
      "  hold_down: 1m\n"
      "  min_dwell: 0s\n"
      "  sla: { rtt_p95: 300ms, loss: 2.5%, jitter: 0s, window: 1m }\n"
      "  flap: { penalty: 500, half_life: 2m, suppress: 3000, reuse: 1000, max_penalty: 9000 }\n"
      "scoring: { weights: { latency: 2, load: 1, bandwidth: 0 }, margin: 15%, margin_for: 0s }\n"
      "routes:\n"
      "  - { prefix: 198.19.255.0/24, lines: [b, a] }\n"
      "  - { prefix: '2001:DB8:0::/32', policy: weighted, lines: [a] }\n"
      "apply: { table: 100 }\n"
      "gateways:\n"
      "  - { id: gw1, url: 'http://127.0.0.1:9300/v1/routes', secret_file: gw1.key }\n"
      "  - { id: hook, exec: /bin/sh, timeout: 500ms }\n";
  auto r = load_config_string(yaml, (dir.path / "c.yaml").string());
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const Config& c = *r;
  CHECK(c.lines[0].counters == "eth1");
  CHECK(c.lines[1].counters == "");
  CHECK(c.liveness.interval == 50ms);
  CHECK(c.liveness.detect == 500ms);
  CHECK(c.liveness.reflectors == std::vector<std::string>{"edge"});
  CHECK_FALSE(c.lines[0].liveness.has_value());  // no override: Config::liveness
  CHECK(c.health.rise == 5);
  CHECK(c.health.hold_down == 1min);
  CHECK(c.health.min_dwell == 0s);
  CHECK(c.health.sla.rtt_p95 == 300ms);
  CHECK(c.health.sla.loss == doctest::Approx(0.025));
  CHECK(c.health.sla.jitter == 0s);
  CHECK(c.health.sla.window == 1min);
  CHECK(c.health.penalty_per_failure == 500);
  CHECK(c.health.half_life == 2min);
  CHECK(c.health.suppress == 3000);
  CHECK(c.health.reuse == 1000);
  CHECK(c.health.max_penalty == 9000);
  CHECK(c.scoring.weights.latency == 2);
  CHECK(c.scoring.weights.load == 1);
  CHECK(c.scoring.weights.bandwidth == 0);
  CHECK(c.scoring.margin == doctest::Approx(0.15));
  CHECK(c.scoring.margin_for == 0s);
  REQUIRE(c.routes.size() == 2);
  CHECK(c.routes[0].prefix == "198.19.255.0/24");
  CHECK(c.routes[0].policy == RouteSpec::Policy::primary_backup);  // the default
  CHECK(c.routes[0].lines == std::vector<std::string>{"b", "a"});  // order kept
  CHECK(c.routes[1].policy == RouteSpec::Policy::weighted);
  CHECK(c.routes[1].prefix == "2001:db8::/32");  // as inet_ntop spells it
  REQUIRE(c.apply.has_value());
  CHECK(c.apply->table == "100");
  REQUIRE(c.gateways.size() == 2);
  CHECK(c.gateways[0].url == "http://127.0.0.1:9300/v1/routes");
  // Relative to the config file, stored absolute, like tls.ca_file.
  CHECK(c.gateways[0].secret_file == (dir.path / "gw1.key").string());
  CHECK(c.gateways[0].timeout == 2s);  // the default
  CHECK(c.gateways[1].exec == "/bin/sh");
  CHECK(c.gateways[1].timeout == 500ms);
}

TEST_CASE("without failover keys the options keep their defaults") {
  auto r = load_config_string(with_sections(""), "c.yaml");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const HealthOptions built_in;
  CHECK(r->liveness.interval == LivenessOptions{}.interval);
  CHECK(r->liveness.detect == LivenessOptions{}.detect);
  CHECK(r->health.rise == built_in.rise);
  CHECK(r->health.sla.loss == built_in.sla.loss);
  CHECK(r->scoring.margin == ScoringOptions{}.margin);
  CHECK(r->routes.empty());
  CHECK_FALSE(r->apply.has_value());  // absent: the host's routes are left alone
  CHECK(r->gateways.empty());
  auto main_table = load_config_string(with_sections("apply: { table: main }\n"), "c.yaml");
  REQUIRE_MESSAGE(main_table.ok(), main_table.error().message);
  CHECK(main_table->apply->table == "main");
  auto empty_apply = load_config_string(with_sections("apply: {}\n"), "c.yaml");
  REQUIRE_MESSAGE(empty_apply.ok(), empty_apply.error().message);
  CHECK(empty_apply->apply->table == "main");
}

TEST_CASE("reflectors default to every target with an icmp host") {
  const char* yaml =
      "lines: [ { id: l1, source: 127.0.0.1, gateway: 127.0.0.2 } ]\n"
      "targets:\n"
      "  - { id: web, tcp: 127.0.0.1:80 }\n"
      "  - { id: r1, icmp: 127.0.0.1, tcp: 127.0.0.1:443 }\n"
      "  - { id: r2, icmp: { host: 127.0.0.3, pings: 2 } }\n"
      "routes: [ { prefix: 198.19.0.0/16, lines: [l1] } ]\n";
  auto r = load_config_string(yaml, "c.yaml");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  CHECK(r->liveness.reflectors == std::vector<std::string>{"r1", "r2"});
  // More icmp targets than a line may echo: named ones are needed, with routes only.
  std::string many = with_sections("", 1, static_cast<int>(config_limits::kMaxReflectors) + 1);
  REQUIRE(load_config_string(many, "c.yaml").ok());
  many.replace(many.find("source: 127.0.0.1"), 17, "source: 127.0.0.1, gateway: 127.0.0.2");
  auto capped =
      load_config_string(many + "routes: [ { prefix: 198.19.0.0/16, lines: [l0] } ]\n", "c.yaml");
  REQUIRE_FALSE(capped.ok());
  CHECK(capped.error().message ==
        "c.yaml:21:1: routes: 17 targets have an icmp host, more than the 16 reflectors a line "
        "may echo; choose them with liveness.reflectors");
  auto named = load_config_string(many +
                                      "liveness: { reflectors: [t0, t1] }\nroutes: [ { prefix: "
                                      "198.19.0.0/16, lines: [l0] } ]\n",
                                  "c.yaml");
  REQUIRE_MESSAGE(named.ok(), named.error().message);
  CHECK(named->liveness.reflectors == std::vector<std::string>{"t0", "t1"});
}

TEST_CASE("lines[].liveness merges onto liveness: and profile fast sets interval and detect") {
  const char* yaml =
      "liveness: { interval: 200ms, detect: 2s, reflectors: [edge] }\n"
      "lines:\n"
      "  - { id: plain, source: 127.0.0.1 }\n"
      "  - { id: quick, source: 127.0.0.1, liveness: { profile: fast } }\n"
      "  - { id: own, source: 127.0.0.1, liveness: { reflectors: [far] } }\n"
      "  - { id: tuned, source: 127.0.0.1, liveness: { profile: fast, detect: 50ms } }\n"
      "  - { id: back, source: 127.0.0.1, liveness: { profile: default } }\n"
      "targets: [ { id: edge, icmp: 127.0.0.1 }, { id: far, icmp: 127.0.0.2 } ]\n";
  auto r = load_config_string(yaml, "c.yaml");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const auto& l = r->lines;
  CHECK_FALSE(l[0].liveness.has_value());
  REQUIRE(l[1].liveness.has_value());
  CHECK(l[1].liveness->interval == LivenessOptions::fast().interval);
  CHECK(l[1].liveness->detect == LivenessOptions::fast().detect);
  CHECK(l[1].liveness->reflectors == std::vector<std::string>{"edge"});  // from liveness:
  REQUIRE(l[2].liveness.has_value());
  CHECK(l[2].liveness->interval == 200ms);  // from liveness:
  CHECK(l[2].liveness->detect == 2s);
  CHECK(l[2].liveness->reflectors == std::vector<std::string>{"far"});  // replaced, not added
  CHECK(l[3].liveness->interval == 10ms);                               // the profile
  CHECK(l[3].liveness->detect == 50ms);                                 // the line's own key
  CHECK(l[4].liveness->interval == 100ms);                              // built-in defaults
  CHECK(l[4].liveness->detect == 1s);
}

TEST_CASE("gateway exec and secret_file are checked on the file system at load") {
  TempDir dir;
  const std::string secret = "do-not-print-this-secret";
  std::ofstream(dir.path / "gw.key") << secret;
  std::ofstream(dir.path / "empty.key").flush();
  std::ofstream(dir.path / "hook") << "#!/bin/sh\n";
  fs::permissions(dir.path / "hook", fs::perms::owner_read | fs::perms::owner_write);
  auto load = [&](const std::string& gateway) {
    return load_config_string(with_sections("gateways:\n  - " + gateway + "\n"),
                              (dir.path / "c.yaml").string());
  };
  const std::string d = dir.path.string();
  auto not_exec = load("{ id: h, exec: " + d + "/hook }");
  REQUIRE_FALSE(not_exec.ok());
  CHECK(not_exec.error().message ==
        d + "/c.yaml:2:20: gateways[0].exec: \"" + d + "/hook\" is not executable");
  fs::permissions(dir.path / "hook", fs::perms::owner_exec, fs::perm_options::add);
  auto runs = load("{ id: h, exec: " + d + "/hook }");
  CHECK_MESSAGE(runs.ok(), runs.error().message);
  auto directory = load("{ id: h, exec: " + d + " }");
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().message ==
        d + "/c.yaml:2:20: gateways[0].exec: \"" + d + "\" is not a regular file");
  auto empty = load("{ id: g, url: 'https://127.0.0.1/', secret_file: empty.key }");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message == d + "/c.yaml:2:54: gateways[0].secret_file: \"" + d +
                                     "/empty.key\" is empty (an empty key authenticates nothing)");
  auto secret_dir = load("{ id: g, url: 'https://127.0.0.1/', secret_file: . }");
  REQUIRE_FALSE(secret_dir.ok());
  CHECK(secret_dir.error().message ==
        d + "/c.yaml:2:54: gateways[0].secret_file: \"" + d + "/\" is a directory");
  // Every other check on a gateway with a real key: none shows the key.
  auto mixed = load(
      "{ id: g, url: 'https://127.0.0.1/', secret_file: gw.key, exec: /bin/sh, "
      "timeout: 0s }");
  REQUIRE_FALSE(mixed.ok());
  CHECK(count_lines(mixed.error().message) == 2);
  CHECK(mixed.error().message.find(secret) == std::string::npos);
}

TEST_CASE("percentages need their percent sign") {
  for (const char* ok : {"0%", "2%", "0.5%", "100%"}) {
    CAPTURE(ok);
    auto r = load_config_string(
        with_sections(std::string("health: { sla: { loss: ") + ok + " } }\n"), "p.yaml");
    CHECK_MESSAGE(r.ok(), r.error().message);
  }
  for (const char* bad : {"2", "0.02", "'%'", "2 %", "two%", "-1%", "'2%%'"}) {
    CAPTURE(bad);
    auto r = load_config_string(
        with_sections(std::string("health: { sla: { loss: ") + bad + " } }\n"), "p.yaml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("health.sla.loss: ") != std::string::npos);
  }
  auto r = load_config_string(with_sections("scoring: { margin: 1 }\n"), "p.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message ==
        "p.yaml:1:20: scoring.margin: \"1\": a percent sign is required (e.g. 100%)");
}

TEST_CASE("agent.api_token_file: the token is the file's content without the blanks around it") {
  TempDir dir;
  {
    std::ofstream out(dir.path / "api.token");
    out << "  \n0123456789abcdef-token \n\n";
  }
  auto c = load_config_string(with_sections("agent: { api_token_file: api.token }\n"),
                              (dir.path / "conf.yaml").string());
  REQUIRE(c.ok());
  CHECK(c->agent.api_token_file == (dir.path / "api.token").string());
  CHECK(c->agent.api_token == "0123456789abcdef-token");
  auto none = load_config_string(with_sections(""), (dir.path / "conf.yaml").string());
  REQUIRE(none.ok());
  CHECK(none->agent.api_token_file.empty());
  CHECK(none->agent.api_token.empty());
}

TEST_CASE("a parsed spec allocates only its own kind's options") {
  // probes: defaults for every kind, so no kind's options are empty by luck.
  const char* yaml =
      "probes:\n"
      "  tcp: { interval: 20s }\n"
      "  http: { max_body: 2KiB }\n"
      "  llm: { mode: completion, interval: 15m, timeout: 30s, stall: 3s }\n"
      "lines: [ { id: l1, source: 127.0.0.1 } ]\n"
      "targets:\n"
      "  - { id: ping, icmp: 127.0.0.1 }\n"
      "  - { id: port, tcp: '127.0.0.1:80' }\n"
      "  - { id: web, http: 'http://127.0.0.1:1/' }\n"
      "  - id: model\n"
      "    llm: { base_url: 'https://api.openai.com/v1', model: m, api_key_env: K }\n";
  auto r = load_config_string(yaml, "c.yaml");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const Config& parsed = *r;
  const Config copy = parsed;  // a copy keeps the same shape
  for (const Config* c : {&parsed, &copy}) {
    const ProbeSpec* icmp = probe(*target(*c, "ping"), ProbeKind::icmp);
    const ProbeSpec* tcp = probe(*target(*c, "port"), ProbeKind::tcp);
    const ProbeSpec* http = probe(*target(*c, "web"), ProbeKind::http);
    const ProbeSpec* llm = probe(*target(*c, "model"), ProbeKind::llm);
    REQUIRE((icmp && tcp && http && llm));
    CHECK_FALSE(icmp->tcp.allocated());
    CHECK_FALSE(icmp->http.allocated());
    CHECK_FALSE(icmp->llm.allocated());
    CHECK(tcp->tcp.allocated());
    CHECK_FALSE(tcp->http.allocated());
    CHECK_FALSE(tcp->llm.allocated());
    CHECK(http->http.allocated());
    CHECK_FALSE(http->tcp.allocated());
    CHECK_FALSE(http->llm.allocated());
    CHECK(llm->llm.allocated());
    CHECK_FALSE(llm->tcp.allocated());
    CHECK_FALSE(llm->http.allocated());
    // The boxed values are the parsed ones, defaults included.
    CHECK(tcp->tcp->port == 80);
    CHECK(tcp->timing.interval == 20s);
    CHECK(http->http->max_body_bytes == 2048);
    CHECK(llm->llm->stall == 3s);
  }
  // What a spec costs at 10,000 icmp targets: its own size, nothing boxed.
  CHECK(sizeof(ProbeSpec) <= 200);
}
