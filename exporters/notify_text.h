// Text helpers for the notifiers (exporters/notify.h): JSON strings and
// objects written in a fixed key order, UTF-8 cuts for the chat limits, and
// the encodings the chat robots' signatures use.
//
// All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.h"

namespace linewatch::notify {

// The ellipsis put where text was cut: U+2026, 3 bytes in UTF-8.
inline constexpr std::string_view kEllipsis = "\xE2\x80\xA6";

// `s` as a quoted JSON string. Quote, backslash and control characters are
// escaped; other characters pass as UTF-8. Bytes that are not valid UTF-8
// become U+FFFD, so the result is always valid JSON.
std::string json_string(std::string_view s);

// A number in its shortest exact form ("3412", "0.25"); "null" for none,
// NaN or infinity (JSON has no spelling for them).
std::string json_number(std::optional<double> v);

// `s` cut to at most `max` bytes at a character boundary, with kEllipsis at
// the end when anything was cut (the ellipsis counts towards `max`).
// Returned whole when it fits.
std::string cut_utf8(std::string_view s, std::size_t max);

// `s` cut so that json_string() of the result, without its two quotes, is at
// most `max` bytes; kEllipsis ends it when anything was cut. Invalid UTF-8 is
// replaced as json_string() does.
std::string cut_json(std::string_view s, std::size_t max);

// Standard base64 with padding (RFC 4648 section 4).
std::string base64(std::string_view bytes);

// Percent-encodes all but RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string url_encode(std::string_view s);

// HMAC-SHA256 of `message` under `key`, as the 32 raw bytes.
std::string hmac_sha256_raw(std::string_view key, std::string_view message);

// "2027-01-15 08:00:00 UTC": a time for people in a chat message.
std::string utc_text(WallTime t);

// A JSON object written key by key in the order of the calls.
class JsonObject {
 public:
  JsonObject& str(std::string_view key, std::string_view value);
  JsonObject& num(std::string_view key, std::optional<double> value);
  JsonObject& raw(std::string_view key, std::string_view json);  // `json` is already JSON
  std::string done() const { return text_ + "}"; }

 private:
  JsonObject& key(std::string_view k);
  std::string text_ = "{";
};

}  // namespace linewatch::notify
