// timer_service.cpp -- the timer thread (see timer_service.h).
// Thread-safe; callbacks run on the timer thread without the lock held, so a
// callback may cancel timers (a cancelled timer's callback may still be
// running once more when cancel() returns; its captures are freed after).
#include "timer_service.h"

#include <vector>

namespace demo {

using Clock = std::chrono::steady_clock;

TimerService::TimerService() : thread_([this] { run(); }) {}

TimerService::~TimerService() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  clear();
}

uint64_t TimerService::every(std::chrono::milliseconds period, Callback callback) {
  if (period.count() <= 0) period = std::chrono::milliseconds(1);
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  timers_.emplace(id, Timer{Clock::now() + period, period, std::make_shared<Callback>(std::move(callback))});
  cv_.notify_all();
  return id;
}

bool TimerService::cancel(uint64_t id) {
  std::shared_ptr<Callback> gone;  // destroyed after the lock is released
  std::lock_guard lock(mu_);
  auto it = timers_.find(id);
  if (it == timers_.end()) return false;
  gone = std::move(it->second.callback);
  timers_.erase(it);
  return true;
}

size_t TimerService::active() const {
  std::lock_guard lock(mu_);
  return timers_.size();
}

uint64_t TimerService::ticks() const {
  std::lock_guard lock(mu_);
  return ticks_;
}

size_t TimerService::clear() {
  std::map<uint64_t, Timer> gone;
  std::lock_guard lock(mu_);
  gone.swap(timers_);
  return gone.size();
}

void TimerService::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    auto now = Clock::now();
    auto next_due = now + std::chrono::seconds(1);
    std::vector<std::shared_ptr<Callback>> due;
    for (auto& [id, timer] : timers_) {
      if (timer.due <= now) {
        due.push_back(timer.callback);
        timer.due = now + timer.period;
      }
      if (timer.due < next_due) next_due = timer.due;
    }
    if (!due.empty()) {
      ticks_ += due.size();
      lock.unlock();
      for (auto& callback : due) (*callback)();
      due.clear();  // may free a cancelled timer's captures, outside the lock
      lock.lock();
      continue;
    }
    cv_.wait_until(lock, next_due);
  }
}

}  // namespace demo
