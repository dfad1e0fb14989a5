#include "tests/lab/mockllm/route.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

namespace linewatch::mockllm {
namespace {

// "/v1beta/models[/MODEL:ACTION]" (or /v1 with `v1_too`) as a gemini call.
Route gemini(std::string_view api_path, bool v1_too) {
  Route r{Flavour::gemini, Call::unknown, std::string(api_path), "", false};
  std::string_view rest = api_path;
  if (rest.starts_with("/v1beta/"))
    rest.remove_prefix(7);
  else if (v1_too && rest.starts_with("/v1/"))
    rest.remove_prefix(3);
  else
    return r;
  if (rest == "/models") {
    r.call = Call::models;
    return r;
  }
  if (!rest.starts_with("/models/")) return r;
  rest.remove_prefix(8);
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return r;
  const std::string_view model = rest.substr(0, colon), action = rest.substr(colon + 1);
  if (model.find('/') != std::string_view::npos) return r;
  if (action != "streamGenerateContent" && action != "generateContent") return r;
  r.call = Call::completion;
  r.model = std::string(model);
  r.stream = action == "streamGenerateContent";
  return r;
}

// "/v1/models/MODEL" as Anthropic's get-a-model call: MODEL one non-empty
// segment, percent-decoded (a bad escape leaves the call unknown).
void anthropic_model(std::string_view api_path, Route& r) {
  static constexpr std::string_view kPrefix = "/v1/models/";
  if (!api_path.starts_with(kPrefix)) return;
  const std::string_view id = api_path.substr(kPrefix.size());
  if (id.empty() || id.find('/') != std::string_view::npos) return;
  try {
    std::string decoded;
    Poco::URI::decode(std::string(id), decoded);
    r.model = std::move(decoded);
    r.call = Call::model;
  } catch (const Poco::Exception&) {
  }
}

Route openai_or_anthropic(Flavour f, std::string_view api_path) {
  Route r{f, Call::unknown, std::string(api_path), "", false};
  if (api_path == "/v1/models")
    r.call = Call::models;
  else if (api_path == (f == Flavour::openai ? "/v1/chat/completions" : "/v1/messages"))
    r.call = Call::completion;
  else if (f == Flavour::anthropic)
    anthropic_model(api_path, r);
  return r;
}

}  // namespace

std::optional<Route> route(std::string_view path, bool anthropic_headers) {
  for (Flavour f : kFlavours) {
    const std::string prefix = "/" + std::string(to_string(f));
    if (path != prefix && !path.starts_with(prefix + "/")) continue;
    const std::string_view api_path = path.substr(prefix.size());
    return f == Flavour::gemini ? gemini(api_path, true) : openai_or_anthropic(f, api_path);
  }
  if (path.starts_with("/v1beta/")) return gemini(path, false);
  if (!path.starts_with("/v1/")) return std::nullopt;
  if (path == "/v1/messages" || anthropic_headers)
    return openai_or_anthropic(Flavour::anthropic, path);
  return openai_or_anthropic(Flavour::openai, path);
}

std::string_view method_of(Call call) {
  switch (call) {
    case Call::models:
    case Call::model:
      return "GET";
    case Call::completion:
      return "POST";
    case Call::unknown:
      break;
  }
  return "";
}

}  // namespace linewatch::mockllm
