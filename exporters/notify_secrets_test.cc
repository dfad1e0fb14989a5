// resolve_secrets(): URLs and keys from the environment or files, and
// errors that name what to fix without ever holding a secret.
#include <doctest/doctest.h>

#include <fstream>

#include "exporters/notify.h"
#include "exporters/notify_test_support.h"

using namespace linewatch;
using namespace linewatch::test;

namespace {

using linewatch::testing::TempDir;

// A secret no message may ever hold.
const std::string kSentinel = "SENTINEL-7f3a9c1e5b2d";

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string error_of(const NotifierSpec& spec, const EnvLookup& env) {
  auto r = resolve_secrets(spec, "notify[0]", env);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

}  // namespace

TEST_CASE("notifier secrets come from the environment or a file, trimmed") {
  TempDir dir;
  write(dir.file("hook.key"), "  " + kSentinel + " \t\r\n\n");
  NotifierSpec s = spec_of(NotifierKind::webhook);
  s.url = "http://127.0.0.1:9400/hook";
  s.secret_file = dir.file("hook.key");
  auto r = resolve_secrets(s, "notify[0]", env_of({}));
  REQUIRE(r.ok());
  CHECK(r->url == "http://127.0.0.1:9400/hook");
  CHECK(r->secret == kSentinel);

  NotifierSpec d = spec_of(NotifierKind::dingtalk);
  d.url_env = "DING_HOOK";
  d.secret_env = "DING_SECRET";
  auto e = resolve_secrets(
      d, "notify[2]",
      env_of({{"DING_HOOK", " https://oapi.dingtalk.com/robot/send?access_token=abc\n"},
              {"DING_SECRET", "\t" + kSentinel + "\n"}}));
  REQUIRE(e.ok());
  CHECK(e->url == "https://oapi.dingtalk.com/robot/send?access_token=abc");
  CHECK(e->secret == kSentinel);
}

TEST_CASE("notifier secrets are optional for dingtalk and feishu and refused where unused") {
  const EnvLookup env =
      env_of({{"HOOK", "https://open.feishu.cn/open-apis/bot/v2/hook/t"}, {"KEY", kSentinel}});
  for (NotifierKind k : {NotifierKind::dingtalk, NotifierKind::feishu, NotifierKind::wecom,
                         NotifierKind::alertmanager}) {
    CAPTURE(to_string(k));
    NotifierSpec s = spec_of(k);
    s.url_env = "HOOK";
    auto r = resolve_secrets(s, "notify[1]", env);
    REQUIRE(r.ok());
    CHECK(r->secret.empty());
  }
  NotifierSpec w = spec_of(NotifierKind::wecom);
  w.url_env = "HOOK";
  w.secret_env = "KEY";
  CHECK(error_of(w, env) ==
        "notify[0].secret_env: wecom robots are not signed (the key is in the URL)");
  NotifierSpec a = spec_of(NotifierKind::alertmanager);
  a.url = "http://127.0.0.1:9093";
  a.secret_file = "/etc/linewatch/am.key";
  CHECK(error_of(a, env) == "notify[0].secret_file: alertmanager requests are not signed");
}

TEST_CASE("notifier secret errors name the key, the variable or the file and never a value") {
  TempDir dir;
  write(dir.file("empty.key"), " \n");
  const EnvLookup env = env_of({{"BLANK", "  \n"},
                                {"NOT_A_URL", "ftp://" + kSentinel},
                                {"NO_HOST", "http://"},
                                {"GOOD", "http://127.0.0.1:9400/" + kSentinel}});
  struct Case {
    NotifierSpec spec;
    std::string message;
  };
  auto spec = [](NotifierKind kind, std::string url, std::string url_env, std::string file,
                 std::string key_env) {
    NotifierSpec s = spec_of(kind);
    s.url = std::move(url);
    s.url_env = std::move(url_env);
    s.secret_file = std::move(file);
    s.secret_env = std::move(key_env);
    return s;
  };
  const std::string missing = dir.file("missing.key");
  const std::vector<Case> cases = {
      {spec(NotifierKind::webhook, "", "", "", "GOOD"),
       "notify[0]: missing url or url_env (where to send notifications)"},
      {spec(NotifierKind::webhook, "http://127.0.0.1/", "GOOD", "", "GOOD"),
       "notify[0]: set one of url and url_env, not both"},
      {spec(NotifierKind::webhook, "", "UNSET", "", "GOOD"),
       "notify[0].url_env: environment variable UNSET is not set"},
      {spec(NotifierKind::webhook, "", "BLANK", "", "GOOD"),
       "notify[0].url_env: environment variable BLANK is empty"},
      {spec(NotifierKind::wecom, "", "NOT_A_URL", "", ""),
       "notify[0].url_env: NOT_A_URL must start with http:// or https://"},
      {spec(NotifierKind::wecom, "", "NO_HOST", "", ""), "notify[0].url_env: NO_HOST has no host"},
      {spec(NotifierKind::wecom, "ftp://" + kSentinel, "", "", ""),
       "notify[0].url: the URL must start with http:// or https://"},
      {spec(NotifierKind::webhook, "", "GOOD", "", ""),
       "notify[0]: a webhook needs secret_file or secret_env (its requests are signed)"},
      {spec(NotifierKind::webhook, "", "GOOD", missing, "GOOD"),
       "notify[0]: set one of secret_file and secret_env, not both"},
      {spec(NotifierKind::webhook, "", "GOOD", "", "UNSET"),
       "notify[0].secret_env: environment variable UNSET is not set"},
      {spec(NotifierKind::feishu, "", "GOOD", "", "BLANK"),
       "notify[0].secret_env: environment variable BLANK is empty"},
      {spec(NotifierKind::webhook, "", "GOOD", missing, ""),
       "notify[0].secret_file: cannot read " + missing + ": No such file or directory"},
      {spec(NotifierKind::dingtalk, "", "GOOD", dir.file("empty.key"), ""),
       "notify[0].secret_file: " + dir.file("empty.key") + " is empty"},
      {spec(NotifierKind::webhook, "", "GOOD", dir.path(), ""),
       "notify[0].secret_file: " + dir.path() + " is not a regular file"},
  };
  for (const Case& c : cases) {
    const std::string message = error_of(c.spec, env);
    CHECK(message == c.message);
    CHECK(message.find(kSentinel) == std::string::npos);
  }
}

TEST_CASE("notifier kinds and statuses have their config spellings") {
  for (NotifierKind k : {NotifierKind::webhook, NotifierKind::alertmanager, NotifierKind::wecom,
                         NotifierKind::dingtalk, NotifierKind::feishu})
    CHECK(notifier_kind_from_string(to_string(k)) == k);
  CHECK(to_string(NotifierKind::alertmanager) == "alertmanager");
  CHECK_FALSE(notifier_kind_from_string("slack").has_value());
  CHECK(to_string(NotifyStatus::resolved) == "resolved");
  CHECK(to_string(Delivery::Kind::permanent) == "permanent");
  CHECK(NotifierSpec{}.timeout == std::chrono::seconds(5));
}
