// `linewatch history` from a database file when no agent answers: the table
// and the JSON compared with golden files (tests/testdata/cli/history_*.golden;
// LINEWATCH_UPDATE_GOLDEN=1 rewrites them), every stored target of a line,
// the source named on stderr, and exit 2 with no agent and no database.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "agent/cli.h"
#include "core/fake_clock.h"
#include "storage/store.h"
#include "tests/support/temp_dir.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;

// 2027-01-15T08:00:00Z.
const WallTime kT0 = WallTime(std::chrono::seconds(1'800'000'000));
// Nothing listens on port 1 of loopback: the CLI falls back to the file.
const char* const kNoAgent = "http://127.0.0.1:1";

ProbeResult round_at(std::string target, ProbeKind kind, WallTime t, int sent, int received,
                     std::optional<int> rtt_us) {
  ProbeResult r;
  r.line = "cn2";
  r.target = std::move(target);
  r.kind = kind;
  r.time = t;
  r.ok = kind == ProbeKind::icmp ? received > 0 : rtt_us.has_value();
  r.reason = r.ok ? Reason::ok : Reason::timeout;
  r.sent = sent;
  r.received = received;
  if (rtt_us) r.rtt = r.rtt_median = std::chrono::microseconds(*rtt_us);
  if (rtt_us && kind == ProbeKind::icmp) r.rtt_min = *r.rtt - 200us, r.rtt_max = *r.rtt + 1'300us;
  return r;
}

// cn2 -> dns (icmp): three rounds in the first minute, one all lost in the
// third. cn2 -> web (tcp): two rounds, one failed. cu -> dns: not on cn2.
void fill(const std::string& dir) {
  FakeClock clock(kT0 + 1h);
  auto store = Store::open(dir, StorageOptions{}, clock);
  REQUIRE(store);
  for (const auto& r : {round_at("dns", ProbeKind::icmp, kT0 + 1s, 5, 5, 150'400),
                        round_at("dns", ProbeKind::icmp, kT0 + 20s, 5, 4, 150'100),
                        round_at("dns", ProbeKind::icmp, kT0 + 59s, 5, 5, 151'000),
                        round_at("dns", ProbeKind::icmp, kT0 + 130s, 5, 0, {}),
                        round_at("web", ProbeKind::tcp, kT0 + 5s, 0, 0, 38'250),
                        round_at("web", ProbeKind::tcp, kT0 + 65s, 0, 0, {})}) {
    REQUIRE((*store)->submit(r));
  }
  ProbeResult other = round_at("dns", ProbeKind::icmp, kT0 + 1s, 5, 5, 1'000);
  other.line = "cu";
  REQUIRE((*store)->submit(other));
  REQUIRE((*store)->flush(10s));
}

HistoryArgs args_for(const std::string& data_dir) {
  HistoryArgs a;
  a.agent_url = kNoAgent;
  a.data_dir = data_dir;
  a.line = "cn2";
  a.since = "2027-01-15T08:00:00Z";
  a.until = "2027-01-15T08:03:00Z";
  a.step = "60s";
  a.timeout = 2s;
  return a;
}

void check_golden(const std::string& name, const std::string& got) {
  const std::string path = std::string(LINEWATCH_SOURCE_DIR) + "/tests/testdata/cli/" + name;
  if (std::getenv("LINEWATCH_UPDATE_GOLDEN")) std::ofstream(path) << got;
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, path);
  std::stringstream want;
  want << in.rdbuf();
  CHECK_MESSAGE(got == want.str(), path);
}

TEST_CASE("history reads the database when no agent answers, as golden files say") {
  testing::TempDir dir("linewatch-history");
  fill(dir.path());
  const std::string db = dir.path() + "/linewatch.db";
  const std::string note = "linewatch: reading " + db + " (no agent at " + kNoAgent + ")\n";
  std::ostringstream out, err;
  HistoryArgs a = args_for(dir.path());
  SUBCASE("one target as a table") {
    a.target = "dns";
    CHECK(cmd_history(a, out, err) == 0);
    CHECK(err.str() == note);
    check_golden("history_dns_table.golden", out.str());
  }
  SUBCASE("one target as the API's JSON") {
    a.target = "dns";
    a.json = true;
    CHECK(cmd_history(a, out, err) == 0);
    CHECK(err.str() == note);
    check_golden("history_dns_json.golden", out.str());
  }
  SUBCASE("every stored target of the line, each kind its own table") {
    CHECK(cmd_history(a, out, err) == 0);
    check_golden("history_every_target_table.golden", out.str());
  }
  SUBCASE("a query the API refuses is exit 2 with its message") {
    a.target = "dns";
    a.step = "1500ms";
    CHECK(cmd_history(a, out, err) == 2);
    CHECK(err.str() == note + "linewatch: step: must be whole seconds, got \"1500ms\"\n");
    CHECK(out.str().empty());
  }
  SUBCASE("an id not stored is exit 2 naming the file") {
    a.target = "nope";
    CHECK(cmd_history(a, out, err) == 2);
    CHECK(err.str() == note + "linewatch: target: no target \"nope\" stored in " + db + "\n");
  }
}

TEST_CASE("history with no agent and no database is exit 2 naming both") {
  testing::TempDir dir("linewatch-history");
  std::ostringstream out, err;
  CHECK(cmd_history(args_for(dir.path()), out, err) == 2);
  CHECK(err.str() == std::string("linewatch: no agent answering at ") + kNoAgent +
                         ", and no database to read: " + dir.path() +
                         "/linewatch.db: no such database (the agent creates it on its first "
                         "run; is agent.data_dir right?)\n");
  CHECK(out.str().empty());
}

}  // namespace
}  // namespace linewatch
