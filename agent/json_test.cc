// The JSON of a result whose detail came from a hostile server: it must stay
// valid JSON (valid UTF-8) for the API and `probe --json`.
#include "agent/json.h"

#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

#include <sstream>

#include "core/fake_clock.h"
#include "probes/http_test_support.h"
#include "probes/probe.h"

namespace linewatch {
namespace {

// True when `s` is well-formed UTF-8 (RFC 8259 requires it of JSON text).
bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80                 ? 1
                          : c >= 0xc2 && c <= 0xdf ? 2
                          : c >= 0xe0 && c <= 0xef ? 3
                          : c >= 0xf0 && c <= 0xf4 ? 4
                                                   : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += n;
  }
  return true;
}

TEST_CASE("json: a garbage status line from the server still gives valid JSON") {
  test::TestServer server(
      [](Poco::Net::StreamSocket& s, const std::string&, const std::atomic<bool>&) {
        test::send_text(s, std::string("HTTP/1.1 2\0\x1b[2J\xff\xfe \"q\" \\\r\n\r\n", 27));
      });
  LineSpec line;
  line.id = "line-a";
  ProbeSpec spec{};
  spec.kind = ProbeKind::http;
  spec.timing.timeout = std::chrono::seconds(2);
  spec.http->url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  SystemClock clock;
  const ProbeResult r = run_probe(ProbeRequest{line, "web", spec, clock});
  REQUIRE_FALSE(r.ok);

  StatusBoard board(clock, std::chrono::minutes(5));
  board.record(r);
  const std::vector<SeriesSummary> series = board.snapshot();
  REQUIRE(series.size() == 1);
  for (const Poco::JSON::Object::Ptr& o : {result_to_json(r), summary_to_json(series[0])}) {
    std::ostringstream text;
    o->stringify(text);
    CAPTURE(text.str());
    CHECK(valid_utf8(text.str()));
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var back;
    CHECK_NOTHROW(back = parser.parse(text.str()));
  }
  std::ostringstream text;
  result_to_json(r)->stringify(text);
  const auto parsed = Poco::JSON::Parser().parse(text.str()).extract<Poco::JSON::Object::Ptr>();
  CHECK(parsed->getValue<std::string>("detail") == r.detail);
}

}  // namespace
}  // namespace linewatch

namespace linewatch {

TEST_CASE("json: a capped window says so, with how far back it reaches") {
  SeriesSummary s;
  s.key = {"line-a", "web", ProbeKind::icmp};
  auto window = [](const SeriesSummary& summary) {
    return summary_to_json(summary)->getObject("window");
  };
  CHECK_FALSE(window(s)->getValue<bool>("capped"));
  CHECK_FALSE(window(s)->has("covered_ms"));
  s.capped = true;
  s.covered = std::chrono::milliseconds(2500);
  CHECK(window(s)->getValue<bool>("capped"));
  CHECK(window(s)->getValue<double>("covered_ms") == doctest::Approx(2500));
}

}  // namespace linewatch

namespace linewatch {

TEST_CASE("json: a line's bandwidth has rates only when measuring, and since unless none") {
  LineBandwidth l;
  l.line = "cn2";
  auto none = line_bandwidth_to_json(l);
  CHECK(none->isNull("interface"));
  CHECK(none->getValue<std::string>("state") == "none");
  CHECK_FALSE(none->has("since"));
  CHECK_FALSE(none->has("rx_bps"));

  l.interface = "eth1";
  l.from = CountersFrom::counters;
  l.capacity_bps = 1000;
  l.reading.state = CounterState::measuring;
  l.reading.since_wall = WallTime(std::chrono::milliseconds(1500));
  l.reading.interval = std::chrono::seconds(1);
  l.reading.rx_bps = 400;
  l.reading.tx_bps = 600;
  l.reading.utilisation = 0.6;
  auto measuring = line_bandwidth_to_json(l);
  CHECK(measuring->getValue<std::string>("interface") == "eth1");
  CHECK(measuring->getValue<std::string>("from") == "counters");
  CHECK(measuring->getValue<std::string>("since") == "1970-01-01T00:00:01.500Z");
  CHECK(measuring->getValue<double>("rx_bps") == 400);
  CHECK(measuring->getValue<double>("tx_bps") == 600);
  CHECK(measuring->getValue<double>("utilisation") == doctest::Approx(0.6));
  CHECK(measuring->getValue<std::uint64_t>("capacity_bps") == 1000);
  CHECK_FALSE(measuring->has("restart"));

  l.reading = BandwidthReading{};
  l.reading.state = CounterState::baseline;
  l.reading.restart = CounterRestart::ifindex;
  auto baseline = line_bandwidth_to_json(l);
  CHECK(baseline->getValue<std::string>("restart") == "ifindex");
  CHECK_FALSE(baseline->has("utilisation"));
}

}  // namespace linewatch

