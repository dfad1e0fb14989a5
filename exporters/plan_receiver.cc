#include "exporters/plan_receiver.h"

#include <cmath>
#include <cstdio>

namespace linewatch {

std::string excerpt(std::string_view text, std::size_t max) {
  std::string out;
  bool blank = false;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= ' ' || c == 0x7f) {
      blank = !out.empty();
      continue;
    }
    if (blank) out += ' ';
    blank = false;
    out += ch;
  }
  if (out.size() <= max) return out;
  std::size_t cut = max;
  // Back off continuation bytes so a multi-byte character is not split.
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  return out + "...";
}

std::string duration_text(Duration d) {
  const double ms = std::chrono::duration<double, std::milli>(d).count();
  char buf[32];
  if (ms < 10) {
    std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  } else if (ms < 10'000) {
    std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f s", std::round(ms / 1000));
  }
  return buf;
}

}  // namespace linewatch
