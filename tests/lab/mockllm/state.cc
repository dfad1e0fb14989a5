#include "tests/lab/mockllm/state.h"

#include <algorithm>

namespace linewatch::mockllm {

bool SharedState::has_model(const std::string& id) const {
  return std::find(models_.begin(), models_.end(), id) != models_.end();
}

bool SharedState::authorised(const std::string& header) const {
  if (tokens_.empty()) return true;
  static constexpr std::string_view kScheme = "Bearer ";
  if (header.size() <= kScheme.size() || header.compare(0, kScheme.size(), kScheme) != 0)
    return false;
  const std::string_view given = std::string_view(header).substr(kScheme.size());
  return std::find(tokens_.begin(), tokens_.end(), given) != tokens_.end();
}

Behaviour SharedState::behaviour() const {
  std::lock_guard lock(mu_);
  return behaviour_;
}

void SharedState::set_behaviour(const Behaviour& b) {
  std::lock_guard lock(mu_);
  behaviour_ = b;
}

bool SharedState::sleep_until(MonoTime until) const {
  std::unique_lock lock(mu_);
  return !cv_.wait_until(lock, until, [this] { return stopping_; });
}

void SharedState::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

bool SharedState::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

std::string SharedState::next_completion_id() {
  return "chatcmpl-mock" + std::to_string(next_id_.fetch_add(1));
}

}  // namespace linewatch::mockllm
