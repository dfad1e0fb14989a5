// `linewatch status` prints the bandwidth block only when some line has an
// interface, so an agent that measures no bandwidth prints what it always did.
#include "agent/status_table.h"

#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

#include <sstream>

namespace linewatch {
namespace {

const char* const kHead =
    R"({"agent":"a","now":"2026-11-27T07:40:01.123Z","window_s":300,"series":[)"
    R"({"line":"lo","target":"t","kind":"tcp","latest":{"ok":true,"rtt_ms":0.5},)"
    R"("window":{"rounds":3,"loss":0,"availability":1}}])";

std::string table(const std::string& tail) {
  Poco::JSON::Parser parser;
  auto doc = parser.parse(kHead + tail + "}").extract<Poco::JSON::Object::Ptr>();
  std::ostringstream out;
  print_status_table(*doc, out);
  return out.str();
}

TEST_CASE("status table: no line with an interface prints no bandwidth block") {
  const std::string before = table("");  // an agent without `lines`
  CHECK(before.find("IFACE") == std::string::npos);
  CHECK(table(R"(,"lines":[])") == before);
  CHECK(table(R"(,"lines":[{"line":"lo","interface":null,"from":"none","state":"none",)"
              R"("detail":"set lines[].counters"}])") == before);
}

TEST_CASE("status table: lines with counters print rates, utilisation and why not") {
  const std::string out =
      table(R"(,"lines":[{"line":"lo","interface":"lo","from":"counters","state":"measuring",)"
            R"("since":"2026-11-27T07:39:00.000Z","capacity_bps":1000000000,"rx_bps":12345678.9,)"
            R"("tx_bps":950,"utilisation":0.0123},)"
            R"({"line":"gone","interface":"eth9","from":"counters","state":"vanished",)"
            R"("since":"2026-11-27T07:38:10.500Z","detail":"interface eth9: No such device"},)"
            R"({"line":"bare","interface":null,"from":"none","state":"none","detail":"set it"}])");
  const auto block = out.substr(out.find("\n\n") + 2);
  CHECK(block ==
        "LINE  IFACE  RX        TX      UTIL\n"
        "lo    lo     12.3Mbps  950bps  1.2%\n"
        "gone  eth9   -         -       -     vanished since 07:38:10\n"
        "bare  -      -         -       -     none: set it\n");
}

}  // namespace
}  // namespace linewatch

namespace linewatch {

TEST_CASE("status table: llm series add a TTFT column, other agents print none") {
  CHECK(table("").find("TTFT") == std::string::npos);
  Poco::JSON::Parser parser;
  auto doc =
      parser
          .parse(R"({"agent":"a","now":"2026-11-27T07:40:01.123Z","window_s":300,"series":[)"
                 R"({"line":"lo","target":"t","kind":"tcp","latest":{"ok":true,"rtt_ms":0.5},)"
                 R"("window":{"rounds":3,"loss":0,"availability":1}},)"
                 R"({"line":"lo","target":"openai","kind":"llm","latest":{"ok":true,)"
                 R"("rtt_ms":412.5,"ttft_ms":412.5,"total_ms":530},)"
                 R"("window":{"rounds":2,"loss":0,"availability":1,"rtt_median_ms":400}}]})")
          .extract<Poco::JSON::Object::Ptr>();
  std::ostringstream out;
  print_status_table(*doc, out);
  const std::string text = out.str();
  const std::string rows = text.substr(text.find('\n') + 1);
  CHECK(rows ==
        "LINE  TARGET  KIND  STATE  LAST    TTFT   MEDIAN  P95  JITTER  LOSS  AVAIL   ROUNDS  "
        "LAST FAILURE\n"
        "lo    t       tcp   up     0.50ms  -      -       -    -       0.0%  100.0%  3       -\n"
        "lo    openai  llm   up     412ms   412ms  400ms   -    -       0.0%  100.0%  2       -\n");
}

}  // namespace linewatch
