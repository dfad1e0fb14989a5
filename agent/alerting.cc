#include "agent/alerting.h"

#include <algorithm>

#include "agent/log.h"
#include "rules/alert_rules.h"

namespace linewatch {

std::string notice_log_line(const AlertNotice& n, const std::vector<std::string>& receivers) {
  std::string to;
  for (const std::string& r : receivers) to += (to.empty() ? "" : ",") + r;
  const std::string status = n.resolved     ? "resolved"
                             : n.repeat > 0 ? "repeat-" + std::to_string(n.repeat)
                                            : "firing";
  return "msg=\"alert notice\" notice=" + log_quote(n.id) + " rule=" + log_quote(n.rule) +
         " status=" + status + " severity=" + n.severity + " receivers=" + log_quote(to) +
         " summary=" + log_quote(n.summary);
}

void LogNoticeSink::enqueue(const AlertNotice& notice, const std::vector<std::string>& receivers) {
  log(notice.resolved ? LogLevel::info : LogLevel::warn, notice_log_line(notice, receivers));
}

namespace {

Result<AlertEngine> make_engine(const Config& config, AvailabilitySource* availability) {
  AlertEngineOptions engine_options;
  engine_options.agent = config.agent.id;
  for (const NotifierSpec& n : config.notify) engine_options.receivers.push_back(n.id);
  auto engine =
      AlertEngine::create(effective_rules(config.alerts), std::move(engine_options), availability);
  if (!engine) return Error{engine.error().code, "alerts: " + engine.error().message};
  return engine;
}

}  // namespace

Result<std::unique_ptr<Alerting>> Alerting::create(const Config& config, const Clock& clock,
                                                   EventSink& events, NoticeSink& notices,
                                                   AvailabilitySource* availability,
                                                   AlertingOptions options) {
  auto engine = make_engine(config, availability);
  if (!engine) return engine.error();
  return std::unique_ptr<Alerting>(
      new Alerting(std::move(*engine), clock, events, notices, options));
}

Status Alerting::reconfigure(const Config& config, AvailabilitySource* availability) {
  auto engine = make_engine(config, availability);
  if (!engine) return engine.error();
  {
    std::lock_guard lock(mu_);
    next_engine_ = std::make_unique<AlertEngine>(std::move(*engine));
  }
  wake_.notify_all();
  return ok_status();
}

Alerting::Alerting(AlertEngine engine, const Clock& clock, EventSink& events, NoticeSink& notices,
                   AlertingOptions options)
    : clock_(clock),
      events_(events),
      notices_(notices),
      options_(options),
      engine_(std::move(engine)),
      next_evaluation_(clock.now() + options.evaluate_every) {}

Alerting::~Alerting() { stop(); }

void Alerting::start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void Alerting::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    inbox_.clear();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Alerting::on_result(const ProbeResult& result) { push(Round{AlertRound(result), MonoTime{}}); }

void Alerting::on_bandwidth(const std::string& line, const BandwidthReading& reading) {
  // The engine samples only rates with a utilisation; the rest need no copy.
  if (reading.state != CounterState::measuring || !reading.utilisation) return;
  push(Bandwidth{line, *reading.utilisation, reading.interval, reading.at});
}

void Alerting::LineEventTap::emit(const Event& event) {
  if (event.kind == "line_down")
    owner_.push(LineDown{event.line, true});
  else if (event.kind == "line_up" || event.kind == "line_recovered" ||
           event.kind == "line_degraded")
    owner_.push(LineDown{event.line, false});
}

void Alerting::push(Input input) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (inbox_.size() >= options_.inbox_capacity) {
      ++stats_.dropped;
      return;
    }
    // Stamped under the lock: arrival times never go back in inbox order, as
    // the engine's windows require.
    if (auto* round = std::get_if<Round>(&input)) round->at = clock_.now();
    inbox_.push_back(std::move(input));
    if (inbox_.size() != std::max<std::size_t>(options_.drain_at, 1)) return;
  }
  wake_.notify_all();
}

void Alerting::apply(Input& input) {
  if (auto* round = std::get_if<Round>(&input)) {
    const AlertRound& r = round->round;
    engine_.observe(r, round->at);
    if (r.ttft != AlertRound::kNone)
      engine_.observe_ttft(r.line, r.target, std::chrono::microseconds(r.ttft), round->at);
  } else if (auto* bw = std::get_if<Bandwidth>(&input)) {
    engine_.observe_bandwidth(bw->line, bw->utilisation, bw->interval, bw->at);
  } else if (auto* line = std::get_if<LineDown>(&input)) {
    engine_.set_line_down(line->line, line->down);
  }
}

void Alerting::step() {
  // The inbox and this buffer swap, so neither grows afresh each time.
  std::vector<Input> inputs = std::move(spare_);
  inputs.clear();
  std::unique_ptr<AlertEngine> next;
  {
    std::lock_guard lock(mu_);
    inputs.swap(inbox_);
    next.swap(next_engine_);
    stats_.inputs += inputs.size();
  }
  // Inputs that came before the reload belong to the old rules' windows.
  std::size_t i = 0;
  if (next) {
    for (; i < inputs.size(); ++i) apply(inputs[i]);
    next->adopt(std::move(engine_));
    engine_ = std::move(*next);
  }
  for (; i < inputs.size(); ++i) apply(inputs[i]);
  inputs.clear();
  // A burst's buffer goes; the usual one stays.
  if (inputs.capacity() > 4 * std::max<std::size_t>(options_.drain_at, 1)) inputs.shrink_to_fit();
  spare_ = std::move(inputs);
  const MonoTime now = clock_.now();
  if (now < next_evaluation_) return;
  // Evaluations run at their scheduled ticks, exactly a period apart, so a
  // rule's `for` is met after the same number of evaluations however late
  // the thread wakes; inputs taken after the tick count in it. A step late
  // by a period or more evaluates once, at `now`, and the ticks start again
  // from there.
  MonoTime tick = next_evaluation_;
  next_evaluation_ += options_.evaluate_every;
  if (next_evaluation_ <= now) {
    tick = now;
    next_evaluation_ = now + options_.evaluate_every;
  }
  evaluate(tick);
}

void Alerting::evaluate(MonoTime now) {
  const WallTime wall = clock_.wall_now();
  const std::vector<AlertTransition> transitions = engine_.evaluate(now, wall);
  std::uint64_t notices = 0;
  for (const AlertTransition& t : transitions) {
    events_.emit(t.event);
    if (t.notice && !t.notice->receivers.empty()) {
      notices_.enqueue(*t.notice, t.notice->receivers);
      ++notices;
    }
  }
  AlertsView view{engine_.active(), wall};
  std::lock_guard lock(mu_);
  view_ = std::move(view);
  ++stats_.evaluations;
  stats_.events += transitions.size();
  stats_.notices += notices;
}

void Alerting::run() {
  for (;;) {
    step();
    const Duration wait = std::clamp<Duration>(
        next_evaluation_ - clock_.now(), std::chrono::milliseconds(1), options_.evaluate_every);
    std::unique_lock lock(mu_);
    const std::size_t drain_at = std::max<std::size_t>(options_.drain_at, 1);
    wake_.wait_for(lock, wait, [&] { return stopping_ || inbox_.size() >= drain_at; });
    if (stopping_) return;
  }
}

AlertsView Alerting::view() const {
  std::lock_guard lock(mu_);
  return view_;
}

AlertingStats Alerting::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace linewatch
