#include "tests/lab/mockllm/dialect.h"

#include <array>

namespace linewatch::mockllm {

int http_status(Fault f) {
  switch (f) {
    case Fault::bad_request:
      return 400;
    case Fault::bad_key:
      return 401;
    case Fault::forbidden:
      return 403;
    case Fault::no_route:
    case Fault::no_model:
      return 404;
    case Fault::bad_method:
      return 405;
    case Fault::too_large:
      return 413;
    case Fault::rate_limited:
      return 429;
    case Fault::server_error:
      return 500;
    case Fault::unavailable:
      return 503;
    case Fault::overloaded:
      return 529;
  }
  return 500;
}

Fault forced_fault(int status) {
  switch (status) {
    case 403:
      return Fault::forbidden;
    case 429:
      return Fault::rate_limited;
    case 503:
      return Fault::unavailable;
    case 529:
      return Fault::overloaded;
    default:
      return Fault::server_error;
  }
}

const Dialect& dialect(Flavour f) {
  switch (f) {
    case Flavour::anthropic:
      return anthropic_dialect();
    case Flavour::gemini:
      return gemini_dialect();
    case Flavour::openai:
      break;
  }
  return openai_dialect();
}

std::string token_text(int index) {
  static constexpr std::array<const char*, 12> kWords = {
      "This", "is", "a", "mock", "reply", "from", "the", "far", "end", "of", "the", "line."};
  const char* word = kWords[static_cast<std::size_t>(index) % kWords.size()];
  return index == 0 ? std::string(word) : std::string(" ") + word;
}

std::string reply_text(int tokens) {
  std::string content;
  for (int i = 0; i < tokens; ++i) content += token_text(i);
  return content;
}

}  // namespace linewatch::mockllm
