#include "exporters/program_run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <system_error>

#include "core/fd.h"

namespace linewatch {

namespace {

using Steady = std::chrono::steady_clock;

// Without a pidfd the loop cannot sleep until the exit, so it looks this often.
constexpr auto kExitPollSlice = std::chrono::milliseconds(20);

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

// The parent's and the child's ends of stdin (a socket pair: send() with
// MSG_NOSIGNAL) and of stdout+stderr (a pipe), plus a pipe that a stop
// request writes to so that poll() wakes at once.
struct Channels {
  Fd in_parent, in_child, out_parent, out_child, wake_read, wake_write;
};

std::optional<std::string> open_channels(Channels& c) {
  int sv[2], out[2], wake[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return "socketpair: " + errno_text(errno);
  c.in_parent.reset(sv[0]);
  c.in_child.reset(sv[1]);
  if (::pipe2(out, O_CLOEXEC | O_NONBLOCK) != 0) return "pipe: " + errno_text(errno);
  c.out_parent.reset(out[0]);
  c.out_child.reset(out[1]);
  // The child's end must block: programs expect an ordinary stdout.
  ::fcntl(c.out_child.get(), F_SETFL, 0);
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) return "pipe: " + errno_text(errno);
  c.wake_read.reset(wake[0]);
  c.wake_write.reset(wake[1]);
  return std::nullopt;
}

// posix_spawn with our descriptors on 0/1/2 and nothing else inherited.
// Success: the pid. Failure: the errno posix_spawn reported (exec errors included).
std::pair<pid_t, int> spawn(const std::string& path, const std::vector<std::string>& env, int in_fd,
                            int out_fd) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group, so a timeout stops the program's children as well.
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, path.c_str(), &fa, &attr, argv, envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return {rc == 0 ? pid : -1, rc};
}

// A started child: killed (whole group) and reaped on every path out.
class Child {
 public:
  explicit Child(pid_t pid)
      : pid_(pid), pidfd_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))) {}
  ~Child() {
    if (reaped_) return;
    ::kill(-pid_, SIGKILL);
    reap();
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int pidfd() const { return pidfd_.get(); }
  // True once the program ended. It stays a zombie until reap(), which keeps
  // its pid, and so its process group id, from being reused meanwhile.
  bool ended() const {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
      return errno != EINTR;  // ECHILD: someone else reaped it; nothing to wait for
    return info.si_pid == pid_;
  }
  void signal_group(int sig) const { ::kill(-pid_, sig); }
  // The wait status, or nullopt when it was reaped elsewhere.
  std::optional<int> reap() {
    int status = 0;
    pid_t r;
    while ((r = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    if (r != pid_) return std::nullopt;
    return status;
  }

 private:
  pid_t pid_;
  Fd pidfd_;  // invalid when pidfd_open is unsupported: then ended() is polled
  bool reaped_ = false;
};

// Keeps the first kProgramOutputLimit bytes and counts the rest.
void keep_output(ProgramRun& run, const char* data, std::size_t n) {
  const std::size_t room = kProgramOutputLimit - std::min(run.output.size(), kProgramOutputLimit);
  run.output.append(data, std::min(room, n));
  run.output_cut += n - std::min(room, n);
}

// Reads what is there now. False at EOF or on an error: stop reading.
bool read_output(int fd, ProgramRun& run) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      keep_output(run, buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

int poll_ms(Steady::time_point deadline, bool have_pidfd) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Steady::now());
  auto ms = std::max<long long>(0, left.count());
  if (!have_pidfd) ms = std::min<long long>(ms, kExitPollSlice.count());
  return static_cast<int>(std::min<long long>(ms, 60'000));
}

// The watch loop: feeds stdin, reads output, and enforces the deadline and
// the stop request until the program has ended (not yet reaped).
class Watch {
 public:
  Watch(Channels& c, Child& child, std::string_view input, ProgramRun& run)
      : c_(c), child_(child), input_(input), run_(run) {}

  // Returns what stopped the program: exited (by itself), timed_out or cancelled.
  ProgramRun::End until_end(Steady::time_point deadline, Duration kill_grace) {
    if (input_.empty()) c_.in_parent.reset();
    while (!child_.ended()) {
      const bool woken = poll_once(deadline);
      const auto now = Steady::now();
      if (phase_ == Phase::running && (woken || now >= deadline)) {
        stopped_by_ = woken ? ProgramRun::End::cancelled : ProgramRun::End::timed_out;
        child_.signal_group(SIGTERM);
        phase_ = Phase::terminating;
        deadline = now + kill_grace;
      } else if (phase_ == Phase::terminating && now >= deadline) {
        child_.signal_group(SIGKILL);
        phase_ = Phase::killed;
        deadline = Steady::time_point::max() - std::chrono::hours(1);
      }
    }
    // Whatever the program's children still run after a timeout goes too;
    // the unreaped program keeps the group id ours until then.
    if (phase_ != Phase::running) child_.signal_group(SIGKILL);
    if (c_.out_parent.valid()) read_output(c_.out_parent.get(), run_);
    return phase_ == Phase::running ? ProgramRun::End::exited : stopped_by_;
  }

 private:
  enum class Phase { running, terminating, killed };

  // One poll round. True when a stop request arrived.
  bool poll_once(Steady::time_point deadline) {
    pollfd fds[4];
    nfds_t n = 0;
    auto add = [&](const Fd& fd, short events) {
      if (!fd.valid()) return -1;
      fds[n] = {fd.get(), events, 0};
      return static_cast<int>(n++);
    };
    // The pidfd turns readable when the program ends.
    if (child_.pidfd() >= 0) fds[n++] = {child_.pidfd(), POLLIN, 0};
    const int out_i = add(c_.out_parent, POLLIN);
    const int in_i = add(c_.in_parent, POLLOUT);
    const int wake_i = phase_ == Phase::running ? add(c_.wake_read, POLLIN) : -1;
    if (::poll(fds, n, poll_ms(deadline, child_.pidfd() >= 0)) <= 0) return false;
    if (in_i >= 0 && fds[in_i].revents) feed_input();
    if (out_i >= 0 && fds[out_i].revents && !read_output(c_.out_parent.get(), run_))
      c_.out_parent.reset();
    return wake_i >= 0 && (fds[wake_i].revents & POLLIN);
  }

  void feed_input() {
    const ssize_t n = ::send(c_.in_parent.get(), input_.data() + written_, input_.size() - written_,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) written_ += static_cast<std::size_t>(n);
    const bool failed = n < 0 && errno != EAGAIN && errno != EINTR;
    // Closing gives the program EOF; one that stopped reading just loses the rest.
    if (failed || written_ == input_.size()) c_.in_parent.reset();
  }

  Channels& c_;
  Child& child_;
  std::string_view input_;
  ProgramRun& run_;
  std::size_t written_ = 0;
  Phase phase_ = Phase::running;
  ProgramRun::End stopped_by_ = ProgramRun::End::exited;
};

}  // namespace

ProgramRun run_program(const std::string& path, const std::vector<std::string>& env,
                       std::string_view input, Duration timeout, Duration kill_grace,
                       std::stop_token stop) {
  ProgramRun run;
  const auto start = Steady::now();
  Channels c;
  if (auto failed = open_channels(c)) {
    run.error = "cannot run " + path + ": " + *failed;
    return run;
  }
  const int wake_fd = c.wake_write.get();
  std::stop_callback on_stop(stop, [wake_fd] {
    const char byte = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd, &byte, 1);
  });
  const auto [pid, err] = spawn(path, env, c.in_child.get(), c.out_child.get());
  c.in_child.reset();
  c.out_child.reset();
  if (pid < 0) {
    run.error = "cannot run " + path + ": " + errno_text(err);
    return run;
  }
  Child child(pid);
  run.end = Watch(c, child, input, run).until_end(start + timeout, kill_grace);
  const std::optional<int> status = child.reap();
  run.took = Steady::now() - start;
  if (run.end != ProgramRun::End::exited) return run;
  if (!status) {  // SIGCHLD ignored, or reaped by someone else: no verdict
    run.code = -1;
    run.error = "the exit status of " + path + " was lost (SIGCHLD ignored?)";
    return run;
  }
  if (WIFSIGNALED(*status)) {
    run.end = ProgramRun::End::signalled;
    run.code = WTERMSIG(*status);
  } else {
    run.code = WEXITSTATUS(*status);
  }
  return run;
}

}  // namespace linewatch
