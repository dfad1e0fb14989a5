#include "tests/lab/linesim/settings.h"

#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include "core/units.h"

namespace linewatch::linesim {
namespace {

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

Result<Target> parse_target(std::string_view word) {
  if (word == "up") return Target::up;
  if (word == "down") return Target::down;
  if (word == "both") return Target::both;
  if (word == "rt") return Target::rt;
  return invalid("unknown direction \"" + std::string(word) + "\" (use up, down, both or rt)");
}

Result<Duration> parse_delay_value(std::string_view key, std::string_view text) {
  if (text == "0") return Duration::zero();
  if (!text.empty() && text.front() == '-')
    return invalid(std::string(key) + " must not be negative: \"" + std::string(text) + "\"");
  auto d = parse_duration(text);
  if (!d) return invalid(std::string(key) + ": " + d.error().message);
  if (*d > kMaxDelay) return invalid(std::string(key) + " above the 1m maximum");
  return *d;
}

Result<std::uint64_t> parse_rate_value(std::string_view text) {
  if (text == "0") return std::uint64_t{0};
  auto r = parse_bitrate(text);
  if (!r) return invalid("rate: " + r.error().message);
  return *r;
}

Result<Dist> parse_dist(std::string_view text) {
  if (text == "normal") return Dist::normal;
  if (text == "uniform") return Dist::uniform;
  return invalid("dist must be normal or uniform, not \"" + std::string(text) + "\"");
}

template <class T>
Status store(std::optional<T>& slot, Result<T> value, std::string_view key) {
  if (!value) return value.error();
  if (slot) return invalid(std::string(key) + " given twice");
  slot = *value;
  return ok_status();
}

Status parse_pair(SetCommand& cmd, std::string_view pair) {
  auto eq = pair.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return invalid("expected key=value, got \"" + std::string(pair) + "\"");
  std::string_view key = pair.substr(0, eq), value = pair.substr(eq + 1);
  if (key == "delay") return store(cmd.delay, parse_delay_value(key, value), key);
  if (key == "jitter") return store(cmd.jitter, parse_delay_value(key, value), key);
  if (key == "dist") return store(cmd.dist, parse_dist(value), key);
  if (key == "loss") return store(cmd.loss, parse_loss(value), key);
  if (key == "rate") return store(cmd.rate_bps, parse_rate_value(value), key);
  return invalid("unknown key \"" + std::string(key) + "\" (use delay, jitter, dist, loss, rate)");
}

Result<Command> parse_set(const std::vector<std::string_view>& words) {
  if (words.size() < 2) return invalid("set needs a direction: set up|down|both|rt key=value ...");
  auto target = parse_target(words[1]);
  if (!target) return target.error();
  if (words.size() < 3) return invalid("set needs at least one key=value");
  SetCommand cmd;
  cmd.target = *target;
  for (std::size_t i = 2; i < words.size(); ++i) {
    Status s = parse_pair(cmd, words[i]);
    if (!s) return s.error();
  }
  return Command(cmd);
}

}  // namespace

Result<double> parse_loss(std::string_view text) {
  bool percent = !text.empty() && text.back() == '%';
  std::string_view number = percent ? text.substr(0, text.size() - 1) : text;
  double v = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
  if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
      !std::isfinite(v))
    return invalid("loss: \"" + std::string(text) + "\" is not a number (\"2%\" or \"0.02\")");
  if (percent) v /= 100.0;
  if (v < 0) return invalid("loss must not be negative: \"" + std::string(text) + "\"");
  if (v > 1.0) return invalid("loss above 100 %: \"" + std::string(text) + "\"");
  return v;
}

Result<Command> parse_command(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto words = split_words(line);
  if (words.empty()) return invalid("empty command (use set, down, up or show)");
  if (words[0] == "set") return parse_set(words);
  Command simple;
  if (words[0] == "down") {
    simple = CutCommand{};
  } else if (words[0] == "up") {
    simple = RestoreCommand{};
  } else if (words[0] == "show") {
    simple = ShowCommand{};
  } else {
    return invalid("unknown command \"" + std::string(words[0]) + "\" (use set, down, up or show)");
  }
  if (words.size() > 1) return invalid(std::string(words[0]) + " takes no arguments");
  return simple;
}

namespace {

void merge(DirSettings& d, const SetCommand& c, double scale_delay, double scale_jitter,
           bool split_loss) {
  if (c.delay) d.delay = Duration(static_cast<Duration::rep>(c.delay->count() * scale_delay));
  if (c.jitter)
    d.jitter = Duration(static_cast<Duration::rep>(std::llround(c.jitter->count() * scale_jitter)));
  if (c.dist) d.dist = *c.dist;
  if (c.loss) d.loss = split_loss ? 1.0 - std::sqrt(1.0 - *c.loss) : *c.loss;
  if (c.rate_bps) d.rate_bps = *c.rate_bps;
}

}  // namespace

LineSettings apply(LineSettings s, const SetCommand& c) {
  switch (c.target) {
    case Target::up:
      merge(s.up, c, 1.0, 1.0, false);
      break;
    case Target::down:
      merge(s.down, c, 1.0, 1.0, false);
      break;
    case Target::both:
      merge(s.up, c, 1.0, 1.0, false);
      merge(s.down, c, 1.0, 1.0, false);
      break;
    case Target::rt:
      merge(s.up, c, 0.5, 1.0 / std::sqrt(2.0), true);
      merge(s.down, c, 0.5, 1.0 / std::sqrt(2.0), true);
      break;
  }
  return s;
}

}  // namespace linewatch::linesim
