# Writes OUT, a C++ file holding the page's files (DIR/<each of FILES>, FILES
# separated by commas) as raw string literals, for agent/page_assets.cc.
# Run by agent/CMakeLists.txt whenever one of the files changes:
#   cmake -DDIR=... -DFILES=index.html,page.js -DOUT=.../page_files.cc -P embed.cmake
string(REPLACE "," ";" files "${FILES}")
set(delimiter "lwpage")
set(body "")
foreach(name IN LISTS files)
  file(READ "${DIR}/${name}" content)
  string(FIND "${content}" ")${delimiter}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${DIR}/${name} contains )${delimiter}\", which ends the raw string literal it is embedded in")
  endif()
  string(APPEND body "    {\"${name}\", R\"${delimiter}(${content})${delimiter}\"},\n")
endforeach()
set(text "// Generated from agent/page/* by agent/page/embed.cmake: edit those files.
#include \"agent/page_assets.h\"

namespace linewatch {

std::span<const PageFile> page_files() {
  static constexpr PageFile kFiles[] = {
${body}  };
  return kFiles;
}

}  // namespace linewatch
")
# Only touch OUT when it changes, so an unchanged page recompiles nothing.
file(WRITE "${OUT}.new" "${text}")
file(COPY_FILE "${OUT}.new" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.new")
