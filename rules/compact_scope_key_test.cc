#include "rules/compact_scope_key.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace linewatch;

namespace {

std::vector<AlertScopeKey> sample_keys() {
  const std::string long_target(40, 'x');
  return {{"", "", ""},
          {"cn2-bj-1", "", ""},
          {"", "openai", ""},
          {"cn2-bj-1", "la-reflector", "icmp"},
          {"cn2-bj-1", "la-reflector", "http"},
          {"cn2-bj-1", "la-reflector", "tcp"},
          {"cn2-bj-10", "a", "llm"},
          {"cn2-bj-1", long_target, "icmp"},
          {"cn2-bj-1", "openai", "quic"},  // a kind outside the fixed words
          {"cn2-bj-12345", "target-1234567890", "icmp"}};
}

}  // namespace

TEST_CASE("a compact scope key gives back the key it was made of") {
  for (const AlertScopeKey& k : sample_keys()) {
    const CompactScopeKey c(k);
    CHECK(c.expand() == k);
    CompactScopeKey copy(c);
    CHECK(copy.expand() == k);
    CompactScopeKey moved(std::move(copy));
    CHECK(moved.expand() == k);
    moved = c;
    CHECK(moved.expand() == k);
  }
  CHECK(!CompactScopeKey(AlertScopeKey{"cn2-bj-1", "target-2499", "icmp"}).on_heap());
  CHECK(CompactScopeKey(AlertScopeKey{"cn2-bj-1", std::string(40, 'x'), "icmp"}).on_heap());
  CHECK(CompactScopeKey(AlertScopeKey{"cn2-bj-1", "openai", "quic"}).on_heap());
  CHECK(sizeof(CompactScopeKey) == 24);
}

TEST_CASE("compact scope keys sort as their scope keys do") {
  const std::vector<AlertScopeKey> keys = sample_keys();
  const CompactScopeKey::Less less;
  for (const AlertScopeKey& a : keys) {
    for (const AlertScopeKey& b : keys) {
      const CompactScopeKey ca(a), cb(b);
      CHECK(less(ca, cb) == (a < b));
      CHECK(less(ca, b) == (a < b));
      CHECK(less(a, cb) == (a < b));
    }
  }
}
