// mockllm: command line front of Server (see server.h and --help).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "core/units.h"
#include "tests/lab/mockllm/server.h"

namespace {

using linewatch::Duration;
using linewatch::Error;
using linewatch::Result;

Result<Duration> duration_flag(const std::string& flag, const std::string& text) {
  Result<Duration> d = linewatch::parse_duration(text);
  if (!d) return linewatch::invalid(flag + ": " + d.error().message);
  return d;
}

// One token per line; blank lines and lines starting with '#' are skipped.
// A file with no token is an error: it would silently turn auth off.
Result<std::vector<std::string>> read_tokens(const std::string& path) {
  std::ifstream in(path);
  if (!in) return linewatch::io_error("--token-file " + path + ": cannot be read");
  std::vector<std::string> tokens;
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto last = line.find_last_not_of(" \t\r");
    tokens.push_back(line.substr(first, last - first + 1));
  }
  if (tokens.empty()) return linewatch::invalid("--token-file " + path + ": holds no token");
  return tokens;
}

void write_line(const std::string& line) {
  // One write per line keeps lines whole when request threads log together.
  const std::string out = line + "\n";
  std::fwrite(out.data(), 1, out.size(), stderr);
}

std::string join(const std::vector<Poco::Net::SocketAddress>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : ",") + a.toString();
  return s.empty() ? "-" : s;
}

int fail(const std::string& message) {
  write_line("mockllm: " + message);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "mockllm: an OpenAI-compatible test server (GET /v1/models, POST /v1/chat/completions,\n"
      "GET /healthz, and GET|POST /mock/config for clients in the same network namespace only).\n"
      "Logs one line per request to stderr; SIGTERM/SIGINT stop it."};
  linewatch::mockllm::Options o;
  std::string token_file, ttft = "200ms", interval = "20ms";
  std::vector<std::string> models;
  app.add_option("--listen", o.listen, "plain HTTP listener ADDR:PORT (repeatable; port 0: any)");
  app.add_option("--tls-listen", o.tls_listen, "HTTPS listener ADDR:PORT (repeatable)");
  app.add_option("--cert", o.cert_file, "PEM certificate (chain) for --tls-listen")
      ->check(CLI::ExistingFile);
  app.add_option("--key", o.key_file, "PEM private key for --tls-listen")->check(CLI::ExistingFile);
  app.add_option("--token", o.tokens,
                 "accepted bearer token (repeatable; none: no auth). Visible in ps: prefer "
                 "--token-file");
  app.add_option("--token-file", token_file, "file with accepted bearer tokens, one per line");
  app.add_option("--ttft", ttft, "time to first token, e.g. 200ms")->capture_default_str();
  app.add_option("--token-interval", interval, "time between streamed chunks")
      ->capture_default_str();
  app.add_option("--tokens", o.behaviour.tokens, "content chunks per reply")
      ->capture_default_str()
      ->check(CLI::Range(1, linewatch::mockllm::kMaxTokens));
  app.add_option("--model", models, "model id served (repeatable; default gpt-4o-mini, mock-1)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!models.empty()) o.models = models;
  Result<Duration> t = duration_flag("--ttft", ttft);
  if (!t) return fail(t.error().message);
  Result<Duration> i = duration_flag("--token-interval", interval);
  if (!i) return fail(i.error().message);
  o.behaviour.ttft = *t;
  o.behaviour.token_interval = *i;
  if (!token_file.empty()) {
    Result<std::vector<std::string>> more = read_tokens(token_file);
    if (!more) return fail(more.error().message);
    o.tokens.insert(o.tokens.end(), more->begin(), more->end());
  }
  o.log = write_line;

  // Block the stop signals before any thread exists so every thread inherits
  // the mask and only sigwait() below sees them.
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  const bool auth = !o.tokens.empty();
  auto server = linewatch::mockllm::Server::start(std::move(o));
  if (!server) return fail(server.error().message);
  write_line("mockllm listening http=" + join((*server)->http_addresses()) +
             " https=" + join((*server)->https_addresses()) + " auth=" + (auth ? "on" : "off"));
  int sig = 0;
  sigwait(&stop, &sig);
  (*server)->stop();
  write_line(std::string("mockllm stopped signal=") + (sig == SIGINT ? "INT" : "TERM"));
  return 0;
}
