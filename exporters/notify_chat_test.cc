// format() for the WeCom, DingTalk and Feishu robots: exact bodies, the
// signatures against Python's hmac module, and each robot's length limit.
#include "exporters/notify_chat.h"

#include <Poco/URI.h>
#include <doctest/doctest.h>

#include "exporters/notify.h"
#include "exporters/notify_test_support.h"

using namespace linewatch;
using namespace linewatch::test;
using namespace std::chrono_literals;

namespace {

const std::string kWecomUrl =
    "http://127.0.0.1:9500/cgi-bin/webhook/send?key=693a91f6-7b2c-4bc4-97a0-0ec2af5aaa01";
const std::string kDingtalkUrl =
    "http://127.0.0.1:9501/robot/send?access_token="
    "1d2c3b4a5f6e7d8c9b0a1d2c3b4a5f6e7d8c9b0a1d2c3b4a5f6e7d8c9b0a1d2c";
const std::string kFeishuUrl =
    "http://127.0.0.1:9502/open-apis/bot/v2/hook/0f3c2a9e-1b2c-4d5e-8f90-a1b2c3d4e5f6";
const std::string kRobotSecret = "SEC0123456789abcdef0123456789abcdef";

HttpPost formatted(NotifierKind kind, const Notification& n, Secrets s,
                   WallTime now = sample_now()) {
  auto p = format(spec_of(kind), n, s, now);
  REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error().message));
  return *p;
}

// The notification with a summary of `count` copies of `piece`.
Notification with_summary(const std::string& piece, std::size_t count) {
  Notification n = sample_notification();
  n.summary.clear();
  for (std::size_t i = 0; i < count; ++i) n.summary += piece;
  return n;
}

// The single JSON string value of `field` in `body`, still escaped.
std::string raw_field(const std::string& body, const std::string& field) {
  const std::string open = "\"" + field + "\":\"";
  const auto at = body.find(open);
  if (at == std::string::npos) return "<absent>";
  std::size_t end = at + open.size();
  while (end < body.size() && body[end] != '"') end += body[end] == '\\' ? 2 : 1;
  return body.substr(at + open.size(), end - at - open.size());
}

// The bytes an escaped JSON string stands for (each "\x" pair is one; the
// robots' texts here hold no \u escapes).
std::size_t unescaped_size(const std::string& s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); i += s[i] == '\\' ? 2 : 1) ++n;
  return n;
}

bool valid_utf8_cut(const std::string& s) {
  return shell_output("printf '%s' " + sh_quote(s) +
                      " | python3 -c 'import sys; sys.stdin.buffer.read().decode(\"utf-8\"); "
                      "print(\"ok\")'") == "ok";
}

}  // namespace

TEST_CASE("notifier wecom sends the documented markdown message") {
  const HttpPost p = formatted(NotifierKind::wecom, sample_notification(), {kWecomUrl, ""});
  CHECK(p.url == kWecomUrl);
  CHECK(p.headers == std::vector<std::pair<std::string, std::string>>{
                         {"Content-Type", "application/json; charset=utf-8"}});
  CHECK(p.body ==
        R"({"msgtype":"markdown","markdown":{"content":"**[linewatch] <font color=\"warning\">)"
        R"(FIRING</font> api-slow** (critical)\n> value: 3412 ms (threshold 3000 ms)\n)"
        R"(> line: cn2-bj-1\n> target: openai\n> kind: llm\n> agent: bj-gw-1\n)"
        R"(> started: 2027-01-15 08:00:00 UTC\n\nopenai answers slowly over cn2-bj-1"}})");
  CHECK(p.redact == std::vector<std::string>{"693a91f6-7b2c-4bc4-97a0-0ec2af5aaa01"});
}

TEST_CASE("notifier wecom resolved message is green and says when it ended") {
  Notification n = sample_notification();
  n.status = NotifyStatus::resolved;
  n.ends_at = sample_start() + 95s;
  n.link = "http://127.0.0.1:9464/alerts";
  CHECK(formatted(NotifierKind::wecom, n, {kWecomUrl, ""}).body ==
        R"({"msgtype":"markdown","markdown":{"content":"**[linewatch] <font color=\"info\">)"
        R"(RESOLVED</font> api-slow** (critical)\n> value: 3412 ms (threshold 3000 ms)\n)"
        R"(> line: cn2-bj-1\n> target: openai\n> kind: llm\n> agent: bj-gw-1\n)"
        R"(> started: 2027-01-15 08:00:00 UTC\n> ended: 2027-01-15 08:01:35 UTC\n)"
        R"(\n[details](http://127.0.0.1:9464/alerts)\n)"
        R"(\nopenai answers slowly over cn2-bj-1"}})");
}

