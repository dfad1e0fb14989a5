// PlanPusher: delivers route plans to the gateways of `gateways:` (a signed
// HTTP POST to gateways[].url, or a local program gateways[].exec), each on
// its own thread, retrying until the newest plan is in force there.
//
// The decision thread calls publish() with every new plan; it never waits on
// a gateway. A gateway only ever needs the latest plan, so a plan that was
// not delivered yet is replaced by a newer one (counted as superseded), and
// each gateway converges on the newest version once it can be reached.
//
// One thread per gateway: a gateway that hangs for its whole timeout, or a
// program that runs long, delays no other gateway, and each gateway keeps its
// own back-off. Gateways are few (a handful), so the threads are cheap.
//
// Retries (docs/route-push.md, "Delivery"): a transient failure (network,
// timeout, 5xx, 408, 429, a program that fails or overruns, an answer that
// shows an older version in force) is retried after a back-off that starts
// at backoff_initial and doubles up to backoff_max, each wait jittered; a
// rejection (other 4xx, 3xx) is sent again only after rejected_retry, since
// the gateway has said no to this very plan. A newer plan is tried at once
// in both cases, keeping the back-off level reached. A delivered plan is not
// sent again.
//
// Events (through the EventSink, target = gateway id): "push_ok" (reason
// "applied") each time a newer version is in force at a gateway, and
// "push_failed" (reason = the failure code) only when a gateway's outcome
// changes - the first failure after a success, or a different failure -
// never once per retry; retries are counted in status().
//
// Secrets: each url gateway's secret_file is read once, by start(); its
// content never appears in an error, event or status.
//
// Thread-safety: publish(), status() and stop() may be called from any
// thread. The EventSink is called from the gateway threads, never with a
// lock of ours held; it must be thread-safe and must not block.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "core/route_options.h"
#include "core/time.h"
#include "rules/plan.h"

namespace linewatch {

struct PushOptions {
  // First wait after a transient failure; it doubles with each failure in a row.
  // Default: 200ms.
  Duration backoff_initial = std::chrono::milliseconds(200);
  // The longest wait between retries. Default: 30s.
  Duration backoff_max = std::chrono::seconds(30);
  // Each wait is scaled by a random factor in [1 - jitter, 1 + jitter] (then
  // capped at backoff_max), so pushers that failed together do not retry in
  // lockstep. Default: 0.2.
  double jitter = 0.2;
  // A plan a gateway rejected (4xx) is sent again, freshly signed, after this
  // long: a fixed key, clock or gateway may then accept it. Default: 60s.
  Duration rejected_retry = std::chrono::seconds(60);
  // exec: the time between SIGTERM and SIGKILL for a program past its
  // timeout. Default: 1s.
  Duration kill_grace = std::chrono::seconds(1);
};

// One gateway's delivery state, for the API and metrics.
struct GatewayStatus {
  std::string id;                          // gateways[].id
  std::string kind;                        // "url" or "exec"
  std::optional<std::uint64_t> delivered;  // newest version in force there
  std::optional<std::uint64_t> pending;    // newest published version not yet in force
  std::optional<WallTime> last_attempt;    // when the last attempt ended
  std::string last_reason;                 // its reason code ("applied", "refused", ...)
  std::string last_error;                  // its detail when it failed; "" after a success
  std::uint64_t attempts = 0;              // every attempt, whatever its outcome
  std::uint64_t retries = 0;               // attempts that sent a version already tried
  std::uint64_t failures = 0;              // attempts that did not put the plan in force
  std::uint64_t failing_for = 0;           // failed attempts since the last success
  std::uint64_t superseded = 0;            // plans replaced by a newer one before delivery
};

// The key in `path` for gateway config `where` ("gateways[0]"): the file's
// bytes without trailing blanks, tabs and line ends (so `echo key > file`
// works). `linewatch gateway` reads its copy by the same rule. Failure: io / invalid_argument
// naming "<where>.secret_file" and the path, never the content: unset,
// unreadable, empty, or larger than 64 KiB.
Result<std::string> read_gateway_secret(const std::string& path, const std::string& where);

class PlanPusher {
 public:
  // Checks every gateway (exactly one of url/exec; url http(s) with a host;
  // secret_file readable and not empty for url), then starts one thread per
  // gateway. Failure (nothing started): the first problem, naming its key,
  // e.g. "gateways[1].secret_file: cannot read /etc/linewatch/gw1.key: No such
  // file or directory". `events` and `clock` (wall time for event stamps and
  // signatures) must outlive the pusher.
  static Result<std::unique_ptr<PlanPusher>> start(const std::vector<GatewaySpec>& gateways,
                                                   const PushOptions& options, EventSink& events,
                                                   const Clock& clock);
  ~PlanPusher();  // stop()
  PlanPusher(const PlanPusher&) = delete;
  PlanPusher& operator=(const PlanPusher&) = delete;

  // Hands `plan` to every gateway and returns at once (a copy and a brief
  // lock; no I/O). A plan older than the newest published one is ignored; one
  // of the same version replaces it. No effect after stop().
  void publish(const RoutePlan& plan);

  // A snapshot per gateway, in config order.
  std::vector<GatewayStatus> status() const;

  // Ends back-off waits at once, stops a running exec program (SIGTERM, then
  // SIGKILL after kill_grace), cuts an HTTP attempt that waits for its answer
  // (one still connecting ends within its gateway's timeout) and joins the
  // threads. An attempt cut short is not an outcome: no event. Idempotent.
  void stop();

 private:
  class Worker;
  explicit PlanPusher(std::vector<std::unique_ptr<Worker>> workers);

  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace linewatch
