// Alert notifiers: what one notification says, how it is written for each
// kind of receiver, and one HTTP delivery of it (docs/alerts.md, "Receivers").
//
// The outbox (built on top of this) owns retries and ordering: it calls
// resolve_secrets() when the config loads, format() for each attempt (a
// signature carries the time of the attempt) and deliver() once per attempt.
//
//   kind          request                                   signed by
//   webhook       POST url, linewatch JSON                  HMAC-SHA256 headers (as route push)
//   alertmanager  POST url/api/v2/alerts, one-alert array   - (route through your Alertmanager)
//   wecom         POST url (?key=...), markdown             - (the key in the URL)
//   dingtalk      POST url (?access_token=...), markdown    optional: &timestamp=&sign= on the URL
//   feishu        POST url (/hook/<token>), card            optional: timestamp and sign in the
//   body
//
// Secrets: a signing key and a chat robot's URL (it holds the robot's token)
// are secrets. They come from a file or the environment, and never appear in
// an Error message, a Delivery detail or anything else this module returns as
// text: details name a receiver by host and port only, and any copy of a
// token or key in a receiver's answer is blanked.
//
// Thread-safety: every function is thread-safe; format() and the judge are
// pure. deliver() blocks for at most its timeout.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/notify_options.h"
#include "core/time.h"

namespace linewatch {

// firing: the rule's condition holds; resolved: it no longer does; test: a
// message sent on request to check that a receiver works.
enum class NotifyStatus : std::uint8_t { firing, resolved, test };
std::string_view to_string(NotifyStatus s);  // "firing", "resolved", "test"

// One notification, as the alert state machine hands it to the outbox.
struct Notification {
  // Idempotency key: unique per notification and the same on every attempt,
  // so a receiver can drop a repeat (webhook: Idempotency-Key header).
  std::string id;
  std::string agent;  // agent.id of the agent that raised it
  std::string rule;   // alerts.rules[].name
  NotifyStatus status = NotifyStatus::firing;
  std::string severity;  // "critical", "warning" or "info"; "" = not shown
  std::string summary;   // one sentence for people; cut first when a chat limit bites
  // What the alert is about: line, target, kind, rule, severity, ... Shown in
  // chats and sent as labels to webhooks and Alertmanager.
  std::map<std::string, std::string> labels;
  std::string value_text;           // "3412 ms": the value that crossed, for people
  std::optional<double> value;      // 3412: the same in the rule metric's unit
  std::string threshold_text;       // "3000 ms"
  std::optional<double> threshold;  // 3000
  WallTime starts_at{};             // when the condition began to hold
  std::optional<WallTime> ends_at;  // when it stopped (resolved)
  std::string link;                 // a page about the alert (generator URL); "" = none
};

// NotifierKind and NotifierSpec (notify[]: one receiver) are in
// core/notify_options.h, so that Config can hold them.
std::string_view to_string(NotifierKind k);  // the config spelling: "webhook", "wecom", ...
std::optional<NotifierKind> notifier_kind_from_string(std::string_view s);

// A receiver's secrets, once read. Never log or print these.
struct Secrets {
  std::string url;     // from url, or the url_env variable
  std::string secret;  // the signing key; "" when none is configured
};

// Looks an environment variable up; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
std::optional<std::string> process_env(const std::string& name);  // ::getenv

// Reads `spec`'s URL and key. `where` is its config path for messages
// ("notify[0]"). Values are trimmed of surrounding blanks and line ends.
// Success: the secrets. Failure: invalid_argument / io naming the key to fix
// and the file or variable, never a value: both or neither of url/url_env;
// both secret_file and secret_env; a variable unset or empty; a file
// unreadable, empty or over 64 KiB; a URL that is not http(s):// with a host;
// no key for a webhook (its requests are signed); a key for alertmanager or
// wecom (they take none).
Result<Secrets> resolve_secrets(const NotifierSpec& spec, const std::string& where,
                                const EnvLookup& env = process_env);

// One HTTP POST, ready to send.
struct HttpPost {
  std::string url;  // holds a chat robot's token: never print it
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  NotifierKind kind = NotifierKind::webhook;  // how deliver() reads the answer
  // Tokens and keys that must not show in a delivery detail (query values,
  // long path segments, the signing key); deliver() blanks them.
  std::vector<std::string> redact;
};

// The request for `n` to the receiver `spec`, signed at wall time `now`
// where the kind signs. Pure. Failure: invalid_argument naming the notifier
// (a webhook without a key, a URL that does not parse); the text never holds
// a secret or the URL.
Result<HttpPost> format(const NotifierSpec& spec, const Notification& n, const Secrets& secrets,
                        WallTime now);

// What one attempt came to.
struct Delivery {
  enum class Kind : std::uint8_t {
    ok,         // the receiver took it
    transient,  // worth another attempt later: network, timeout, 408, 429, 5xx, a chat rate limit
    permanent,  // the receiver refused it; the same request will be refused again
  };
  Kind kind = Kind::transient;
  // Stable code: "ok", "refused", "timeout", "dns", "tls", "network",
  // "cancelled", "bad_url", "http_3xx", "http_4xx", "http_5xx", "http_status",
  // "chat_rate_limit", "chat_busy", "chat_rejected", "chat_no_code".
  std::string reason;
  // Operator text: host:port, status, the receiver's code and words. Never a
  // secret, a token or the URL's path and query.
  std::string detail;
  int status = 0;                       // HTTP status; 0 when there was no answer
  std::optional<Duration> retry_after;  // the receiver's Retry-After, when it sent one
  Duration took{};                      // from the start of the attempt to its end
};
std::string_view to_string(Delivery::Kind k);  // "ok", "transient", "permanent"

// Sends `post` once: a new connection, no redirects followed, at most
// `timeout` from start to end (connect, TLS, request, answer; a receiver that
// trickles its answer is cut off). HTTPS verifies against the system's CA
// store. Name resolution is getaddrinfo and is not bounded by `timeout`.
// `stop` ends the attempt early (transient, "cancelled"). Never throws.
Delivery deliver(const HttpPost& post, Duration timeout, std::stop_token stop);

// Judges a receiver's answer (pure; deliver() uses it). Chat kinds read the
// body's error code (WeCom and DingTalk "errcode", Feishu "code" or
// "StatusCode"): 0 is ok; a documented rate limit or "busy" code is
// transient, any other code permanent, also when it comes with a 4xx; a 2xx
// without a code is transient ("chat_no_code": not the robot's answer).
// Otherwise by status: 2xx ok; 408, 429, 5xx transient; other 4xx and 3xx
// permanent; anything else transient. `retry_after` is the header's value.
Delivery judge_notify_answer(NotifierKind kind, int status, std::string_view body,
                             std::optional<std::string_view> retry_after, WallTime now);

// A Retry-After value: delta-seconds ("120") or an HTTP date, as a wait from
// `now`, never negative and at most a day. nullopt when it is neither. (Named
// apart from probes/http_wire.h parse_retry_after, which returns whole
// seconds: one program links both.)
std::optional<Duration> parse_notify_retry_after(std::string_view value, WallTime now);

}  // namespace linewatch
