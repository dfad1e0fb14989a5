// The built-in page: GET / shows every line's state and, per line × target ×
// kind, the median RTT coloured by loss over the RTT spread (SmokePing's
// picture). Its files are agent/page/* (index.html, page.js, page.css),
// compiled into the binary by agent/page/embed.cmake; page.js draws in the
// browser from /api/v1/lines, /api/v1/targets and /api/v1/series.
//
// Every file is served with Cache-Control: no-cache (a browser revalidates,
// so a new binary's page is seen at once) and a Content-Security-Policy that
// allows nothing but the agent's own origin: no inline script or style, no
// other host.
//
// Thread-safety: every function is thread-safe (the files are constants).
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "agent/http_message.h"

namespace linewatch {

// One file of the page: its name in agent/page ("page.js") and its bytes.
struct PageFile {
  std::string_view name;
  std::string_view content;
};

// Every file of the page, in agent/CMakeLists.txt's order; static storage.
// Defined in the generated page_files.cc.
std::span<const PageFile> page_files();

// The Content-Security-Policy every page file is served with.
inline constexpr std::string_view kPageContentSecurityPolicy =
    "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

// The answer to a GET or HEAD of `path` when it names a page file: "/" is
// index.html, "/<name>" any other file. 200 with the file's Content-Type
// (from its extension), Cache-Control: no-cache, the policy above and
// X-Content-Type-Options: nosniff. nullopt for any other path.
std::optional<HttpResponse> page_response(std::string_view path);

}  // namespace linewatch
