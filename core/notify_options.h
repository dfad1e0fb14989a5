// NotifierSpec: one alert receiver as the config names it (`notify[]`).
//
// Kept in core so that Config can hold it without core depending on
// exporters; exporters/notify.h (which formats and delivers notifications)
// includes it and documents how each kind is used. It holds where secrets are,
// never their values, so it may be printed and logged.
//
// Plain value types; no thread-safety concerns of their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/time.h"

namespace linewatch {

enum class NotifierKind : std::uint8_t { webhook, alertmanager, wecom, dingtalk, feishu };

// notify[]: one receiver. Exactly one of url and url_env is set, at most one
// of secret_file and secret_env; the key is required for webhook, refused for
// alertmanager and wecom, optional for dingtalk and feishu.
struct NotifierSpec {
  std::string id;                             // notify[].id, names it in events and metrics
  NotifierKind kind = NotifierKind::webhook;  // notify[].kind
  std::string url;                            // notify[].url
  std::string url_env;      // notify[].url_env: a variable holding the URL (chat URLs hold a token)
  std::string secret_file;  // notify[].secret_file: the signing key (blanks around it ignored)
  std::string secret_env;   // notify[].secret_env: a variable holding the signing key
  // notify[].timeout: one attempt (connect, request, answer) takes at most
  // this long. Default: 5s.
  Duration timeout = std::chrono::seconds(5);
  bool operator==(const NotifierSpec&) const = default;
};

}  // namespace linewatch
