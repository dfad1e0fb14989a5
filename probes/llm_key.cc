#include "probes/llm_key.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace linewatch {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// What is wrong with `key` as an HTTP header value, "" when nothing.
std::string check_key(std::string_view key) {
  if (key.empty()) return "is empty";
  const bool visible = std::all_of(key.begin(), key.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b > 0x20 && b < 0x7f;
  });
  return visible ? "" : "holds spaces, control or non-ASCII characters (not a key)";
}

Result<std::string> from_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  const std::string where = "environment variable " + name;
  if (value == nullptr) return invalid(where + " is not set");
  const std::string_view key = trim(value);
  if (std::string why = check_key(key); !why.empty()) return invalid(where + " " + why);
  return std::string(key);
}

Result<std::string> from_file(const std::string& path) {
  const std::string where = "\"" + path + "\"";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return io_error(where + " is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot read " + where + ": " + std::strerror(errno));
  std::string text(kMaxApiKeyBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return io_error("cannot read " + where + ": " + std::strerror(errno));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxApiKeyBytes)
    return invalid(where + " is larger than " + std::to_string(kMaxApiKeyBytes / 1024) +
                   " KiB (not a key file)");
  const std::string_view key = trim(text);
  if (std::string why = check_key(key); !why.empty()) return invalid(where + " " + why);
  return std::string(key);
}

}  // namespace

Result<std::string> read_api_key(const LlmOptions& options) {
  if (!options.api_key_env.empty()) return from_env(options.api_key_env);
  if (!options.api_key_file.empty()) return from_file(options.api_key_file);
  return invalid("no api_key_env or api_key_file configured");
}

bool api_key_file_shared(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
}

std::string redact_key(std::string_view text, std::string_view key) {
  static constexpr std::string_view kMark = "[redacted]";
  const std::size_t min = std::min(kRedactMinChars, key.size());
  if (min == 0) return std::string(text);
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    // The longest run starting at i that appears somewhere in the key.
    std::size_t best = 0;
    for (std::size_t k = 0; k < key.size(); ++k) {
      std::size_t n = 0;
      while (i + n < text.size() && k + n < key.size() && text[i + n] == key[k + n]) ++n;
      best = std::max(best, n);
    }
    if (best >= min) {
      out += kMark;
      i += best;
    } else {
      out += text[i++];
    }
  }
  return out;
}

}  // namespace linewatch