TEST_CASE("notifier wecom cuts multibyte content at 4096 bytes on a character boundary") {
  // 3-byte characters after 0, 1 or 2 ASCII bytes: one of the three puts a
  // plain cut inside a character.
  for (const std::string lead : {"", "a", "aa"}) {
    CAPTURE(lead.size());
    Notification n = with_summary("延迟", 2000);
    n.summary = lead + n.summary;
    const std::string content =
        raw_field(formatted(NotifierKind::wecom, n, {kWecomUrl, ""}).body, "content");
    CHECK(unescaped_size(content) <= notify::kWecomContentLimit);
    CHECK(unescaped_size(content) > notify::kWecomContentLimit - 3);  // at most a character short
    CHECK(content.ends_with("\xE2\x80\xA6"));
    CHECK(valid_utf8_cut(content));
    // Whatever the summary, the facts before it survive the cut.
    CHECK(content.find("> started: 2027-01-15 08:00:00 UTC") != std::string::npos);
  }
  // A summary that just fits is sent whole; one byte more and it ends in the ellipsis.
  const std::string head = raw_field(
      formatted(NotifierKind::wecom, with_summary("", 0), {kWecomUrl, ""}).body, "content");
  const std::size_t room = notify::kWecomContentLimit - unescaped_size(head) - 1;  // 1: "\n"
  const std::string whole = raw_field(
      formatted(NotifierKind::wecom, with_summary("a", room), {kWecomUrl, ""}).body, "content");
  CHECK(unescaped_size(whole) == notify::kWecomContentLimit);
  CHECK(whole.ends_with("aaa"));
  const std::string over = raw_field(
      formatted(NotifierKind::wecom, with_summary("a", room + 1), {kWecomUrl, ""}).body, "content");
  CHECK(unescaped_size(over) == notify::kWecomContentLimit);
  CHECK(over.ends_with("a\xE2\x80\xA6"));
}

TEST_CASE("notifier dingtalk sends markdown with title and a signed URL") {
  const HttpPost p =
      formatted(NotifierKind::dingtalk, sample_notification(), {kDingtalkUrl, kRobotSecret});
  const std::string sign = python_hmac_base64(kRobotSecret, "1800000030123\n" + kRobotSecret);
  std::string encoded;
  Poco::URI::encode(sign, "+/=", encoded);
  CHECK(p.url == kDingtalkUrl + "&timestamp=1800000030123&sign=" + encoded);
  CHECK(notify::dingtalk_sign(kRobotSecret, 1800000030123) == sign);
  CHECK(p.headers == std::vector<std::pair<std::string, std::string>>{
                         {"Content-Type", "application/json; charset=utf-8"}});
  CHECK(p.body == R"({"msgtype":"markdown","markdown":{"title":"[linewatch] FIRING api-slow",)"
                  R"("text":"#### [linewatch] FIRING api-slow (critical)\n\n)"
                  R"(- value: 3412 ms (threshold 3000 ms)\n- line: cn2-bj-1\n- target: openai\n)"
                  R"(- kind: llm\n- agent: bj-gw-1\n- started: 2027-01-15 08:00:00 UTC\n)"
                  R"(\nopenai answers slowly over cn2-bj-1"}})");
}

TEST_CASE("notifier dingtalk signature changes with the time and is absent without a secret") {
  const HttpPost later = formatted(NotifierKind::dingtalk, sample_notification(),
                                   {kDingtalkUrl, kRobotSecret}, sample_now() + 1ms);
  const std::string sign = python_hmac_base64(kRobotSecret, "1800000030124\n" + kRobotSecret);
  CHECK(later.url.find("&timestamp=1800000030124&sign=") != std::string::npos);
  CHECK(notify::dingtalk_sign(kRobotSecret, 1800000030124) == sign);
  CHECK(formatted(NotifierKind::dingtalk, sample_notification(), {kDingtalkUrl, ""}).url ==
        kDingtalkUrl);
  // A URL without a query gets one.
  CHECK(formatted(NotifierKind::dingtalk, sample_notification(),
                  {"http://127.0.0.1:9501/robot", kRobotSecret})
            .url.starts_with("http://127.0.0.1:9501/robot?timestamp=1800000030123&sign="));
}

