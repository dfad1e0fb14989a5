// Where the agent's failover events go: one logfmt line each (LogEventSink)
// through a fan-out (EventFanout) that storage's event writer joins beside
// the log, without the rules or the failover knowing either.
//
// Thread-safety: emit() from any thread (the decision thread and the apply
// thread both emit). EventFanout::add() only before events flow.
#pragma once

#include <string>
#include <vector>

#include "core/event.h"

namespace linewatch {

// "event=line_down line=cn2-gia-1 reason=silence detail=\"no reply for 1.00s\""
// (line and target only when set; the log line's own stamp is the time).
std::string event_log_line(const Event& event);

// Writes each event as one log line (agent/log.h): warn for what takes
// capacity away or failed (line_down, line_degraded, destination_down,
// plan_panic, tilt, apply_failed, push_failed), info otherwise. One write(2)
// per event; never blocks on anything but stderr.
class LogEventSink final : public EventSink {
 public:
  void emit(const Event& event) override;
};

// Hands each event to every sink added, in order. Each must itself be
// non-blocking and thread-safe.
class EventFanout final : public EventSink {
 public:
  // `sink` must outlive the fan-out. Call before any emit().
  void add(EventSink& sink) { sinks_.push_back(&sink); }
  void emit(const Event& event) override {
    for (EventSink* s : sinks_) s->emit(event);
  }

 private:
  std::vector<EventSink*> sinks_;
};

}  // namespace linewatch
