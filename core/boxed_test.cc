#include "core/boxed.h"

#include <doctest/doctest.h>

#include <concepts>
#include <string>
#include <type_traits>
#include <utility>

namespace linewatch {
namespace {

struct Options {
  std::string name = "default";
  int count = 3;
  bool operator==(const Options&) const = default;
};

struct NoEquality {
  int n = 0;
};

static_assert(std::is_nothrow_move_constructible_v<Boxed<Options>>);
static_assert(std::is_nothrow_move_assignable_v<Boxed<Options>>);
static_assert(sizeof(Boxed<Options>) == sizeof(void*));
static_assert(std::equality_comparable<Boxed<Options>>);
static_assert(!std::equality_comparable<Boxed<NoEquality>>);

TEST_CASE("boxed: an empty box reads as a default value without allocating") {
  const Boxed<Options> a;
  const Boxed<Options> b;
  CHECK(a->name == "default");
  CHECK((*a).count == 3);
  CHECK_FALSE(a.allocated());
  // Every empty box reads the one shared default.
  CHECK(&*a == &*b);
}

TEST_CASE("boxed: a write through a non-const box allocates its own value") {
  Boxed<Options> box;
  box->count = 7;
  CHECK(box.allocated());
  CHECK(std::as_const(box)->count == 7);
  CHECK(std::as_const(box)->name == "default");
  // The shared default is untouched by the write.
  const Boxed<Options> empty;
  CHECK(empty->count == 3);
}

TEST_CASE("boxed: built or assigned from a value holds that value") {
  Boxed<Options> box = Options{"x", 1};
  CHECK(box.allocated());
  CHECK(std::as_const(box)->name == "x");
  box = Options{"y", 2};
  CHECK(std::as_const(box)->name == "y");
  CHECK(std::as_const(box)->count == 2);
  box.reset();
  CHECK_FALSE(box.allocated());
  CHECK(std::as_const(box)->name == "default");
}

TEST_CASE("boxed: a copy is deep") {
  Boxed<Options> a = Options{"a", 1};
  Boxed<Options> b = a;
  b->name = "b";
  CHECK(std::as_const(a)->name == "a");
  CHECK(std::as_const(b)->name == "b");
  CHECK(&*std::as_const(a) != &*std::as_const(b));

  Boxed<Options> c;
  c = a;
  c->count = 9;
  CHECK(std::as_const(a)->count == 1);
  CHECK(std::as_const(c)->count == 9);
  CHECK(std::as_const(c)->name == "a");

  const Boxed<Options>& self = c;
  c = self;  // self-assignment keeps the value
  CHECK(std::as_const(c)->count == 9);
}

TEST_CASE("boxed: copying an empty box allocates nothing") {
  const Boxed<Options> empty;
  const Boxed<Options> copy = empty;
  CHECK_FALSE(copy.allocated());
  Boxed<Options> assigned = Options{"held", 1};
  assigned = empty;
  CHECK_FALSE(assigned.allocated());
  CHECK(assigned->name == "default");
}

TEST_CASE("boxed: equality compares values and an empty box equals a default one") {
  const Boxed<Options> empty;
  const Boxed<Options> other_empty;
  const Boxed<Options> holds_default = Options{};
  const Boxed<Options> x = Options{"x", 3};
  const Boxed<Options> same_x = Options{"x", 3};
  CHECK(holds_default.allocated());
  CHECK(empty == other_empty);
  CHECK(empty == holds_default);
  CHECK(holds_default == empty);
  CHECK(x == same_x);
  CHECK_FALSE(x == empty);
  CHECK(x != holds_default);
  CHECK(Boxed<Options>(Options{"x", 4}) != x);
}

TEST_CASE("boxed: a move hands over the held value and leaves the source empty") {
  Boxed<Options> a = Options{"moved", 5};
  const Options* held = &*std::as_const(a);
  Boxed<Options> b = std::move(a);
  CHECK(&*std::as_const(b) == held);  // the same value, not a copy
  CHECK(std::as_const(b)->name == "moved");
  CHECK_FALSE(a.allocated());  // NOLINT(bugprone-use-after-move): reads as a default
  CHECK(std::as_const(a)->name == "default");

  Boxed<Options> c;
  c = std::move(b);
  CHECK(&*std::as_const(c) == held);
  CHECK_FALSE(b.allocated());  // NOLINT(bugprone-use-after-move)
}

}  // namespace
}  // namespace linewatch
