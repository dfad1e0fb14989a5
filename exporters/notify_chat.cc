#include "exporters/notify_chat.h"

#include <utility>
#include <vector>

#include "exporters/notify_text.h"

namespace linewatch::notify {

namespace {

constexpr std::string_view kJsonUtf8 = "application/json; charset=utf-8";

// What every chat message shows, in the order it shows it.
struct ChatFacts {
  std::string status;  // "FIRING", "RESOLVED", "TEST"
  std::string title;   // "[linewatch] FIRING api-slow (critical)"
  std::vector<std::pair<std::string, std::string>> facts;  // ("line", "cn2-bj-1"), ...
  std::string link;
  std::string summary;
};

std::string status_word(NotifyStatus s) {
  switch (s) {
    case NotifyStatus::firing:
      return "FIRING";
    case NotifyStatus::resolved:
      return "RESOLVED";
    case NotifyStatus::test:
      return "TEST";
  }
  return "FIRING";
}

std::string value_fact(const Notification& n) {
  if (n.value_text.empty()) return n.threshold_text.empty() ? "" : "threshold " + n.threshold_text;
  if (n.threshold_text.empty()) return n.value_text;
  return n.value_text + " (threshold " + n.threshold_text + ")";
}

// Labels that say what the alert is about: line, target and kind first, then
// the rest by name. Rule and severity are in the title already.
void add_labels(const Notification& n, ChatFacts& f) {
  const std::vector<std::string> first = {"line", "target", "kind"};
  for (const std::string& name : first)
    if (auto it = n.labels.find(name); it != n.labels.end() && !it->second.empty())
      f.facts.emplace_back(name, it->second);
  for (const auto& [name, value] : n.labels) {
    const bool shown = name == "line" || name == "target" || name == "kind" || name == "rule" ||
                       name == "severity" || name == "alertname" || name == "agent";
    if (!shown && !value.empty()) f.facts.emplace_back(name, value);
  }
}

ChatFacts chat_facts(const Notification& n) {
  ChatFacts f;
  f.status = status_word(n.status);
  f.title = "[linewatch] " + f.status + " " + n.rule;
  if (!n.severity.empty()) f.title += " (" + n.severity + ")";
  if (std::string v = value_fact(n); !v.empty()) f.facts.emplace_back("value", v);
  add_labels(n, f);
  f.facts.emplace_back("agent", n.agent);
  f.facts.emplace_back(n.status == NotifyStatus::test ? "sent" : "started", utc_text(n.starts_at));
  if (n.ends_at) f.facts.emplace_back("ended", utc_text(*n.ends_at));
  f.link = n.link;
  f.summary = n.summary;
  return f;
}

// The link and the summary, after a blank line, for any of the markdowns.
std::string tail(const ChatFacts& f) {
  std::string out;
  if (!f.link.empty()) out += "\n[details](" + f.link + ")\n";
  if (!f.summary.empty()) out += "\n" + f.summary;
  return out;
}

std::string wecom_colour(NotifyStatus s) {
  if (s == NotifyStatus::resolved) return "info";  // green
  if (s == NotifyStatus::test) return "comment";   // grey
  return "warning";                                // orange-red
}

std::string feishu_template(const Notification& n) {
  if (n.status == NotifyStatus::resolved) return "green";
  if (n.status == NotifyStatus::test) return "blue";
  return n.severity == "critical" ? "red" : "orange";
}

HttpPost chat_post(NotifierKind kind, std::string url, std::string body) {
  HttpPost p;
  p.url = std::move(url);
  p.headers = {{"Content-Type", std::string(kJsonUtf8)}};
  p.body = std::move(body);
  p.kind = kind;
  return p;
}

}  // namespace

HttpPost wecom_post(const Notification& n, const Secrets& s) {
  const ChatFacts f = chat_facts(n);
  std::string text = "**[linewatch] <font color=\"" + wecom_colour(n.status) + "\">" + f.status +
                     "</font> " + n.rule + "**";
  if (!n.severity.empty()) text += " (" + n.severity + ")";
  text += "\n";
  for (const auto& [name, value] : f.facts) text += "> " + name + ": " + value + "\n";
  text += tail(f);
  const std::string markdown =
      JsonObject().str("content", cut_utf8(text, kWecomContentLimit)).done();
  return chat_post(NotifierKind::wecom, s.url,
                   JsonObject().str("msgtype", "markdown").raw("markdown", markdown).done());
}

HttpPost dingtalk_post(const Notification& n, const Secrets& s, WallTime now) {
  const ChatFacts f = chat_facts(n);
  std::string text = "#### " + f.title + "\n\n";
  for (const auto& [name, value] : f.facts) text += "- " + name + ": " + value + "\n";
  text += tail(f);
  const std::string title = "[linewatch] " + f.status + " " + n.rule;
  const std::string markdown = JsonObject()
                                   .str("title", cut_utf8(title, kDingtalkTitleLimit))
                                   .str("text", cut_utf8(text, kDingtalkTextLimit))
                                   .done();
  std::string url = s.url;
  if (!s.secret.empty()) {
    const long long ms = unix_ms(now);
    url += url.find('?') == std::string::npos ? "?" : "&";
    url += "timestamp=" + std::to_string(ms) + "&sign=" + url_encode(dingtalk_sign(s.secret, ms));
  }
  return chat_post(NotifierKind::dingtalk, std::move(url),
                   JsonObject().str("msgtype", "markdown").raw("markdown", markdown).done());
}

HttpPost feishu_post(const Notification& n, const Secrets& s, WallTime now) {
  const ChatFacts f = chat_facts(n);
  std::string text;
  for (const auto& [name, value] : f.facts) text += "**" + name + ":** " + value + "\n";
  text += tail(f);
  const std::string header =
      JsonObject()
          .str("template", feishu_template(n))
          .raw("title", JsonObject()
                            .str("tag", "plain_text")
                            .str("content", cut_utf8(f.title, kFeishuTitleLimit))
                            .done())
          .done();
  // The body with the card's text in place of `content`: the 20 KB bound is
  // on the whole request body, so the text gets what the rest leaves.
  auto body = [&](std::string_view content) {
    const std::string div =
        JsonObject()
            .str("tag", "div")
            .raw("text", JsonObject().str("tag", "lark_md").str("content", content).done())
            .done();
    const std::string card = JsonObject()
                                 .raw("config", R"({"wide_screen_mode":true})")
                                 .raw("header", header)
                                 .raw("elements", "[" + div + "]")
                                 .done();
    JsonObject o;
    if (!s.secret.empty()) {
      const long long secs =
          std::chrono::floor<std::chrono::seconds>(now).time_since_epoch().count();
      o.str("timestamp", std::to_string(secs)).str("sign", feishu_sign(s.secret, secs));
    }
    return o.str("msg_type", "interactive").raw("card", card).done();
  };
  const std::size_t rest = body("").size();
  const std::size_t room = rest < kFeishuBodyLimit ? kFeishuBodyLimit - rest : 0;
  return chat_post(NotifierKind::feishu, s.url, body(cut_json(text, room)));
}

std::string dingtalk_sign(std::string_view secret, long long timestamp_ms) {
  return base64(hmac_sha256_raw(secret, std::to_string(timestamp_ms) + "\n" + std::string(secret)));
}

std::string feishu_sign(std::string_view secret, long long timestamp_s) {
  return base64(hmac_sha256_raw(std::to_string(timestamp_s) + "\n" + std::string(secret), ""));
}

}  // namespace linewatch::notify
