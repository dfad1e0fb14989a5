// TempDir: a fresh directory, removed with everything in it when the object
// goes. For tests and benchmarks only (header-only, no library to link).
// Throws std::runtime_error when the directory cannot be made, which doctest
// reports as a failure of the test that asked.
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace linewatch::testing {

class TempDir {
 public:
  // Makes PARENT/PREFIX-XXXXXX; PARENT defaults to the system temp directory.
  explicit TempDir(const std::string& prefix = "linewatch",
                   std::filesystem::path parent = std::filesystem::temp_directory_path()) {
    std::string pattern = (parent / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Bytes in the regular files directly inside.
  std::uintmax_t bytes() const {
    std::uintmax_t total = 0;
    for (const auto& e : std::filesystem::directory_iterator(path_))
      if (e.is_regular_file()) total += e.file_size();
    return total;
  }

 private:
  std::string path_;
};

}  // namespace linewatch::testing
