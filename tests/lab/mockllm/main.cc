// mockllm: command line front of Server (see server.h, flags.h and --help).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "tests/lab/mockllm/flags.h"
#include "tests/lab/mockllm/server.h"

namespace {

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
  namespace mock = linewatch::mockllm;
  CLI::App app{
      "mockllm: an OpenAI, Anthropic and Gemini test server. OpenAI: GET /v1/models, POST\n"
      "/v1/chat/completions. Anthropic: GET /v1/models (with x-api-key or anthropic-version),\n"
      "POST /v1/messages. Gemini: GET /v1beta/models, POST\n"
      "/v1beta/models/MODEL:streamGenerateContent?alt=sse. A /openai, /anthropic or /gemini\n"
      "path prefix picks the flavour outright. GET /healthz; GET|POST /mock/config and GET\n"
      "/mock/records for clients in the same network namespace only. Logs one line per\n"
      "request and one JSON timing record per completion to stderr; SIGTERM/SIGINT stop it."};
  mock::Flags flags;
  mock::add_flags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  linewatch::Result<mock::Options> o = mock::to_options(std::move(flags));
  if (!o) return fail(o.error().message);
  o->log = write_line;

  // Block the stop signals before any thread exists so every thread inherits
  // the mask and only sigwait() below sees them.
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  const bool auth = !of(o->behaviour, mock::Flavour::openai).keys.empty();
  auto server = mock::Server::start(std::move(*o));
  if (!server) return fail(server.error().message);
  write_line("mockllm listening http=" + join((*server)->http_addresses()) +
             " https=" + join((*server)->https_addresses()) + " auth=" + (auth ? "on" : "off"));
  int sig = 0;
  sigwait(&stop, &sig);
  (*server)->stop();
  write_line(std::string("mockllm stopped signal=") + (sig == SIGINT ? "INT" : "TERM"));
  return 0;
}
