#include "agent/failover_events.h"

#include <doctest/doctest.h>

#include "agent/failover_test_support.h"

using namespace linewatch;

TEST_CASE("a failover event is one logfmt line with only the fields it has") {
  Event down{WallTime{}, "line_down", "cn2-gia-1",
             "",         "silence",   "no reply for 1.00s from 1 reflector"};
  CHECK(event_log_line(down) ==
        "event=line_down line=cn2-gia-1 reason=silence detail=\"no reply for 1.00s from 1 "
        "reflector\"");
  Event dest{WallTime{}, "destination_down", "", "api", "all_lines_fail", "say \"hi\"\nbye"};
  CHECK(event_log_line(dest) ==
        "event=destination_down target=api reason=all_lines_fail detail=\"say \\\"hi\\\"\\nbye\"");
}

TEST_CASE("the event fan-out hands each event to every sink in order") {
  failover_test::EventRecorder a, b;
  EventFanout fanout;
  fanout.add(a);
  fanout.add(b);
  fanout.emit(Event{WallTime{}, "plan_new", "", "", "route_changed", "version 1"});
  CHECK(a.kinds() == std::vector<std::string>{"plan_new"});
  CHECK(b.kinds() == std::vector<std::string>{"plan_new"});
}
