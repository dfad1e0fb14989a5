// Agent: the running linewatch, wired from one Config.
//
//   scheduler ──> probes ──> results fan-out ──┬──> status board ──> HTTP API
//                                              ├──> storage writer (SQLite, never blocks a probe)
//                                              ├──> alerting ──> notices ──> outbox ──> receivers
//                                              └──> failover (only with routes)
//   liveness engine ──> failover ──> plans ──> local apply (apply.table)
//                                └─> events ──> log, storage, alerting (line states)
//   alerting ──> alert_* events ──> log, storage; active alerts ──> HTTP API
//   outbox sender ──> notify_* events ──> log, storage
//   bandwidth sampler ──> storage, failover, alerting, HTTP API
//
// open() does everything that can fail (storage, listen socket, with routes
// the liveness sockets and apply.table) before any probe runs, so a bad
// data_dir or a busy port is reported at start, not later; so is a receiver
// whose URL or key variable or file cannot be read (notify:). open() starts
// the alerting thread (agent/alerting.h) and, with receivers, the notifier
// outbox's threads (agent/outbox_notices.h). With routes,
// open() also starts the liveness echoes and the failover decision thread:
// failover does not wait for start(). Without routes nothing of it exists.
//
// Reload (reload(), SIGHUP, POST /-/reload): the agent re-reads the file it
// was opened with (config.source_path) on a thread of its own, one reload at
// a time (agent/reloader.h). A file that does not load, a key only a restart
// can change (agent/config_diff.h) or a part that cannot be built refuses
// the reload: the running config stays, the errors are logged (FILE:LINE:COL:
// key: message), a config_reload_failed event is emitted and
// linewatch_config_last_reload_successful drops to 0. A good reload keeps
// what did not change: the status board, the store, the API, the alert
// states (pending and firing with their start times and repeat timers), the
// metrics series still configured; the failover when none of its keys
// changed, else rebuilt seeded with the plan and version in force (no route
// moves because of a reload); the receivers unless notify: changed. The
// scheduler is rebuilt from the new jobs: the old one stops with a grace of
// its longest round (the rounds in flight are recorded), then the new one
// starts. Then a config_reloaded event.
// Thread-safe after start(); start() and stop() from the owner only.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <string>

#include "agent/reloader.h"
#include "core/config.h"
#include "core/error.h"
#include "core/time.h"
#include "storage/store.h"

namespace linewatch {

class Agent {
 public:
  // Opens storage under config.agent.data_dir and binds config.agent.listen;
  // with config.routes, starts the failover (see above). Failure: the first
  // error, naming the key or address to fix.
  static Result<std::unique_ptr<Agent>> open(Config config, const Clock& clock);
  ~Agent();

  // Starts probing; returns at once.
  void start();

  // Stops probing, waiting up to `grace` for rounds in flight, stops the
  // failover (applied routes stay in the kernel), then flushes and closes storage. Returns false
  // when a round was still running: its worker is abandoned and the caller should end the process.
  bool stop(Duration grace);

  // The storage writer's counters and health; still valid after stop().
  WriterStats storage_stats() const;

  // The /api/v1/status document.
  std::string status_json() const;

  std::uint16_t api_port() const;

  // Asks for a reload of the config file (see above); returns at once. The
  // future gets the verdict when the file has been read and checked, before
  // the new config is applied (a refused reload changes nothing). Requests
  // made while one waits to start share it. After stop(): refused.
  std::shared_future<ReloadOutcome> reload();

  // The config in force: 1 as opened, +1 per good reload.
  std::uint64_t config_generation() const;

  struct Impl;

 private:
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace linewatch
