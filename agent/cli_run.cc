// `linewatch run` and `linewatch check-config`.
#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <ostream>

#include "agent/agent.h"
#include "agent/cli.h"
#include "agent/config_load.h"
#include "agent/log.h"
#include "agent/stop_signals.h"

namespace linewatch {
namespace {

// The address the API is bound to: agent.listen's host as the server
// resolved it, with the port the socket got.
std::string bound_address(const std::string& listen, std::uint16_t port) {
  try {
    const Poco::Net::SocketAddress configured(listen);
    return Poco::Net::SocketAddress(configured.host(), port).toString();
  } catch (const Poco::Exception&) {
    return listen;  // bound moments ago, so not expected; still say something true
  }
}

}  // namespace

int cmd_check_config(const std::string& config_path, std::ostream& out, std::ostream& err) {
  auto cfg = load_config_file(config_path);
  if (!cfg) {
    err << cfg.error().message << "\n";
    return config_exit_code(cfg.error());
  }
  const LlmKeyCheck keys = check_llm_keys(*cfg);
  for (const std::string& w : keys.warnings) err << "warning: " << w << "\n";
  // The config is valid; this host lacks what it names: an environment error.
  for (const std::string& e : keys.errors) err << e << "\n";
  if (!keys.errors.empty()) return 2;
  out << config_path << ": ok (" << cfg->lines.size() << " lines, " << cfg->targets.size()
      << " targets, " << job_count(*cfg) << " probe jobs)\n";
  return 0;
}

namespace {

// The last line: how many results never reached the database, so a stop on
// a failing disk is never silent. dropped: refused while the queue was full
// (over the whole run); lost: queued at stop, abandoned on a failing database.
void log_stopped(const WriterStats& st, bool joined) {
  const std::uint64_t not_stored = st.dropped + st.lost;
  std::string msg =
      joined ? "msg=\"stopped\"" : "msg=\"stopped with rounds in flight; they are not recorded\"";
  msg += " rows_not_stored=" + std::to_string(not_stored) +
         " dropped=" + std::to_string(st.dropped) + " lost=" + std::to_string(st.lost) +
         " written=" + std::to_string(st.written) + " storage=" + std::string(to_string(st.state));
  log(joined && not_stored == 0 ? LogLevel::info : LogLevel::warn, msg);
}

}  // namespace

int cmd_run(const std::string& config_path, std::ostream& out, std::ostream& err) {
  auto cfg = load_config_file(config_path);
  if (!cfg) {
    err << cfg.error().message << "\n";
    return config_exit_code(cfg.error());
  }
  // A key that cannot be read would fail every round of its target: refuse
  // to start, as check-config does.
  const LlmKeyCheck keys = check_llm_keys(*cfg);
  for (const std::string& w : keys.warnings) log(LogLevel::warn, "msg=" + log_quote(w));
  for (const std::string& e : keys.errors) err << e << "\n";
  if (!keys.errors.empty()) return 2;
  StopSignals signals(/*hangup=*/true);  // before any thread exists

  SystemClock clock;
  const std::string id = cfg->agent.id;
  const std::string listen = cfg->agent.listen;
  const std::size_t jobs = job_count(*cfg);
  auto agent = Agent::open(std::move(*cfg), clock);
  if (!agent) {
    err << "linewatch: " << agent.error().message << "\n";
    return 2;
  }
  agent.value()->start();
  log(LogLevel::info, "agent=" + id + " msg=\"started\" jobs=" + std::to_string(jobs) +
                          " api=" + bound_address(listen, agent.value()->api_port()));
  out.flush();

  // SIGHUP reloads the config file (the reload logs its outcome and emits
  // its event); the verdict is not waited for here.
  std::string sig_name;
  while ((sig_name = signals.wait()) == "HUP") {
    log(LogLevel::info, "msg=\"reloading the config\" signal=HUP config=" + log_quote(config_path));
    agent.value()->reload();
  }
  log(LogLevel::info, "msg=\"stopping\" signal=" + sig_name);
  // The grace keeps the whole stop under a second: rounds still running after
  // it are abandoned; they are incomplete and would not be stored anyway.
  const bool joined = agent.value()->stop(std::chrono::milliseconds(600));
  log_stopped(agent.value()->storage_stats(), joined);
  // Workers still reference the agent: do not run destructors.
  if (!joined) std::_Exit(0);
  return 0;
}

}  // namespace linewatch
