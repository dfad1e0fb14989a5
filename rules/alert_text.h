// The text parts of alert rules: match globs and summary templates.
//
// Globs (alerts.rules[].match): `*` any run of characters, `?` one
// character, `[abc]`, `[a-z]` and `[!a-z]` one character of (or not of) a
// class; everything else matches itself. Matching is case-sensitive, as ids
// are. Cost: O(pattern × text) at worst, no allocation.
//
// Summary templates (alerts.rules[].summary): text with placeholders
// {{line}} {{target}} {{kind}} {{value}} {{threshold}} {{rule}} {{severity}}
// (blanks inside the braces allowed). A template is compiled once and
// rendered per notification.
//
// Pure functions and immutable values; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/alert_options.h"
#include "core/error.h"

namespace linewatch {

// "" when `pattern` is a valid glob that can match an id (ids use A-Z a-z
// 0-9 . _ -), else the message: an unclosed or empty class, a range that
// runs backwards, or a character no id has.
std::string check_glob(std::string_view pattern);

// Whether `text` matches `pattern` (checked by check_glob). An empty pattern
// matches everything.
bool glob_match(std::string_view pattern, std::string_view text);

// Whether a result of `line`, `target`, `kind` passes `match`.
bool matches(const AlertMatch& match, std::string_view line, std::string_view target,
             std::string_view kind);

enum class Placeholder : std::uint8_t { line, target, kind, value, threshold, rule, severity };

// What a rendered summary fills in.
struct SummaryValues {
  std::string line, target, kind, value, threshold, rule, severity;
};

class SummaryTemplate {
 public:
  // Compiles `text` for a rule of `scope`. Failure: invalid_argument for an
  // unclosed {{, an unknown placeholder (the message lists the known ones),
  // and {{target}} / {{kind}} in a line scope or {{line}} / {{kind}} in a
  // target scope, which would always be empty.
  static Result<SummaryTemplate> compile(std::string_view text, AlertScope scope);

  std::string render(const SummaryValues& values) const;

 private:
  struct Piece {
    std::string literal;  // used when !is_placeholder
    Placeholder placeholder = Placeholder::line;
    bool is_placeholder = false;
  };
  std::vector<Piece> pieces_;
};

// The summary used when a rule gives none, e.g.
// "{{rule}}: {{line}} → {{target}} ({{kind}}) rtt_p95 {{value}} above {{threshold}}";
// with `resolved`, the wording of the notice that says it is over:
// "... rtt_p95 {{value}}, back under {{threshold}}" (a resolved notice must not
// claim the threshold is still broken).
std::string default_summary(const AlertRule& rule, bool resolved = false);

}  // namespace linewatch