namespace linewatch {

TEST_CASE("json: an llm round shows its TTFT and figures, in latest and the window") {
  ProbeResult r;
  r.line = "cn2";
  r.target = "openai";
  r.kind = ProbeKind::llm;
  r.ok = true;
  r.reason = Reason::ok;
  r.http_status = 200;
  r.phases.connect = std::chrono::milliseconds(40);
  r.llm = LlmFigures{};
  r.llm->mode = LlmMode::completion;
  r.llm->ttft = std::chrono::microseconds(412'500);
  r.llm->total = std::chrono::milliseconds(530);
  r.llm->tokens = 5;
  r.llm->stream_complete = true;
  r.llm->stream_bytes = 987;
  r.rtt = r.llm->ttft;
  auto o = result_to_json(r);
  CHECK(o->getValue<double>("ttft_ms") == doctest::Approx(412.5));
  CHECK(o->getValue<double>("total_ms") == doctest::Approx(530));
  CHECK(o->getValue<std::string>("llm_mode") == "completion");
  CHECK(o->getValue<int>("tokens") == 5);
  CHECK(o->getValue<bool>("stream_complete"));
  CHECK(o->getValue<int>("http_status") == 200);
  CHECK(o->getValue<std::uint64_t>("stream_bytes") == 987);
  CHECK(o->getObject("phases")->getValue<double>("connect_ms") == doctest::Approx(40));
  CHECK_FALSE(o->has("model_listed"));
  CHECK_FALSE(o->has("retry_after_ms"));

  // Through the status board, as /api/v1/status serves it.
  FakeClock clock;
  StatusBoard board(clock, std::chrono::minutes(5));
  board.record(r);
  std::ostringstream text;
  summary_to_json(board.snapshot().at(0))->stringify(text);
  const auto doc = Poco::JSON::Parser().parse(text.str()).extract<Poco::JSON::Object::Ptr>();
  CHECK(doc->getValue<std::string>("kind") == "llm");
  CHECK(doc->getObject("latest")->getValue<double>("ttft_ms") == doctest::Approx(412.5));
  // The window's RTT figures of a completion series are its TTFTs.
  CHECK(doc->getObject("window")->getValue<double>("rtt_median_ms") == doctest::Approx(412.5));

  r.ok = false;
  r.reason = Reason::rate_limited;
  r.http_status = 429;
  r.llm = LlmFigures{};
  r.llm->retry_after = std::chrono::seconds(7);
  r.llm->model_listed = false;
  r.rtt.reset();
  auto limited = result_to_json(r);
  CHECK(limited->getValue<std::string>("llm_mode") == "models");
  CHECK(limited->getValue<double>("retry_after_ms") == doctest::Approx(7000));
  CHECK_FALSE(limited->getValue<bool>("model_listed"));
  CHECK_FALSE(limited->has("ttft_ms"));
  CHECK_FALSE(limited->has("tokens"));
  CHECK(limited->getValue<std::string>("reason") == "rate_limited");
}

}  // namespace linewatch
