// Storage cost per row, measured on a realistic ICMP load. Prints the figure;
// fails only if it grows far past what the schema should cost.
#include <doctest/doctest.h>

#include <filesystem>

#include "core/fake_clock.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;

TEST_CASE("bytes per stored ICMP row stay small") {
  test::TempDir dir;
  FakeClock clock;
  const int rows = 100'000;
  {
    auto opened = Store::open(dir.path(), {}, clock);
    REQUIRE_MESSAGE(opened, opened.error().message);
    auto& store = **opened;
    // 4 lines x 10 targets, a round every 10 s, 5 echoes of 150-250 ms, ~2% lost.
    const WallTime t0 = clock.wall_now() - 24h;
    int refused = 0;
    for (int i = 0; i < rows; ++i) {
      const int series = i % 40;
      const int echo = 150'000 + (i * 7919) % 100'000;
      ProbeResult r = test::icmp_result(
          "line-" + std::to_string(series % 4), "target-" + std::to_string(series / 4),
          t0 + std::chrono::seconds(10 * (i / 40)) + std::chrono::milliseconds(i % 997),
          {echo, echo + 311, i % 50 == 0 ? 0 : echo - 97, echo + 1234, echo + 17});
      while (!store.submit(r) && refused < 100'000) {  // queue full: let the writer catch up
        ++refused;
        std::this_thread::sleep_for(1ms);
      }
    }
    REQUIRE(store.flush(60s));
    REQUIRE(*store.count() == rows);
  }  // closing the last connection checkpoints the WAL into the main file
  REQUIRE_FALSE(std::filesystem::exists(dir.db() + "-wal"));
  const auto bytes = std::filesystem::file_size(dir.db());
  const double per_row = static_cast<double>(bytes) / rows;
  MESSAGE(rows << " ICMP rows: " << bytes << " bytes, " << per_row << " bytes/row");
  CHECK(per_row > 40);   // a sanity floor: the rows really are in the file
  CHECK(per_row < 160);  // row ~85 B + two indexes ~35 B + b-tree slack
}

}  // namespace
}  // namespace linewatch
