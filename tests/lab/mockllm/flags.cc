#include "tests/lab/mockllm/flags.h"

#include <fstream>

#include "core/units.h"

namespace linewatch::mockllm {
namespace {

Result<Duration> duration_flag(const std::string& flag, const std::string& text) {
  Result<Duration> d = parse_duration(text);
  if (!d) return invalid(flag + ": " + d.error().message);
  return d;
}

// One key per line; blank lines and lines starting with '#' are skipped.
// A file with no key is an error: it would silently turn auth off.
Result<std::vector<std::string>> read_keys(const std::string& path) {
  std::ifstream in(path);
  if (!in) return io_error("--token-file " + path + ": cannot be read");
  std::vector<std::string> keys;
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto last = line.find_last_not_of(" \t\r");
    keys.push_back(line.substr(first, last - first + 1));
  }
  if (keys.empty()) return invalid("--token-file " + path + ": holds no token");
  return keys;
}

}  // namespace

void add_flags(CLI::App& app, Flags& f) {
  Options& o = f.options;
  Behaviour& k = f.knobs;
  app.add_option("--listen", o.listen, "plain HTTP listener ADDR:PORT (repeatable; port 0: any)");
  app.add_option("--tls-listen", o.tls_listen, "HTTPS listener ADDR:PORT (repeatable)");
  app.add_option("--cert", o.cert_file, "PEM certificate (chain) for --tls-listen")
      ->check(CLI::ExistingFile);
  app.add_option("--key", o.key_file, "PEM private key for --tls-listen")->check(CLI::ExistingFile);
  app.add_option("--token", f.keys,
                 "accepted API key, every flavour (repeatable; none: no auth). Visible in ps: "
                 "prefer --token-file");
  app.add_option("--token-file", f.key_file, "file with accepted API keys, one per line");
  app.add_option("--model", f.models, "model id served by every flavour (repeatable)");
  app.add_option("--openai-model", f.openai_models, "model id for OpenAI only (repeatable)");
  app.add_option("--anthropic-model", f.anthropic_models, "model id for Anthropic only");
  app.add_option("--gemini-model", f.gemini_models, "model id for Gemini only");
  app.add_option("--ttft", f.ttft, "request to first content byte, e.g. 200ms")
      ->capture_default_str();
  app.add_option("--token-interval", f.token_interval, "between content events")
      ->capture_default_str();
  app.add_option("--tokens", k.tokens, "content events per reply")->capture_default_str();
  app.add_option("--status", k.forced_status, "force 403, 429, 500, 503 or 529 on API calls");
  app.add_option("--retry-after", f.retry_after_s, "Retry-After seconds of a forced 429")
      ->capture_default_str();
  app.add_option("--reject-status", k.reject_status,
                 "answer to a missing or wrong key: 0 (the provider's own), 401 or 403")
      ->capture_default_str();
  app.add_flag("--stall-before-headers", k.stall_before_headers,
               "completions get no byte; the connection stays open");
  app.add_option("--stall-after-tokens", k.stall_after_tokens,
                 "streams stop after N content events; the connection stays open");
  app.add_option("--error-after-tokens", k.error_after_tokens,
                 "streams send the flavour's error event after N content events");
  app.add_flag("--omit-end-marker", k.omit_end_marker,
               "streams end without [DONE] / message_stop / finishReason");
  app.add_option("--keepalive", f.keepalive, "': keep-alive' comment after this long quiet")
      ->capture_default_str();
  app.add_flag("--crlf", k.crlf, "stream lines end in CRLF");
  app.add_flag("--split-events", k.split_events, "each event written in three pieces");
}

Result<Options> to_options(Flags f) {
  Behaviour& k = f.knobs;
  for (auto [flag, text, into] :
       {std::tuple{"--ttft", &f.ttft, &k.ttft},
        std::tuple{"--token-interval", &f.token_interval, &k.token_interval},
        std::tuple{"--keepalive", &f.keepalive, &k.keepalive}}) {
    Result<Duration> d = duration_flag(flag, *text);
    if (!d) return d.error();
    *into = *d;
  }
  k.retry_after = std::chrono::seconds(f.retry_after_s);
  k.keys = f.keys;
  if (!f.key_file.empty()) {
    Result<std::vector<std::string>> more = read_keys(f.key_file);
    if (!more) return more.error();
    k.keys.insert(k.keys.end(), more->begin(), more->end());
  }
  const std::vector<std::string>* own[] = {&f.openai_models, &f.anthropic_models, &f.gemini_models};
  for (Flavour fl : kFlavours) {
    Behaviour& b = of(f.options.behaviour, fl);
    b = k;
    const auto& mine = *own[static_cast<std::size_t>(fl)];
    b.models = !mine.empty() ? mine : !f.models.empty() ? f.models : default_models(fl);
    if (Status s = validate(b); !s) return s.error();
  }
  return std::move(f.options);
}

}  // namespace linewatch::mockllm
