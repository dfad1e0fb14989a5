// Alerting: the agent's alert rules at work. It feeds the alert engine
// (rules/alert_engine.h) with probe results, bandwidth readings and the
// failover's line states, evaluates it once a second, and sends what happens
// on: every transition Event to the agent's event sink (log and storage, so
// `linewatch events` and /api/v1/events show alert_* events) and every
// AlertNotice to a NoticeSink (the notifier outbox).
//
//   results fan-out (probe workers) ─ on_result ──────┐
//   bandwidth sampler ─ on_bandwidth ─────────────────┼─> inbox ─> alerting thread:
//   failover events (decision thread) ─ line_events() ┘    observe, set_line_down,
//                                                          evaluate every `evaluate_every`
//                                                          ─> EventSink, NoticeSink, active()
//
// Threading. Inputs may come from any thread and never block: each copies
// what it needs (a round as an AlertRound: ids, outcome and RTTs, not the
// whole ProbeResult) into a bounded inbox (AlertingOptions::inbox_capacity)
// and returns; a full inbox drops the input and counts it. The thread takes
// the inbox at each evaluation and whenever it reaches
// AlertingOptions::drain_at inputs, so that it holds little between
// evaluations however many targets report. Results are stamped
// with clock.now() as they enter, so samples keep their arrival time however
// late the thread takes them. The engine lives on the one thread start()
// runs; tests call step() themselves on a fake clock and never start it.
// active() and stats() may be called from any thread.
//
// Line states come from the failover's events (line_down: down; line_up,
// line_recovered, line_degraded: not down), delivered to line_events() on
// the decision thread, which only takes the inbox's lock: the failover never
// waits for the alert engine. Without routes there is no failover and no
// line is ever down.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/event.h"
#include "core/time.h"
#include "rules/alert_engine.h"
#include "rules/bandwidth.h"

namespace linewatch {

// Where notices go: the notifier outbox, which stores and delivers them.
// enqueue() is called on the alerting thread and must not block on the
// network or the disk: queue and return.
class NoticeSink {
 public:
  virtual ~NoticeSink() = default;
  // One notice (firing, repeat or resolved) for `receivers` (notify[].id,
  // never empty). The notice's id is its idempotency key: the same notice is
  // never handed over twice by one agent run.
  virtual void enqueue(const AlertNotice& notice, const std::vector<std::string>& receivers) = 0;
};

// One log line per notice ("notice" id, rule, status, receivers, summary),
// warn when firing: the sink of an agent without receivers (which raises no
// notice: rules then have no one to notify) and of tests. With receivers the
// agent's sink is OutboxNotices (agent/outbox_notices.h), which logs the same
// line as it writes each notice to the outbox. Receivers are named by
// notify[].id only, never by URL, so no secret reaches the log.
// Thread-safe.
class LogNoticeSink final : public NoticeSink {
 public:
  void enqueue(const AlertNotice& notice, const std::vector<std::string>& receivers) override;
};

// The log line LogNoticeSink writes, without the stamp and level.
std::string notice_log_line(const AlertNotice& notice, const std::vector<std::string>& receivers);

struct AlertingOptions {
  // How often the engine is evaluated. Default: 1s (docs/alerts.md).
  Duration evaluate_every = std::chrono::seconds(1);
  // Inputs waiting for the alerting thread; beyond this they are dropped and
  // counted. One second of results of 5000 jobs fits easily. Default: 65536.
  std::size_t inbox_capacity = 65536;
  // Inputs that wake the alerting thread to take the inbox before the next
  // evaluation (at least 1). Default: 1024, about 150 KB of rounds.
  std::size_t drain_at = 1024;
};

// Counters since construction, for the status and tests.
struct AlertingStats {
  std::uint64_t evaluations = 0;  // engine evaluations run
  std::uint64_t inputs = 0;       // inputs taken from the inbox
  std::uint64_t dropped = 0;      // inputs dropped because the inbox was full
  std::uint64_t events = 0;       // transition events emitted
  std::uint64_t notices = 0;      // notices handed to the NoticeSink
};

// The alerts pending or firing as of the last evaluation.
struct AlertsView {
  std::vector<ActiveAlert> alerts;    // by rule, then scope key
  std::optional<WallTime> evaluated;  // nullopt before the first evaluation
};

class Alerting {
 public:
  // Builds the engine from config.alerts (rules/alert_rules.h
  // effective_rules), config.notify (the receivers) and config.agent.id.
  // `clock`, `events` and `notices` must outlive the Alerting; so must
  // `availability` when not null (null: availability rules have no value).
  // Failure: invalid_argument from the engine for a rule the config loader
  // should already have refused.
  static Result<std::unique_ptr<Alerting>> create(const Config& config, const Clock& clock,
                                                  EventSink& events, NoticeSink& notices,
                                                  AvailabilitySource* availability,
                                                  AlertingOptions options = {});
  ~Alerting();  // stop()
  Alerting(const Alerting&) = delete;
  Alerting& operator=(const Alerting&) = delete;

