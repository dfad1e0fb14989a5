// format() for the generic webhook and Alertmanager: exact bodies and
// headers from a fixed notification and clock.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "exporters/notify.h"
#include "exporters/notify_test_support.h"
#include "exporters/plan_signature.h"

using namespace linewatch;
using namespace linewatch::test;
using namespace std::chrono_literals;

namespace {

constexpr char kWebhookBody[] =
    R"({"version":1,"id":"bj-gw-1/api-slow/42","agent":"bj-gw-1","status":"firing",)"
    R"("rule":"api-slow","severity":"critical","summary":"openai answers slowly over cn2-bj-1",)"
    R"("labels":{"kind":"llm","line":"cn2-bj-1","rule":"api-slow","severity":"critical",)"
    R"("target":"openai"},"value":{"text":"3412 ms","number":3412},)"
    R"("threshold":{"text":"3000 ms","number":3000},"starts_at":"2027-01-15T08:00:00.000Z",)"
    R"("ends_at":null,"link":null})";

const std::string kKey = "hook-secret-0123456789";

HttpPost formatted(NotifierKind kind, const Notification& n, Secrets s) {
  auto p = format(spec_of(kind), n, s, sample_now());
  REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error().message));
  return *p;
}

std::string header(const HttpPost& p, const std::string& name) {
  for (const auto& [k, v] : p.headers)
    if (k == name) return v;
  return "<absent>";
}

}  // namespace

TEST_CASE("notifier webhook body and headers are the documented ones") {
  const HttpPost p =
      formatted(NotifierKind::webhook, sample_notification(), {"http://127.0.0.1:9400/hook", kKey});
  CHECK(p.url == "http://127.0.0.1:9400/hook");
  CHECK(p.body == kWebhookBody);
  CHECK(p.headers.size() == 4);
  CHECK(header(p, "Content-Type") == "application/json");
  CHECK(header(p, "X-Linewatch-Timestamp") == "1800000030123");
  CHECK(header(p, "Idempotency-Key") == "bj-gw-1/api-slow/42");
  // The route push scheme: hex HMAC-SHA256 of "<timestamp>.<body>", computed here by openssl.
  const std::string expected =
      shell_output("printf '%s' " + sh_quote("1800000030123." + std::string(kWebhookBody)) +
                   " | openssl dgst -sha256 -hmac " + sh_quote(kKey) + " | sed 's/^.*= //'");
  CHECK(header(p, "X-Linewatch-Signature") == "sha256=" + expected);
}

TEST_CASE("notifier webhook signature verifies with the route push verifier's rule") {
  const HttpPost p =
      formatted(NotifierKind::webhook, sample_notification(), {"http://127.0.0.1:9400/hook", kKey});
  const std::string stamp = header(p, "X-Linewatch-Timestamp");
  CHECK(header(p, "X-Linewatch-Signature") ==
        "sha256=" + hmac_sha256_hex(kKey, stamp + "." + p.body));
  CHECK(header(p, "X-Linewatch-Signature") !=
        "sha256=" + hmac_sha256_hex("another-key", stamp + "." + p.body));
}

TEST_CASE("notifier webhook writes a resolved alert with its end, link and no numbers") {
  Notification n = sample_notification();
  n.status = NotifyStatus::resolved;
  n.ends_at = sample_start() + 95s;
  n.value.reset();
  n.threshold = 0.25;
  n.link = "http://127.0.0.1:9464/alerts?rule=api-slow";
  n.summary = "quote \" backslash \\ tab \t 中文";
  const HttpPost p = formatted(NotifierKind::webhook, n, {"http://127.0.0.1:9400/hook", kKey});
  CHECK(
      p.body ==
      R"({"version":1,"id":"bj-gw-1/api-slow/42","agent":"bj-gw-1","status":"resolved",)"
      R"("rule":"api-slow","severity":"critical","summary":"quote \" backslash \\ tab \t 中文",)"
      R"("labels":{"kind":"llm","line":"cn2-bj-1","rule":"api-slow","severity":"critical",)"
      R"("target":"openai"},"value":{"text":"3412 ms","number":null},)"
      R"("threshold":{"text":"3000 ms","number":0.25},"starts_at":"2027-01-15T08:00:00.000Z",)"
      R"("ends_at":"2027-01-15T08:01:35.000Z","link":"http://127.0.0.1:9464/alerts?rule=api-slow"})");
}

TEST_CASE("notifier webhook idempotency key cannot end its header line early") {
  Notification n = sample_notification();
  n.id = "a\r\nX-Injected: 1";
  const HttpPost p = formatted(NotifierKind::webhook, n, {"http://127.0.0.1:9400/hook", kKey});
  CHECK(header(p, "Idempotency-Key") == "a__X-Injected: 1");
  CHECK(p.body.find(R"("id":"a\r\nX-Injected: 1")") != std::string::npos);
}

TEST_CASE("notifier webhook without a key is refused, naming the notifier") {
  auto p = format(spec_of(NotifierKind::webhook, "ops"), sample_notification(),
                  {"http://127.0.0.1:9400/hook", ""}, sample_now());
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().message ==
        "notify ops: a webhook needs a key to sign with (secret_file or secret_env)");
}

TEST_CASE("notifier alertmanager firing alert has labels, annotations and no end") {
  const HttpPost p =
      formatted(NotifierKind::alertmanager, sample_notification(), {"http://127.0.0.1:9093", ""});
  CHECK(p.url == "http://127.0.0.1:9093/api/v2/alerts");
  CHECK(p.headers ==
        std::vector<std::pair<std::string, std::string>>{{"Content-Type", "application/json"}});
  CHECK(p.body ==
        R"([{"labels":{"agent":"bj-gw-1","alertname":"api-slow","kind":"llm","line":"cn2-bj-1",)"
        R"("severity":"critical","target":"openai"},"annotations":{"summary":"openai answers )"
        R"(slowly over cn2-bj-1","threshold":"3000 ms","value":"3412 ms"},)"
        R"("startsAt":"2027-01-15T08:00:00.000Z"}])");
}

