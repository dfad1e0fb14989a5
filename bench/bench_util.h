// Small helpers shared by the benchmark programs: CPU time, percentiles and a
// plain-text figures table. Not part of any library; header-only on purpose so
// each benchmark stays one .cc file.
//
// Thread-safety: the free functions are thread-safe; a Table is not.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace linewatch::bench {

inline double seconds_of(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

// User + system CPU seconds of `who` (RUSAGE_SELF, RUSAGE_THREAD, ...).
inline double cpu_seconds(int who = RUSAGE_SELF) {
  rusage ru{};
  getrusage(who, &ru);
  return seconds_of(ru.ru_utime) + seconds_of(ru.ru_stime);
}

inline double cpu_seconds(const rusage& ru) {
  return seconds_of(ru.ru_utime) + seconds_of(ru.ru_stime);
}

// The q-quantile (0..1) of `v` by nearest rank; 0 for an empty vector. Sorts v.
inline double quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(rank, v.size() - 1)];
}

inline double mean(const std::vector<double>& v) {
  if (v.empty()) return 0.0;
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

// printf-style formatting into a std::string, for table cells.
template <typename... Args>
std::string fmt(const char* format, Args... args) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), format, args...);
  return buf;
}

// Columns padded to their widest cell; the first column left-aligned, the rest right.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  void print(const std::string& title) const {
    std::vector<std::size_t> width;
    for (const auto& row : rows_) {
      if (width.size() < row.size()) width.resize(row.size(), 0);
      for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
    }
    std::printf("\n== %s ==\n", title.c_str());
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      for (std::size_t c = 0; c < rows_[r].size(); ++c) {
        const int w = static_cast<int>(width[c]);
        if (c == 0)
          std::printf("%-*s", w, rows_[r][c].c_str());
        else
          std::printf("  %*s", w, rows_[r][c].c_str());
      }
      std::printf("\n");
      if (r == 0) {
        std::size_t total = 0;
        for (std::size_t w : width) total += w + 2;
        std::printf("%s\n", std::string(total - 2, '-').c_str());
      }
    }
    std::fflush(stdout);
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

inline double ms_between(std::chrono::steady_clock::time_point a,
                         std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace linewatch::bench
