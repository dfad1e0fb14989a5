#include "probes/http_regex.h"

#include <re2/re2.h>

namespace linewatch {

Result<std::shared_ptr<const re2::RE2>> compile_body_regex(const std::string& pattern) {
  re2::RE2::Options options;
  options.set_max_mem(kBodyRegexMaxMem);
  options.set_log_errors(false);  // the error is returned; RE2 would also print it to stderr
  auto re = std::make_shared<const re2::RE2>(pattern, options);
  if (!re->ok()) return invalid(re->error());
  return std::shared_ptr<const re2::RE2>(std::move(re));
}

bool body_matches(const re2::RE2& re, std::string_view body) {
  return re2::RE2::PartialMatch(re2::StringPiece(body.data(), body.size()), re);
}

}  // namespace linewatch
