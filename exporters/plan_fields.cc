// Field formats of the route plan JSON: time stamps, prefixes, addresses.
// Declared in exporters/plan_codec.h.
#include <arpa/inet.h>

#include <array>
#include <cstdio>

#include "exporters/plan_codec.h"

namespace linewatch {

namespace {

using namespace std::chrono;

// Reads `n` decimal digits at text[pos]; -1 when any is not a digit.
int digits(std::string_view text, std::size_t pos, std::size_t n) {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

std::string format_time_ms(WallTime t) {
  auto ms = floor<milliseconds>(t);
  auto day = floor<days>(ms);
  year_month_day ymd{day};
  hh_mm_ss<milliseconds> hms{ms - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()),
                int(hms.subseconds().count()));
  return buf;
}

Result<WallTime> parse_time_ms(std::string_view text) {
  auto bad = [&] {
    return invalid(
        "must be an RFC 3339 UTC time with milliseconds like "
        "\"2027-01-15T08:00:00.123Z\", got " +
        quoted(text));
  };
  // YYYY-MM-DDTHH:MM:SS.mmmZ
  if (text.size() != 24 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != '.' || text[23] != 'Z') {
    return bad();
  }
  int y = digits(text, 0, 4), mo = digits(text, 5, 2), d = digits(text, 8, 2);
  int h = digits(text, 11, 2), mi = digits(text, 14, 2), s = digits(text, 17, 2);
  int ms = digits(text, 20, 3);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0 || ms < 0) return bad();
  year_month_day ymd{year(y), month(unsigned(mo)), day(unsigned(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return bad();
  auto t = sys_days(ymd) + hours(h) + minutes(mi) + seconds(s) + milliseconds(ms);
  return WallTime(duration_cast<WallTime::duration>(t.time_since_epoch()));
}

Status check_address(std::string_view address) {
  std::array<unsigned char, 16> buf{};
  std::string a(address);
  if (inet_pton(AF_INET, a.c_str(), buf.data()) == 1 ||
      inet_pton(AF_INET6, a.c_str(), buf.data()) == 1) {
    return ok_status();
  }
  return invalid("not an IPv4 or IPv6 address: " + quoted(address));
}

Status check_prefix(std::string_view prefix) {
  auto slash = prefix.find('/');
  std::string_view len_text =
      slash == std::string_view::npos ? std::string_view{} : prefix.substr(slash + 1);
  if (len_text.empty() || len_text.size() > 3) {
    return invalid("not a prefix like \"198.19.255.0/24\": " + quoted(prefix));
  }
  std::string addr(prefix.substr(0, slash));
  std::array<unsigned char, 16> bytes{};
  int bits = 0;
  if (inet_pton(AF_INET, addr.c_str(), bytes.data()) == 1) {
    bits = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), bytes.data()) == 1) {
    bits = 128;
  } else {
    return invalid("not an IPv4 or IPv6 prefix: " + quoted(prefix));
  }
  int len = digits(len_text, 0, len_text.size());
  if (len < 0 || len > bits) {
    return invalid("prefix length must be 0.." + std::to_string(bits) + ": " + quoted(prefix));
  }
  for (int bit = len; bit < bits; ++bit) {
    if (bytes[bit / 8] & (0x80 >> (bit % 8))) {
      return invalid("host bits set after /" + std::to_string(len) + ": " + quoted(prefix));
    }
  }
  return ok_status();
}

}  // namespace linewatch
