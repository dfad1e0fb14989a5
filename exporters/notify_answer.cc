// judge_notify_answer(): what a receiver's answer means for the outbox, with
// the chat robots' own error codes.
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <charconv>

#include "exporters/notify.h"
#include "exporters/plan_receiver.h"

namespace linewatch {

namespace {

using Kind = Delivery::Kind;

constexpr std::size_t kTextLimit = 300;  // a receiver's words in a detail
constexpr Duration kRetryAfterCap = std::chrono::hours(24);

// A robot's documented code and what it means for another attempt.
struct ChatCode {
  NotifierKind kind;
  long long code;
  Kind verdict;
  std::string_view reason;
  std::string_view hint;
};

constexpr ChatCode kChatCodes[] = {
    {NotifierKind::wecom, -1, Kind::transient, "chat_busy", "WeCom is busy"},
    {NotifierKind::wecom, 45009, Kind::transient, "chat_rate_limit",
     "rate limited: a robot sends at most 20 messages a minute"},
    {NotifierKind::wecom, 45033, Kind::transient, "chat_rate_limit", "too many calls at once"},
    {NotifierKind::wecom, 93000, Kind::permanent, "chat_rejected",
     "the webhook key is not valid: check the robot's URL"},
    {NotifierKind::dingtalk, -1, Kind::transient, "chat_busy", "DingTalk is busy"},
    {NotifierKind::dingtalk, 130101, Kind::transient, "chat_rate_limit",
     "rate limited: a robot sends at most 20 messages a minute, then pauses 10 minutes"},
    {NotifierKind::dingtalk, 410100, Kind::transient, "chat_rate_limit", "rate limited"},
    {NotifierKind::dingtalk, 310000, Kind::permanent, "chat_rejected",
     "the robot's security settings refused it: keyword, signature (secret or clock) or IP "
     "allow-list"},
    {NotifierKind::dingtalk, 400101, Kind::permanent, "chat_rejected",
     "the access_token is not valid: check the robot's URL"},
    {NotifierKind::dingtalk, 400102, Kind::permanent, "chat_rejected", "the robot is disabled"},
    {NotifierKind::feishu, 11232, Kind::transient, "chat_rate_limit",
     "rate limited: a robot sends at most 100 messages a minute, 5 a second"},
    {NotifierKind::feishu, 19021, Kind::permanent, "chat_rejected",
     "signature refused: check the secret and the agent's clock"},
    {NotifierKind::feishu, 19022, Kind::permanent, "chat_rejected",
     "the agent's address is not on the robot's IP allow-list"},
    {NotifierKind::feishu, 19024, Kind::permanent, "chat_rejected",
     "the message holds none of the robot's keywords"},
    {NotifierKind::feishu, 9499, Kind::permanent, "chat_rejected", "bad request"},
};

bool is_chat(NotifierKind k) {
  return k == NotifierKind::wecom || k == NotifierKind::dingtalk || k == NotifierKind::feishu;
}

struct ChatAnswer {
  std::string code_name;  // "errcode", "code", "StatusCode"
  long long code = 0;
  std::string message;
};

// The robot's code and message, when the body is a JSON object that has one.
std::optional<ChatAnswer> chat_answer(NotifierKind kind, std::string_view body) {
  try {
    Poco::JSON::Parser parser;
    const auto obj = parser.parse(std::string(body)).extract<Poco::JSON::Object::Ptr>();
    const std::vector<std::pair<std::string, std::string>> fields =
        kind == NotifierKind::feishu
            ? std::vector<std::pair<std::string, std::string>>{{"code", "msg"},
                                                               {"StatusCode", "StatusMessage"}}
            : std::vector<std::pair<std::string, std::string>>{{"errcode", "errmsg"}};
    for (const auto& [code, message] : fields) {
      if (!obj->has(code) || !obj->get(code).isInteger()) continue;
      ChatAnswer a{code, obj->get(code).convert<Poco::Int64>(), ""};
      if (obj->has(message) && obj->get(message).isString())
        a.message = obj->get(message).extract<std::string>();
      return a;
    }
  } catch (const std::exception&) {  // Poco::Exception too: not JSON, or not an object
  }
  return std::nullopt;
}

const ChatCode* known(NotifierKind kind, long long code) {
  for (const ChatCode& c : kChatCodes)
    if (c.kind == kind && c.code == code) return &c;
  return nullptr;
}

Delivery verdict(Kind kind, std::string_view reason, std::string detail) {
  Delivery d;
  d.kind = kind;
  d.reason = std::string(reason);
  d.detail = std::move(detail);
  return d;
}

// A robot answered with its own code (`a`) under HTTP `status`.
Delivery chat_verdict(NotifierKind kind, int status, const ChatAnswer& a) {
  std::string text =
      "HTTP " + std::to_string(status) + " " + a.code_name + " " + std::to_string(a.code);
  if (!a.message.empty()) text += ": " + excerpt(a.message, kTextLimit);
  if (a.code == 0) return verdict(Kind::ok, "ok", text);
  if (const ChatCode* c = known(kind, a.code))
    return verdict(c->verdict, c->reason, text + " (" + std::string(c->hint) + ")");
  return verdict(Kind::permanent, "chat_rejected", text);
}

Delivery status_verdict(int status, std::string_view body) {
  std::string text = "HTTP " + std::to_string(status);
  if (std::string words = excerpt(body, kTextLimit); !words.empty()) text += ": " + words;
  if (status >= 200 && status < 300) return verdict(Kind::ok, "ok", text);
  if (status == 408 || status == 429) return verdict(Kind::transient, "http_4xx", text);
  if (status >= 400 && status < 500) return verdict(Kind::permanent, "http_4xx", text);
  if (status >= 500 && status < 600) return verdict(Kind::transient, "http_5xx", text);
  if (status >= 300 && status < 400)
    return verdict(Kind::permanent, "http_3xx", text + " (redirects are not followed)");
  return verdict(Kind::transient, "http_status", text);
}

}  // namespace

Delivery judge_notify_answer(NotifierKind kind, int status, std::string_view body,
                             std::optional<std::string_view> retry_after, WallTime now) {
  Delivery d;
  const bool two_xx = status >= 200 && status < 300;
  const std::optional<ChatAnswer> a = is_chat(kind) ? chat_answer(kind, body) : std::nullopt;
  if (a && (two_xx || (a->code != 0 && known(kind, a->code) &&
                       known(kind, a->code)->verdict == Kind::transient))) {
    d = chat_verdict(kind, status, *a);
  } else if (is_chat(kind) && two_xx) {
    d = verdict(Kind::transient, "chat_no_code",
                "HTTP " + std::to_string(status) +
                    " without the robot's error code: " + excerpt(body, kTextLimit));
  } else {
    d = status_verdict(status, body);
  }
  d.status = status;
  if (retry_after) d.retry_after = parse_notify_retry_after(*retry_after, now);
  return d;
}

std::optional<Duration> parse_notify_retry_after(std::string_view value, WallTime now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') {
    long long secs = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
    if (ec == std::errc::result_out_of_range) return kRetryAfterCap;
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    return std::min<Duration>(std::chrono::seconds(std::min<long long>(secs, 1LL << 32)),
                              kRetryAfterCap);
  }
  // The IMF-fixdate form senders must use, "Fri, 15 Jan 2027 08:01:00 GMT":
  // Poco's parser alone takes almost any text for a date.
  if (value.size() != 29 || !value.ends_with(" GMT")) return std::nullopt;
  Poco::DateTime when;
  int tzd = 0;
  if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::HTTP_FORMAT, std::string(value), when,
                                      tzd))
    return std::nullopt;
  const auto at = WallTime(std::chrono::microseconds(when.timestamp().epochMicroseconds()) -
                           std::chrono::seconds(tzd));
  if (at <= now) return Duration::zero();
  return std::min<Duration>(std::chrono::duration_cast<Duration>(at - now), kRetryAfterCap);
}

}  // namespace linewatch
