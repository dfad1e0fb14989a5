#include "rules/compact_scope_key.h"

#include <array>
#include <cstring>
#include <tuple>

namespace linewatch {
namespace {

constexpr std::array<std::string_view, 5> kKinds = {"", "icmp", "tcp", "http", "llm"};
constexpr std::size_t kLengths = 3 * sizeof(std::uint32_t);

std::uint32_t length_at(const char* block, std::size_t i) {
  std::uint32_t n;
  std::memcpy(&n, block + i * sizeof n, sizeof n);
  return n;
}

char* copy_block(const char* block) {
  const std::size_t size =
      kLengths + length_at(block, 0) + length_at(block, 1) + length_at(block, 2);
  char* out = new char[size];
  std::memcpy(out, block, size);
  return out;
}

auto tie(const CompactScopeKey& k) { return std::make_tuple(k.line(), k.target(), k.kind()); }
auto tie(const AlertScopeKey& k) {
  return std::make_tuple(std::string_view(k.line), std::string_view(k.target),
                         std::string_view(k.kind));
}

}  // namespace

CompactScopeKey::CompactScopeKey(const AlertScopeKey& key) {
  std::size_t code = 0;
  while (code < kKinds.size() && kKinds[code] != key.kind) ++code;
  if (code < kKinds.size() && key.line.size() + key.target.size() <= kInline) {
    std::memcpy(bytes_, key.line.data(), key.line.size());
    std::memcpy(bytes_ + key.line.size(), key.target.data(), key.target.size());
    line_size_ = static_cast<std::uint8_t>(key.line.size());
    target_size_ = static_cast<std::uint8_t>(key.target.size());
    code_ = static_cast<std::uint8_t>(code);
    return;
  }
  const std::array<std::uint32_t, 3> sizes = {static_cast<std::uint32_t>(key.line.size()),
                                              static_cast<std::uint32_t>(key.target.size()),
                                              static_cast<std::uint32_t>(key.kind.size())};
  char* block = new char[kLengths + sizes[0] + sizes[1] + sizes[2]];
  std::memcpy(block, sizes.data(), kLengths);
  char* at = block + kLengths;
  for (const std::string* s : {&key.line, &key.target, &key.kind}) {
    std::memcpy(at, s->data(), s->size());
    at += s->size();
  }
  std::memcpy(bytes_, &block, sizeof block);
  code_ = kHeapCode;
}

CompactScopeKey::CompactScopeKey(const CompactScopeKey& other) { *this = other; }

CompactScopeKey& CompactScopeKey::operator=(const CompactScopeKey& other) {
  if (this == &other) return *this;
  release();
  std::memcpy(bytes_, other.bytes_, kInline);
  line_size_ = other.line_size_, target_size_ = other.target_size_, code_ = other.code_;
  if (on_heap()) {
    char* block = copy_block(other.heap());
    std::memcpy(bytes_, &block, sizeof block);
  }
  return *this;
}

CompactScopeKey::CompactScopeKey(CompactScopeKey&& other) noexcept { *this = std::move(other); }

CompactScopeKey& CompactScopeKey::operator=(CompactScopeKey&& other) noexcept {
  if (this == &other) return *this;
  release();
  std::memcpy(bytes_, other.bytes_, kInline);
  line_size_ = other.line_size_, target_size_ = other.target_size_, code_ = other.code_;
  other.code_ = 0, other.line_size_ = other.target_size_ = 0;  // the block is ours now
  return *this;
}

CompactScopeKey::~CompactScopeKey() { release(); }

void CompactScopeKey::release() {
  if (on_heap()) delete[] heap();
  code_ = 0;
}

const char* CompactScopeKey::heap() const {
  const char* block;
  std::memcpy(&block, bytes_, sizeof block);
  return block;
}

std::string_view CompactScopeKey::line() const {
  if (!on_heap()) return {bytes_, line_size_};
  return {heap() + kLengths, length_at(heap(), 0)};
}

std::string_view CompactScopeKey::target() const {
  if (!on_heap()) return {bytes_ + line_size_, target_size_};
  return {heap() + kLengths + length_at(heap(), 0), length_at(heap(), 1)};
}

std::string_view CompactScopeKey::kind() const {
  if (!on_heap()) return kKinds[code_];
  return {heap() + kLengths + length_at(heap(), 0) + length_at(heap(), 1), length_at(heap(), 2)};
}

AlertScopeKey CompactScopeKey::expand() const {
  return AlertScopeKey{std::string(line()), std::string(target()), std::string(kind())};
}

bool CompactScopeKey::Less::operator()(const CompactScopeKey& a, const CompactScopeKey& b) const {
  return tie(a) < tie(b);
}
bool CompactScopeKey::Less::operator()(const CompactScopeKey& a, const AlertScopeKey& b) const {
  return tie(a) < tie(b);
}
bool CompactScopeKey::Less::operator()(const AlertScopeKey& a, const CompactScopeKey& b) const {
  return tie(a) < tie(b);
}

}  // namespace linewatch
