#include "agent/reloader.h"

namespace linewatch {

Reloader::~Reloader() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (queued_) {
      ReloadOutcome refused;
      refused.errors.push_back("the agent is stopping");
      queued_->set_value(std::move(refused));
      queued_.reset();
    }
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_future<ReloadOutcome> Reloader::request() {
  std::lock_guard lock(mu_);
  if (stopping_) {
    std::promise<ReloadOutcome> refused;
    ReloadOutcome o;
    o.errors.push_back("the agent is stopping");
    refused.set_value(std::move(o));
    return refused.get_future().share();
  }
  if (!queued_) {
    queued_ = std::make_unique<std::promise<ReloadOutcome>>();
    queued_future_ = queued_->get_future().share();
    wake_.notify_all();
  }
  return queued_future_;
}

void Reloader::run() {
  for (;;) {
    std::unique_ptr<std::promise<ReloadOutcome>> next;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || queued_; });
      if (stopping_) return;
      next = std::move(queued_);
    }
    job_(*next);
  }
}

}  // namespace linewatch
