#include "agent/plan_state.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "exporters/plan_codec.h"

namespace linewatch {
namespace {

// The committed value of `key`; nullopt when absent or unreadable (then with a warning).
std::optional<std::string> load(const Store& store, std::string_view key,
                                std::vector<std::string>& warnings) {
  auto value = store.load_state(std::string(key));
  if (!value) {
    warnings.push_back("agent state " + std::string(key) + ": " + value.error().message);
    return std::nullopt;
  }
  return std::move(*value);
}

std::optional<std::uint64_t> parse_version(const std::string& text) {
  std::uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return v;
}

}  // namespace

void PlanStateSink::on_plan(const RoutePlan& plan) {
  store_.save_state(std::string(kPlanStateKey), encode_plan(plan));
  store_.save_state(std::string(kPlanVersionStateKey), std::to_string(plan.version));
}

LoadedPlanState load_plan_state(const Store& store) {
  LoadedPlanState out;
  if (auto text = load(store, kPlanVersionStateKey, out.warnings)) {
    if (auto v = parse_version(*text))
      out.start.last_version = *v;
    else
      out.warnings.push_back("agent state " + std::string(kPlanVersionStateKey) +
                             ": not a version number, ignored");
  }
  if (auto text = load(store, kPlanStateKey, out.warnings)) {
    auto plan = decode_plan(*text);
    if (plan) {
      out.start.last_version = std::max(out.start.last_version, plan->version);
      out.start.last_plan = std::move(*plan);
    } else {
      out.warnings.push_back("agent state " + std::string(kPlanStateKey) + ": " +
                             plan.error().message + "; starting without the last plan");
    }
  }
  return out;
}

}  // namespace linewatch
