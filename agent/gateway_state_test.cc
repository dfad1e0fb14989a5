// The gateway's durable version: round trip, atomic replace, one owner per
// data_dir, and a damaged file refused rather than guessed.
#include "agent/gateway_state.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

using namespace linewatch;

namespace {

RoutePlan plan_of(std::uint64_t version, const std::string& via) {
  RoutePlan p;
  p.agent = "bj-gw-1";
  p.version = version;
  p.time = WallTime(std::chrono::milliseconds(1'800'000'000'123));
  p.routes = {{"198.19.7.0/24", {{"cn2", via, "d1", 1}}}};
  return p;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

}  // namespace

TEST_CASE("gateway state starts at version 0 and keeps a saved plan across reopening") {
  testing::TempDir tmp("linewatch-gwstate");
  const std::string dir = tmp.file("a/b");  // made when missing
  {
    auto state = GatewayState::open(dir);
    REQUIRE_MESSAGE(state.ok(), (state.ok() ? "" : state.error().message));
    auto first = state->load();
    REQUIRE(first.ok());
    CHECK(first->version == 0);
    CHECK_FALSE(first->plan.has_value());
    REQUIRE(state->save(plan_of(7, "198.18.1.2")).ok());
    REQUIRE(state->save(plan_of(8, "198.18.2.2")).ok());
  }
  auto state = GatewayState::open(dir);
  REQUIRE(state.ok());
  auto loaded = state->load();
  REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
  CHECK(loaded->version == 8);
  REQUIRE(loaded->plan.has_value());
  CHECK(*loaded->plan == plan_of(8, "198.18.2.2"));
  CHECK(loaded->plan->version == 8);
  CHECK_FALSE(std::filesystem::exists(dir + "/state.json.tmp"));
}

TEST_CASE("a second gateway on the same data_dir is refused while the first holds it") {
  testing::TempDir tmp("linewatch-gwstate");
  auto first = GatewayState::open(tmp.path());
  REQUIRE(first.ok());
  auto second = GatewayState::open(tmp.path());
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message ==
        "data_dir " + tmp.path() + ": another gateway is running on it (lock held)");
}

TEST_CASE("a damaged state file is an error naming it, not version 0") {
  testing::TempDir tmp("linewatch-gwstate");
  auto state = GatewayState::open(tmp.path());
  REQUIRE(state.ok());
  const std::string path = tmp.file("state.json");
  for (const char* text :
       {"", "{not json", R"({"applied_version":3})", R"({"applied_version":-1,"plan":null})",
        R"({"applied_version":3,"plan":null})", R"({"applied_version":"3","plan":null})"}) {
    CAPTURE(text);
    write_file(path, text);
    auto loaded = state->load();
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message.starts_with(path + ": "));
  }
  // A plan whose version is not the applied one.
  REQUIRE(state->save(plan_of(4, "198.18.1.2")).ok());
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find(R"("applied_version":4)"), 19, R"("applied_version":5)");
  write_file(path, text);
  auto loaded = state->load();
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().message.find("the plan's version is not applied_version") !=
        std::string::npos);
}

TEST_CASE("a failed save keeps the old state") {
  testing::TempDir tmp("linewatch-gwstate");
  auto state = GatewayState::open(tmp.path());
  REQUIRE(state.ok());
  REQUIRE(state->save(plan_of(1, "198.18.1.2")).ok());
  // The temporary file's name taken by a directory: open fails even for root.
  std::filesystem::create_directory(tmp.file("state.json.tmp"));
  const Status saved = state->save(plan_of(2, "198.18.2.2"));
  REQUIRE_FALSE(saved.ok());
  CHECK(saved.error().message.starts_with(tmp.file("state.json.tmp") + ": open: "));
  auto loaded = state->load();
  REQUIRE(loaded.ok());
  CHECK(loaded->version == 1);
}
