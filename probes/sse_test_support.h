// Test-only support for the SSE parser's and the stream decoder's tests: the
// captured-style streams of tests/testdata/sse/ with what each must yield,
// and ways to feed a stream in pieces (every 2-way and 3-way split, byte by
// byte, random splits) to prove that where reads split a stream changes
// nothing.
//
// Thread-safety: plain functions and constant data.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/llm_options.h"
#include "probes/sse.h"

namespace linewatch::test {

inline std::string read_sse_fixture(std::string_view file) {
  const std::string path =
      std::string(LINEWATCH_SOURCE_DIR) + "/tests/testdata/sse/" + std::string(file);
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// What feeding one stream produced.
struct FedStream {
  std::vector<SseEvent> events;
  std::string error;  // the first failed feed's message, "" when none failed
  bool finished = false;
  std::uint64_t comments = 0;
  std::uint64_t bytes = 0;
};

// Feeds `stream` to a parser with `cap` in pieces that end at `cuts`
// (ascending offsets; a repeated or end offset makes an empty feed).
inline FedStream feed_pieces(std::string_view stream, const std::vector<std::size_t>& cuts,
                             std::size_t cap) {
  SseParser parser(cap);
  FedStream fed;
  std::size_t at = 0;
  auto feed = [&](std::size_t end) {
    const Status s = parser.feed(stream.substr(at, end - at), fed.events);
    if (!s.ok() && fed.error.empty()) fed.error = s.error().message;
    at = end;
  };
  for (std::size_t cut : cuts) feed(cut);
  feed(stream.size());
  fed.finished = parser.finish();
  fed.comments = parser.comments();
  fed.bytes = parser.bytes();
  return fed;
}

inline bool same_events(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id) return false;
  return true;
}

inline bool same_fed(const FedStream& a, const FedStream& b) {
  return same_events(a.events, b.events) && a.error == b.error && a.finished == b.finished &&
         a.comments == b.comments && a.bytes == b.bytes;
}

inline std::string describe_cuts(const std::vector<std::size_t>& cuts) {
  std::ostringstream out;
  out << "cuts at";
  for (std::size_t c : cuts) out << ' ' << c;
  if (cuts.empty()) out << " none";
  return out.str();
}

// Calls f(cuts) for: no cut; every 2-way split (cut 0..size, so empty feeds
// too); when `three_way`, every 3-way split; and byte by byte.
template <class F>
void for_each_split(std::size_t size, bool three_way, F&& f) {
  f(std::vector<std::size_t>{});
  for (std::size_t i = 0; i <= size; ++i) f(std::vector<std::size_t>{i});
  if (three_way)
    for (std::size_t i = 0; i <= size; ++i)
      for (std::size_t j = i; j <= size; ++j) f(std::vector<std::size_t>{i, j});
  std::vector<std::size_t> bytes;
  for (std::size_t i = 1; i < size; ++i) bytes.push_back(i);
  f(bytes);
}

// One event a fixture must yield.
struct WantEvent {
  std::string_view event;
  std::string_view data;
  std::string_view id;
};

// The stream decoder's outcome over a fixture's events.
struct WantDecode {
  LlmFlavour flavour;
  std::string_view steps;  // one letter per event: n(othing) c(ontent) d(one) e(rror) b(ad)
  int tokens;
  bool done;
  std::string_view error_type;  // of the first error step
  std::string_view detail;      // of the first error or bad step
};

// A fixture and everything feeding it must produce, however it is split.
struct SseFixture {
  std::string_view file;
  std::vector<WantEvent> events;
  bool finished = true;  // SseParser::finish() at the end
  std::uint64_t comments = 0;
  std::size_t cap = 256 * 1024;
  bool fails = false;                // a feed fails (over the cap)
  std::optional<WantDecode> decode;  // for fixtures of one flavour
};

// OpenAI chat.completion.chunk events, as api.openai.com streams them.
inline constexpr std::string_view kOaHead =
    R"({"id":"chatcmpl-AZ3q1xYkTq9b7LwJ2mN4pR8s","object":"chat.completion.chunk",)"
    R"("created":1732962117,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1",)";
inline const std::string kOaRole =
    std::string(kOaHead) +
    R"("choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},)"
    R"("logprobs":null,"finish_reason":null}],"usage":null})";
inline const std::string kOaOk =
    std::string(kOaHead) + R"("choices":[{"index":0,"delta":{"content":"OK"},"logprobs":null,)"
                           R"("finish_reason":null}],"usage":null})";
