#include "tests/lab/linesim/control.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <variant>

namespace linewatch::linesim {
namespace {

// Shortest decimal that reads back as the same double; JSON has no NaN/inf
// and settings never hold one.
std::string number(double v) {
  char buf[32];
  // Whole numbers print as such: "%g" alone would write 50 as "5e+01".
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.17g", v);
  for (int precision = 1; precision < 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", precision, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buf;
}

std::string dir_json(const DirSettings& s, const Counters& c, std::size_t queued) {
  std::string out = "{\"delay_ms\":" + number(to_ms(s.delay));
  out += ",\"jitter_ms\":" + number(to_ms(s.jitter));
  out += std::string(",\"dist\":\"") + (s.dist == Dist::normal ? "normal" : "uniform") + "\"";
  out += ",\"loss\":" + number(s.loss);
  out += ",\"rate_bps\":" + std::to_string(s.rate_bps);
  out += ",\"in\":" + std::to_string(c.in);
  out += ",\"out\":" + std::to_string(c.out);
  out += ",\"dropped_loss\":" + std::to_string(c.dropped_loss);
  out += ",\"dropped_down\":" + std::to_string(c.dropped_down);
  out += ",\"dropped_queue\":" + std::to_string(c.dropped_queue);
  out += ",\"queued\":" + std::to_string(queued) + "}";
  return out;
}

}  // namespace

std::string show_json(const LineModel& m) {
  const LineSettings& s = m.settings();
  return std::string("{\"down\":") + (s.cut ? "true" : "false") +
         ",\"up\":" + dir_json(s.up, m.counters(Dir::up), m.queued(Dir::up)) +
         ",\"down_dir\":" + dir_json(s.down, m.counters(Dir::down), m.queued(Dir::down)) + "}";
}

std::string handle_command(LineModel& model, std::string_view line) {
  auto cmd = parse_command(line);
  if (!cmd) return "error: " + cmd.error().message;
  return std::visit(
      [&](const auto& c) -> std::string {
        using C = std::decay_t<decltype(c)>;
        LineSettings s = model.settings();
        if constexpr (std::is_same_v<C, ShowCommand>) {
          return show_json(model);
        } else if constexpr (std::is_same_v<C, SetCommand>) {
          model.set_settings(apply(s, c));
        } else {
          s.cut = std::is_same_v<C, CutCommand>;
          model.set_settings(s);
        }
        return "ok";
      },
      *cmd);
}

}  // namespace linewatch::linesim
