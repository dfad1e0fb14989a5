#include "core/llm_options.h"

#include <array>

namespace linewatch {
namespace {

constexpr std::array<std::string_view, 3> kFlavourNames = {"openai", "anthropic", "gemini"};
constexpr std::array<std::string_view, 2> kModeNames = {"models", "completion"};

template <class E, std::size_t N>
std::optional<E> lookup(const std::array<std::string_view, N>& names, std::string_view s) {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<E>(i);
  return std::nullopt;
}

}  // namespace

std::string_view to_string(LlmFlavour f) { return kFlavourNames.at(static_cast<std::size_t>(f)); }
std::string_view to_string(LlmMode m) { return kModeNames.at(static_cast<std::size_t>(m)); }
std::optional<LlmFlavour> llm_flavour_from_string(std::string_view s) {
  return lookup<LlmFlavour>(kFlavourNames, s);
}
std::optional<LlmMode> llm_mode_from_string(std::string_view s) {
  return lookup<LlmMode>(kModeNames, s);
}

}  // namespace linewatch