  // Starts the alerting thread (once); stop() joins it. Inputs after stop()
  // are ignored. Both from the owner only; stop() is idempotent.
  void start();
  void stop();

  // A reloaded config's rules and receivers. Builds the new engine now (a
  // failure leaves the running one alone: invalid_argument as create()) and
  // hands it to the alerting thread, which at its next step makes it adopt
  // the running engine's state (AlertEngine::adopt: pending and firing
  // alerts keep their start times, repeat timers and notice ids) and runs it
  // from then on. Any thread; never waits for the alerting thread.
  Status reconfigure(const Config& config, AvailabilitySource* availability);

  // Inputs: any thread, never blocking.
  void on_result(const ProbeResult& result);
  // A bandwidth reading of `line` (measuring with a utilisation count; others are ignored).
  void on_bandwidth(const std::string& line, const BandwidthReading& reading);
  // Add this to the failover's event fan-out: it takes the line state events
  // and ignores the rest (this component's own alert_* events included).
  EventSink& line_events() { return line_events_; }

  // Takes the inbox, feeds the engine, and evaluates it when the next tick
  // is due: ticks are `evaluate_every` apart, the first one period after
  // construction, and an evaluation runs at its tick's time (so `for: 2s`
  // fires at the second tick after pending, whatever the thread's wake-up
  // jitter). A step late by a period or more evaluates once, at its own
  // time, never several times to catch up. Then emits the transitions. Called by the alerting
  // thread; without start(), by the owner (tests). Never from two threads.
  void step();

  AlertsView view() const;
  AlertingStats stats() const;

 private:
  struct Round {
    AlertRound round;
    MonoTime at;
  };
  struct Bandwidth {  // a measuring reading with a utilisation
    std::string line;
    double utilisation;
    Duration interval;
    MonoTime at;
  };
  struct LineDown {
    std::string line;
    bool down;
  };
  using Input = std::variant<Round, Bandwidth, LineDown>;

  class LineEventTap final : public EventSink {
   public:
    explicit LineEventTap(Alerting& owner) : owner_(owner) {}
    void emit(const Event& event) override;

   private:
    Alerting& owner_;
  };

  Alerting(AlertEngine engine, const Clock& clock, EventSink& events, NoticeSink& notices,
           AlertingOptions options);
  void push(Input input);
  void apply(Input& input);
  void evaluate(MonoTime now);
  void run();

  const Clock& clock_;
  EventSink& events_;
  NoticeSink& notices_;
  const AlertingOptions options_;
  LineEventTap line_events_{*this};

  // Alerting thread only (or the owner when not started).
  AlertEngine engine_;
  MonoTime next_evaluation_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Input> inbox_;                  // guarded by mu_
  std::vector<Input> spare_;                  // alerting thread: the last inbox taken, for reuse
  std::unique_ptr<AlertEngine> next_engine_;  // guarded by mu_: from reconfigure()
  bool stopping_ = false;                     // guarded by mu_
  AlertsView view_;                           // guarded by mu_
  AlertingStats stats_;                       // guarded by mu_

  std::thread thread_;
  bool started_ = false;  // owner only
};

}  // namespace linewatch
