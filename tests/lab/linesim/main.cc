// linesim: emulates one impaired line on an existing TUN device, or (with
// --send) sends one command to a running instance. See loop.h and model.h.
#include <signal.h>
#include <sys/signalfd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <random>

#include "core/units.h"
#include "tests/lab/linesim/client.h"
#include "tests/lab/linesim/loop.h"

namespace linewatch::linesim {
namespace {

int serve(const LoopOptions& options) {
  // Signals arrive through a signalfd so the loop sees them as an fd event
  // and unwinds normally (destructors unlink the control socket).
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  Fd stop(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!stop.valid()) {
    std::cerr << "linesim: " << errno_text("signalfd") << "\n";
    return 1;
  }
  auto sim = Linesim::open(options);
  if (!sim) {
    std::cerr << "linesim: " << sim.error().message << "\n";
    return 1;
  }
  Status s = (*sim)->run(stop.get());
  if (!s) {
    std::cerr << "linesim: " << s.error().message << "\n";
    return 1;
  }
  return 0;
}

int main_impl(int argc, char** argv) {
  CLI::App app{
      "linesim: user-space line impairment (delay, jitter, loss, rate, cut) on a TUN device.\n"
      "Server: linesim --dev sim --control /run/lwlab/line1.sock\n"
      "Client: linesim --control /run/lwlab/line1.sock --send \"set rt delay=150ms\""};
  std::string dev, control, send, far = "198.19.0.0/16";
  std::uint64_t seed = 0;
  app.add_option("--dev", dev, "existing TUN device to attach to (server mode)");
  app.add_option("--control", control, "unix control socket path")->required();
  app.add_option("--far-prefix", far, "IPv4 prefix whose destinations are the 'up' direction")
      ->capture_default_str();
  auto* seed_opt = app.add_option("--seed", seed, "random seed (default: random)");
  std::string spin = "250us";
  app.add_option("--spin", spin,
                 "busy-wait this long before each timed release instead of trusting the "
                 "timer's wake-up (0 = never)")
      ->capture_default_str();
  app.add_option("--send", send,
                 "client mode: send one command, print the reply; exit 0 ok, 1 error, 2 no "
                 "connection");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (app.count("--send") > 0) return run_client(control, send, std::cout, std::cerr);
  if (dev.empty()) {
    std::cerr << "linesim: --dev is required unless --send is given\n";
    return 2;
  }
  auto prefix = parse_prefix(far);
  if (!prefix) {
    std::cerr << "linesim: --far-prefix: " << prefix.error().message << "\n";
    return 2;
  }
  // "0" is accepted bare, as in the control protocol.
  auto spin_d = spin == "0" ? Result<Duration>(Duration(0)) : parse_duration(spin);
  if (!spin_d || *spin_d > std::chrono::milliseconds(10)) {
    std::cerr << "linesim: --spin: " << (spin_d ? "at most 10ms" : spin_d.error().message) << "\n";
    return 2;
  }
  LoopOptions options{
      dev, control, *prefix, seed_opt->count() > 0 ? seed : std::random_device{}(), {}, *spin_d};
  return serve(options);
}

}  // namespace
}  // namespace linewatch::linesim

int main(int argc, char** argv) { return linewatch::linesim::main_impl(argc, argv); }
