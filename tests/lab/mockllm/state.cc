#include "tests/lab/mockllm/state.h"

#include <algorithm>

namespace linewatch::mockllm {

Behaviours SharedState::behaviours() const {
  std::lock_guard lock(mu_);
  return behaviours_;
}

Behaviour SharedState::behaviour(Flavour f) const {
  std::lock_guard lock(mu_);
  return of(behaviours_, f);
}

void SharedState::set_behaviours(const Behaviours& all) {
  std::lock_guard lock(mu_);
  behaviours_ = all;
}

Result<Behaviours> SharedState::update(
    const std::function<Result<Behaviours>(const Behaviours&)>& change) {
  std::lock_guard lock(mu_);
  Result<Behaviours> next = change(behaviours_);
  if (next) behaviours_ = *next;
  return next;
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

void SharedState::add_record(Record r) {
  {
    std::lock_guard lock(mu_);
    r.seq = ++last_seq_;
    records_.push_back(r);
    if (records_.size() > kRecordsKept) records_.pop_front();
  }
  // Outside the lock: the log may block on a slow stderr.
  log(record_json(r));
}

std::vector<Record> SharedState::records(std::uint64_t after, std::size_t last) const {
  std::lock_guard lock(mu_);
  auto from = std::find_if(records_.begin(), records_.end(),
                           [after](const Record& r) { return r.seq > after; });
  const auto available = static_cast<std::size_t>(records_.end() - from);
  if (available > last) from += static_cast<std::ptrdiff_t>(available - last);
  return {from, records_.end()};
}

}  // namespace linewatch::mockllm
