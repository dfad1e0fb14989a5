// linesim settings and the control-protocol command parser.
//
// Parsing validates every key of a command before anything is applied, and
// apply() cannot fail, so a rejected command never changes a setting.
// Protocol (one command per line; see /work/main/tests/lab spec):
//   set DIR key=value ...   DIR: up | down | both | rt
//       keys: delay=DURATION jitter=DURATION dist=normal|uniform
//             loss=PERCENT ("2%") or fraction ("0.02")  rate=BITRATE|0
//   down | up | show
// A bare "0" is accepted for delay, jitter and rate (zero needs no unit);
// any other number needs a unit (core/units.h). delay and jitter are at most
// kMaxDelay so release times can never overflow.
// Thread-safety: pure functions and plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "core/error.h"
#include "core/time.h"

namespace linewatch::linesim {

inline constexpr Duration kMaxDelay = std::chrono::minutes(1);

enum class Dist { normal, uniform };

// The impairment of one direction.
struct DirSettings {
  Duration delay{0};   // fixed one-way delay
  Duration jitter{0};  // normal: sigma; uniform: half-width
  Dist dist = Dist::normal;
  double loss = 0.0;           // drop probability, 0..1
  std::uint64_t rate_bps = 0;  // serialization rate; 0 = no cap
};

struct LineSettings {
  bool cut = false;  // the "down" command: drop everything both ways
  DirSettings up;    // toward the far prefix
  DirSettings down;  // everything else
};

enum class Target { up, down, both, rt };

// `set`: only the keys given are present.
struct SetCommand {
  Target target = Target::both;
  std::optional<Duration> delay;
  std::optional<Duration> jitter;
  std::optional<Dist> dist;
  std::optional<double> loss;
  std::optional<std::uint64_t> rate_bps;
};
struct CutCommand {};      // "down"
struct RestoreCommand {};  // "up"
struct ShowCommand {};     // "show"
using Command = std::variant<SetCommand, CutCommand, RestoreCommand, ShowCommand>;

// One protocol line (a trailing "\r" is ignored). Success: the command, every
// value checked. Failure: invalid_argument whose message names the bad word
// (unknown command, unknown direction, unknown key, bad unit, negative value,
// loss above 100 %, a key given twice, set without keys).
Result<Command> parse_command(std::string_view line);

// "2%" -> 0.02, "0.02" -> 0.02. Failure: invalid_argument (not a number,
// negative, above 100 %).
Result<double> parse_loss(std::string_view text);

// The settings after `cmd`. For Target::rt the values are round-trip figures
// split over both directions: delay/2, jitter/sqrt(2), and per-direction loss
// p with 1-(1-p)^2 = L. Keys not given keep their values.
LineSettings apply(LineSettings settings, const SetCommand& cmd);

}  // namespace linewatch::linesim
