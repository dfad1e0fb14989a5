// format(): the generic webhook and Alertmanager requests here, the chat
// robots' in notify_chat.cc.
#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>

#include "exporters/notify.h"
#include "exporters/notify_chat.h"
#include "exporters/notify_text.h"
#include "exporters/plan_codec.h"
#include "exporters/plan_signature.h"

namespace linewatch {

namespace {

using notify::JsonObject;

// Version of the webhook body; raised only for changes a receiver must know.
constexpr int kWebhookVersion = 1;
// A test alert resolves itself in Alertmanager after this long.
constexpr auto kAlertmanagerTestHold = std::chrono::minutes(5);
// Path segments at least this long are taken for tokens (Feishu's is a UUID).
constexpr std::size_t kTokenSegment = 16;
// Shorter strings are not blanked from details: "1" would take digits out of
// "HTTP 401", and a token or key is longer.
constexpr std::size_t kRedactMin = 8;

std::string labels_json(const std::map<std::string, std::string>& labels) {
  JsonObject o;
  for (const auto& [name, value] : labels) o.str(name, value);
  return o.done();
}

std::string time_or_null(const std::optional<WallTime>& t) {
  return t ? notify::json_string(format_time_ms(*t)) : "null";
}

// `v` fit for a header line: a control character could end the header early.
std::string header_value(std::string v) {
  for (char& c : v)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '_';
  return v;
}

HttpPost webhook_post(const Notification& n, const Secrets& s, WallTime now) {
  const auto shown = [](const std::string& text, std::optional<double> v) {
    return JsonObject().str("text", text).num("number", v).done();
  };
  HttpPost p;
  p.kind = NotifierKind::webhook;
  p.url = s.url;
  p.body = JsonObject()
               .num("version", kWebhookVersion)
               .str("id", n.id)
               .str("agent", n.agent)
               .str("status", to_string(n.status))
               .str("rule", n.rule)
               .str("severity", n.severity)
               .str("summary", n.summary)
               .raw("labels", labels_json(n.labels))
               .raw("value", shown(n.value_text, n.value))
               .raw("threshold", shown(n.threshold_text, n.threshold))
               .str("starts_at", format_time_ms(n.starts_at))
               .raw("ends_at", time_or_null(n.ends_at))
               .raw("link", n.link.empty() ? "null" : notify::json_string(n.link))
               .done();
  const std::string stamp = std::to_string(unix_ms(now));
  p.headers = {
      {"Content-Type", "application/json"},
      {std::string(kTimestampHeader), stamp},
      {std::string(kSignatureHeader), "sha256=" + hmac_sha256_hex(s.secret, stamp + "." + p.body)},
      {"Idempotency-Key", header_value(n.id)}};
  return p;
}

// Alertmanager takes label names of [a-zA-Z_][a-zA-Z0-9_]*; others become '_'.
std::string label_name(std::string_view name) {
  std::string out(name);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    const bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) out[i] = '_';
  }
  return out.empty() ? "_" : out;
}

// POST <url>/api/v2/alerts (url is Alertmanager's base; a url that already
// ends in the path is taken as it is).
std::string alerts_url(const std::string& base) {
  constexpr std::string_view kPath = "/api/v2/alerts";
  std::string url = base;
  const auto query = url.find('?');
  std::string path_part = url.substr(0, query);
  while (path_part.ends_with('/')) path_part.pop_back();
  if (!path_part.ends_with(kPath)) path_part += kPath;
  return query == std::string::npos ? path_part : path_part + url.substr(query);
}

HttpPost alertmanager_post(const Notification& n, const Secrets& s, WallTime now) {
  // Identity: every label with a value, the rule as alertname (and not again
  // as "rule"), the agent, the severity.
  std::map<std::string, std::string> labels;
  for (const auto& [name, value] : n.labels)
    if (!value.empty() && name != "rule") labels[label_name(name)] = value;
  labels["alertname"] = n.rule;
  labels["agent"] = n.agent;
  if (!n.severity.empty()) labels["severity"] = n.severity;
  JsonObject notes;
  if (!n.summary.empty()) notes.str("summary", n.summary);
  if (!n.threshold_text.empty()) notes.str("threshold", n.threshold_text);
  if (!n.value_text.empty()) notes.str("value", n.value_text);
  JsonObject alert;
  alert.raw("labels", labels_json(labels))
      .raw("annotations", notes.done())
      .str("startsAt", format_time_ms(n.starts_at));
  // A firing alert has no known end: Alertmanager keeps it active for its
  // resolve_timeout after it last heard of it, so the sender re-sends it
  // while it fires. A resolved one ends when it ended (never before it began).
  if (n.status == NotifyStatus::resolved)
    alert.str("endsAt", format_time_ms(std::max(n.ends_at.value_or(now), n.starts_at)));
  if (n.status == NotifyStatus::test)
    alert.str("endsAt", format_time_ms(now + kAlertmanagerTestHold));
  if (!n.link.empty()) alert.str("generatorURL", n.link);
  HttpPost p;
  p.kind = NotifierKind::alertmanager;
  p.url = alerts_url(s.url);
  p.headers = {{"Content-Type", "application/json"}};
  p.body = "[" + alert.done() + "]";
  return p;
}

// What in `url` (and the key) must not show in a delivery detail: each query
// value and each long path segment, where robots keep their tokens.
std::vector<std::string> sensitive_parts(const Poco::URI& uri, const std::string& secret) {
  std::vector<std::string> out;
  out.push_back(secret);
  for (const auto& [name, value] : uri.getQueryParameters())
    if (!value.empty()) out.push_back(value);
  const std::string raw_query = uri.getRawQuery();
  std::size_t at = 0;
  while (at < raw_query.size()) {  // the raw (encoded) values too, as a receiver may echo them
    std::size_t end = raw_query.find('&', at);
    if (end == std::string::npos) end = raw_query.size();
    const std::string pair = raw_query.substr(at, end - at);
    if (const auto eq = pair.find('='); eq != std::string::npos && eq + 1 < pair.size())
      out.push_back(pair.substr(eq + 1));
    at = end + 1;
  }
  std::vector<std::string> segments;
  uri.getPathSegments(segments);
  for (const std::string& seg : segments)
    if (seg.size() >= kTokenSegment) out.push_back(seg);
  std::erase_if(out, [](const std::string& s) { return s.size() < kRedactMin; });
  // Longest first, so a part of a longer token does not leave the rest of it showing.
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

Result<HttpPost> format(const NotifierSpec& spec, const Notification& n, const Secrets& secrets,
                        WallTime now) {
  const std::string who = "notify " + spec.id;
  if (spec.kind == NotifierKind::webhook && secrets.secret.empty())
    return invalid(who + ": a webhook needs a key to sign with (secret_file or secret_env)");
  HttpPost p;
  switch (spec.kind) {
    case NotifierKind::webhook:
      p = webhook_post(n, secrets, now);
      break;
    case NotifierKind::alertmanager:
      p = alertmanager_post(n, secrets, now);
      break;
    case NotifierKind::wecom:
      p = notify::wecom_post(n, secrets);
      break;
    case NotifierKind::dingtalk:
      p = notify::dingtalk_post(n, secrets, now);
      break;
    case NotifierKind::feishu:
      p = notify::feishu_post(n, secrets, now);
      break;
  }
  try {
    p.redact = sensitive_parts(Poco::URI(p.url), secrets.secret);
  } catch (const Poco::Exception&) {
    return invalid(who + ": the URL is not valid");  // not repeated: it may hold a token
  }
  return p;
}

}  // namespace linewatch
