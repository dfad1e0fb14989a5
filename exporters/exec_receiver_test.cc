#include "exporters/exec_receiver.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>

#include "exporters/plan_pusher.h"
#include "exporters/program_run.h"
#include "exporters/push_test_support.h"

using namespace linewatch;
using namespace linewatch::test;
using namespace std::chrono_literals;

namespace {

GatewaySpec exec_gateway(const std::string& path, Duration timeout = 5s) {
  GatewaySpec g;
  g.id = "hook";
  g.exec = path;
  g.timeout = timeout;
  return g;
}

// True when `pid` no longer runs (gone, or a zombie nobody reaped yet).
bool gone(const std::string& pid_text) {
  std::string stat = read_file("/proc/" + std::to_string(std::stoi(pid_text)) + "/stat");
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;
  return stat[paren + 2] == 'Z' || stat[paren + 2] == 'X';
}

ProgramRun run(const std::string& path, std::string_view input, Duration timeout = 5s) {
  return run_program(path, {"PATH=/usr/bin:/bin"}, input, timeout, 200ms, std::stop_token());
}

}  // namespace

TEST_CASE("exec receiver gives the program the exact plan JSON on stdin and a clean environment") {
  TempDir dir;
  const std::string d = dir.path();
  const std::string script = write_script(dir, "on-plan",
                                          "cat > '" + d +
                                              "/got.json'\n"
                                              "printf '%s' \"$LINEWATCH_PLAN_VERSION\" > '" +
                                              d +
                                              "/version'\n"
                                              "printf '%s' \"$LINEWATCH_GATEWAY\" > '" +
                                              d +
                                              "/gateway'\n"
                                              "env > '" +
                                              d + "/env'");
  // Set in the agent only: the program must not see it.
  ::setenv("LINEWATCH_TEST_AGENT_ONLY", "agent-private-value", 1);
  ExecReceiver receiver(exec_gateway(script), 200ms);
  ::unsetenv("LINEWATCH_TEST_AGENT_ONLY");
  const DeliveryOutcome o = receiver.deliver(test_plan(7), std::stop_token());
  CHECK(o.kind == DeliveryOutcome::Kind::applied);
  CHECK(o.reason == "applied");
  CHECK(o.applied_version == 7u);
  CHECK(read_file(d + "/got.json") == encode_plan(test_plan(7)));
  CHECK(read_file(d + "/version") == "7");
  CHECK(read_file(d + "/gateway") == "hook");
  const std::string env = read_file(d + "/env");
  CHECK(env.find("PATH=") != std::string::npos);
  CHECK(env.find("agent-private-value") == std::string::npos);
}

TEST_CASE("exec receiver stops a program that overruns its timeout with its children") {
  TempDir dir;
  const std::string script =
      write_script(dir, "slow", "sleep 30 &\necho $! > '" + dir.file("child") + "'\nwait");
  ExecReceiver receiver(exec_gateway(script, 1500ms), 300ms);
  const DeliveryOutcome o = receiver.deliver(test_plan(1), std::stop_token());
  CHECK(o.kind == DeliveryOutcome::Kind::transient);
  CHECK(o.reason == "exec_timeout");
  CHECK(o.detail.find("did not exit within 1500 ms") != std::string::npos);
  CHECK(o.took >= 1500ms);
  // The group got the signal: the backgrounded sleep is gone too.
  const std::string child = read_file(dir.file("child"));
  REQUIRE_FALSE(child.empty());
  CHECK(eventually([&] { return gone(child); }, 5s));
}

TEST_CASE("exec receiver kills a program that ignores SIGTERM after the grace") {
  TempDir dir;
  const std::string script = write_script(dir, "ignores-term", "trap '' TERM\nsleep 30");
  ExecReceiver receiver(exec_gateway(script, 200ms), 300ms);
  const DeliveryOutcome o = receiver.deliver(test_plan(1), std::stop_token());
  CHECK(o.reason == "exec_timeout");
  CHECK(o.took >= 500ms);  // timeout, then the whole grace before SIGKILL
  CHECK(o.took < 10s);     // ... but not the program's 30 s
}

TEST_CASE("exec receiver reports a failing program's exit status and its stderr") {
  TempDir dir;
  const std::string script =
      write_script(dir, "fails", "cat > /dev/null\necho 'table main is locked' >&2\nexit 3");
  ExecReceiver receiver(exec_gateway(script), 200ms);
  const DeliveryOutcome o = receiver.deliver(test_plan(1), std::stop_token());
  CHECK(o.kind == DeliveryOutcome::Kind::transient);
  CHECK(o.reason == "exec_exit");
  CHECK(o.detail == script + " exited 3; output: table main is locked");
}

