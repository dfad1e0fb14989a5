#include "core/probe_result.h"

#include <doctest/doctest.h>

using namespace linewatch;
using namespace std::chrono_literals;

TEST_CASE("names round-trip for every kind and reason") {
  for (auto k : kAllProbeKinds) CHECK(probe_kind_from_string(to_string(k)) == k);
  for (int i = 0; i <= static_cast<int>(kLastReason); ++i) {
    auto r = static_cast<Reason>(i);
    CHECK(reason_from_string(to_string(r)) == r);
  }
  CHECK_FALSE(probe_kind_from_string("udp").has_value());
}

TEST_CASE("summarise_echoes computes SmokePing-style round figures") {
  ProbeResult r;
  r.rtts = {10ms, std::nullopt, 30ms, 20ms, 40ms};
  summarise_echoes(r);
  CHECK(r.sent == 5);
  CHECK(r.received == 4);
  CHECK(r.loss() == doctest::Approx(0.2));
  CHECK(*r.rtt_min == 10ms);
  CHECK(*r.rtt_max == 40ms);
  CHECK(*r.rtt_median == 25ms);  // mean of the middle two
  CHECK(*r.rtt_avg == 25ms);
  CHECK(to_ms(*r.rtt_stddev) == doctest::Approx(11.1803).epsilon(0.001));
  CHECK(*r.rtt == 25ms);
}

TEST_CASE("summarise_echoes with every echo lost leaves figures empty") {
  ProbeResult r;
  r.rtts = {std::nullopt, std::nullopt};
  summarise_echoes(r);
  CHECK(r.sent == 2);
  CHECK(r.received == 0);
  CHECK(r.loss() == 1.0);
  CHECK_FALSE(r.rtt.has_value());
  CHECK_FALSE(r.rtt_median.has_value());
}

TEST_CASE("protocol is a reason of its own, after the stored codes 0 to 9") {
  CHECK(to_string(Reason::protocol) == "protocol");
  CHECK(reason_from_string("protocol") == Reason::protocol);
  // Rows already stored hold these numbers; a new reason must not shift them.
  CHECK(static_cast<int>(Reason::internal) == 9);
  CHECK(static_cast<int>(Reason::protocol) == 10);
}

TEST_CASE("printable_detail keeps printable UTF-8 and escapes the rest") {
  CHECK(printable_detail("status line \"HTTP/1.1 200 ok\"") == "status line \"HTTP/1.1 200 ok\"");
  CHECK(printable_detail("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80") ==
        "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80");
  CHECK(printable_detail(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(printable_detail("\x1b[31m\t\r\n\x7f") == "\\x1b[31m\\x09\\x0d\\x0a\\x7f");
  CHECK(printable_detail("\xff\xfe") == "\\xff\\xfe");
  CHECK(printable_detail("\xc2\x85") == "\\xc2\\x85");                    // C1 control NEL
  CHECK(printable_detail("\xc0\xaf") == "\\xc0\\xaf");                    // overlong '/'
  CHECK(printable_detail("\xed\xa0\x80") == "\\xed\\xa0\\x80");           // a UTF-16 surrogate
  CHECK(printable_detail("\xe4\xb8") == "\\xe4\\xb8");                    // cut short
  CHECK(printable_detail("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // beyond U+10FFFF
}

TEST_CASE("printable_detail bounds the length at a character boundary") {
  CHECK(printable_detail(std::string(200, 'x')) == std::string(200, 'x'));
  CHECK(printable_detail(std::string(201, 'x')) == std::string(197, 'x') + "...");
  CHECK(printable_detail(std::string(100000, '\0')).size() <= kMaxDetailBytes);
  // 65 three-byte characters and "..." fit in 200 bytes; the 66th would not.
  std::string han;
  for (int i = 0; i < 80; ++i) han += "\xe4\xb8\xad";
  const std::string cut = printable_detail(han);
  CHECK(cut.size() <= kMaxDetailBytes);
  CHECK(cut == han.substr(0, 65 * 3) + "...");
  CHECK(printable_detail("abcdef", 5) == "ab...");
}

TEST_CASE("the llm kind and reasons come after the stored codes") {
  CHECK(static_cast<int>(ProbeKind::llm) == 3);
  CHECK(probe_kind_from_string("llm") == ProbeKind::llm);
  // Appended after protocol (10): stored rows keep their meaning.
  const char* names[] = {"auth",         "rate_limited",  "server_error",
                         "bad_response", "model_missing", "stream_stall"};
  for (int i = 0; i < 6; ++i) {
    CAPTURE(names[i]);
    CHECK(reason_from_string(names[i]) == static_cast<Reason>(11 + i));
    CHECK(to_string(static_cast<Reason>(11 + i)) == names[i]);
  }
  CHECK(kLastReason == Reason::stream_stall);
}

TEST_CASE("network reasons are the path's, API answers and local problems are not") {
  for (Reason r : {Reason::timeout, Reason::refused, Reason::unreachable, Reason::dns, Reason::tls,
                   Reason::stream_stall})
    CHECK_MESSAGE(is_network_reason(r), to_string(r));
  for (Reason r : {Reason::ok, Reason::http_status, Reason::body_mismatch, Reason::bind,
                   Reason::internal, Reason::protocol, Reason::auth, Reason::rate_limited,
                   Reason::server_error, Reason::bad_response, Reason::model_missing})
    CHECK_FALSE_MESSAGE(is_network_reason(r), to_string(r));
}

TEST_CASE("a stream stall counts against the line only before any body byte") {
  ProbeResult r;
  r.kind = ProbeKind::llm;
  r.reason = Reason::stream_stall;
  r.llm = LlmFigures{};
  CHECK(is_network_failure(r));
  r.llm->stream_bytes = 1;
  CHECK_FALSE(is_network_failure(r));
  r.reason = Reason::timeout;  // a timeout stays the path's whatever arrived
  CHECK(is_network_failure(r));
  for (Reason api : {Reason::auth, Reason::rate_limited, Reason::server_error, Reason::bad_response,
                     Reason::model_missing}) {
    r.reason = api;
    r.llm->stream_bytes = 0;
    CHECK_FALSE_MESSAGE(is_network_failure(r), to_string(api));
  }
  r.ok = true;
  r.reason = Reason::ok;
  CHECK_FALSE(is_network_failure(r));
}

TEST_CASE("llm flavour and mode names round-trip") {
  for (LlmFlavour f : {LlmFlavour::openai, LlmFlavour::anthropic, LlmFlavour::gemini})
    CHECK(llm_flavour_from_string(to_string(f)) == f);
  for (LlmMode m : {LlmMode::models, LlmMode::completion})
    CHECK(llm_mode_from_string(to_string(m)) == m);
  CHECK(to_string(LlmFlavour::anthropic) == "anthropic");
  CHECK(to_string(LlmMode::completion) == "completion");
  CHECK_FALSE(llm_flavour_from_string("OpenAI").has_value());
  CHECK_FALSE(llm_mode_from_string("").has_value());
}
