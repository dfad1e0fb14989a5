// Test-only: reading a /metrics text back as numbers.
#pragma once

#include <cstddef>
#include <map>
#include <sstream>
#include <string>
#include <utility>

namespace linewatch {

// A config entry (LineSpec, GatewaySpec, NotifierSpec, ...) with only its id set.
template <typename Spec>
Spec with_id(std::string id) {
  Spec spec;
  spec.id = std::move(id);
  return spec;
}

// Every sample of an exposition: "name{labels}" as printed (prometheus-cpp
// prints labels sorted by name, a bucket's le last) -> value.
inline std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

// How many samples belong to `family` (a histogram's _bucket, _sum and
// _count are families of their own here).
inline std::size_t count_of(const std::map<std::string, double>& s, const std::string& family) {
  std::size_t n = 0;
  for (const auto& [key, value] : s)
    if (key.compare(0, family.size(), family) == 0 &&
        (key.size() == family.size() || key[family.size()] == '{'))
      ++n;
  return n;
}

}  // namespace linewatch