TEST_CASE("notifier dingtalk cuts text at 20000 bytes on a character boundary") {
  const HttpPost p =
      formatted(NotifierKind::dingtalk, with_summary("丢包", 5000), {kDingtalkUrl, ""});
  const std::string text = raw_field(p.body, "text");
  CHECK(text.ends_with("\xE2\x80\xA6"));
  CHECK(valid_utf8_cut(text));
  CHECK(unescaped_size(text) <= notify::kDingtalkTextLimit);
  CHECK(unescaped_size(text) > notify::kDingtalkTextLimit - 3);  // at most a character short
  // The title is cut too, to its own bound.
  Notification n = sample_notification();
  n.rule = std::string(100, 'r');
  const std::string title =
      raw_field(formatted(NotifierKind::dingtalk, n, {kDingtalkUrl, ""}).body, "title");
  CHECK(title.size() == notify::kDingtalkTitleLimit);
  CHECK(title.ends_with("r\xE2\x80\xA6"));
}

TEST_CASE("notifier feishu sends a card with timestamp and sign in the body") {
  const HttpPost p =
      formatted(NotifierKind::feishu, sample_notification(), {kFeishuUrl, kRobotSecret});
  const std::string sign = python_hmac_base64("1800000030\n" + kRobotSecret, "");
  CHECK(notify::feishu_sign(kRobotSecret, 1800000030) == sign);
  CHECK(p.url == kFeishuUrl);
  CHECK(p.headers == std::vector<std::pair<std::string, std::string>>{
                         {"Content-Type", "application/json; charset=utf-8"}});
  CHECK(p.body ==
        R"({"timestamp":"1800000030","sign":")" + sign +
            R"(","msg_type":"interactive","card":{"config":{"wide_screen_mode":true},)"
            R"("header":{"template":"red","title":{"tag":"plain_text",)"
            R"j("content":"[linewatch] FIRING api-slow (critical)"}},)j"
            R"("elements":[{"tag":"div","text":{"tag":"lark_md","content":)"
            R"("**value:** 3412 ms (threshold 3000 ms)\n**line:** cn2-bj-1\n)"
            R"(**target:** openai\n**kind:** llm\n**agent:** bj-gw-1\n)"
            R"(**started:** 2027-01-15 08:00:00 UTC\n\nopenai answers slowly over cn2-bj-1"}}]}})");
  CHECK(p.redact == std::vector<std::string>{"0f3c2a9e-1b2c-4d5e-8f90-a1b2c3d4e5f6", kRobotSecret});
}

TEST_CASE("notifier feishu without a secret sends no signature and colours by status") {
  Notification n = sample_notification();
  n.severity = "warning";
  CHECK(formatted(NotifierKind::feishu, n, {kFeishuUrl, ""})
            .body.starts_with(R"({"msg_type":"interactive","card":{"config":{"wide_screen_mode":)"
                              R"(true},"header":{"template":"orange",)"));
  n.status = NotifyStatus::resolved;
  CHECK(formatted(NotifierKind::feishu, n, {kFeishuUrl, ""}).body.find(R"("template":"green")") !=
        std::string::npos);
  n.status = NotifyStatus::test;
  const std::string test = formatted(NotifierKind::feishu, n, {kFeishuUrl, ""}).body;
  CHECK(test.find(R"("template":"blue")") != std::string::npos);
  CHECK(test.find(R"j("content":"[linewatch] TEST api-slow (warning)")j") != std::string::npos);
  CHECK(test.find(R"(**sent:** 2027-01-15 08:00:00 UTC)") != std::string::npos);
}

TEST_CASE("notifier feishu keeps the whole body within 20000 bytes with multibyte text") {
  for (const std::string piece : {"线路", "\"q\"", "\x01"}) {  // escaping grows the last two
    CAPTURE(piece);
    const HttpPost p =
        formatted(NotifierKind::feishu, with_summary(piece, 9000), {kFeishuUrl, kRobotSecret});
    CHECK(p.body.size() <= notify::kFeishuBodyLimit);
    CHECK(p.body.size() > notify::kFeishuBodyLimit - 8);  // cut at most a character short
    CHECK(p.body.ends_with("\xE2\x80\xA6\"}}]}}"));
    CHECK(valid_utf8_cut(p.body));
  }
  // A body that fits is sent whole.
  const HttpPost small =
      formatted(NotifierKind::feishu, with_summary("线路", 100), {kFeishuUrl, ""});
  CHECK(small.body.find("\xE2\x80\xA6") == std::string::npos);
}
