#include "agent/gateway_state.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "exporters/plan_codec.h"

namespace linewatch {
namespace {

constexpr std::size_t kMaxStateBytes = 16 << 20;

Error step_error(const std::string& what, const char* step) {
  return io_error(what + ": " + step + ": " + std::strerror(errno));
}

// Writes all of `data` to `fd`. False with errno set on failure.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

Result<AppliedState> parse_state(const std::string& path, const std::string& text) {
  auto bad = [&path](const std::string& why) {
    return invalid(path + ": " + why +
                   "; the gateway will not guess which versions it has applied (restore the file "
                   "or remove it to accept any version again)");
  };
  try {
    const auto root = Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
    if (!root || !root->has("applied_version") || !root->has("plan"))
      return bad("not a gateway state (applied_version and plan expected)");
    const Poco::Dynamic::Var version = root->get("applied_version");
    if (!version.isInteger() || (version.isSigned() && version.convert<long long>() < 0))
      return bad("applied_version is not an integer >= 0");
    AppliedState state;
    state.version = version.convert<std::uint64_t>();
    if (root->isNull("plan")) {
      if (state.version != 0) return bad("applied_version without its plan");
      return state;
    }
    std::ostringstream plan_json;
    root->getObject("plan")->stringify(plan_json);
    auto plan = decode_plan(plan_json.str());
    if (!plan) return bad(plan.error().message);
    if (plan->version != state.version) return bad("the plan's version is not applied_version");
    state.plan = std::move(*plan);
    return state;
  } catch (const Poco::Exception& e) {
    return bad("not JSON (" + e.displayText() + ")");
  } catch (const std::exception& e) {
    return bad(std::string("not a gateway state (") + e.what() + ")");
  }
}

}  // namespace

GatewayState::GatewayState(std::string dir, Fd lock)
    : dir_(std::move(dir)), path_(dir_ + "/state.json"), lock_(std::move(lock)) {}

Result<GatewayState> GatewayState::open(const std::string& data_dir) {
  const std::string what = "data_dir " + data_dir;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return io_error(what + ": cannot create: " + ec.message());
  Fd lock(::open((data_dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid()) return step_error(what + "/lock", "open");
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return io_error(what + ": another gateway is running on it (lock held)");
    return step_error(what + "/lock", "flock");
  }
  return GatewayState(data_dir, std::move(lock));
}

Result<AppliedState> GatewayState::load() const {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec) && !ec) return AppliedState{};  // a first start
  std::ifstream in(path_, std::ios::binary);
  if (!in) return io_error(path_ + ": cannot read: " + std::strerror(errno));
  std::string text(kMaxStateBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return io_error(path_ + ": cannot read: " + std::strerror(errno));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxStateBytes)
    return invalid(path_ + ": larger than any state this gateway writes");
  return parse_state(path_, text);
}

Status GatewayState::save(const RoutePlan& plan) {
  const std::string text = R"({"applied_version":)" + std::to_string(plan.version) + R"(,"plan":)" +
                           encode_plan(plan) + "}\n";
  const std::string tmp = path_ + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return step_error(tmp, "open");
    if (!write_all(fd.get(), text)) return step_error(tmp, "write");
    if (::fsync(fd.get()) != 0) return step_error(tmp, "fsync");
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return step_error(path_, "rename");
  // The rename itself is durable only once the directory is.
  Fd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid() || ::fsync(dir.get()) != 0) return step_error(dir_, "fsync");
  return ok_status();
}

}  // namespace linewatch
