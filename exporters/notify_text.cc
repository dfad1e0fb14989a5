#include "exporters/notify_text.h"

#include <openssl/evp.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "exporters/plan_signature.h"

namespace linewatch::notify {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are
// not one (a stray continuation, an overlong form, a surrogate, beyond U+10FFFF,
// or cut short).
std::size_t sequence_at(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  const auto second = static_cast<unsigned char>(s[i + 1]);
  if (second < lo || second > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (!continuation(static_cast<unsigned char>(s[i + k]))) return 0;
  return n;
}

// The escaped form of the character (or invalid byte) at s[i]; advances i.
std::string escaped_at(std::string_view s, std::size_t& i) {
  const std::size_t n = sequence_at(s, i);
  if (n == 0) {
    ++i;
    return std::string(kReplacement);
  }
  const auto c = static_cast<unsigned char>(s[i]);
  i += n;
  if (n > 1) return std::string(s.substr(i - n, n));
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      break;
  }
  if (c < 0x20 || c == 0x7F) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", c);
    return buf;
  }
  return std::string(1, static_cast<char>(c));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) out += escaped_at(s, i);
  return out + "\"";
}

std::string json_number(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return "null";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *v);
  if (ec != std::errc()) return "null";
  return std::string(buf, end);
}

std::string cut_utf8(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  if (max < kEllipsis.size()) return "";
  std::size_t cut = max - kEllipsis.size();
  // Back off continuation bytes so a multi-byte character is not split.
  while (cut > 0 && continuation(static_cast<unsigned char>(s[cut]))) --cut;
  return std::string(s.substr(0, cut)) + std::string(kEllipsis);
}

std::string cut_json(std::string_view s, std::size_t max) {
  std::string whole;     // the escaped text so far, to measure
  std::size_t fits = 0;  // bytes of `s` whose escaped form plus an ellipsis fit in `max`
  for (std::size_t i = 0; i < s.size();) {
    whole += escaped_at(s, i);
    if (whole.size() + kEllipsis.size() <= max) fits = i;
  }
  if (whole.size() <= max) return std::string(s);
  if (max < kEllipsis.size()) return "";
  return std::string(s.substr(0, fits)) + std::string(kEllipsis);
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string hmac_sha256_raw(std::string_view key, std::string_view message) {
  const std::string hex = hmac_sha256_hex(key, message);
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(hex_value(hex[i]) * 16 + hex_value(hex[i + 1]));
  return out;
}

std::string utc_text(WallTime t) {
  const std::time_t secs =
      std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(t));
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

JsonObject& JsonObject::key(std::string_view k) {
  if (text_.size() > 1) text_ += ',';
  text_ += json_string(k);
  text_ += ':';
  return *this;
}

JsonObject& JsonObject::str(std::string_view k, std::string_view value) {
  key(k);
  text_ += json_string(value);
  return *this;
}

JsonObject& JsonObject::num(std::string_view k, std::optional<double> value) {
  key(k);
  text_ += json_number(value);
  return *this;
}

JsonObject& JsonObject::raw(std::string_view k, std::string_view json) {
  key(k);
  text_ += json;
  return *this;
}

}  // namespace linewatch::notify
