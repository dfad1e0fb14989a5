#include "agent/page_assets.h"

#include <string>

namespace linewatch {
namespace {

std::string content_type(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace

std::optional<HttpResponse> page_response(std::string_view path) {
  if (!path.starts_with('/')) return std::nullopt;
  const std::string_view name = path == "/" ? std::string_view("index.html") : path.substr(1);
  for (const PageFile& f : page_files()) {
    if (f.name != name) continue;
    return HttpResponse{200,
                        content_type(f.name),
                        std::string(f.content),
                        {{"Cache-Control", "no-cache"},
                         {"Content-Security-Policy", std::string(kPageContentSecurityPolicy)},
                         {"X-Content-Type-Options", "nosniff"}}};
  }
  return std::nullopt;
}

}  // namespace linewatch