TEST_CASE("notifier alertmanager resolved alert ends when it ended, never before it began") {
  Notification n = sample_notification();
  n.status = NotifyStatus::resolved;
  n.ends_at = sample_start() + 95s;
  n.link = "http://127.0.0.1:9464/alerts";
  const std::string labels =
      R"([{"labels":{"agent":"bj-gw-1","alertname":"api-slow","kind":"llm","line":"cn2-bj-1",)"
      R"("severity":"critical","target":"openai"},"annotations":{"summary":"openai answers )"
      R"(slowly over cn2-bj-1","threshold":"3000 ms","value":"3412 ms"},)"
      R"("startsAt":"2027-01-15T08:00:00.000Z",)";
  CHECK(
      formatted(NotifierKind::alertmanager, n, {"http://127.0.0.1:9093/", ""}).body ==
      labels +
          R"("endsAt":"2027-01-15T08:01:35.000Z","generatorURL":"http://127.0.0.1:9464/alerts"}])");
  n.ends_at = sample_start() - 5s;  // a clock step: the end would come before the start
  CHECK(
      formatted(NotifierKind::alertmanager, n, {"http://127.0.0.1:9093", ""}).body ==
      labels +
          R"("endsAt":"2027-01-15T08:00:00.000Z","generatorURL":"http://127.0.0.1:9464/alerts"}])");
  n.ends_at.reset();  // no end given: it ended when it is sent
  CHECK(
      formatted(NotifierKind::alertmanager, n, {"http://127.0.0.1:9093", ""}).body ==
      labels +
          R"("endsAt":"2027-01-15T08:00:30.123Z","generatorURL":"http://127.0.0.1:9464/alerts"}])");
}

TEST_CASE("notifier alertmanager test alert resolves itself five minutes after it is sent") {
  Notification n = sample_notification();
  n.status = NotifyStatus::test;
  n.rule = "linewatch-test";
  n.labels.clear();
  n.severity = "info";
  n.summary = "a test from linewatch";
  n.value_text.clear();
  n.threshold_text.clear();
  n.starts_at = sample_now();
  CHECK(formatted(NotifierKind::alertmanager, n, {"http://127.0.0.1:9093", ""}).body ==
        R"([{"labels":{"agent":"bj-gw-1","alertname":"linewatch-test","severity":"info"},)"
        R"("annotations":{"summary":"a test from linewatch"},)"
        R"("startsAt":"2027-01-15T08:00:30.123Z","endsAt":"2027-01-15T08:05:30.123Z"}])");
}

TEST_CASE("notifier alertmanager label names are made valid and the path is added once") {
  Notification n = sample_notification();
  n.labels = {{"line", "cn2-bj-1"}, {"probe.kind", "tcp"}, {"9x", "a"}, {"empty", ""}};
  const HttpPost p = formatted(NotifierKind::alertmanager, n, {"http://127.0.0.1:9093/am/", ""});
  CHECK(p.url == "http://127.0.0.1:9093/am/api/v2/alerts");
  CHECK(p.body.starts_with(
      R"([{"labels":{"_x":"a","agent":"bj-gw-1","alertname":"api-slow","line":"cn2-bj-1",)"
      R"("probe_kind":"tcp","severity":"critical"},)"));
  CHECK(formatted(NotifierKind::alertmanager, n, {"http://127.0.0.1:9093/api/v2/alerts", ""}).url ==
        "http://127.0.0.1:9093/api/v2/alerts");
}

TEST_CASE("notifier format marks query values, long path parts and the key for redaction") {
  const HttpPost p = formatted(
      NotifierKind::webhook, sample_notification(),
      {"http://127.0.0.1:9400/hook/0f3c2a9e-1b2c-4d5e-8f90-a1b2c3d4e5f6?token=abc%2Bdef1&v=1",
       kKey});
  CHECK(p.redact == std::vector<std::string>{"0f3c2a9e-1b2c-4d5e-8f90-a1b2c3d4e5f6",
                                             "hook-secret-0123456789", "abc%2Bdef1", "abc+def1"});
}

TEST_CASE("notifier examples in docs/alerts.md are what format writes") {
  // The signature in the document was made with the openssl CLI.
  std::ifstream in(std::string(LINEWATCH_SOURCE_DIR) + "/docs/alerts.md");
  std::stringstream doc;
  doc << in.rdbuf();
  const HttpPost p = formatted(NotifierKind::webhook, sample_notification(),
                               {"http://127.0.0.1:9400/hook", "example-secret-do-not-use"});
  CHECK(header(p, "X-Linewatch-Signature") ==
        "sha256=2b397f78d1b2bcf4022a9c949c9359521a11d4b19b4bf61a0b129b54575809ce");
  for (const auto& [name, value] : p.headers) {
    CAPTURE(name);
    CHECK(doc.str().find("    " + name + ": " + value + "\n") != std::string::npos);
  }
  CHECK(doc.str().find("    " + p.body + "\n") != std::string::npos);
  // The other examples there are the sample notification too.
  for (NotifierKind k : {NotifierKind::alertmanager, NotifierKind::wecom, NotifierKind::dingtalk}) {
    CAPTURE(to_string(k));
    const HttpPost other = formatted(k, sample_notification(), {"http://127.0.0.1:9093", ""});
    CHECK(doc.str().find("    " + other.body + "\n") != std::string::npos);
  }
}
