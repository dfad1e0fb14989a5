// The `llm` probe kind: its keys under a target or in `probes:`, and the
// check of its API keys on this host (check_llm_keys).
#include <regex>

#include "agent/config_internal.h"
#include "core/units.h"
#include "probes/llm_key.h"

namespace linewatch::config_detail {
namespace {

using Entry = ProbeDefaults::Entry;

std::string check_base_url(const std::string& url) {
  if (std::string err = check_url(url); !err.empty()) return err;
  if (url.find_first_of("?#") != std::string::npos)
    return "base_url " + echo(url) +
           " must not hold a query or fragment (the probe appends the API's paths)";
  return "";
}

std::string check_model(const std::string& model) {
  // Providers' ids: "gpt-4o-mini", "ft:gpt-4o-mini:org::id", "models/gemini-1.5-flash",
  // "meta-llama/Llama-3-8b", "claude-3-5-sonnet@20240620". The name goes into
  // request paths (Gemini) and JSON bodies, so nothing else is let through.
  static const std::regex kModel("[A-Za-z0-9._:/@+-]{1,128}");
  if (std::regex_match(model, kModel) && model.find("..") == std::string::npos) return "";
  return "invalid model " + echo(model) + " (1 to 128 of A-Z a-z 0-9 . _ - : / @ +, no \"..\")";
}

std::string check_env_name(const std::string& name) {
  static const std::regex kName("[A-Za-z_][A-Za-z0-9_]{0,127}");
  if (std::regex_match(name, kName)) return "";
  return "invalid environment variable name " + echo(name) +
         " (letters, digits and _, not starting with a digit)";
}

// A text key checked by `check` into `out`.
Field text_field(Ctx& ctx, const char* name, std::string& out,
                 std::string (*check)(const std::string&)) {
  return {name,
          [&ctx, &out, check](auto& k, auto& v, auto& p) {
            auto t = get_text(ctx, k, v, p);
            if (!t) return;
            if (std::string err = check(*t); !err.empty()) return ctx.error(v, p, err);
            out = *t;
          },
          true};
}

}  // namespace

std::vector<Field> llm_fields(Ctx& ctx, Entry& e, int level) {
  LlmOptions& o = *e.spec.llm;
  std::vector<Field> f = {
      {"flavour",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         auto t = get_text(ctx, k, v, p);
         if (!t) return;
         auto flavour = llm_flavour_from_string(*t);
         if (!flavour)
           return ctx.error(v, p, "must be openai, anthropic or gemini, got " + echo(*t));
         o.flavour = *flavour;
       },
       true},
      {"base_url",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         auto t = get_text(ctx, k, v, p);
         if (!t) return;
         if (std::string err = check_base_url(*t); !err.empty()) return ctx.error(v, p, err);
         std::string url = *t;
         while (url.back() == '/') url.pop_back();  // the API's paths start with one
         o.base_url = url;
       },
       true},
      text_field(ctx, "model", o.model, check_model),
      text_field(ctx, "api_key_env", o.api_key_env, check_env_name),
      {"api_key_file",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         auto t = get_text(ctx, k, v, p);
         if (!t) return;
         if (t->empty()) return ctx.error(v, p, "must not be empty");
         // Not opened here: `linewatch status -c` and others load the config
         // as users who may not read the key; check_llm_keys looks at it.
         o.api_key_file = resolve_path(ctx, *t);
       },
       true},
      // The value is never read, so it cannot reach a message.
      {"api_key",
       [&ctx](auto& k, auto&, auto& p) {
         ctx.error(k, p,
                   "an API key never goes into the config (it would show wherever the config "
                   "does): put it in a file named by api_key_file or a variable named by "
                   "api_key_env");
       },
       false, true},
      {"mode",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         auto t = get_text(ctx, k, v, p);
         if (!t) return;
         auto mode = llm_mode_from_string(*t);
         if (!mode) return ctx.error(v, p, "must be models or completion, got " + echo(*t));
         o.mode = *mode;
       }},
      {"max_tokens",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         if (auto n = get_int(ctx, k, v, p, 1, 5)) o.max_tokens = static_cast<int>(*n);
       }},
      {"stall",
       [&ctx, &e, level](auto& k, auto& v, auto& p) {
         if (auto d = get_duration(ctx, k, v, p, std::chrono::milliseconds(10),
                                   config_limits::kMaxTimeout))
           e.spec.llm->stall = *d, e.stall = {v.Mark(), p, level};
       }},
      {"tls",
       [&ctx, &o](auto&, auto& v, auto& p) {
         parse_tls(ctx, v, p, o.tls_verify, o.ca_file, o.server_name);
       }},
  };
  timing_fields(ctx, e, level, f);
  return f;
}