inline const std::string kOaDot =
    std::string(kOaHead) + R"("choices":[{"index":0,"delta":{"content":"."},"logprobs":null,)"
                           R"("finish_reason":null}],"usage":null})";
inline const std::string kOaStop =
    std::string(kOaHead) +
    R"("choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],)"
    R"("usage":null})";
inline const std::string kOaUsage =
    std::string(kOaHead) +
    R"("choices":[],"usage":{"prompt_tokens":14,"completion_tokens":2,"total_tokens":16,)"
    R"("prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},)"
    R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,)"
    R"("accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}})";
inline constexpr std::string_view kOaError =
    R"({"error":{"message":"The server had an error while processing your request. )"
    R"(Sorry about that!","type":"server_error","param":null,"code":null}})";

// Shorter chunks, as OpenAI-compatible gateways send them.
inline constexpr std::string_view kGwRole =
    R"({"id":"gen-1","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]})";
inline constexpr std::string_view kGwHi =
    R"({"id":"gen-1","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]})";

// Anthropic Messages stream events.
inline constexpr std::string_view kAnStart =
    R"({"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message",)"
    R"("role":"assistant","content":[],"model":"claude-3-5-haiku-20241022","stop_reason":null,)"
    R"("stop_sequence":null,"usage":{"input_tokens":14,"cache_creation_input_tokens":0,)"
    R"("cache_read_input_tokens":0,"output_tokens":1}}})";
inline constexpr std::string_view kAnBlockStart =
    R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})";
inline constexpr std::string_view kAnPing = R"({"type": "ping"})";
inline constexpr std::string_view kAnOk =
    R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"OK"}})";
inline constexpr std::string_view kAnDot =
    R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"."}})";
inline constexpr std::string_view kAnBlockStop = R"({"type":"content_block_stop","index":0})";
inline constexpr std::string_view kAnDelta =
    R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
    R"("usage":{"output_tokens":4}})";
inline constexpr std::string_view kAnStop = R"({"type":"message_stop"})";

// Gemini streamGenerateContent?alt=sse chunks.
inline constexpr std::string_view kGeO =
    R"({"candidates": [{"content": {"parts": [{"text": "O"}],"role": "model"},"index": 0}],)"
    R"("usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9},)"
    R"("modelVersion": "gemini-1.5-flash"})";
inline constexpr std::string_view kGeKDot =
    R"({"candidates": [{"content": {"parts": [{"text": "K"},{"text": "."}],"role": "model"},)"
    R"("index": 0}],"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9},)"
    R"("modelVersion": "gemini-1.5-flash"})";
inline constexpr std::string_view kGeStop =
    R"({"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},)"
    R"("finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 9,)"
    R"("candidatesTokenCount": 3,"totalTokenCount": 12},"modelVersion": "gemini-1.5-flash"})";
inline constexpr std::string_view kGeOne =
    R"({"candidates": [{"content": {"parts": [{"text": "OK"}],"role": "model"},)"
    R"("finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 9,)"
    R"("candidatesTokenCount": 1,"totalTokenCount": 10},"modelVersion": "gemini-1.5-flash"})";

