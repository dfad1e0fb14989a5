#include "agent/bandwidth_sampler.h"

#include <cmath>
#include <set>

#include "agent/failover.h"
#include "agent/log.h"
#include "probes/iface_counters.h"
#include "storage/store.h"

namespace linewatch {

const char* to_string(CountersFrom from) {
  switch (from) {
    case CountersFrom::counters:
      return "counters";
    case CountersFrom::interface:
      return "interface";
    case CountersFrom::gateway:
      return "gateway";
    case CountersFrom::none:
      break;
  }
  return "none";
}

// The thread's state of one line.
struct BandwidthSampler::Slot {
  Slot(const LineSpec& spec, const BandwidthOptions& options)
      : line(spec.id),
        binding(spec.binding),
        gateway(spec.gateway),
        meter(spec.capacity_bps, options) {
    view.line = spec.id;
    view.capacity_bps = spec.capacity_bps;
    if (!spec.counters.empty()) {
      view.interface = spec.counters;
      view.from = CountersFrom::counters;
    } else if (!spec.binding.interface.empty()) {
      view.interface = spec.binding.interface;
      view.from = CountersFrom::interface;
    }
  }

  std::string line;
  LineBinding binding;
  std::string gateway;
  BandwidthMeter meter;
  LineBandwidth view;
  bool by_gateway = false;  // the interface is (to be) resolved from the gateway
  MonoTime next_resolve{};  // by_gateway: not before this
  std::string logged;       // the last problem logged, so each is logged once
};

namespace {

void log_line(LogLevel level, const std::string& line, const std::string& text) {
  log(level, "line=" + line + " " + text);
}

// Logs `problem` once per change; "" clears it (logging `recovered` if set).
void report(std::string& logged, const std::string& line, const std::string& problem,
            const std::string& recovered) {
  if (problem == logged) return;
  if (!problem.empty())
    log_line(LogLevel::warn, line, "msg=\"bandwidth: no rate\" error=" + log_quote(problem));
  else if (!recovered.empty())
    log_line(LogLevel::info, line, "msg=\"bandwidth: " + recovered + "\"");
  logged = problem;
}

}  // namespace

BandwidthSampler::BandwidthSampler(const std::vector<LineSpec>& lines, const Clock& clock,
                                   BandwidthConsumer consumer, BandwidthSamplerOptions options)
    : clock_(clock), consumer_(std::move(consumer)), options_(options) {
  slots_.reserve(lines.size());
  for (const LineSpec& spec : lines) {
    Slot& s = slots_.emplace_back(spec, options_.meter);
    s.by_gateway = s.view.from == CountersFrom::none && !s.gateway.empty();
    if (s.view.from == CountersFrom::none && !s.by_gateway) {
      s.view.detail =
          "no interface to read bandwidth from: set lines[].counters (or interface, or gateway)";
      log_line(LogLevel::warn, s.line,
               "msg=\"bandwidth not measured: no counters, interface or gateway\" fix=\"set "
               "lines[].counters to the interface that "
               "carries the line\"");
    }
    views_.push_back(s.view);
  }
  thread_ = std::thread([this] { run(); });
}

BandwidthSampler::~BandwidthSampler() { stop(); }

void BandwidthSampler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<LineBandwidth> BandwidthSampler::snapshot() const {
  std::lock_guard lock(mutex_);
  return views_;
}

void BandwidthSampler::run() {
  MonoTime next = clock_.now();
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // Real waiting time; MonoTime is the steady clock's time point.
      const Duration wait = next - clock_.now();
      if (wait > Duration::zero()) wake_.wait_for(lock, wait, [this] { return stopping_; });
      if (stopping_) return;
    }
    for (Slot& s : slots_) sample(s);
    {
      std::lock_guard lock(mutex_);
      for (std::size_t i = 0; i < slots_.size(); ++i) views_[i] = slots_[i].view;
    }
    // Ticks stay on the grid; a pass that overran skips ticks, never stacks them.
    const MonoTime now = clock_.now();
    next += options_.period;
    if (next <= now) next += options_.period * ((now - next) / options_.period + 1);
  }
}

void BandwidthSampler::resolve(Slot& s, MonoTime now) {
  s.next_resolve = now + options_.resolve_retry;
  auto name = interface_towards(s.gateway, s.binding);
  if (!name) {
    s.view.detail = name.error().message;
    report(s.logged, s.line, s.view.detail, "");
    return;
  }
  if (*name != s.view.interface)
    log_line(LogLevel::info, s.line,
             "msg=\"bandwidth: counters of the interface towards the gateway\" interface=" + *name +
                 " gateway=" + s.gateway);
  s.view.interface = *name;
  s.view.from = CountersFrom::gateway;
}

void BandwidthSampler::sample(Slot& s) {
  if (s.by_gateway) {
    const MonoTime now = clock_.now();
    const bool missing =
        s.view.from == CountersFrom::none || (s.view.reading.state == CounterState::vanished &&
                                              now - s.view.reading.since >= options_.resolve_retry);
    if (missing && now >= s.next_resolve) resolve(s, now);
  }
  if (s.view.interface.empty()) return;
  auto counters = read_interface_counters(s.view.interface);
  const MonoTime now = clock_.now();
  const WallTime wall = clock_.wall_now();
  if (!counters) {
    s.view.detail = counters.error().message;
    // Another failure is no vanish: the sample is skipped and the gap rule applies.
    if (counters.error().code == ErrorCode::not_found)
      s.view.reading = s.meter.on_vanished(now, wall);
    report(s.logged, s.line, s.view.detail, "");
    return;
  }
  s.view.reading = s.meter.on_sample(
      now, wall, CounterSample{counters->ifindex, counters->rx_bytes, counters->tx_bytes});
  s.view.detail.clear();
  report(s.logged, s.line, "", "counters readable again, interface=" + s.view.interface);
  if (s.view.reading.state == CounterState::measuring && consumer_)
    consumer_(s.line, s.view.reading);
}

BandwidthConsumer bandwidth_to(Store& store, Failover* failover, const Config& config) {
  // Failover counts a line no route names as unknown: hand it only its own.
  std::set<std::string> routed;
  if (failover)
    for (const RouteSpec& r : config.routes) routed.insert(r.lines.begin(), r.lines.end());
  return [&store, failover, routed = std::move(routed)](const std::string& line,
                                                        const BandwidthReading& r) {
    const auto bps = [](const std::optional<double>& v) {
      return v ? static_cast<std::uint64_t>(std::llround(*v)) : std::uint64_t{0};
    };
    store.submit_bandwidth(line, r.at_wall, bps(r.rx_bps), bps(r.tx_bps), r.utilisation);
    if (failover && routed.count(line))
      failover->on_bandwidth(line, bps(r.rx_bps), bps(r.tx_bps), r.utilisation);
  };
}

}  // namespace linewatch
