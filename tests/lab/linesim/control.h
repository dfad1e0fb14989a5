// The control protocol on top of a LineModel: one command line in, one reply
// line out ("ok", "error: <message>" or, for show, one line of JSON).
//
// show: {"down":false,"up":{DIR},"down_dir":{DIR}} where DIR is
//   {"delay_ms":..,"jitter_ms":..,"dist":"normal","loss":0.02,"rate_bps":0,
//    "in":N,"out":N,"dropped_loss":N,"dropped_down":N,"dropped_queue":N,"queued":N}
// ("down_dir" so the direction does not clash with the "down" flag).
// Thread-safety: none; call from the thread that owns the model.
#pragma once

#include <string>
#include <string_view>

#include "tests/lab/linesim/model.h"

namespace linewatch::linesim {

// Runs one command against `model`. Returns the reply without a newline. A
// rejected command leaves the model unchanged.
std::string handle_command(LineModel& model, std::string_view line);

// The show reply for `model`.
std::string show_json(const LineModel& model);

}  // namespace linewatch::linesim
