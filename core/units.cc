#include "core/units.h"

#include <array>
#include <cctype>
#include <limits>
#include <optional>

namespace linewatch {
namespace {

struct Unit {
  std::string_view name;
  std::uint64_t scale;
};

// Units of one quantity, largest first; `hint` lists them for messages.
struct Units {
  std::string_view what;
  std::string_view hint;
  const Unit* begin;
  const Unit* end;
};

constexpr std::uint64_t kSec = 1'000'000'000;
constexpr std::array<Unit, 7> kDurationUnits = {{{"d", 86400 * kSec},
                                                 {"h", 3600 * kSec},
                                                 {"m", 60 * kSec},
                                                 {"s", kSec},
                                                 {"ms", 1'000'000},
                                                 {"us", 1'000},
                                                 {"ns", 1}}};
constexpr std::array<Unit, 6> kBitrateUnits = {{{"Tbps", 1'000'000'000'000},
                                                {"Gbps", 1'000'000'000},
                                                {"Mbps", 1'000'000},
                                                {"kbps", 1'000},
                                                {"Kbps", 1'000},
                                                {"bps", 1}}};
constexpr std::uint64_t kKi = 1024;
constexpr std::array<Unit, 10> kByteUnits = {{{"TiB", kKi* kKi* kKi* kKi},
                                              {"TB", 1'000'000'000'000},
                                              {"GiB", kKi* kKi* kKi},
                                              {"GB", 1'000'000'000},
                                              {"MiB", kKi* kKi},
                                              {"MB", 1'000'000},
                                              {"KiB", kKi},
                                              {"kB", 1'000},
                                              {"KB", 1'000},
                                              {"B", 1}}};

constexpr Units kDuration{"duration", "ns, us, ms, s, m, h or d", kDurationUnits.begin(),
                          kDurationUnits.end()};
constexpr Units kBitrate{"bitrate", "bps, kbps, Mbps, Gbps or Tbps", kBitrateUnits.begin(),
                         kBitrateUnits.end()};
constexpr Units kBytes{"byte size", "B, KiB, MiB, GiB, TiB, kB, MB, GB or TB", kByteUnits.begin(),
                       kByteUnits.end()};

using u128 = unsigned __int128;

Error bad(std::string_view text, std::string_view why) {
  return invalid("\"" + std::string(text) + "\": " + std::string(why));
}

const Unit* find_unit(const Units& units, std::string_view name) {
  for (const Unit* u = units.begin; u != units.end; ++u)
    if (u->name == name) return u;
  return nullptr;
}

// Parses the whole text as one or more NUMBER UNIT components (several only
// when `chain`), units strictly decreasing, into a count of the base unit.
Result<std::uint64_t> parse_quantity(std::string_view text, const Units& units, bool chain,
                                     std::uint64_t max) {
  if (text.empty()) return invalid("empty " + std::string(units.what));
  if (text.front() == '-')
    return bad(text, "negative " + std::string(units.what) + "s are not allowed");
  u128 total = 0;
  std::uint64_t last_scale = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    u128 whole = 0, frac = 0, frac_div = 1;
    std::size_t digits = 0;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, ++digits) {
      whole = whole * 10 + static_cast<unsigned>(text[i] - '0');
      if (whole > max) return bad(text, "too large");
    }
    if (i < text.size() && text[i] == '.') {
      for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]));
           ++i, ++digits) {
        if (frac_div >= u128(10'000'000'000'000'000'000ULL))
          return bad(text, "too many decimal places");
        frac = frac * 10 + static_cast<unsigned>(text[i] - '0');
        frac_div *= 10;
      }
    }
    if (digits == 0)
      return bad(text, "not a " + std::string(units.what) +
                           " (a number then a unit: " + std::string(units.hint) + ")");
    const std::size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const std::string_view name = text.substr(unit_start, i - unit_start);
    if (name.empty() && i == text.size())
      return bad(text, "a unit is required (" + std::string(units.hint) + ")");
    if (name.empty())
      return bad(text, "not a " + std::string(units.what) +
                           " (a number then a unit: " + std::string(units.hint) + ")");
    const Unit* unit = find_unit(units, name);
    if (unit == nullptr)
      return bad(
          text, "unknown unit \"" + std::string(name) + "\" (use " + std::string(units.hint) + ")");
    if (last_scale != 0 && (!chain || unit->scale >= last_scale))
      return bad(text, chain ? "units must go from largest to smallest" : "only one unit allowed");
    last_scale = unit->scale;
    if ((frac * unit->scale) % frac_div != 0)
      return bad(text, "not a whole number of " +
                           std::string(units.begin[units.end - units.begin - 1].name));
    total += whole * unit->scale + frac * unit->scale / frac_div;
    if (total > max) return bad(text, "too large");
  }
  return static_cast<std::uint64_t>(total);
}

// value / scale as a decimal with its fraction trimmed ("1.5", "250").
std::string decimal(std::uint64_t value, std::uint64_t scale) {
  std::string out = std::to_string(value / scale);
  std::uint64_t rem = value % scale;
  if (rem == 0) return out;
  std::string frac;
  for (std::uint64_t div = scale / 10; div > 0 && rem > 0; div /= 10) {
    frac += static_cast<char>('0' + rem / div);
    rem %= div;
  }
  return out + "." + frac;
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
  auto n = parse_quantity(text, kDuration, true,
                          static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max()));
  if (!n) return n.error();
  return Duration(static_cast<Duration::rep>(*n));
}

std::string format_duration(Duration d) {
  if (d < Duration::zero()) {
    // -(min) overflows; min is never a config value, so clamp its magnitude by one ns.
    return "-" + format_duration(d == Duration::min() ? Duration::max() : -d);
  }
  auto ns = static_cast<std::uint64_t>(d.count());
  if (ns == 0) return "0s";
  std::string out;
  for (std::size_t i = 0; i < 3; ++i) {  // d, h, m as whole numbers
    const Unit& u = kDurationUnits[i];
    if (ns >= u.scale) {
      out += std::to_string(ns / u.scale) + std::string(u.name);
      ns %= u.scale;
    }
  }
  if (ns == 0) return out;
  for (std::size_t i = 3; i < kDurationUnits.size(); ++i) {
    const Unit& u = kDurationUnits[i];
    if (ns >= u.scale || u.scale == 1) return out + decimal(ns, u.scale) + std::string(u.name);
  }
  return out;
}

Result<std::uint64_t> parse_bitrate(std::string_view text) {
  return parse_quantity(text, kBitrate, false, std::numeric_limits<std::uint64_t>::max());
}

std::string format_bitrate(std::uint64_t bps) {
  for (const Unit& u : kBitrateUnits)
    if (bps >= u.scale && u.name != "Kbps") return decimal(bps, u.scale) + std::string(u.name);
  return "0bps";
}

Result<std::uint64_t> parse_bytes(std::string_view text) {
  return parse_quantity(text, kBytes, false, std::numeric_limits<std::uint64_t>::max());
}

std::string format_bytes(std::uint64_t bytes) {
  for (const Unit& u : kByteUnits)
    if (bytes >= u.scale && bytes % u.scale == 0 && u.name != "KB")
      return std::to_string(bytes / u.scale) + std::string(u.name);
  return std::to_string(bytes) + "B";
}

}  // namespace linewatch