inline const std::vector<SseFixture>& sse_fixtures() {
  using F = LlmFlavour;
  static const std::vector<SseFixture> fixtures = [] {
    std::vector<SseFixture> v;
    auto add = [&](std::string_view file, std::vector<WantEvent> events) -> SseFixture& {
      SseFixture f;
      f.file = file;
      f.events = std::move(events);
      v.push_back(std::move(f));
      return v.back();
    };
    add("openai_stream.sse", {{"", kOaRole, ""},
                              {"", kOaOk, ""},
                              {"", kOaDot, ""},
                              {"", kOaStop, ""},
                              {"", kOaUsage, ""},
                              {"", "[DONE]", ""}})
        .decode = WantDecode{F::openai, "nccnnd", 2, true, "", ""};
    add("openai_no_done.sse", {{"", kOaRole, ""}, {"", kOaOk, ""}, {"", kOaStop, ""}}).decode =
        WantDecode{F::openai, "ncn", 1, false, "", ""};
    {  // cut inside the third event: it is never dispatched
      auto& f = add("openai_cut.sse", {{"", kOaRole, ""}, {"", kOaOk, ""}});
      f.finished = false;
      f.decode = WantDecode{F::openai, "nc", 1, false, "", ""};
    }
    add("openai_error.sse", {{"", kOaRole, ""}, {"", kOaOk, ""}, {"", kOaError, ""}}).decode =
        WantDecode{F::openai,
                   "nce",
                   1,
                   false,
                   "server_error",
                   "The server had an error while processing your request. Sorry about that!"};
    {
      auto& f = add("keepalive.sse", {{"", kGwRole, ""}, {"", kGwHi, ""}, {"", "[DONE]", ""}});
      f.comments = 4;
      f.decode = WantDecode{F::openai, "ncd", 1, true, "", ""};
    }
    add("cr_only.sse", {{"", kGwRole, ""}, {"", kGwHi, ""}, {"", "[DONE]", ""}}).decode =
        WantDecode{F::openai, "ncd", 1, true, "", ""};
    add("bom.sse", {{"", kGwHi, ""}, {"", "[DONE]", ""}}).decode =
        WantDecode{F::openai, "cd", 1, true, "", ""};
    add("bad_json.sse", {{"", kGwRole, ""},
                         {"", R"({"id":"gen-1","choices":[{"index":0,"delta":{"content":"Hi")", ""},
                         {"", "not json at all", ""},
                         {"", kGwHi, ""},
                         {"", "[DONE]", ""}})
        .decode = WantDecode{
        F::openai, "nbbcd",
        1,         true,
        "",        R"(not JSON: {"id":"gen-1","choices":[{"index":0,"delta":{"content":"Hi")"};
    add("anthropic_stream.sse", {{"message_start", kAnStart, ""},
                                 {"content_block_start", kAnBlockStart, ""},
                                 {"ping", kAnPing, ""},
                                 {"content_block_delta", kAnOk, ""},
                                 {"content_block_delta", kAnDot, ""},
                                 {"content_block_stop", kAnBlockStop, ""},
                                 {"message_delta", kAnDelta, ""},
                                 {"message_stop", kAnStop, ""}})
        .decode = WantDecode{F::anthropic, "nnnccnnd", 2, true, "", ""};
    add("anthropic_error.sse",
        {{"message_start", kAnStart, ""},
         {"content_block_start", kAnBlockStart, ""},
         {"ping", kAnPing, ""},
         {"error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
          ""}})
        .decode = WantDecode{F::anthropic, "nnne", 0, false, "overloaded_error", "Overloaded"};
    add("crlf.sse",
        {{"message_start", R"({"type":"message_start","message":{"id":"msg_1","content":[]}})", ""},
         {"content_block_delta",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})",
          ""},
         {"message_stop", kAnStop, ""}})
        .decode = WantDecode{F::anthropic, "ncd", 1, true, "", ""};
    add("gemini_stream.sse", {{"", kGeO, ""}, {"", kGeKDot, ""}, {"", kGeStop, ""}}).decode =
        WantDecode{F::gemini, "ccd", 3, true, "", ""};
    add("gemini_one_chunk.sse", {{"", kGeOne, ""}}).decode =
        WantDecode{F::gemini, "c", 1, true, "", ""};
    add("gemini_error.sse",
        {{"", kGeO, ""},
         {"",
          R"({"error": {"code": 503,"message": "The model is overloaded. Please try again later.",)"
          R"("status": "UNAVAILABLE"}})",
          ""}})
        .decode =
        WantDecode{F::gemini, "ce",          1,
                   false,     "UNAVAILABLE", "The model is overloaded. Please try again later."};
    {  // four data lines of 80 bytes join to 323 > 256: the event fails, not a line
      auto& f = add("oversize_event.sse", {{"", R"({"short":1})", ""}});
      f.finished = false;
      f.cap = 256;
      f.fails = true;
    }
    {
      auto& f = add("oversize_line.sse", {{"first", "a", ""}});
      f.finished = false;
      f.cap = 256;
      f.fails = true;
    }
    add("fields.sse", {{"custom", "no-space\n two spaces\n\nlast", "7"},
                       {"", "after-empty-id", ""},
                       {"", "a: b: c\nh\u00e9llo \u4e2d\u6587 \U0001F600", ""}})
        .comments = 1;
    return v;
  }();
  return fixtures;
}

// Up to 40 cuts at random offsets of a stream of `size` bytes, ascending
// (repeats and the ends allowed: empty reads happen too).
inline std::vector<std::size_t> random_cuts(std::mt19937& random, std::size_t size) {
  std::uniform_int_distribution<std::size_t> count(1, 40), at(0, size);
  std::vector<std::size_t> cuts(count(random));
  for (auto& c : cuts) c = at(random);
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

// Random splits per fixture; the seed is fixed so that a failure replays.
inline constexpr int kRandomSplits = 200;
inline constexpr std::mt19937::result_type kRandomSeed = 20261130;

// Streams up to this size are also fed in every 3-way split.
inline constexpr std::size_t kThreeWayMax = 700;

}  // namespace linewatch::test
