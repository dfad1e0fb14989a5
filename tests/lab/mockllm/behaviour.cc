#include "tests/lab/mockllm/behaviour.h"

#include <algorithm>

namespace linewatch::mockllm {

std::string_view to_string(Flavour f) {
  switch (f) {
    case Flavour::openai:
      return "openai";
    case Flavour::anthropic:
      return "anthropic";
    case Flavour::gemini:
      return "gemini";
  }
  return "openai";
}

std::optional<Flavour> flavour_from_string(std::string_view s) {
  for (Flavour f : kFlavours)
    if (to_string(f) == s) return f;
  return std::nullopt;
}

std::vector<std::string> default_models(Flavour f) {
  switch (f) {
    case Flavour::openai:
      return {"gpt-4o-mini", "mock-1"};
    case Flavour::anthropic:
      return {"claude-3-5-haiku-20241022", "mock-1"};
    case Flavour::gemini:
      return {"gemini-1.5-flash", "mock-1"};
  }
  return {"mock-1"};
}

std::optional<std::string> resolve_model(const std::vector<std::string>& models,
                                         std::string_view id) {
  if (std::find(models.begin(), models.end(), id) != models.end()) return std::string(id);
  static constexpr std::string_view kLatest = "latest";
  static constexpr std::size_t kDateDigits = 8;  // YYYYMMDD
  if (!id.ends_with("-" + std::string(kLatest))) return std::nullopt;
  const std::string_view stem = id.substr(0, id.size() - kLatest.size());  // "NAME-"
  std::optional<std::string> newest;
  for (const std::string& m : models) {
    if (!m.starts_with(stem) || m.size() != stem.size() + kDateDigits) continue;
    const std::string_view date = std::string_view(m).substr(stem.size());
    if (!std::all_of(date.begin(), date.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    if (!newest || m > *newest) newest = m;  // same length: the later date sorts last
  }
  return newest;
}

Behaviours default_behaviours() {
  Behaviours all;
  for (Flavour f : kFlavours) of(all, f).models = default_models(f);
  return all;
}

Status validate(const Behaviour& b) {
  if (b.reject_status != 0 && b.reject_status != 401 && b.reject_status != 403)
    return invalid("reject status must be 0 (the provider's own), 401 or 403");
  if (b.models.empty()) return invalid("no model given");
  for (const std::string& m : b.models)
    if (m.empty() || m.find_first_of(" \t\r\n/") != std::string::npos)
      return invalid("model id '" + m + "' must be non-empty, without spaces or '/'");
  for (const std::string& k : b.keys)
    if (k.empty()) return invalid("an accepted key is empty");
  if (b.ttft < Duration::zero() || b.ttft > kMaxTtft) return invalid("ttft must be 0..10m");
  if (b.token_interval < Duration::zero() || b.token_interval > kMaxTokenInterval)
    return invalid("token interval must be 0..1m");
  if (b.tokens < 1 || b.tokens > kMaxTokens)
    return invalid("tokens must be 1.." + std::to_string(kMaxTokens));
  const int s = b.forced_status;
  if (s != 0 && s != 403 && s != 429 && s != 500 && s != 503 && s != 529)
    return invalid("status must be 0, 403, 429, 500, 503 or 529");
  if (b.retry_after < std::chrono::seconds(0) || b.retry_after > std::chrono::hours(24))
    return invalid("retry after must be 0..86400 s");
  if (b.stall_after_tokens < -1 || b.stall_after_tokens > kMaxTokens)
    return invalid("stall after tokens must be -1 (off) or 0.." + std::to_string(kMaxTokens));
  if (b.error_after_tokens < -1 || b.error_after_tokens > kMaxTokens)
    return invalid("error after tokens must be -1 (off) or 0.." + std::to_string(kMaxTokens));
  // Under a millisecond a keep-alive stream would be a busy loop of writes.
  if (b.keepalive != Duration::zero() &&
      (b.keepalive < std::chrono::milliseconds(1) || b.keepalive > kMaxKeepalive))
    return invalid("keepalive must be 0 (off) or 1ms..1m");
  return ok_status();
}

}  // namespace linewatch::mockllm