bool parse_llm(Ctx& ctx, const YAML::Node& key, const YAML::Node& v, const std::string& path,
               Entry& e) {
  if (v.IsNull()) return ctx.error(key, path, "missing value"), false;
  if (!v.IsMap()) {
    ctx.error(
        v, path,
        "expected a map (base_url, model, api_key_env or api_key_file, ...), got " + describe(v));
    return false;
  }
  const std::size_t before = ctx.diags.size();
  walk_map(ctx, v, path, llm_fields(ctx, e, 2));
  for (const char* required : {"base_url", "model"})
    if (!v[required]) ctx.error(v, path, std::string("missing required key \"") + required + "\"");
  const bool env = !!v["api_key_env"], file = !!v["api_key_file"];
  if (env && file) ctx.error(v, path, "set one of api_key_env and api_key_file, not both");
  // An inline api_key has its own message saying where the key goes.
  if (!env && !file && !v["api_key"])
    ctx.error(v, path,
              "missing required key \"api_key_env\" or \"api_key_file\" (where the API key is "
              "read from)");
  if (e.interval.level == 0)
    e.spec.timing.interval =
        e.spec.llm->mode == LlmMode::completion ? kLlmCompletionInterval : kLlmModelsInterval;
  return ctx.diags.size() == before;
}

}  // namespace linewatch::config_detail

namespace linewatch {
namespace {

// The host of an http:// or https:// URL, without brackets or port.
std::string url_host(const std::string& url) {
  const std::size_t start = url.find("//") + 2;
  std::string authority = url.substr(start, url.find('/', start) - start);
  if (!authority.empty() && authority[0] == '[')
    return authority.substr(1, authority.find(']') - 1);
  return authority.substr(0, authority.find(':'));
}

}  // namespace

LlmKeyCheck check_llm_keys(const Config& config) {
  LlmKeyCheck out;
  for (std::size_t i = 0; i < config.targets.size(); ++i) {
    for (const ProbeSpec& spec : config.targets[i].probes) {
      if (spec.kind != ProbeKind::llm) continue;
      const LlmOptions& o = *spec.llm;
      const std::string path = config.source_path + ": targets[" + std::to_string(i) + "].llm.";
      const std::string source = o.api_key_env.empty() ? "api_key_file" : "api_key_env";
      // The key is read the way each round reads it, then dropped unseen.
      if (Result<std::string> key = read_api_key(o); !key)
        out.errors.push_back(path + source + ": " + key.error().message);
      if (!o.api_key_file.empty() && api_key_file_shared(o.api_key_file))
        out.warnings.push_back(path + "api_key_file: " + config_detail::echo(o.api_key_file) +
                               " is readable by group or others (chmod 600 it)");
      if (o.base_url.rfind("http://", 0) == 0 &&
          !config_detail::is_loopback_host(url_host(o.base_url)))
        out.warnings.push_back(path + "base_url: " + config_detail::echo(o.base_url) +
                               " is plain http: the API key crosses the network unencrypted "
                               "(use https://)");
    }
  }
  return out;
}

}  // namespace linewatch
