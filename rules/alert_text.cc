#include "rules/alert_text.h"

#include <array>
#include <cctype>

#include "rules/alert_rules.h"

namespace linewatch {
namespace {

bool id_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The class starting at pattern[at] == '['. Returns the index just past its
// ']' and whether `c` is in it; npos when the class is not closed.
std::size_t match_class(std::string_view pattern, std::size_t at, char c, bool& in) {
  std::size_t i = at + 1;
  const bool negate = i < pattern.size() && pattern[i] == '!';
  if (negate) ++i;
  bool hit = false;
  for (; i < pattern.size() && pattern[i] != ']'; ++i) {
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hit |= pattern[i] <= c && c <= pattern[i + 2];
      i += 2;
    } else {
      hit |= pattern[i] == c;
    }
  }
  if (i >= pattern.size()) return std::string_view::npos;
  in = hit != negate;
  return i + 1;
}

constexpr std::array<std::string_view, 7> kPlaceholders = {
    "line", "target", "kind", "value", "threshold", "rule", "severity"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// "" when the placeholder is filled in for `scope`, else why not.
std::string check_for_scope(Placeholder p, AlertScope scope) {
  const bool empty =
      (scope == AlertScope::line && (p == Placeholder::target || p == Placeholder::kind)) ||
      (scope == AlertScope::target && (p == Placeholder::line || p == Placeholder::kind));
  if (!empty) return "";
  return "{{" + std::string(kPlaceholders[static_cast<std::size_t>(p)]) +
         "}} is always empty for scope " + std::string(to_string(scope));
}

// A piece of the template as a message shows it: config text may be long.
std::string shown(std::string_view s) {
  constexpr std::size_t kMost = 32;
  if (s.size() <= kMost) return std::string(s);
  std::size_t cut = kMost;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "…";
}

}  // namespace

std::string check_glob(std::string_view pattern) {
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '*' || c == '?' || id_char(c)) continue;
    if (c != '[')
      return quoted(pattern) + " can never match: " + quoted(std::string_view(&c, 1)) +
             " is in no id (ids use A-Z a-z 0-9 . _ -)";
    std::size_t j = i + 1;
    if (j < pattern.size() && pattern[j] == '!') ++j;
    const std::size_t first = j;
    for (; j < pattern.size() && pattern[j] != ']'; ++j) {
      if (!id_char(pattern[j]))
        return quoted(pattern) + " is not a valid glob: " + quoted(pattern.substr(j, 1)) +
               " in a [class] is in no id";
      if (j + 2 < pattern.size() && pattern[j + 1] == '-' && pattern[j + 2] != ']') {
        if (pattern[j] > pattern[j + 2])
          return quoted(pattern) + " is not a valid glob: the range " +
                 std::string(pattern.substr(j, 3)) + " runs backwards";
        j += 2;
      }
    }
    if (j >= pattern.size()) return quoted(pattern) + " is not a valid glob: [ is not closed";
    if (j == first) return quoted(pattern) + " is not a valid glob: an empty [class]";
    i = j;
  }
  return "";
}

// Iterative matching with one backtrack point per `*`: the standard glob
// algorithm, linear in practice and O(pattern × text) at worst.
bool glob_match(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return true;
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
      continue;
    }
    std::size_t next = std::string_view::npos;
    if (p < pattern.size()) {
      if (pattern[p] == '[') {
        bool in = false;
        const std::size_t end = match_class(pattern, p, text[t], in);
        if (end != std::string_view::npos && in) next = end;
      } else if (pattern[p] == '?' || pattern[p] == text[t]) {
        next = p + 1;
      }
    }
    if (next != std::string_view::npos) {
      p = next;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool matches(const AlertMatch& match, std::string_view line, std::string_view target,
             std::string_view kind) {
  return glob_match(match.line, line) && glob_match(match.target, target) &&
         glob_match(match.kind, kind);
}

Result<SummaryTemplate> SummaryTemplate::compile(std::string_view text, AlertScope scope) {
  SummaryTemplate out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t open = text.find("{{", at);
    if (open != at) {
      out.pieces_.push_back({std::string(text.substr(at, open - at))});
      if (open == std::string_view::npos) break;
    }
    const std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos)
      return invalid("{{ at character " + std::to_string(open + 1) + " is not closed by }}");
    const std::string_view name = trim(text.substr(open + 2, close - open - 2));
    std::size_t i = 0;
    while (i < kPlaceholders.size() && kPlaceholders[i] != name) ++i;
    if (i == kPlaceholders.size())
      return invalid("unknown placeholder {{" + shown(name) +
                     "}} (known: {{line}} {{target}} {{kind}} {{value}} {{threshold}} {{rule}} "
                     "{{severity}})");
    const auto p = static_cast<Placeholder>(i);
    if (std::string why = check_for_scope(p, scope); !why.empty()) return invalid(why);
    Piece piece;
    piece.placeholder = p;
    piece.is_placeholder = true;
    out.pieces_.push_back(std::move(piece));
    at = close + 2;
  }
  return out;
}

std::string SummaryTemplate::render(const SummaryValues& v) const {
  std::string out;
  for (const Piece& piece : pieces_) {
    if (!piece.is_placeholder) {
      out += piece.literal;
      continue;
    }
    switch (piece.placeholder) {
      case Placeholder::line:
        out += v.line;
        break;
      case Placeholder::target:
        out += v.target;
        break;
      case Placeholder::kind:
        out += v.kind;
        break;
      case Placeholder::value:
        out += v.value;
        break;
      case Placeholder::threshold:
        out += v.threshold;
        break;
      case Placeholder::rule:
        out += v.rule;
        break;
      case Placeholder::severity:
        out += v.severity;
        break;
    }
  }
  return out;
}

std::string default_summary(const AlertRule& rule, bool resolved) {
  std::string about;
  switch (rule.scope) {
    case AlertScope::line:
      about = "line {{line}}";
      break;
    case AlertScope::target:
      about = "target {{target}}";
      break;
    case AlertScope::series:
      about = "{{line}} → {{target}} ({{kind}})";
      break;
  }
  const std::string metric = "{{rule}}: " + about + " " + std::string(to_string(rule.metric));
  if (resolved)
    return metric + " {{value}}, back " + (rule.above ? "under" : "over") + " {{threshold}}";
  return metric + " {{value}} " + (rule.above ? "above" : "below") + " {{threshold}}";
}

}  // namespace linewatch
