// Notifier kinds and statuses by name, and reading a receiver's secrets.
#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <cstdlib>

#include "exporters/notify.h"
#include "exporters/plan_pusher.h"

namespace linewatch {

namespace {

constexpr std::string_view kBlanks = " \t\r\n";

std::string trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return "";
  const auto last = s.find_last_not_of(kBlanks);
  return std::string(s.substr(first, last - first + 1));
}

// The value of variable `name` for config key `key`, trimmed; an error
// names the key and the variable, never the value.
Result<std::string> from_env(const EnvLookup& env, const std::string& key,
                             const std::string& name) {
  const std::optional<std::string> value = env(name);
  if (!value) return invalid(key + ": environment variable " + name + " is not set");
  std::string v = trimmed(*value);
  if (v.empty()) return invalid(key + ": environment variable " + name + " is empty");
  return v;
}

// `url` must be http(s) with a host; the message names where it came from
// (`key`, `source`) and never repeats it, since it may hold a robot's token.
Status check_url(const std::string& url, const std::string& key, const std::string& source) {
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception&) {
    return invalid(key + ": " + source + " is not a valid URL");
  }
  if (uri.getScheme() != "http" && uri.getScheme() != "https")
    return invalid(key + ": " + source + " must start with http:// or https://");
  if (uri.getHost().empty()) return invalid(key + ": " + source + " has no host");
  return ok_status();
}

Result<std::string> resolve_url(const NotifierSpec& spec, const std::string& where,
                                const EnvLookup& env) {
  if (!spec.url.empty() && !spec.url_env.empty())
    return invalid(where + ": set one of url and url_env, not both");
  if (spec.url.empty() && spec.url_env.empty())
    return invalid(where + ": missing url or url_env (where to send notifications)");
  if (!spec.url.empty()) {
    const std::string url = trimmed(spec.url);
    if (Status s = check_url(url, where + ".url", "the URL"); !s) return s.error();
    return url;
  }
  auto url = from_env(env, where + ".url_env", spec.url_env);
  if (!url) return url;
  if (Status s = check_url(*url, where + ".url_env", spec.url_env); !s) return s.error();
  return url;
}

Result<std::string> resolve_key(const NotifierSpec& spec, const std::string& where,
                                const EnvLookup& env) {
  if (!spec.secret_file.empty() && !spec.secret_env.empty())
    return invalid(where + ": set one of secret_file and secret_env, not both");
  const bool has_key = !spec.secret_file.empty() || !spec.secret_env.empty();
  const std::string which = spec.secret_file.empty() ? ".secret_env" : ".secret_file";
  switch (spec.kind) {
    case NotifierKind::webhook:
      if (!has_key)
        return invalid(where + ": a webhook needs secret_file or secret_env (its requests " +
                       "are signed)");
      break;
    case NotifierKind::alertmanager:
      if (has_key) return invalid(where + which + ": alertmanager requests are not signed");
      return std::string();
    case NotifierKind::wecom:
      if (has_key)
        return invalid(where + which + ": wecom robots are not signed (the key is in the URL)");
      return std::string();
    case NotifierKind::dingtalk:
    case NotifierKind::feishu:
      if (!has_key) return std::string();  // the robot's signature check is optional
      break;
  }
  if (!spec.secret_env.empty()) return from_env(env, where + ".secret_env", spec.secret_env);
  auto key = read_gateway_secret(spec.secret_file, where);
  if (!key) return key;
  std::string k = trimmed(*key);
  if (k.empty()) return invalid(where + ".secret_file: " + spec.secret_file + " is empty");
  return k;
}

}  // namespace

std::string_view to_string(NotifyStatus s) {
  switch (s) {
    case NotifyStatus::firing:
      return "firing";
    case NotifyStatus::resolved:
      return "resolved";
    case NotifyStatus::test:
      return "test";
  }
  return "firing";
}

std::string_view to_string(NotifierKind k) {
  switch (k) {
    case NotifierKind::webhook:
      return "webhook";
    case NotifierKind::alertmanager:
      return "alertmanager";
    case NotifierKind::wecom:
      return "wecom";
    case NotifierKind::dingtalk:
      return "dingtalk";
    case NotifierKind::feishu:
      return "feishu";
  }
  return "webhook";
}

std::optional<NotifierKind> notifier_kind_from_string(std::string_view s) {
  for (NotifierKind k : {NotifierKind::webhook, NotifierKind::alertmanager, NotifierKind::wecom,
                         NotifierKind::dingtalk, NotifierKind::feishu}) {
    if (to_string(k) == s) return k;
  }
  return std::nullopt;
}

std::string_view to_string(Delivery::Kind k) {
  switch (k) {
    case Delivery::Kind::ok:
      return "ok";
    case Delivery::Kind::transient:
      return "transient";
    case Delivery::Kind::permanent:
      return "permanent";
  }
  return "transient";
}

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Result<Secrets> resolve_secrets(const NotifierSpec& spec, const std::string& where,
                                const EnvLookup& env) {
  auto url = resolve_url(spec, where, env);
  if (!url) return url.error();
  auto key = resolve_key(spec, where, env);
  if (!key) return key.error();
  return Secrets{std::move(*url), std::move(*key)};
}

}  // namespace linewatch
