#include "agent/store_availability.h"

#include <algorithm>

#include "agent/log.h"

namespace linewatch {

StoreAvailability::StoreAvailability(Reader read, std::vector<std::string> lines,
                                     std::vector<std::string> targets, const Clock& clock,
                                     StoreAvailabilityOptions options)
    : read_(std::move(read)),
      lines_(std::move(lines)),
      targets_(std::move(targets)),
      clock_(clock),
      options_(options) {}

StoreAvailability::~StoreAvailability() { stop(); }

std::optional<double> StoreAvailability::availability(const AlertScopeKey& key, Duration window,
                                                      MonoTime now) {
  bool fresh = false;
  std::optional<double> value;
  {
    std::lock_guard lock(mu_);
    auto [it, added] = figures_.try_emplace(Key{key, window});
    it->second.asked = now;
    value = it->second.value;
    if (added) {
      it->second.due = now;
      fresh = fresh_key_ = true;
    }
  }
  if (fresh) wake_.notify_all();
  return value;
}

Result<std::optional<double>> StoreAvailability::read(const AlertScopeKey& key, Duration window,
                                                      WallTime now) const {
  AvailabilityQuery q;
  q.window = window;
  q.now = now;
  if (!key.kind.empty()) {
    q.kind = probe_kind_from_string(key.kind);
    if (!q.kind) return std::optional<double>();
  }
  const std::vector<std::string> lines = key.line.empty() ? lines_ : std::vector{key.line};
  const std::vector<std::string> targets = key.target.empty() ? targets_ : std::vector{key.target};
  Availability sum;
  for (const std::string& line : lines) {
    for (const std::string& target : targets) {
      q.line = line;
      q.target = target;
      auto a = read_(q);
      {
        std::lock_guard lock(mu_);
        ++stats_.reads;
        stats_.failures += a ? 0 : 1;
      }
      if (!a) return a.error();
      sum.total += a->total;
      sum.ok += a->ok;
      sum.network_failed += a->network_failed;
    }
  }
  if (sum.total == 0) return std::optional<double>();
  // A line's own share: rounds that failed in the network count as down,
  // the endpoints' answers as up. Series and targets: every failed round.
  const bool line_scope = !key.line.empty() && key.target.empty();
  const std::int64_t up = line_scope ? sum.total - sum.network_failed : sum.ok;
  return std::optional<double>(static_cast<double>(up) / static_cast<double>(sum.total));
}

MonoTime StoreAvailability::refresh() {
  const MonoTime now = clock_.now();
  const WallTime wall = clock_.wall_now();
  std::vector<Key> due;
  {
    std::lock_guard lock(mu_);
    fresh_key_ = false;
    std::erase_if(figures_,
                  [&](const auto& kv) { return now - kv.second.asked > options_.forget; });
    for (const auto& [key, f] : figures_)
      if (f.due <= now) due.push_back(key);
  }
  for (const Key& key : due) {
    auto value = read(key.first, key.second, wall);
    if (!value && !failing_) {
      failing_ = true;
      log(LogLevel::warn,
          "msg=\"availability cannot be read; alerts keep the last figures\" "
          "error=" +
              log_quote(value.error().message));
    } else if (value && failing_) {
      failing_ = false;
      log(LogLevel::info, "msg=\"availability read again\"");
    }
    std::lock_guard lock(mu_);
    auto it = figures_.find(key);
    if (it == figures_.end()) continue;
    if (value) it->second.value = *value;
    it->second.due = now + (value ? options_.refresh : options_.retry);
  }
  std::lock_guard lock(mu_);
  MonoTime next = now + options_.refresh;
  for (const auto& [key, f] : figures_) next = std::min(next, f.due);
  stats_.figures = figures_.size();
  return next;
}

void StoreAvailability::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void StoreAvailability::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StoreAvailability::run() {
  for (;;) {
    const MonoTime next = refresh();
    const Duration wait =
        std::clamp<Duration>(next - clock_.now(), std::chrono::milliseconds(1), options_.refresh);
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, wait, [this] { return stopping_ || fresh_key_; });
    if (stopping_) return;
  }
}

StoreAvailabilityStats StoreAvailability::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace linewatch
