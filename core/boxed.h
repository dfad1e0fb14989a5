// Boxed<T>: a value of type T kept on the heap only once it is written.
//
// Why: a ProbeSpec carries the options of every probe kind but uses only its
// own. Keeping the large, rarely used ones (http, llm, tcp) in a box makes an
// unused kind cost one pointer instead of hundreds of bytes, which is what lets
// ten thousand icmp targets fit the agent's memory budget.
//
// Contract (value semantics, as if the box were a plain T member):
// - An empty box (default-constructed or moved from) reads as T{}: `*box`,
//   `box->field` on a const box return the held T or a shared immutable
//   default instance, and never allocate.
// - Non-const `*box` / `box->` allocate a T{} on first use and return it; the
//   box then owns it. Read through a const reference where nothing is written,
//   so a loop over specs does not allocate options for kinds it does not use.
// - Copying copies the held T (deep); moving transfers it and leaves the
//   source empty (reads as T{}), and never throws.
// - `==` compares values when T has `==`: an empty box equals a box holding
//   T{}.
// - Assigning a T (`box = T{...}`) stores a copy of it.
//
// Thread-safety: as a T member. Const reads of distinct or shared boxes from
// several threads are safe (the default instance is a function-local static,
// immutable after its thread-safe initialisation); any non-const access is a
// write and needs the caller's exclusion.
#pragma once

#include <concepts>
#include <memory>
#include <utility>

namespace linewatch {

template <typename T>
class Boxed {
 public:
  Boxed() = default;
  // Implicit, as std::optional's, so aggregates that hold a Boxed<T> can be
  // initialised and assigned from a T.
  Boxed(T value) : held_(std::make_unique<T>(std::move(value))) {}  // NOLINT

  Boxed(const Boxed& other) : held_(other.held_ ? std::make_unique<T>(*other.held_) : nullptr) {}
  Boxed& operator=(const Boxed& other) {
    if (this != &other) held_ = other.held_ ? std::make_unique<T>(*other.held_) : nullptr;
    return *this;
  }
  Boxed(Boxed&&) noexcept = default;
  Boxed& operator=(Boxed&&) noexcept = default;
  ~Boxed() = default;

  // The held T, or the shared default when empty. Never allocates.
  const T& operator*() const { return held_ ? *held_ : default_value(); }
  const T* operator->() const { return &**this; }

  // The held T, allocating a T{} first when empty.
  T& operator*() {
    if (!held_) held_ = std::make_unique<T>();
    return *held_;
  }
  T* operator->() { return &**this; }

  // True when the box owns a T (it was written, assigned or copied from one
  // that was). For tests and memory accounting; reads do not depend on it.
  bool allocated() const { return held_ != nullptr; }

  // Frees the held T; the box reads as T{} again.
  void reset() { held_.reset(); }

  friend bool operator==(const Boxed& a, const Boxed& b) requires std::equality_comparable<T> {
    return *a == *b;
  }

 private:
  static const T& default_value() {
    static const T value{};
    return value;
  }

  std::unique_ptr<T> held_;
};

}  // namespace linewatch
