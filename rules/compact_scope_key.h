// CompactScopeKey: an AlertScopeKey (rules/alert_rules.h) in 24 bytes, as
// the alert engine keys its windows and state machines by it (one per
// series: three std::string would take 96).
//
// The kind is one of a few fixed words ("", "icmp", "tcp", "http", "llm")
// and is kept as a code; line and target share one inline buffer when
// their lengths add up to kInline bytes or less. A longer key, or an
// unusual kind, goes to one heap block holding all three.
//
// Ordered as AlertScopeKey is (line, then target, then kind), and
// comparable with it, so a map of these can be searched by an
// AlertScopeKey without building one. Plain value type, not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "rules/alert_rules.h"

namespace linewatch {

class CompactScopeKey {
 public:
  static constexpr std::size_t kInline = 21;

  explicit CompactScopeKey(const AlertScopeKey& key);
  CompactScopeKey(const CompactScopeKey& other);
  CompactScopeKey& operator=(const CompactScopeKey& other);
  CompactScopeKey(CompactScopeKey&& other) noexcept;
  CompactScopeKey& operator=(CompactScopeKey&& other) noexcept;
  ~CompactScopeKey();

  std::string_view line() const;
  std::string_view target() const;
  std::string_view kind() const;
  // The key as the rest of the engine speaks of it.
  AlertScopeKey expand() const;
  // Whether the key took a heap block (for tests).
  bool on_heap() const { return code_ == kHeapCode; }

  // Compares (line, target, kind) as AlertScopeKey's operator<=> does.
  struct Less {
    using is_transparent = void;
    bool operator()(const CompactScopeKey& a, const CompactScopeKey& b) const;
    bool operator()(const CompactScopeKey& a, const AlertScopeKey& b) const;
    bool operator()(const AlertScopeKey& a, const CompactScopeKey& b) const;
  };

 private:
  static constexpr std::uint8_t kHeapCode = 0xff;
  const char* heap() const;
  void release();

  // Inline: line then target; on the heap: a pointer to a block of three
  // std::uint32_t lengths followed by line, target and kind.
  char bytes_[kInline] = {};
  std::uint8_t line_size_ = 0;
  std::uint8_t target_size_ = 0;
  std::uint8_t code_ = 0;  // the kind's index in the fixed words, or kHeapCode
};

}  // namespace linewatch