TEST_CASE("exec receiver reports a program killed by a signal") {
  TempDir dir;
  const std::string script = write_script(dir, "dies", "kill -9 $$");
  ExecReceiver receiver(exec_gateway(script), 200ms);
  const DeliveryOutcome o = receiver.deliver(test_plan(1), std::stop_token());
  CHECK(o.reason == "exec_exit");
  CHECK(o.detail == script + " was killed by SIGKILL");
}

TEST_CASE("exec receiver reports a program that cannot be started") {
  TempDir dir;
  ExecReceiver receiver(exec_gateway(dir.file("missing")), 200ms);
  const DeliveryOutcome o = receiver.deliver(test_plan(1), std::stop_token());
  CHECK(o.kind == DeliveryOutcome::Kind::transient);
  CHECK(o.reason == "exec_start");
  CHECK(o.detail == "cannot run " + dir.file("missing") + ": No such file or directory");
}

TEST_CASE("run_program keeps only the first 4 KiB of a chatty program's output") {
  TempDir dir;
  // 100 kB is more than a pipe holds: the program finishes only if we keep reading.
  const std::string script =
      write_script(dir, "chatty", "head -c 100000 /dev/zero | tr '\\0' x\necho oops >&2");
  const ProgramRun r = run(script, "");
  CHECK(r.end == ProgramRun::End::exited);
  CHECK(r.code == 0);
  CHECK(r.output == std::string(kProgramOutputLimit, 'x'));
  CHECK(r.output_cut == 100000 - kProgramOutputLimit + 5);
}

TEST_CASE("run_program survives a program that never reads its stdin") {
  TempDir dir;
  // The program closes its stdin and keeps running: writing the rest fails
  // with EPIPE, which must not raise SIGPIPE in this process.
  const std::string script = write_script(dir, "deaf", "exec 0<&-\nsleep 0.3");
  // Something in this binary blocks SIGPIPE at start; the agent may not.
  sigset_t pipe, old;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  REQUIRE(::pthread_sigmask(SIG_UNBLOCK, &pipe, &old) == 0);
  const ProgramRun r = run(script, std::string(4 << 20, '{'));
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  CHECK(r.end == ProgramRun::End::exited);
  CHECK(r.code == 0);
}

TEST_CASE("pusher delivers through an exec gateway and reports repeated failures once") {
  TempDir dir;
  const std::string d = dir.path();
  const std::string script =
      write_script(dir, "flaky",
                   "n=$(cat '" + d +
                       "/count' 2>/dev/null || echo 0)\n"
                       "n=$((n + 1))\n"
                       "echo $n > '" +
                       d +
                       "/count'\n"
                       "if [ $n -le 3 ]; then echo \"attempt $n failed\" >&2; exit 1; fi\n"
                       "cat > '" +
                       d + "/got.json'");
  RecordingSink sink;
  SystemClock clock;
  auto pusher = PlanPusher::start({exec_gateway(script)}, fast_options(), sink, clock);
  REQUIRE(pusher.ok());
  (*pusher)->publish(test_plan(5));
  REQUIRE(eventually([&] { return (*pusher)->status().at(0).delivered == 5u; }));
  (*pusher)->stop();

  CHECK(read_file(d + "/got.json") == encode_plan(test_plan(5)));
  const GatewayStatus s = (*pusher)->status().at(0);
  CHECK(s.kind == "exec");
  CHECK(s.attempts == 4);
  CHECK(s.retries == 3);
  CHECK(s.failures == 3);
  CHECK(sink.kinds() == "push_failed:exec_exit push_ok:applied");
  CHECK(sink.events()[0].detail.find("attempt 1 failed") != std::string::npos);
}

TEST_CASE("pusher stop ends a running exec program") {
  TempDir dir;
  const std::string script =
      write_script(dir, "hangs", "echo $$ > '" + dir.file("pid") + "'\nexec sleep 30");
  RecordingSink sink;
  SystemClock clock;
  auto pusher = PlanPusher::start({exec_gateway(script, 60s)}, fast_options(), sink, clock);
  REQUIRE(pusher.ok());
  (*pusher)->publish(test_plan(1));
  REQUIRE(eventually([&] { return !read_file(dir.file("pid")).empty(); }));
  const auto before = std::chrono::steady_clock::now();
  (*pusher)->stop();
  // Bounded by the kill grace, far below the program's 60 s timeout.
  CHECK(std::chrono::steady_clock::now() - before < 10s);
  CHECK(gone(read_file(dir.file("pid"))));
  CHECK(sink.events().empty());  // stopping is not a push outcome
  CHECK((*pusher)->status().at(0).attempts == 0);
}
